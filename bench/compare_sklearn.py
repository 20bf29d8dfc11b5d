#!/usr/bin/python3
"""Times canopy and scikit-learn side by side on the same `canopy synth` data.

Usage: bench/compare_sklearn.py [--rows 1000000] [--features 28] [--trees 100]
                                [--depth 10] [--threads N] [--canopy build/canopy]

Both systems train a random forest with the same trees, depth, features per
node (sqrt) and threads on the same HDF5 file, and are scored on the same
held-out 20% of rows. Prints one JSON line with the times and accuracies.
Uses Debian's python3-sklearn and python3-h5py (scripts/setup.sh).
"""
import argparse
import json
import os
import platform
import subprocess
import tempfile
import time

import h5py
import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, roc_auc_score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--features", type=int, default=28)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--canopy", default="build/canopy")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="canopy_bench_")
    data = os.path.join(tmp, "synth.h5")
    subprocess.run([a.canopy, "synth", "--rows", str(a.rows), "--features", str(a.features),
                    "--seed", "1", "--out", data], check=True)
    with h5py.File(data, "r") as f:
        X = f["X"][:]
        y = f["y"][:]
    n_test = len(y) // 5
    train_csv = os.path.join(tmp, "train.h5")
    test_csv = os.path.join(tmp, "test.h5")
    for path, sl in ((train_csv, slice(n_test, None)), (test_csv, slice(0, n_test))):
        with h5py.File(path, "w") as f:
            f["X"] = X[sl]
            f["y"] = y[sl]

    model = os.path.join(tmp, "m.h5")
    t0 = time.perf_counter()
    out = subprocess.run([a.canopy, "train", "--data", train_csv, "--n-estimators", str(a.trees),
                          "--max-depth", str(a.depth), "--threads", str(a.threads), "--device", "cpu",
                          "--no-tracking", "--out", model, "--json"], check=True, capture_output=True, text=True)
    canopy_wall = time.perf_counter() - t0
    info = json.loads(out.stdout)
    ev = json.loads(subprocess.run([a.canopy, "evaluate", "--model", model, "--data", test_csv, "--json"],
                                   check=True, capture_output=True, text=True).stdout)

    clf = RandomForestClassifier(n_estimators=a.trees, max_depth=a.depth, max_features="sqrt",
                                 n_jobs=a.threads, random_state=0)
    t0 = time.perf_counter()
    clf.fit(X[n_test:], y[n_test:])
    sk_fit = time.perf_counter() - t0
    proba = clf.predict_proba(X[:n_test])[:, 1]

    result = {
        "machine": platform.processor() or platform.machine(), "cores": os.cpu_count(), "threads": a.threads,
        "rows_train": int(len(y) - n_test), "features": a.features, "trees": a.trees, "max_depth": a.depth,
        "canopy_train_s": info["timing"]["train_s"], "canopy_bin_s": info["timing"]["bin_s"],
        "canopy_load_s": info["timing"]["load_s"], "canopy_wall_s": canopy_wall,
        "canopy_accuracy": ev["metrics"]["accuracy"], "canopy_auc": ev["metrics"]["roc_auc"],
        "sklearn_version": sklearn.__version__, "sklearn_fit_s": sk_fit,
        "sklearn_accuracy": accuracy_score(y[:n_test], (proba > 0.5).astype(y.dtype)),
        "sklearn_auc": roc_auc_score(y[:n_test], proba),
    }
    result["speedup_fit_vs_sklearn"] = sk_fit / (info["timing"]["train_s"] + info["timing"]["bin_s"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
