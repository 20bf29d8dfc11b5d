#!/usr/bin/env bash
# Installs what the build and tests need, builds canopy (with the CUDA backend
# compiled in when nvcc is present) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/setup_mlflow.sh   # a real MLflow server for the integration tests
scripts/setup_bench.sh    # the benchmark harness and its peers (scikit-learn, XGBoost, LightGBM)
# CI (.ci/run) sets CANOPY_REQUIRE_CUDA=ON, so every run compiles the CUDA code
# (configuration fails without nvcc instead of quietly building CPU-only). Passed
# either way, since the option is cached in build/.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCANOPY_REQUIRE_CUDA="${CANOPY_REQUIRE_CUDA:-OFF}"
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
