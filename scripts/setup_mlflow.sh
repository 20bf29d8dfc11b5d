#!/usr/bin/env bash
# Creates the Python virtual environment holding an MLflow tracking server for
# the MLflow integration test (tests/tracking/mlflow_integration_test.cc) and for
# trying `canopy --tracking-uri http://...` locally.
#
#   scripts/setup_mlflow.sh [VENV_DIR]     (default: <repo>/.venv-mlflow)
#
# The test finds the venv through CANOPY_MLFLOW_VENV (default <repo>/.venv-mlflow)
# and skips with a message when its mlflow is missing. Idempotent.
set -euo pipefail
MLFLOW_VERSION="${CANOPY_MLFLOW_VERSION:-3.17.2}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-${CANOPY_MLFLOW_VENV:-$ROOT/.venv-mlflow}}"
PY="${PYTHON:-python3}"

if [ -x "$VENV/bin/mlflow" ] && "$VENV/bin/python" -c "import mlflow, sys; sys.exit(0 if mlflow.__version__ == '$MLFLOW_VERSION' else 1)" 2>/dev/null; then
  echo "mlflow $MLFLOW_VERSION already installed in $VENV"
  exit 0
fi
"$PY" -m venv "$VENV"
# Keep the venv out of git status without touching the repository's .gitignore.
echo '*' > "$VENV/.gitignore"
"$VENV/bin/pip" install -q --upgrade pip
# The full `mlflow` package: mlflow-skinny has no tracking server.
"$VENV/bin/pip" install -q "mlflow==$MLFLOW_VERSION"
"$VENV/bin/mlflow" --version
