#!/usr/bin/env bash
# Builds canopy with CUDA and packs everything a bare GPU machine needs to run
# the test and bench binaries into gpu-bundle/ (DESIGN: "Testing on a GPU").
#
# gpu-bundle/ handling:
#   - it is a build output: the script deletes and recreates it on every run and
#     writes gpu-bundle/.gitignore ("*") so git ignores it; nothing is added to git;
#   - it must stay under 64 MiB (the script strips binaries and fails above that);
#   - on the GPU machine (CUDA 13 driver, none of canopy's other libraries) run the
#     binaries through its run.sh, which sets LD_LIBRARY_PATH to gpu-bundle/lib and
#     CANOPY_TEST_DATA_DIR to gpu-bundle/data, e.g.
#         gpu-bundle/run.sh test_kernels --gtest_brief=1
#         gpu-bundle/run.sh canopy devices
#     (with the device `run` tool: carry ["gpu-bundle"], since the folder is ignored).
#   - libc/libm/libdl/libpthread/librt/ld-linux (glibc) and libcuda/libnvidia* (the
#     driver) are NOT bundled: the GPU machine's own are used. The CUDA runtime is
#     linked statically into the binaries.
#
# Usage: scripts/gpu_bundle.sh            (from anywhere; works in the repo root)
# Environment: CANOPY_CUDA_ARCHITECTURES (default "90"), JOBS (default nproc),
#              PYTHON (default /usr/bin/python3, which has python3-sklearn).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="build-gpu"
BUNDLE="gpu-bundle"
ARCHS="${CANOPY_CUDA_ARCHITECTURES:-90}"
JOBS="${JOBS:-$(nproc)}"
LIMIT_BYTES=$((64 * 1024 * 1024))

die() { echo "gpu_bundle: $*" >&2; exit 1; }

# 1. Build (Release, CUDA required: configuration fails without nvcc; the CUDA
# runtime is static, see CMakeLists.txt).
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCANOPY_CUDA=ON -DCANOPY_REQUIRE_CUDA=ON \
  "-DCMAKE_CUDA_ARCHITECTURES=$ARCHS" || die "configuration failed: a GPU bundle needs nvcc (CUDA 13)"
cmake --build "$BUILD" -j"$JOBS"

# 2. Collect the executables that use the GPU: canopy, the kernel tests and
# gpu_bench. (Every program links the kernels' device code, several MiB; the
# CPU-only tests and benches would take the bundle over its limit.)
is_elf_exe() { [ -f "$1" ] && [ -x "$1" ] && [ "$(head -c 4 "$1" | tr -d '\0')" = $'\x7fELF' ]; }
bins=()
for f in "$BUILD/canopy" "$BUILD/tests/test_kernels" "$BUILD/bench/gpu_bench"; do
  if ! is_elf_exe "$f"; then die "$f was not built"; fi
  bins+=("$f")
done

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/lib" "$BUNDLE/data"
printf '*\n' >"$BUNDLE/.gitignore"
for f in "${bins[@]}"; do
  cp "$f" "$BUNDLE/"
done

# 3. Shared libraries: everything ldd lists except glibc and the NVIDIA driver.
skip_lib() {
  case "$1" in
    linux-vdso.so* | ld-linux*.so* | libc.so* | libm.so* | libmvec.so* | libdl.so* | \
      libpthread.so* | librt.so* | libresolv.so* | libutil.so* | libanl.so* | libnss_*.so* | \
      libcuda.so* | libnvidia*.so*)
      return 0 ;;
  esac
  return 1
}
missing=()
for f in "${bins[@]}"; do
  while read -r line; do
    # "libfoo.so.1 => /usr/lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    name="${line%% *}"
    name="$(basename "$name")"
    if skip_lib "$name"; then continue; fi
    case "$line" in
      *"=> not found"*) missing+=("$name ($f)"); continue ;;
      *"=> /"*) path="${line#*=> }"; path="${path%% (*}" ;;
      *) continue ;;
    esac
    if [ ! -e "$BUNDLE/lib/$name" ]; then cp -L "$path" "$BUNDLE/lib/$name"; fi
  done < <(ldd "$f")
done
if [ "${#missing[@]}" -gt 0 ]; then die "unresolved shared libraries: ${missing[*]}"; fi

# 4. Strip (debug info in the test binaries alone can exceed the budget).
for f in "$BUNDLE"/*; do
  if is_elf_exe "$f"; then strip --strip-unneeded "$f"; fi
done
for f in "$BUNDLE"/lib/*; do
  if [ -f "$f" ]; then strip --strip-unneeded "$f"; fi
done

# 5. Example data (scikit-learn's bundled datasets as CSV).
# Debian's python3 carries python3-sklearn (scripts/setup.sh); a pyenv/venv
# python3 earlier on PATH may not, so prefer it as tests/CMakeLists.txt does.
PYTHON="${PYTHON:-/usr/bin/python3}"
if [ ! -x "$PYTHON" ]; then PYTHON=python3; fi
"$PYTHON" scripts/make_example_data.py "$BUNDLE/data"

# 6. Launcher.
cat >"$BUNDLE/run.sh" <<'EOF'
#!/bin/sh
# Runs a canopy program from this bundle with its libraries and example data:
#   ./run.sh test_kernels --gtest_brief=1      ./run.sh canopy devices
here="$(cd "$(dirname "$0")" && pwd)"
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CANOPY_TEST_DATA_DIR="$here/data"
export CANOPY_BINARY="$here/canopy"
export PATH="$here:$PATH"
if [ $# -eq 0 ]; then
  echo "usage: $0 PROGRAM [ARGS...]   (programs: $(cd "$here" && ls | grep -v -e '^lib$' -e '^data$' -e '^run.sh$' | tr '\n' ' '))" >&2
  exit 2
fi
exec "$@"
EOF
chmod +x "$BUNDLE/run.sh"

# 7. Size check.
size=$(du -sb "$BUNDLE" | cut -f1)
echo "gpu_bundle: $BUNDLE/ holds ${#bins[@]} programs and $(find "$BUNDLE/lib" -type f | wc -l) libraries," \
  "$(numfmt --to=iec-i --suffix=B "$size") ($size bytes)"
ls -l "$BUNDLE" "$BUNDLE/lib"
if [ "$size" -gt "$LIMIT_BYTES" ]; then
  die "$BUNDLE/ is $size bytes, over the 64 MiB limit ($LIMIT_BYTES bytes)"
fi
