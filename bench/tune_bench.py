#!/usr/bin/python3
"""Times a hyperparameter sweep three ways on the same `canopy synth` data.

Usage: bench/tune_bench.py [--rows 1000000] [--features 28] [--trees 100] [--folds 5]
                           [--threads N] [--canopy build/canopy] [--device cpu]
                           [--skip-sklearn] [--skip-one-by-one]

The sweep: 24 candidates (max_depth {6, 10, none} x max_features {sqrt, 0.33}
x min_samples_leaf {1, 5} x criterion {gini, entropy}) x 5-fold stratified
cross-validation, accuracy, no refit, timed as
  1. `canopy tune`: the whole sweep as batches of tree jobs over one binned dataset;
  2. the same 24 candidates one after another with `canopy cv` (process start and
     binning included, as a user scripting a loop would pay them);
  3. scikit-learn GridSearchCV(RandomForestClassifier(n_jobs=-1), cv=StratifiedKFold(5),
     refit=False) on the same arrays (Debian's python3-sklearn, python3-h5py).
Prints one JSON line with the times, the ratios and the machine.
"""
import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time

GRID = {
    "max_depth": ["6", "10", "none"],
    "max_features": ["sqrt", "0.33"],
    "min_samples_leaf": ["1", "5"],
    "criterion": ["gini", "entropy"],
}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--features", type=int, default=28)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--canopy", default="build/canopy")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--skip-one-by-one", action="store_true")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="canopy_tune_bench_")
    data = os.path.join(tmp, "synth.h5")
    run([a.canopy, "synth", "--rows", str(a.rows), "--features", str(a.features), "--seed", "1", "--out", data])
    common = ["--data", data, "--n-estimators", str(a.trees), "--folds", str(a.folds), "--threads",
              str(a.threads), "--device", a.device, "--no-tracking"]
    result = {
        "bench": "tune", "rows": a.rows, "features": a.features, "trees": a.trees, "folds": a.folds,
        "candidates": 24, "threads": a.threads, "device": a.device,
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "system": platform.platform()},
    }

    # 1. The batched sweep.
    grid_flags = []
    for k, v in GRID.items():
        grid_flags += ["--grid", k + "=" + ",".join(v)]
    t0 = time.perf_counter()
    out = run([a.canopy, "tune"] + common + grid_flags + ["--scoring", "accuracy", "--no-refit", "--json"])
    result["canopy_tune_s"] = time.perf_counter() - t0
    tune = json.loads(out.stdout)
    result["canopy_tune_train_s"] = tune["timing"]["train_s"]
    result["canopy_best_params"] = tune["best_params"]
    result["canopy_best_accuracy"] = tune["best_score"]
    means = tune["results"]["mean_test_accuracy"]

    # 2. One `canopy cv` per candidate.
    if not a.skip_one_by_one:
        t0 = time.perf_counter()
        diffs = 0
        for i, values in enumerate(itertools.product(*GRID.values())):
            flags = []
            for k, v in zip(GRID.keys(), values):
                flags += ["--" + k.replace("_", "-"), v]
            cv = json.loads(run([a.canopy, "cv"] + common + flags + ["--json"]).stdout)
            p = tune["results"]["params"]
            j = next(n for n, q in enumerate(p) if all(q[k] == v for k, v in zip(GRID.keys(), values)))
            diffs += cv["metrics"]["accuracy"]["mean"] != means[j]
        result["canopy_one_by_one_s"] = time.perf_counter() - t0
        result["one_by_one_scores_differ"] = diffs  # 0: the batch changes speed, never results
        result["speedup_vs_one_by_one"] = result["canopy_one_by_one_s"] / result["canopy_tune_s"]

    # 3. scikit-learn.
    if not a.skip_sklearn:
        import h5py
        import sklearn
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        with h5py.File(data, "r") as f:
            X = f["X"][:]
            y = f["y"][:]
        grid = {
            "max_depth": [6, 10, None],
            "max_features": ["sqrt", 0.33],
            "min_samples_leaf": [1, 5],
            "criterion": ["gini", "entropy"],
        }
        gs = GridSearchCV(RandomForestClassifier(n_estimators=a.trees, n_jobs=a.threads, random_state=0), grid,
                          cv=StratifiedKFold(a.folds), scoring="accuracy", refit=False)
        t0 = time.perf_counter()
        gs.fit(X, y)
        result["sklearn_s"] = time.perf_counter() - t0
        result["sklearn_version"] = sklearn.__version__
        result["sklearn_best_accuracy"] = float(gs.best_score_)
        result["sklearn_best_params"] = {k: str(v) for k, v in gs.best_params_.items()}
        result["speedup_vs_sklearn"] = result["sklearn_s"] / result["canopy_tune_s"]
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
