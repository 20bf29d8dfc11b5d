#!/usr/bin/env python3
"""Static instruction counts of the histogram kernel's walks, without a GPU.

Compiles kernels/histogram.cu for sm_90 to a cubin (nvcc), disassembles it
(nvdisasm: the CUDA toolkit's, or the `nvidia-cuda-nvdisasm` wheel's; set
NVDISASM to its path) and prints, for each walk's 32-bit-counter kernel at 512
threads, its instructions, shared atomics and shared loads, and the
instructions an atomic in two places: its hottest branch-free run (the walk's
unrolled steps, with whatever per-row work the compiler put among them), and
its hottest innermost loop (one trip of the loop that adds a row, or a word of
it: the row's loads, exchanges and loop control included). These are counts
of code, not of time: a walk's speed is measured on a GPU
(scripts/gpu_check.sh).

  scripts/sass_histogram.py [--counters j|y|halves] [--threads 256|512] [--dump WALK]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile



def walks(source):
    """histogram.cu's Walk enum in order, as names: kRowWords -> 'row-words'."""
    body = re.search(r"enum class Walk \{([^}]*)\}", source).group(1)
    names = [n.strip()[1:] for n in body.split(",") if n.strip()]
    return [re.sub(r"(?<!^)(?=[A-Z])", "-", n).lower() for n in names]


def nvdisasm_path():
    path = os.environ.get("NVDISASM") or shutil.which("nvdisasm")
    if not path:
        sys.exit("sass_histogram: nvdisasm not found; set NVDISASM (pip download nvidia-cuda-nvdisasm gives one)")
    return path


def kernels(sass):
    """Kernel name -> (its instruction lines (opcode text only), label ->
    index of the instruction it names)."""
    out, cur = {}, None
    for line in sass.splitlines():
        m = re.match(r"\s*\.section\s*\.text\.(\S+?),", line)
        if m:
            cur = m.group(1)
            out[cur] = ([], {})
            continue
        if cur is None:
            continue
        ops, labels = out[cur]
        m = re.match(r"(\.L_x_\d+):", line)
        if m:
            labels[m.group(1)] = len(ops)
            continue
        m = re.search(r"/\*[0-9a-f]{4,}\*/\s*(.*?)\s*;", line)
        if m:
            ops.append(m.group(1))
    return out


def hottest_loop(ops, labels):
    """The innermost loop (a backward branch's body holding no other) with the
    most shared atomics a trip: (its instructions, its atomics)."""
    loops = []
    for i, op in enumerate(ops):
        m = re.search(r"\bBRA\s+`\((\.L_x_\d+)\)", op)
        if m and labels.get(m.group(1), i + 1) <= i:
            loops.append((labels[m.group(1)], i))
    best = (0, 0)
    for j, i in loops:
        if any(j <= j2 and i2 <= i and (j2, i2) != (j, i) for j2, i2 in loops):
            continue
        n, atoms = i - j + 1, sum(1 for o in ops[j:i + 1] if "ATOMS" in o)
        if atoms > best[1] or atoms == best[1] and atoms and n < best[0]:
            best = (n, atoms)
    return best


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
    ap.add_argument("--counters", default="j", choices=["j", "y", "halves"],
                    help="j: 32-bit counters, y: 64-bit (compare-and-swap), halves: 64-bit in 32-bit atomic halves")
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
    print(f"{'walk':<15}{'instructions':>13}{'ATOMS':>7}{'LDS':>6}  {'hottest run':<44}hottest innermost loop")
    with open(os.path.join(root, "kernels", "histogram.cu")) as f:
        names = walks(f.read())
    for w, name in enumerate(names):
        mode = "SharedHistogramInHalvesE" if args.counters == "halves" else f"SharedHistogramI{args.counters}EE"
        key = f"{mode}LNS1_4WalkE{w}ELi1ELi{args.threads}E"
        ops, labels = next((v for k, v in ks.items() if key in k), (None, None))
        if ops is None:
            print(f"{name:<15}{'(not compiled)':>13}")
            continue
        atoms = sum(1 for o in ops if "ATOMS" in o)
        lds = sum(1 for o in ops if re.search(r"\bLDS\b|\bLDS\.", o))
        per_atomic = lambda n, a: f"{n} instructions, {a} atomics: {n / a:.1f} an atomic" if a else "-"
        run, loop = per_atomic(*hottest_block(ops)), per_atomic(*hottest_loop(ops, labels))
        print(f"{name:<15}{len(ops):>13}{atoms:>7}{lds:>6}  {run:<44}{loop}")
        if args.dump == name:
            print("\n".join(ops))


if __name__ == "__main__":
    main()
