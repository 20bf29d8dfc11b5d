#!/usr/bin/env bash
# The GPU checks of issue 3, as one script for a bare CUDA machine. Run it from
# the repository root after scripts/gpu_bundle.sh (here) has filled gpu-bundle/:
#   scripts/gpu_check.sh [STEP...]      steps: info tests bench full tune report ncu profile
#                                       rotated swizzled flush cluster lean halves subtract
#                                       columns sanitize
#                                       (default: info tests bench full tune report)
# Logs and JSON results go to $OUT (or ./gpu-check-out); GPU_CHECK_TAR=FILE packs
# them into one file, again after every step, so a run stopped from outside
# still leaves the steps it finished. GPU_CHECK_DEADLINE_S=N: the whole run's
# seconds; each step's limit is cut to what is left, and a step that would
# start with under 20 s left is skipped (said in the summary). Every step has its own
# time limit (seconds, from the environment) so one slow step cannot eat the rest:
#   GPU_CHECK_TESTS_S=180 GPU_CHECK_TUNING_TESTS_S=180 GPU_CHECK_BENCH_S=240 GPU_CHECK_FULL_S=120
#   GPU_CHECK_TUNE_S=120
#   GPU_CHECK_REPORT_S=180 GPU_CHECK_NCU_S=90 GPU_CHECK_PROFILE_S=60
#   GPU_CHECK_ROTATED_S=150 GPU_CHECK_SWIZZLED_S=150 GPU_CHECK_FLUSH_S=90 GPU_CHECK_CLUSTER_S=150
#   GPU_CHECK_LEAN_S=200
#   GPU_CHECK_HALVES_S=150 GPU_CHECK_SUBTRACT_S=180 GPU_CHECK_COLUMNS_S=120 GPU_CHECK_SANITIZE_S=240 (each of memcheck,
#   racecheck and synccheck)
# bench: HistogramPass under every CudaTuning (histogram mapping, shared memory per
# block, load batch, padded rows, block threads), Train10M with the CPU comparison,
# Train10MTuned (every histogram tuning at 96 KiB, and the warp split scan under the
# default one);
# then scripts/gpu_tunings.py ranks the tunings ($OUT/tunings.txt).
# ncu: Nsight Compute on one root-level histogram launch of the default tuning's
# HistogramPass, or of GPU_CHECK_NCU_TUNING's (gpu_bench's argument string)
# (throughput, memory tables with shared-memory bank conflicts, warp stall reasons,
# occupancy). Other kernels: GPU_CHECK_NCU_KERNEL (a kernel-name regex),
# GPU_CHECK_NCU_FILTER (gpu_bench's filter), GPU_CHECK_NCU_SKIP and GPU_CHECK_NCU_COUNT
# (matching launches skipped, then profiled; 1 and 1), e.g. the two-pass partition:
#   GPU_CHECK_NCU_KERNEL='partition_(mark|place)_kernel' GPU_CHECK_NCU_SKIP=20 GPU_CHECK_NCU_COUNT=2
#   GPU_CHECK_NCU_FILTER='Train10MPartition/columns:1/two_pass:1/'.
# rotated: the rotated-rows walk (256 and 512 threads) against the default
# (swizzled-rows) and row-words walks, at 96 KiB: HistogramPass,
# HistogramPassFewBins and TrainAllFeatures1M with subtraction (every group
# dense), ranked into $OUT/rotated.txt.
# swizzled: the swizzled-rows walk (the default; 256 and 512 threads) against
# the row-words walk, the same cases, ranked into $OUT/swizzled.txt; then Nsight
# Compute on its 512-thread HistogramPass launch ($OUT/ncu-swizzled.txt).
# flush: HistogramPass and HistogramPassFewBins under the default and row-words
# walks at 4M and 10M rows (both launch one wave of chunks on a 132-SM card),
# each case's histogram kernel time split by scripts/gpu_tunings.py
# --fixed-part into a time a row and the part that does not grow with the rows
# (the blocks' zeroing and flush of their shared histograms), into
# $OUT/flush.txt.
# cluster: the default tuning in thread-block clusters of 1, 2, 4 and 8 blocks
# (CudaTuning::histogram_cluster_blocks): HistogramPassCluster at 256 and 4
# bins a feature, Train10MCluster and TrainAllFeatures1MCluster (1 and 4),
# into $OUT/cluster.log (ranked into $OUT/cluster-ranked.txt); then compute-sanitizer's racecheck on the test that
# runs clusters on small problems (CudaBackend.OptInPathsOnSmallProblemsMatchCpu).
# lean: the staggered flush, the flush by sectors, class ids in the rows'
# padding and identity roots (CudaTuning::histogram_staggered_flush,
# histogram_sector_flush, histogram_row_classes, histogram_identity_root),
# alone and together, with clusters of 1 and 4:
# HistogramPassLean at 256 and 4 bins a feature and Train10MLean; and at most
# 1 or 2 histogram blocks a multiprocessor (CudaTuning::histogram_blocks_per_sm)
# with and without the flush by sectors, the lean rows and clusters of 4:
# HistogramPassBlocks and Train10MBlocks; into
# $OUT/lean.log, ranked against all of them off into $OUT/lean-ranked.txt
# (scripts/gpu_tunings.py --opt-ins); both root passes again at 4M rows, each case's fixed part
# (as the flush step) into $OUT/lean.txt; then compute-sanitizer's memcheck on
# the test that runs the three on small problems
# (CudaBackend.OptInPathsOnSmallProblemsMatchCpu).
# halves: HistogramPass64 (a weighted batch's root pass) and TrainRegression1M
# (with the CPU backend beside it), 64-bit shared counters by compare-and-swap
# against 32-bit atomic halves (CudaTuning::histogram_atomics_in_halves), into
# $OUT/halves.log.
# subtract: TrainAllFeatures1M (every feature a node) without and with the
# subtraction trick, under the row-words and rotated-rows walks, and the CPU
# backend.
# columns: Train10MPartition, the partition reading rows or the feature-major copy,
# by flags or in two passes.
# sanitize: compute-sanitizer's memcheck, racecheck and synccheck on the opt-in paths
# (CudaBackend.OptInPathsOnSmallProblemsMatchCpu), to $OUT/sanitize.log.
# profile: CANOPY_PROFILE=1 (time per backend phase) on the default tuning's
# HistogramPass and reference training.
# The report step runs `canopy bench --quick` for canopy-cpu, canopy-gpu and
# scikit-learn with the machine's python3 (which must have numpy, h5py,
# scikit-learn and matplotlib) standing in for the bench virtual environment.
# Sizes: CANOPY_GPU_BENCH_ROWS (10M), CANOPY_GPU_BENCH_FULL_ROWS (1M),
#        GPU_CHECK_TUNE_ROWS (1M), GPU_CHECK_TUNE_TREES (20).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
B=gpu-bundle
[ -x "$B/run.sh" ] || { echo "gpu_check: $B/run.sh missing; run scripts/gpu_bundle.sh first" >&2; exit 2; }
START_S=$(date +%s)
# Seconds left before GPU_CHECK_DEADLINE_S (a large number without one).
seconds_left() {
  if [ -n "${GPU_CHECK_DEADLINE_S:-}" ]; then
    echo $(( START_S + GPU_CHECK_DEADLINE_S - $(date +%s) ))
  else
    echo 1000000
  fi
}
# `timeout` with its limit $1 cut to the seconds left (at least 1).
bounded() {
  local limit=$1 left
  shift
  left=$(seconds_left)
  (( left < limit )) && limit=$left
  (( limit < 1 )) && limit=1
  timeout "$limit" "$@"
}
# $OUT packed into GPU_CHECK_TAR, when set (the device tool brings back at
# most 8 files).
pack() {
  [ -n "${GPU_CHECK_TAR:-}" ] && tar czf "$GPU_CHECK_TAR" -C "$(dirname "$OUT")" "$(basename "$OUT")"
  return 0
}
# gpu_bench with a filter, its JSON to $OUT/$2.json and its output to $OUT/$3.log,
# within $4 seconds.
gpu_bench() {
  bounded "$4" "$B/run.sh" gpu_bench --benchmark_filter="$1" --benchmark_out="$OUT/$2.json" \
    --benchmark_out_format=json 2>&1 | tee "$OUT/$3.log"
}
# Nsight Compute on gpu_bench's launches of kernels matching $1 (a regex), in
# the cases $2 (a gpu_bench filter), skipping $3 and profiling $4 of them, to
# $OUT/$5; its status is the profiler's.
ncu_bench() {
  local ncu_bin
  ncu_bin="$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)"
  CANOPY_GPU_BENCH_CPU=0 bounded "${GPU_CHECK_NCU_S:-90}" "$B/run.sh" "${ncu_bin:-ncu}" --clock-control none \
    --kernel-name "regex:$1" --launch-skip "$3" --launch-count "$4" --section SpeedOfLight \
    --section MemoryWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables --section WarpStateStats \
    --section SchedulerStats --section Occupancy --section LaunchStats gpu_bench --benchmark_filter="$2" 2>&1 |
    tee "$OUT/$5" | grep -v '^==PROF==' | tail -60
  return "${PIPESTATUS[0]}"
}
# compute-sanitizer's tool $1 on the test that runs the opt-in paths on small
# problems (CudaBackend.OptInPathsOnSmallProblemsMatchCpu), appended to
# $OUT/$2; its status is the sanitizer's.
sanitize_opt_ins() {
  local san
  san="$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)"
  bounded "${GPU_CHECK_SANITIZE_S:-240}" "$B/run.sh" "${san:-compute-sanitizer}" --tool "$1" --error-exitcode 3 \
    test_kernels --gtest_brief=1 --gtest_filter='CudaBackend.OptInPathsOnSmallProblemsMatchCpu' 2>&1 |
    tee -a "$OUT/$2"
  return "${PIPESTATUS[0]}"
}
# gpu_bench's name for CudaTuning{} (the default tuning) and its histogram pass.
DEFAULT_TUNING='mapping:4/shared_KiB:96/batch:1/pad:0/threads:512'
DEFAULT_HISTOGRAM_PASS="HistogramPass/$DEFAULT_TUNING/"
# The walks' gpu_bench mappings (CudaTuning::HistogramMapping's order) and
# their tunings: the default's but for the mapping, at 256 and 512 threads;
# the row-words walk (the default before 2026-11-28) at 512, the baseline the
# rotated and swizzled steps compare with.
ROW_WORDS_MAPPING=2
ROW_WORDS_TUNING="mapping:$ROW_WORDS_MAPPING/shared_KiB:96/batch:1/pad:0/threads:512"
ROTATED_MAPPING=3
SWIZZLED_MAPPING=4
ROTATED_TUNING="mapping:$ROTATED_MAPPING/shared_KiB:96/batch:1/pad:0/threads:(256|512)"
SWIZZLED_TUNING="mapping:$SWIZZLED_MAPPING/shared_KiB:96/batch:1/pad:0/threads:(256|512)"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(info tests bench full tune report)
summary=()
# A step's outcome, added to $OUT/summary.txt, and $OUT packed again.
note() {
  summary+=("$1")
  echo "== $1"
  printf '%s\n' "${summary[@]}" >"$OUT/summary.txt"
  pack
}

