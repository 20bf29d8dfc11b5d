#!/usr/bin/env python3
"""Static instruction counts of the histogram kernel's walks, without a GPU.

Compiles kernels/histogram.cu for sm_90 to a cubin (nvcc), disassembles it
(nvdisasm: the CUDA toolkit's, or the `nvidia-cuda-nvdisasm` wheel's; set
NVDISASM to its path) and prints, for each walk's 32-bit-counter kernel at 512
threads, its instructions, shared atomics and shared loads, and the
instructions an atomic in its hottest branch-free run (the walk's unrolled
steps, with whatever per-row work the compiler put among them). These are counts of code, not of time: a walk's
speed is measured on a GPU (scripts/gpu_check.sh).

  scripts/sass_histogram.py [--counters j|y] [--threads 256|512] [--dump WALK]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

WALKS = ["row", "element", "row-words", "feature-lanes", "rotated-rows", "swizzled-rows"]  # histogram.cu's Walk


def nvdisasm_path():
    path = os.environ.get("NVDISASM") or shutil.which("nvdisasm")
    if not path:
        sys.exit("sass_histogram: nvdisasm not found; set NVDISASM (pip download nvidia-cuda-nvdisasm gives one)")
    return path


def kernels(sass):
    """Kernel name -> its instruction lines (opcode text only)."""
    out, cur = {}, None
    for line in sass.splitlines():
        m = re.match(r"\s*\.section\s*\.text\.(\S+?),", line)
        if m:
            cur = m.group(1)
            out[cur] = []
            continue
        m = re.search(r"/\*[0-9a-f]{4,}\*/\s*(.*?)\s*;", line)
        if cur and m:
            out[cur].append(m.group(1))
    return out


def hottest_block(ops):
    """The branch-free run with the most shared atomics (a walk's unrolled
    steps): (its instructions, its atomics)."""
    best, block = (0, 0), []
    for op in ops + ["BRA"]:
        if re.search(r"\b(BRA|BSSY|BSYNC|EXIT|RET|CALL)\b", op):
            atoms = sum(1 for o in block if "ATOMS" in o)
            if atoms > best[1] or atoms == best[1] and atoms and len(block) < best[0]:
                best = (len(block), atoms)
            block = []
        else:
            block.append(op)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counters", default="j", help="j: 32-bit counters, y: 64-bit")
    ap.add_argument("--threads", default="512")
    ap.add_argument("--dump", help="print this walk's code (a name from the table)")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        cubin = os.path.join(tmp, "histogram.cubin")
        subprocess.run(["nvcc", "-std=c++17", "-arch=sm_90", "-I", root, "--fmad=false", "-cubin", "-o", cubin,
                        os.path.join(root, "kernels", "histogram.cu")], check=True)
        sass = subprocess.run([nvdisasm_path(), "-c", cubin], check=True, capture_output=True, text=True).stdout
    ks = kernels(sass)
    print(f"{'walk':<15}{'instructions':>13}{'ATOMS':>7}{'LDS':>6}  hottest run")
    for w, name in enumerate(WALKS):
        key = f"SharedHistogramI{args.counters}EELNS1_4WalkE{w}ELi1ELi{args.threads}E"
        ops = next((v for k, v in ks.items() if key in k), None)
        if ops is None:
            print(f"{name:<15}{'(not compiled)':>13}")
            continue
        atoms = sum(1 for o in ops if "ATOMS" in o)
        lds = sum(1 for o in ops if re.search(r"\bLDS\b|\bLDS\.", o))
        n, a = hottest_block(ops)
        run = f"{n} instructions, {a} atomics: {n / a:.1f} an atomic" if a else "-"
        print(f"{name:<15}{len(ops):>13}{atoms:>7}{lds:>6}  {run}")
        if args.dump == name:
            print("\n".join(ops))


if __name__ == "__main__":
    main()
