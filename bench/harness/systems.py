"""The systems a case can run, and how one model setting maps onto each.

A model setting (the "model" object of a case) uses canopy's / scikit-learn's
names:
  n_estimators      trees in the forest
  max_depth         maximum depth, root = 0 (null: unlimited)
  max_features      features drawn per node: "sqrt", "log2", "all", a fraction
                    in (0, 1], or a count
  max_bins          bins per feature, canopy's meaning: value bins + 1
                    missing-value bin (256 = 255 value bins)
  min_samples_leaf  smallest leaf (rows of the bootstrap sample)
  bootstrap         true: every tree sees a bootstrap sample

Each adapter turns that setting into its library's parameters (`*_params`)
and fits/predicts (`fit_*`, used by harness.worker in a subprocess). The
mapping is written into results.json and the report.
"""
import math

SYSTEMS = ("canopy-cpu", "canopy-gpu", "canopy-cpu-ovr", "canopy-gpu-ovr", "sklearn", "xgboost", "lightgbm")
PEERS = ("sklearn", "xgboost", "lightgbm")
CANOPY = ("canopy-cpu", "canopy-gpu", "canopy-cpu-ovr", "canopy-gpu-ovr")
# canopy with --multi-class ovr: one tree per class per forest member, the model
# XGBoost and LightGBM grow; it runs on cases with 3+ classes only.
ONE_VS_REST = ("canopy-cpu-ovr", "canopy-gpu-ovr")
LABELS = {
    "canopy-cpu": "canopy (CPU)",
    "canopy-gpu": "canopy (GPU)",
    "canopy-cpu-ovr": "canopy (CPU, one-vs-rest)",
    "canopy-gpu-ovr": "canopy (GPU, one-vs-rest)",
    "sklearn": "scikit-learn RF",
    "xgboost": "XGBoost RF (hist)",
    "lightgbm": "LightGBM rf",
}
# The Python module each peer needs (its import name) and the pip package.
PEER_MODULES = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm"}
PEER_PACKAGES = {"sklearn": "scikit-learn", "xgboost": "xgboost-cpu", "lightgbm": "lightgbm"}

# Fraction of distinct rows in a bootstrap sample of n from n: 1 - 1/e.
BOOTSTRAP_FRACTION = 0.632

MODEL_DEFAULTS = {
    "n_estimators": 100,
    "max_depth": 10,
    "max_features": "sqrt",
    "max_bins": 256,
    "min_samples_leaf": 1,
    "bootstrap": True,
}


def normalise_model(model):
    m = dict(MODEL_DEFAULTS)
    m.update(model or {})
    unknown = set(m) - set(MODEL_DEFAULTS)
    if unknown:
        raise ValueError("unknown model setting(s): " + ", ".join(sorted(unknown)))
    if int(m["n_estimators"]) < 1:
        raise ValueError("n_estimators must be >= 1")
    if m["max_depth"] is not None and int(m["max_depth"]) < 1:
        raise ValueError("max_depth must be >= 1 or null")
    if not 3 <= int(m["max_bins"]) <= 256:
        raise ValueError("max_bins must be in [3, 256]")
    features_per_node(m["max_features"], 10)  # validates the spec
    return m


def features_per_node(spec, n_features):
    """The number of features drawn per node, as scikit-learn computes it."""
    f = int(n_features)
    if spec is None or spec == "all":
        return f
    if spec == "sqrt":
        return max(1, int(math.sqrt(f)))
    if spec == "log2":
        return max(1, int(math.log2(f)))
    if spec == "onethird":
        return max(1, int(f / 3))
    if isinstance(spec, bool):
        raise ValueError("invalid max_features: %r" % (spec,))
    if isinstance(spec, int):
        if spec < 1:
            raise ValueError("max_features count must be >= 1")
        return min(spec, f)
    if isinstance(spec, float):
        if not 0.0 < spec <= 1.0:
            raise ValueError("max_features fraction must be in (0, 1]")
        return max(1, int(spec * f))
    raise ValueError("invalid max_features: %r (sqrt, log2, onethird, all, a fraction or a count)" % (spec,))


def node_fraction(k, n_features):
    """A per-node column fraction that XGBoost (rounds) and LightGBM (rounds
    half up) both turn into exactly k of n_features features."""
    if k >= n_features:
        return 1.0
    return (k + 0.25) / n_features


def canopy_max_features(spec, n_features):
    """The --max-features text for canopy: the feature count k (computed as
    scikit-learn does, so both draw the same number), or "all". A count is
    exact and avoids canopy's parsing of names (`onethird` is rejected by
    canopy 0.1.0's validation, which reads the "e" as a number's exponent)."""
    k = features_per_node(spec, n_features)
    return "all" if k >= n_features else str(k)


def canopy_device(system):
    return "cpu" if system.startswith("canopy-cpu") else "cuda"


def canopy_args(model, task, threads, seed, device, n_features, one_vs_rest=False):
    m = normalise_model(model)
    args = ["--task", task, "--n-estimators", str(m["n_estimators"]),
            "--max-features", canopy_max_features(m["max_features"], n_features),
            "--max-bins", str(m["max_bins"]), "--min-samples-leaf", str(m["min_samples_leaf"]),
            "--seed", str(seed), "--threads", str(threads), "--device", device]
    if m["max_depth"] is not None:
        args += ["--max-depth", str(m["max_depth"])]
    if not m["bootstrap"]:
        args.append("--no-bootstrap")
    if one_vs_rest:
        args += ["--multi-class", "ovr"]
    return args