for s in "${steps[@]}"; do
  t0=$(date +%s)
  if (( $(seconds_left) < 20 )); then
    note "$s: skipped, under 20 s left of GPU_CHECK_DEADLINE_S=$GPU_CHECK_DEADLINE_S"
    continue
  fi
  case "$s" in
    info)
      nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 | tee "$OUT/info.txt"
      "$B/run.sh" canopy devices 2>&1 | tee -a "$OUT/info.txt"
      rc=$?
      ;;
    tests)
      # All of test_kernels (the GPU tests and their CPU neighbours, which are
      # quick); every tuning's test (the slowest) last, under its own limit.
      bounded "${GPU_CHECK_TESTS_S:-180}" "$B/run.sh" test_kernels --gtest_brief=1 \
        --gtest_filter='-CudaBackend.HistogramTuningsMatchCpu' 2>&1 |
        tee "$OUT/tests.log"
      rc=$?
      bounded "${GPU_CHECK_TUNING_TESTS_S:-180}" "$B/run.sh" test_kernels --gtest_brief=1 \
        --gtest_filter='CudaBackend.HistogramTuningsMatchCpu' 2>&1 | tee -a "$OUT/tests.log"
      rc_tunings=$?
      (( rc_tunings > rc )) && rc=$rc_tunings
      ;;
    bench)
      gpu_bench 'HistogramPass(/|FewBins)|Train10M' gpu_bench bench "${GPU_CHECK_BENCH_S:-240}"
      rc=$?
      python3 scripts/gpu_tunings.py "$OUT/gpu_bench.json" 2>&1 | tee "$OUT/tunings.txt"
      ;;
    ncu)
      ncu_bench "${GPU_CHECK_NCU_KERNEL:-histogram_kernel}" \
        "${GPU_CHECK_NCU_FILTER:-HistogramPass/${GPU_CHECK_NCU_TUNING:-$DEFAULT_TUNING}/}" \
        "${GPU_CHECK_NCU_SKIP:-1}" "${GPU_CHECK_NCU_COUNT:-1}" ncu.txt
      rc=$?
      ;;
    profile)
      CANOPY_PROFILE=1 bounded "${GPU_CHECK_PROFILE_S:-60}" "$B/run.sh" gpu_bench \
        --benchmark_filter="$DEFAULT_HISTOGRAM_PASS|Train10MTuned/$DEFAULT_TUNING/split:0/" 2>&1 | tee "$OUT/profile.log"
      rc=$?
      ;;
    rotated)
      gpu_bench "(HistogramPass|HistogramPassFewBins)/($DEFAULT_TUNING|$ROW_WORDS_TUNING|$ROTATED_TUNING)/|TrainAllFeatures1M/subtract:1/mapping:($ROW_WORDS_MAPPING|$ROTATED_MAPPING|$SWIZZLED_MAPPING)/" \
        rotated rotated "${GPU_CHECK_ROTATED_S:-150}"
      rc=$?
      python3 scripts/gpu_tunings.py "$OUT/rotated.json" 2>&1 | tee "$OUT/rotated.txt"
      ;;
    swizzled)
      gpu_bench "(HistogramPass|HistogramPassFewBins)/($ROW_WORDS_TUNING|$SWIZZLED_TUNING)/|TrainAllFeatures1M/subtract:1/mapping:($ROW_WORDS_MAPPING|$SWIZZLED_MAPPING)/" \
        swizzled swizzled "${GPU_CHECK_SWIZZLED_S:-150}"
      rc=$?
      python3 scripts/gpu_tunings.py "$OUT/swizzled.json" 2>&1 | tee "$OUT/swizzled.txt"
      ncu_bench histogram_kernel "HistogramPass/mapping:$SWIZZLED_MAPPING/shared_KiB:96/batch:1/pad:0/threads:512/" 1 1 \
        ncu-swizzled.txt || rc=1
      ;;
    flush)
      rc=0
      for rows in 4000000 10000000; do
        CANOPY_GPU_BENCH_ROWS=$rows CANOPY_GPU_BENCH_CPU=0 gpu_bench \
          "(HistogramPass|HistogramPassFewBins)/($DEFAULT_TUNING|$ROW_WORDS_TUNING)/" "flush-$rows" "flush-$rows" \
          "${GPU_CHECK_FLUSH_S:-90}" || rc=1
      done
      python3 scripts/gpu_tunings.py --fixed-part "$OUT/flush-4000000.json" 4000000 "$OUT/flush-10000000.json" \
        10000000 2>&1 | tee "$OUT/flush.txt"
      ;;
    cluster)
      gpu_bench 'Cluster' cluster cluster "${GPU_CHECK_CLUSTER_S:-150}"
      rc=$?
      python3 scripts/gpu_tunings.py --opt-ins "$OUT/cluster.json" 2>&1 | tee "$OUT/cluster-ranked.txt"
      sanitize_opt_ins racecheck cluster.log || rc=1
      ;;
    lean)
      rc=0
      gpu_bench 'Lean|Blocks' lean lean "${GPU_CHECK_LEAN_S:-200}" || rc=1
      python3 scripts/gpu_tunings.py --opt-ins "$OUT/lean.json" 2>&1 | tee "$OUT/lean-ranked.txt"
      CANOPY_GPU_BENCH_ROWS=4000000 gpu_bench 'HistogramPass(Lean|Blocks)/' lean-4000000 lean-4000000 \
        "${GPU_CHECK_FLUSH_S:-90}" || rc=1
      python3 scripts/gpu_tunings.py --fixed-part "$OUT/lean-4000000.json" 4000000 "$OUT/lean.json" 10000000 2>&1 |
        tee "$OUT/lean.txt"
      sanitize_opt_ins memcheck lean.log || rc=1
      ;;
    halves)
      gpu_bench 'HistogramPass64|TrainRegression1M' halves halves "${GPU_CHECK_HALVES_S:-150}"
      rc=$?
      ;;
    subtract)
      gpu_bench TrainAllFeatures gpu_bench_subtract subtract "${GPU_CHECK_SUBTRACT_S:-180}"
      rc=$?
      ;;
    columns)
      gpu_bench Train10MPartition gpu_bench_columns columns "${GPU_CHECK_COLUMNS_S:-120}"
      rc=$?
      ;;
    sanitize)
      rc=0
      for tool in memcheck racecheck synccheck; do
        sanitize_opt_ins "$tool" sanitize.log
        r=$?
        (( r > rc )) && rc=$r
      done
      ;;
    full)
      gpu_bench FullyGrown gpu_bench_full full "${GPU_CHECK_FULL_S:-120}"
      rc=$?
      ;;
    tune)
      bounded "${GPU_CHECK_TUNE_S:-120}" "$B/run.sh" python3 bench/tune_bench.py --canopy "$B/canopy" \
        --device cuda --skip-sklearn --rows "${GPU_CHECK_TUNE_ROWS:-1000000}" \
        --trees "${GPU_CHECK_TUNE_TREES:-20}" 2>&1 | tee "$OUT/tune.log"
      rc=$?
      ;;
    report)
      venv=/tmp/canopy-gpu-check-venv
      mkdir -p "$venv/bin" && printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v python3)" >"$venv/bin/python" &&
        chmod +x "$venv/bin/python"
      rm -rf /tmp/canopy-gpu-check-report
      CANOPY_BENCH_VENV="$venv" bounded "${GPU_CHECK_REPORT_S:-180}" "$B/run.sh" canopy bench --quick --no-setup \
        --no-tracking --systems canopy-cpu,canopy-gpu,sklearn --out /tmp/canopy-gpu-check-report 2>&1 |
        tee "$OUT/report.log"
      rc=$?
      cp /tmp/canopy-gpu-check-report/report.md /tmp/canopy-gpu-check-report/results.json "$OUT/" 2>/dev/null
      ;;
    *) echo "gpu_check: unknown step '$s'" >&2; exit 2 ;;
  esac
  note "$s: exit $rc in $(( $(date +%s) - t0 )) s"
done
cat "$OUT/summary.txt"
