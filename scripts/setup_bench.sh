#!/usr/bin/env bash
# Creates the virtual environment that `canopy bench` (bench/harness) runs in:
# <repo>/.venv-bench, made with `python3 -m venv` from the python3 on PATH, with
# pinned versions of the harness's own needs (numpy, h5py, matplotlib, psutil)
# and of the peers it compares canopy with (scikit-learn, XGBoost, LightGBM),
# all from PyPI.
#
# Each package is installed on its own, so a peer that cannot be installed does
# not stop the others: the outcome of every package is written to
# .venv-bench/bench-packages.json, and the report lists a peer that failed to
# install as "missing: <reason>" instead of dropping it silently. The harness's
# own packages are required: the script fails when one of them cannot be had.
#
# Usage: scripts/setup_bench.sh [--force] [--core] [--venv DIR]
#   --force   recreate the environment from scratch
#   --core    only the harness's own packages (enough for `canopy bench --systems
#             canopy-cpu` and its test); the peers are then reported missing
#             until the script is run again without --core
#   --venv    where to put it (default: <repo>/.venv-bench, or $CANOPY_BENCH_VENV)
# Environment: PYTHON (interpreter used to create the venv; default python3),
#   CANOPY_BENCH_XGBOOST_PACKAGE (default xgboost-cpu: the CPU-only wheel, which
#   leaves out the ~200 MB NCCL dependency; set it to xgboost for the full one).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CANOPY_BENCH_VENV:-$here/.venv-bench}"
force=0
core_only=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) force=1 ;;
    --core) core_only=1 ;;
    --venv) venv="$2"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "setup_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

python="${PYTHON:-python3}"
xgb_pkg="${CANOPY_BENCH_XGBOOST_PACKAGE:-xgboost-cpu}"

# Pinned versions (Python >= 3.11). Bump together and re-run with --force.
core=(numpy==2.4.6 h5py==3.16.0 matplotlib==3.11.2 psutil==7.2.2)
peers=("scikit-learn==1.9.1" "$xgb_pkg==3.2.0" "lightgbm==4.7.0")

if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup_bench.sh: error: $python not found; install Python 3.11+ (e.g. apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "setup_bench.sh: error: $python has no working venv/ensurepip module;" \
       "install it (Debian: apt-get install python3-venv) or set PYTHON to another interpreter" >&2
  exit 1
fi

if [[ $force -eq 1 && -d "$venv" ]]; then rm -rf "$venv"; fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "setup_bench.sh: creating $venv with $($python --version 2>&1)" >&2
  "$python" -m venv "$venv"
fi
vpy="$venv/bin/python"
"$vpy" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true

status_file="$venv/bench-packages.json"
tmp_status="$(mktemp)"
trap 'rm -f "$tmp_status"' EXIT

install_one() {  # install_one SPEC REQUIRED(0/1)
  local spec="$1" required="$2" log
  log="$(mktemp)"
  echo "setup_bench.sh: pip install $spec" >&2
  if "$vpy" -m pip install --disable-pip-version-check --prefer-binary "$spec" >"$log" 2>&1; then
    printf '%s\tinstalled\t\n' "$spec" >>"$tmp_status"
  else
    local reason
    reason="$(grep -E 'ERROR|error' "$log" | tail -n 1 | tr '\t\n' '  ' | cut -c1-300)"
    [[ -n "$reason" ]] || reason="pip install failed"
    printf '%s\tmissing\t%s\n' "$spec" "$reason" >>"$tmp_status"
    echo "setup_bench.sh: could not install $spec: $reason" >&2
    if [[ "$required" == 1 ]]; then
      tail -n 20 "$log" >&2
      rm -f "$log"
      return 1
    fi
  fi
  rm -f "$log"
}

failed=0
for spec in "${core[@]}"; do install_one "$spec" 1 || failed=1; done
for spec in "${peers[@]}"; do
  if [[ $core_only -eq 1 ]]; then
    # Keep a peer installed earlier; otherwise say why it is absent.
    mod="${spec%%==*}"; mod="${mod%-cpu}"; [[ "$mod" == scikit-learn ]] && mod=sklearn
    if "$vpy" -c "import $mod" >/dev/null 2>&1; then
      printf '%s\tinstalled\t\n' "$spec" >>"$tmp_status"
    else
      printf '%s\tmissing\tnot installed (setup_bench.sh --core); run scripts/setup_bench.sh\n' "$spec" >>"$tmp_status"
    fi
    continue
  fi
  install_one "$spec" 0 || true
done

# bench-packages.json: {"spec": {"status": "installed"|"missing", "reason": ...}}
"$vpy" - "$tmp_status" "$status_file" <<'EOF'
import json, os, sys
rows = {}
with open(sys.argv[1]) as f:
    for line in f:
        spec, status, reason = (line.rstrip("\n").split("\t") + ["", ""])[:3]
        rows[spec] = {"status": status, "reason": reason}
tmp = sys.argv[2] + ".tmp"
with open(tmp, "w") as f:
    json.dump(rows, f, indent=1)
os.replace(tmp, sys.argv[2])
EOF

if [[ $failed -ne 0 ]]; then
  echo "setup_bench.sh: error: a package the harness needs could not be installed (see above)" >&2
  exit 1
fi
echo "setup_bench.sh: ready: $venv (package status in $status_file)" >&2
