"""Test-set metrics computed the same way for every system (numpy only).

Classification: accuracy, roc_auc (binary: AUC of class 1; multi-class: the
macro average of one-vs-rest AUCs, as scikit-learn's roc_auc_score with
multi_class="ovr", average="macro"), log_loss. Regression: r2, rmse, mae.
"""
import math

import numpy as np


def _rankdata(x):
    """Average ranks (1-based) with ties sharing their mean rank."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    # boundaries of runs of equal values
    diff = np.concatenate(([True], xs[1:] != xs[:-1], [True]))
    idx = np.flatnonzero(diff)
    for start, stop in zip(idx[:-1], idx[1:]):
        ranks[order[start:stop]] = 0.5 * (start + stop - 1) + 1.0
    return ranks


def binary_auc(y_true01, score):
    """ROC AUC by the Mann-Whitney statistic; NaN when one class is absent."""
    y = np.asarray(y_true01).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = _rankdata(np.asarray(score, dtype=np.float64))
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_metrics(y_true, proba):
    """y_true: int class ids 0..C-1; proba: (n, C) class probabilities."""
    y = np.asarray(y_true).astype(np.int64)
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim == 1:
        p = np.stack([1.0 - p, p], axis=1)
    n_classes = p.shape[1]
    pred = np.argmax(p, axis=1)
    out = {"accuracy": float(np.mean(pred == y))}
    if n_classes == 2:
        out["roc_auc"] = binary_auc(y == 1, p[:, 1])
    else:
        aucs = [binary_auc(y == c, p[:, c]) for c in range(n_classes)]
        aucs = [a for a in aucs if not math.isnan(a)]
        out["roc_auc"] = float(np.mean(aucs)) if aucs else float("nan")
    eps = 1e-15
    rows = np.arange(len(y))
    ok = y < n_classes
    out["log_loss"] = float(-np.mean(np.log(np.clip(p[rows[ok], y[ok]], eps, 1.0))))
    return out


def regression_metrics(y_true, pred):
    y = np.asarray(y_true, dtype=np.float64)
    f = np.asarray(pred, dtype=np.float64)
    res = y - f
    ss_res = float(np.sum(res * res))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        "rmse": math.sqrt(ss_res / len(y)),
        "mae": float(np.mean(np.abs(res))),
    }


# The metric each task's correctness check and accuracy plot use, and the
# other metrics that are checked against scikit-learn too.
PRIMARY = {"classification": "accuracy", "regression": "r2"}
CHECKED = {"classification": ("accuracy", "roc_auc"), "regression": ("r2",)}
