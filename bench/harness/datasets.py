"""Makes each case's train/test split once, as two HDF5 files (/X float32,
/y int32 class ids or float64 values) that canopy reads with --data and the
peers read with h5py: every system sees the same rows.

Splits are cached under the data folder by a hash of their spec, so a second
bench run (or a scaling case and a single case on the same data) reuses them.
"""
import csv
import hashlib
import json
import os
import subprocess

import h5py
import numpy as np


def _key(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _write_h5(path, X, y, attrs=None):
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("X", data=np.ascontiguousarray(X, dtype=np.float32))
        f.create_dataset("y", data=y)
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
    os.replace(tmp, path)


def default_test_rows(train_rows):
    return int(max(10, min(train_rows // 4, 250000)))


def _synth(canopy, spec, rows, path, log):
    cmd = [canopy, "synth", "--task", spec["task"], "--rows", str(rows), "--features", str(spec["features"]),
           "--missing", repr(spec["missing"]), "--seed", str(spec["seed"]), "--out", path]
    if spec["task"] == "classification":
        cmd += ["--classes", str(spec["classes"])]
    if "informative" in spec:
        cmd += ["--informative", str(spec["informative"])]
    log("  generating %d x %d %s data (canopy synth)" % (rows, spec["features"], spec["task"]))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("canopy synth failed: " + (r.stderr.strip() or r.stdout.strip()))


def _encode_labels(y, task):
    """(y for the files, task, n_classes, class names)."""
    if task == "auto":
        if y.dtype.kind in "OSU":
            task = "classification"
        else:
            yf = y.astype(np.float64)
            finite = yf[np.isfinite(yf)]
            task = ("classification" if np.all(finite == np.round(finite)) and len(np.unique(finite)) <= 50
                    else "regression")
    if task == "regression":
        return y.astype(np.float64), task, 0, []
    names, ids = np.unique(y.astype(str) if y.dtype.kind in "OSU" else y, return_inverse=True)
    return ids.astype(np.int32), task, len(names), [str(n) for n in names]


def _read_file(d):
    path = d["file"]
    if not os.path.exists(path):
        raise RuntimeError("data file not found: " + path)
    if path.endswith((".h5", ".hdf5", ".hdf")):
        with h5py.File(path, "r") as f:
            feat = d.get("features") or "X"
            label = d.get("label") or "y"
            if feat.lstrip("/") in f and isinstance(f[feat.lstrip("/")], h5py.Dataset) \
                    and f[feat.lstrip("/")].ndim == 2:
                X = f[feat.lstrip("/")][:]
                y = f[label.lstrip("/")][:]
                names = None
            else:  # a group of 1-D columns
                cols = [k for k in f.keys() if isinstance(f[k], h5py.Dataset) and f[k].ndim == 1]
                if label not in cols:
                    raise RuntimeError("%s: no label column %r (columns: %s)" % (path, label, ", ".join(cols)))
                names = [c for c in cols if c != label]
                X = np.stack([f[c][:].astype(np.float32) for c in names], axis=1)
                y = f[label][:]
        if y.dtype.kind == "S":
            y = y.astype(str)
        return np.asarray(X, dtype=np.float32), y
    # CSV: header row, numeric features; missing values empty / NA / NaN / ?
    with open(path, newline="") as f:
        sample = f.read(65536)
        f.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        rows = list(csv.reader(f, dialect))
    header, body = rows[0], [r for r in rows[1:] if r]
    label = d.get("label") or header[-1]
    if label not in header:
        raise RuntimeError("%s: no label column %r" % (path, label))
    li = header.index(label)
    missing = {"", "na", "nan", "?", "null"}

    def num(v):
        return float("nan") if v.strip().lower() in missing else float(v)

    try:
        X = np.array([[num(v) for j, v in enumerate(r) if j != li] for r in body], dtype=np.float32)
    except ValueError as e:
        raise RuntimeError("%s: the harness reads numeric feature columns only (%s)" % (path, e))
    labels = [r[li] for r in body]
    try:
        y = np.array([float(v) for v in labels])
    except ValueError:
        y = np.array(labels)
    return X, y


def prepare(case, canopy, data_dir, log):
    """Returns a list of splits (one for a single case, one per row count for a
    scaling case): {rows, train, test, task, features, classes, train_rows, test_rows}."""
    d = case["dataset"]
    os.makedirs(data_dir, exist_ok=True)
    if "file" in d:
        key = _key({"file": d, "mtime": os.path.getmtime(d["file"]) if os.path.exists(d["file"]) else 0,
                    "seed": case["seed"]})
        folder = os.path.join(data_dir, "file-" + key)
        meta = _cached(folder)
        if meta is None:
            log("  reading %s" % d["file"])
            X, y = _read_file(d)
            y, task, n_classes, names = _encode_labels(y, d["task"])
            rng = np.random.default_rng(case["seed"])
            perm = rng.permutation(len(y))
            n_test = max(1, int(round(len(y) * d["test_fraction"])))
            test, train = perm[:n_test], perm[n_test:]
            os.makedirs(folder, exist_ok=True)
            _write_h5(os.path.join(folder, "train.h5"), X[train], y[train])
            _write_h5(os.path.join(folder, "test.h5"), X[test], y[test])
            meta = {"task": task, "features": int(X.shape[1]), "classes": n_classes, "class_names": names,
                    "train_rows": int(len(train)), "test_rows": int(len(test)), "source": d["file"]}
            _commit(folder, meta)
        return [dict(meta, rows=meta["train_rows"], train=os.path.join(folder, "train.h5"),
                     test=os.path.join(folder, "test.h5"))]

    spec = d["synth"]
    sizes = case["rows"] if case["kind"] == "scaling" else [spec["rows"]]
    biggest = max(sizes)
    n_test = d.get("test_rows") or default_test_rows(biggest)
    base = {k: v for k, v in spec.items() if k != "rows"}
    # One generated file per (spec, total rows); smaller training sets are its first rows.
    gen_key = _key({"synth": base, "total": biggest + n_test})
    gen_folder = os.path.join(data_dir, "synth-" + gen_key)
    splits = []
    for rows in sizes:
        folder = os.path.join(gen_folder, "train-%d" % rows)
        meta = _cached(folder)
        if meta is None:
            full = os.path.join(gen_folder, "full.h5")
            if not os.path.exists(full):
                os.makedirs(gen_folder, exist_ok=True)
                _synth(canopy, spec, biggest + n_test, full + ".part.h5", log)
                os.replace(full + ".part.h5", full)
            test_path = os.path.join(gen_folder, "test.h5")
            with h5py.File(full, "r") as f:
                total = f["X"].shape[0]
                if not os.path.exists(test_path):
                    yt = f["y"][total - n_test:]
                    _write_h5(test_path, f["X"][total - n_test:], _synth_y(yt, spec["task"]))
                os.makedirs(folder, exist_ok=True)
                _write_h5(os.path.join(folder, "train.h5"), f["X"][:rows], _synth_y(f["y"][:rows], spec["task"]))
            meta = {"task": spec["task"], "features": spec["features"], "classes": spec["classes"],
                    "class_names": [str(c) for c in range(spec["classes"])], "train_rows": rows,
                    "test_rows": n_test, "source": "canopy synth " + json.dumps(base, sort_keys=True)}
            _commit(folder, meta)
        splits.append(dict(meta, rows=rows, train=os.path.join(folder, "train.h5"),
                           test=os.path.join(gen_folder, "test.h5")))
    return splits


def _synth_y(y, task):
    return y.astype(np.int32) if task == "classification" else y.astype(np.float64)


def _cached(folder):
    try:
        with open(os.path.join(folder, "ready.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _commit(folder, meta):
    tmp = os.path.join(folder, "ready.json.tmp")
    with open(tmp, "w") as f:
        json.dump(meta, f)
    os.replace(tmp, os.path.join(folder, "ready.json"))
