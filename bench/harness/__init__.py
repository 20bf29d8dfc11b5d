"""canopy's end-to-end benchmark harness (`canopy bench`, bench/canopy_bench.py).

Runs a suite of cases (dataset x model setting x systems), timing canopy on the
CPU and GPU and its peers (scikit-learn, XGBoost and LightGBM in random-forest
mode) on the same train/test split with equivalent settings, and writes
report.md, report.html and results.json. See docs/benchmarks.md.
"""
SCHEMA_VERSION = 1
