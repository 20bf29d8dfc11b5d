#!/usr/bin/python3
"""Writes scikit-learn's bundled real datasets as CSV files with a header row.

Usage: make_example_data.py OUT_DIR

Uses Debian's python3-sklearn (installed by scripts/setup.sh); nothing is
downloaded. Files written: diabetes.csv (regression, label "target"),
breast_cancer.csv (binary, label "diagnosis" as strings), iris.csv and
wine.csv (multi-class, label "target").
"""
import csv
import os
import sys

from sklearn import datasets


def write(path, names, X, y, label):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(names) + [label])
        for row, target in zip(X, y):
            w.writerow([repr(float(v)) for v in row] + [target])
    os.replace(tmp, path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "data"
    os.makedirs(out, exist_ok=True)
    d = datasets.load_diabetes(scaled=False)
    write(os.path.join(out, "diabetes.csv"), d.feature_names, d.data,
          [repr(float(t)) for t in d.target], "target")
    b = datasets.load_breast_cancer()
    names = [n.replace(" ", "_") for n in b.feature_names]
    write(os.path.join(out, "breast_cancer.csv"), names, b.data,
          [b.target_names[t] for t in b.target], "diagnosis")
    i = datasets.load_iris()
    names = [n.replace(" (cm)", "").replace(" ", "_") for n in i.feature_names]
    write(os.path.join(out, "iris.csv"), names, i.data, [i.target_names[t] for t in i.target], "species")
    wn = datasets.load_wine()
    write(os.path.join(out, "wine.csv"), wn.feature_names, wn.data, list(wn.target), "target")


if __name__ == "__main__":
    main()
