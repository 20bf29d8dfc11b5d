"""Cases files: which datasets, model settings and systems a bench run covers.

A cases file is JSON (or YAML when PyYAML is installed and the name ends in
.yaml/.yml), one object:

  {
    "name": "default",                       # shown in the report
    "defaults": {                            # apply to every case unless it sets its own
      "systems": ["canopy-cpu", "canopy-gpu", "canopy-cpu-ovr", "canopy-gpu-ovr", "sklearn", "xgboost", "lightgbm"],
      "repeats": 3, "warmup": 1,             # median of `repeats` fits after `warmup` fits
      "seed": 0, "timeout_s": 900,           # per system and case (all its fits together)
      "model": {"n_estimators": 100, "max_depth": 10, "max_features": "sqrt", "max_bins": 256}
    },
    "cases": [
      {"name": "binary-1M", "dataset": {"synth": {"task": "classification", "rows": 1000000,
                                                  "features": 28, "classes": 2, "missing": 0.0, "seed": 1},
                                        "test_rows": 250000},
       "model": {"n_estimators": 100}},      # merged over defaults.model
      {"name": "my-data", "dataset": {"file": "data.csv", "label": "target", "task": "classification",
                                      "test_fraction": 0.2}},
      {"name": "scaling", "kind": "scaling", "rows": [100000, 1000000, 10000000],
       "dataset": {"synth": {"task": "classification", "features": 28}},
       "max_rows": {"sklearn": 1000000}}     # systems skipped above this many training rows
    ]
  }

dataset.synth: a `canopy synth` spec; `rows` are the *training* rows; the test
rows (`test_rows`, default min(rows / 4, 250000)) are generated with them and
held out. dataset.file: a CSV or HDF5 file (HDF5: /X + /y, or `features`/`label`
paths; CSV: header row, numeric features, label column `label`), split by a
seeded shuffle with `test_fraction` (default 0.2) held out.
A "scaling" case runs the same setting at each of `rows` training rows (the
same generated data, first n rows) and plots fit time against rows.
Per-case keys override `defaults`; the command line's --systems, --repeats,
--threads override both.
"""
import json
import os

from . import systems as S

CASE_KEYS = {"name", "kind", "dataset", "model", "systems", "repeats", "warmup", "seed", "timeout_s", "rows",
             "max_rows", "description"}
DEFAULT_KEYS = {"systems", "repeats", "warmup", "seed", "timeout_s", "model", "max_rows"}
DATASET_KEYS = {"synth", "file", "label", "features", "task", "test_rows", "test_fraction"}
SYNTH_KEYS = {"task", "rows", "features", "classes", "missing", "informative", "seed"}


class CaseError(ValueError):
    pass