def sklearn_params(model, task, n_features, threads, seed):
    m = normalise_model(model)
    return {
        "n_estimators": int(m["n_estimators"]),
        "max_depth": None if m["max_depth"] is None else int(m["max_depth"]),
        "max_features": features_per_node(m["max_features"], n_features),
        "min_samples_leaf": int(m["min_samples_leaf"]),
        "bootstrap": bool(m["bootstrap"]),
        "n_jobs": int(threads),
        "random_state": int(seed),
    }


def xgboost_params(model, task, n_features, threads, seed):
    """XGBRFClassifier / XGBRFRegressor: num_parallel_tree = n_estimators, one
    boosting round, learning_rate 1, rows subsampled without replacement at
    the bootstrap's distinct-row fraction, columns sampled per node."""
    m = normalise_model(model)
    k = features_per_node(m["max_features"], n_features)
    p = {
        "n_estimators": int(m["n_estimators"]),  # XGBRF*: num_parallel_tree
        "learning_rate": 1.0,
        "tree_method": "hist",
        "max_bin": int(m["max_bins"]),
        "subsample": BOOTSTRAP_FRACTION if m["bootstrap"] else 1.0,
        "colsample_bynode": node_fraction(k, n_features),
        "colsample_bytree": 1.0,
        "reg_lambda": 1e-5,
        "min_child_weight": float(m["min_samples_leaf"]),
        "n_jobs": int(threads),
        "random_state": int(seed),
    }
    if m["max_depth"] is None:
        p.update(max_depth=0, grow_policy="lossguide", max_leaves=0)
    else:
        p["max_depth"] = int(m["max_depth"])
    return p


def lightgbm_params(model, task, n_features, threads, seed):
    """LGBMClassifier / LGBMRegressor with boosting_type="rf": one tree per
    iteration averaged, bagging every iteration, columns sampled per node."""
    m = normalise_model(model)
    k = features_per_node(m["max_features"], n_features)
    depth = m["max_depth"]
    p = {
        "boosting_type": "rf",
        "n_estimators": int(m["n_estimators"]),
        "max_depth": -1 if depth is None else int(depth),
        "num_leaves": 131072 if depth is None else int(min(2 ** int(depth), 131072)),
        "max_bin": int(m["max_bins"]) - 1,  # LightGBM keeps NaN in a bin of its own
        "subsample": BOOTSTRAP_FRACTION if m["bootstrap"] else 1.0 - 1e-9,
        "subsample_freq": 1,
        "feature_fraction_bynode": node_fraction(k, n_features),
        "colsample_bytree": 1.0,
        "min_child_samples": int(m["min_samples_leaf"]),
        "reg_lambda": 0.0,
        "n_jobs": int(threads),
        "random_state": int(seed),
        "verbose": -1,
    }
    return p


PARAMS = {"sklearn": sklearn_params, "xgboost": xgboost_params, "lightgbm": lightgbm_params}


def mapping_rows():
    """The parameter mapping table of the report: (setting, canopy, sklearn, xgboost, lightgbm)."""
    return [
        ("trees", "--n-estimators T", "n_estimators=T", "XGBRF*: n_estimators=T (num_parallel_tree=T, 1 round)",
         "boosting_type=rf, n_estimators=T"),
        ("depth", "--max-depth D", "max_depth=D", "max_depth=D, tree_method=hist",
         "max_depth=D, num_leaves=2^D"),
        ("features per node", "--max-features k", "max_features=k (k from S as sklearn computes it)",
         "colsample_bynode=(k+0.25)/F", "feature_fraction_bynode=(k+0.25)/F"),
        ("bins", "--max-bins B (B-1 value bins + missing bin)", "exact splits (no binning)", "max_bin=B",
         "max_bin=B-1 (+ its NaN bin)"),
        ("row sampling", "bootstrap (with replacement)", "bootstrap=True",
         "subsample=0.632 (without replacement)", "subsample=0.632, subsample_freq=1"),
        ("min leaf", "--min-samples-leaf L", "min_samples_leaf=L", "min_child_weight=L (hessian sum)",
         "min_child_samples=L"),
        ("C > 2 classes", "each tree predicts all C classes; one-vs-rest rows (--multi-class ovr): C trees per "
         "forest member, one per class against the rest, C x T trees in all",
         "each tree predicts all C classes",
         "C trees per forest member (one per class, multi:softprob): C x T trees in all",
         "C trees per forest member (one per class, multiclass): C x T trees in all"),
        ("shrinkage", "-", "-", "learning_rate=1, reg_lambda=1e-5", "reg_lambda=0"),
        ("threads", "--threads N", "n_jobs=N", "n_jobs=N", "n_jobs=N"),
        ("seed", "--seed S", "random_state=S", "random_state=S", "random_state=S"),
    ]


# ---------------------------------------------------------------- fitting
# Used inside harness.worker (a subprocess per system and case).

def peer_version(system):
    import importlib
    mod = importlib.import_module(PEER_MODULES[system])
    return getattr(mod, "__version__", "unknown")


def make_estimator(system, task, params):
    if system == "sklearn":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
        cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
        return cls(**params)
    if system == "xgboost":
        import xgboost
        cls = xgboost.XGBRFClassifier if task == "classification" else xgboost.XGBRFRegressor
        return cls(**params)
    if system == "lightgbm":
        import lightgbm
        cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
        return cls(**params)
    raise ValueError("unknown peer system " + system)


def predict(est, task, X, n_classes):
    """(n, C) probabilities for classification, (n,) values for regression."""
    import numpy as np
    if task == "regression":
        return np.asarray(est.predict(X), dtype=np.float64)
    p = np.asarray(est.predict_proba(X), dtype=np.float64)
    if p.shape[1] != n_classes:  # a class absent from the training rows
        full = np.zeros((p.shape[0], n_classes))
        full[:, np.asarray(est.classes_, dtype=np.int64)] = p
        p = full
    return p
