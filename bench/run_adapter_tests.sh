#!/usr/bin/env bash
# Runs the harness's Python tests (bench/tests) with the bench venv's
# interpreter: adapters of scikit-learn, XGBoost and LightGBM (each skipped
# with its reason when not installed), metrics, cases files.
# Usage: bench/run_adapter_tests.sh [--setup | --skip-if-missing]
#   --setup            create/update the venv first (scripts/setup_bench.sh)
#   --skip-if-missing  exit 77 (CTest's SKIP_RETURN_CODE) when the venv is missing
# Ends with a line "N passed, N failed, N skipped"; exits non-zero on a failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
venv="${CANOPY_BENCH_VENV:-$repo/.venv-bench}"
skip_missing=0
case "${1:-}" in
  --setup) shift; "$repo/scripts/setup_bench.sh" ;;
  --skip-if-missing) shift; skip_missing=1 ;;
esac
if [[ ! -x "$venv/bin/python" ]]; then
  if [[ $skip_missing -eq 1 ]]; then
    echo "run_adapter_tests.sh: skipped: $venv is missing (scripts/setup_bench.sh creates it)" >&2
    exit 77
  fi
  echo "run_adapter_tests.sh: error: $venv is missing; run scripts/setup_bench.sh (or pass --setup)" >&2
  exit 1
fi
cd "$here"
exec "$venv/bin/python" - "$@" <<'PY'
import sys, unittest
sys.path.insert(0, ".")
suite = unittest.defaultTestLoader.discover("tests", pattern="test_*.py")
result = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(result.failures) + len(result.errors)
skipped = len(result.skipped)
passed = result.testsRun - failed - skipped
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
PY