def _load_text(path):
    with open(path) as f:
        text = f.read()
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise CaseError("%s: YAML cases files need PyYAML (pip install pyyaml in the bench venv); "
                            "or write the file as JSON" % path)
        return yaml.safe_load(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CaseError("%s: line %d column %d: %s" % (path, e.lineno, e.colno, e.msg))


def _check_keys(obj, allowed, where):
    if not isinstance(obj, dict):
        raise CaseError("%s: expected an object" % where)
    extra = set(obj) - allowed
    if extra:
        raise CaseError("%s: unknown key(s) %s (allowed: %s)" % (where, ", ".join(sorted(extra)),
                                                                  ", ".join(sorted(allowed))))


def _systems(value, where):
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    if not isinstance(value, list) or not value:
        raise CaseError("%s: systems must be a non-empty list" % where)
    for s in value:
        if s not in S.SYSTEMS:
            raise CaseError("%s: unknown system %r (known: %s)" % (where, s, ", ".join(S.SYSTEMS)))
    return list(dict.fromkeys(value))


def load_cases(path, base_dir=None, overrides=None):
    """Returns (suite_name, [case dict]) with every default applied and checked."""
    doc = _load_text(path)
    overrides = overrides or {}
    _check_keys(doc, {"name", "description", "defaults", "cases"}, path)
    defaults = doc.get("defaults", {})
    _check_keys(defaults, DEFAULT_KEYS, path + ": defaults")
    cases = doc.get("cases")
    if not isinstance(cases, list) or not cases:
        raise CaseError("%s: \"cases\" must be a non-empty list" % path)
    base_dir = base_dir or os.path.dirname(os.path.abspath(path))
    out, names = [], set()
    for i, c in enumerate(cases):
        where = "%s: cases[%d]" % (path, i)
        _check_keys(c, CASE_KEYS, where)
        name = c.get("name")
        if not isinstance(name, str) or not name or any(ch in name for ch in "/\\ \t"):
            raise CaseError("%s: name must be a non-empty string without spaces or slashes" % where)
        if name in names:
            raise CaseError("%s: duplicate case name %r" % (where, name))
        names.add(name)
        where = "%s (%s)" % (where, name)
        case = {"name": name, "kind": c.get("kind", "single"), "description": c.get("description", "")}
        if case["kind"] not in ("single", "scaling"):
            raise CaseError("%s: kind must be single or scaling" % where)
        model = dict(defaults.get("model", {}))
        model.update(c.get("model", {}))
        try:
            case["model"] = S.normalise_model(model)
        except ValueError as e:
            raise CaseError("%s: model: %s" % (where, e))
        case["systems"] = _systems(overrides.get("systems") or c.get("systems") or defaults.get("systems")
                                   or list(S.SYSTEMS), where)
        for key, default in (("repeats", 3), ("warmup", 1), ("seed", 0), ("timeout_s", 900)):
            v = overrides.get(key)
            if v is None:
                v = c.get(key, defaults.get(key, default))
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise CaseError("%s: %s must be a number >= 0" % (where, key))
            case[key] = int(v) if key != "timeout_s" else float(v)
        if case["repeats"] < 1:
            raise CaseError("%s: repeats must be >= 1" % where)
        max_rows = dict(defaults.get("max_rows", {}))
        max_rows.update(c.get("max_rows", {}))
        for s, v in max_rows.items():
            if s not in S.SYSTEMS or not isinstance(v, int):
                raise CaseError("%s: max_rows maps a system to a row count" % where)
        case["max_rows"] = max_rows
        case["dataset"] = _dataset(c.get("dataset"), where, base_dir, case["kind"])
        if case["kind"] == "scaling":
            rows = c.get("rows")
            if not isinstance(rows, list) or not rows or not all(isinstance(r, int) and r > 0 for r in rows):
                raise CaseError("%s: a scaling case needs \"rows\": a list of training row counts" % where)
            if "file" in case["dataset"]:
                raise CaseError("%s: a scaling case needs a synth dataset" % where)
            case["rows"] = sorted(set(rows))
        out.append(case)
    return doc.get("name", os.path.splitext(os.path.basename(path))[0]), out


def _dataset(d, where, base_dir, kind):
    where = where + ": dataset"
    _check_keys(d, DATASET_KEYS, where)
    if ("synth" in d) == ("file" in d):
        raise CaseError("%s: give exactly one of synth or file" % where)
    out = {}
    if "synth" in d:
        s = d["synth"]
        _check_keys(s, SYNTH_KEYS, where + ".synth")
        task = s.get("task", "classification")
        if task not in ("classification", "regression"):
            raise CaseError("%s.synth: task must be classification or regression" % where)
        if kind == "single" and not (isinstance(s.get("rows"), int) and s["rows"] > 0):
            raise CaseError("%s.synth: rows (training rows) must be a positive integer" % where)
        if not (isinstance(s.get("features"), int) and s["features"] > 0):
            raise CaseError("%s.synth: features must be a positive integer" % where)
        synth = {"task": task, "rows": s.get("rows"), "features": s["features"],
                 "classes": int(s.get("classes", 2)) if task == "classification" else 0,
                 "missing": float(s.get("missing", 0.0)), "seed": int(s.get("seed", 1))}
        if "informative" in s:
            synth["informative"] = int(s["informative"])
        if not 0.0 <= synth["missing"] < 1.0:
            raise CaseError("%s.synth: missing must be a fraction in [0, 1)" % where)
        out["synth"] = synth
        out["task"] = task
        if "test_rows" in d:
            if not isinstance(d["test_rows"], int) or d["test_rows"] < 10:
                raise CaseError("%s: test_rows must be an integer >= 10" % where)
            out["test_rows"] = d["test_rows"]
    else:
        path = d["file"]
        if not os.path.isabs(path):
            path = os.path.join(base_dir, path) if not os.path.exists(path) else os.path.abspath(path)
        out["file"] = path
        out["label"] = d.get("label", "")
        out["features"] = d.get("features", "X")
        task = d.get("task", "auto")
        if task not in ("auto", "classification", "regression"):
            raise CaseError("%s: task must be auto, classification or regression" % where)
        out["task"] = task
        tf = d.get("test_fraction", 0.2)
        if not isinstance(tf, (int, float)) or not 0.0 < tf < 1.0:
            raise CaseError("%s: test_fraction must be in (0, 1)" % where)
        out["test_fraction"] = float(tf)
    return out
