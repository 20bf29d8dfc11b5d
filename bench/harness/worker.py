"""Fits one peer system on one case in a process of its own.

  python -m harness.worker --system sklearn --task classification --classes 2 \
      --train train.h5 --test test.h5 --params '{"n_estimators": 100, ...}' \
      --warmup 1 --repeats 3 --budget-s 600

  python -m harness.worker --probe        # {"sklearn": {"version": ...} | {"error": ...}, ...}

Prints one JSON object per line: {"event": "loaded", ...} after reading the
data, {"event": "fit", "i", "warmup", "fit_s", "predict_s"} after each fit, and
{"event": "done", "metrics", "version"} at the end, so a parent that has to
kill it at its time limit still has the fits that finished. The parent reads
this process's peak RSS from os.wait4 (so it covers the interpreter, the
library, the training data and the model: what a user's process would hold).
Starts no new fit once the budget would be exceeded (at least one fit runs).
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import metrics as M  # noqa: E402
from harness import systems as S  # noqa: E402


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def probe():
    out = {}
    for system in S.PEERS:
        try:
            out[system] = {"version": S.peer_version(system)}
        except Exception as e:  # ImportError, or a broken install
            out[system] = {"error": "%s: %s" % (type(e).__name__, e)}
    emit(out)
    return 0


def load(path):
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        X = np.ascontiguousarray(f["X"][:], dtype=np.float32)
        y = f["y"][:]
    return X, y


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--system", choices=S.PEERS)
    ap.add_argument("--task", choices=("classification", "regression"))
    ap.add_argument("--classes", type=int, default=0)
    ap.add_argument("--train")
    ap.add_argument("--test")
    ap.add_argument("--params", help="the library's parameters (JSON), from harness.systems")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget-s", type=float, default=0, help="0: no limit")
    a = ap.parse_args(argv)
    if a.probe:
        return probe()

    import numpy as np
    params = json.loads(a.params)
    X, y = load(a.train)
    if a.task == "classification":
        y = y.astype(np.int64)
    else:
        y = y.astype(np.float64)
    Xt, yt = load(a.test)
    emit({"event": "loaded", "rss_mb": rss_mb(), "version": S.peer_version(a.system)})

    t_start = time.perf_counter()
    last = None
    est = None
    total = a.warmup + a.repeats
    for i in range(total):
        if i > 0 and a.budget_s > 0 and last is not None:
            if time.perf_counter() - t_start + last > a.budget_s:
                emit({"event": "budget", "done": i, "of": total})
                break
        est = S.make_estimator(a.system, a.task, params)
        t0 = time.perf_counter()
        est.fit(X, y)
        fit_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        pred = S.predict(est, a.task, Xt, a.classes)
        predict_s = time.perf_counter() - t1
        last = fit_s + predict_s
        emit({"event": "fit", "i": i, "warmup": i < a.warmup, "fit_s": fit_s, "predict_s": predict_s})
    if a.task == "classification":
        m = M.classification_metrics(yt.astype(np.int64), pred)
    else:
        m = M.regression_metrics(yt, pred)
    emit({"event": "done", "metrics": m, "rss_mb": rss_mb()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
