#!/usr/bin/env bash
# Installs what the build and tests need, builds canopy (with the CUDA backend
# compiled in when nvcc is present) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -x scripts/setup_mlflow.sh ]; then scripts/setup_mlflow.sh; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
