#!/usr/bin/env bash
# Installs what canopy needs, builds it, and runs the main job on real data:
# a random forest on scikit-learn's diabetes dataset (442 patients, 10
# features), 5-fold cross-validated metrics, and the model saved to
# out/diabetes.h5. Runs are recorded in ./canopy.db (embedded SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target canopy >/dev/null
/usr/bin/python3 scripts/make_example_data.py data
mkdir -p out
./build/canopy train --data data/diabetes.csv --label target --n-estimators 100 \
  --cv 5 --shuffle-seed 0 --oob-score --out out/diabetes.h5
