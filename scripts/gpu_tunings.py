#!/usr/bin/env python3
"""Ranks the CudaTuning variants in a gpu_bench JSON file (scripts/gpu_check.sh bench).

    python3 scripts/gpu_tunings.py gpu-check-out/gpu_bench.json

For each case measured under every tuning (HistogramPass, Train10MTuned) it prints
one line per tuning, fastest first, with its time, its ratio to the default tuning
(CudaTuning{}: mapping 4 (swizzled rows), 96 KiB, load batch 1, packed rows,
512 threads, thread split scan; files from before 2026-11-28 were made when
the default was mapping 2, row words) and, for
HistogramPass, the bin GB/s of find_splits and of the histogram launches alone
(kernel, in files that have it). "threads" is the histogram block size (256 in
files from before it was an argument); Train10MTuned also has "split" (1 = the
warp split scan).
Cases that reported an error (no GPU) are listed as such. Standard library only:
the GPU machine has python3 but no packages.

    python3 scripts/gpu_tunings.py --fixed-part SMALL.json SMALL_ROWS LARGE.json LARGE_ROWS

splits each case's histogram kernel time, measured at two row counts that launch
as many blocks (scripts/gpu_check.sh flush), into a time a row and a fixed part.

    python3 scripts/gpu_tunings.py --opt-ins gpu-check-out/lean.json

ranks the cases of the default tuning with opt-in arguments (Lean, Cluster:
flags 0/1, "cluster" the blocks of a cluster), each bin count apart, by the
histogram kernel's time where it was timed (else the case's), against the case
with every flag 0 and no clusters.
"""
import json
import sys

# CudaTuning{}: the swizzled-rows mapping, 96 KiB, load batch 1, packed rows,
# 512 threads, the thread split scan.
DEFAULT = {"mapping": "4", "shared_KiB": "96", "batch": "1", "pad": "0", "threads": "512", "split": "0"}
# Arguments files from before they existed lack, and the value they had then.
IMPLIED = {"threads": "256", "split": "0"}
TUNED = ("mapping", "shared_KiB", "batch", "pad")  # present in every tuned case
# (Files from before the feature-lanes walk was removed, 2026-11-28, number it
# 3, the rotated rows 4 and the swizzled rows 5.)
LABELS = {"mapping": {"0": "row", "1": "element", "2": "row-words", "3": "rotated-rows", "4": "swizzled-rows"},
          "pad": {"0": "", "1": "padded"},
          "split": {"0": "", "1": "warp split"}}


def is_default(args):
    return all(args.get(k, IMPLIED.get(k)) == v for k, v in DEFAULT.items())


def parse(name):
    """'BM_X/mapping:0/shared_KiB:48/.../manual_time' -> ('BM_X', {'mapping': '0', ...})."""
    parts = name.split("/")
    args = dict(p.split(":", 1) for p in parts[1:] if ":" in p and not p.startswith("iterations"))
    return parts[0], args


def label(args):
    if "mapping" not in args:  # cases of the default tuning with their own arguments (Cluster, Lean)
        return ", ".join(f"{k} {v}" for k, v in args.items())
    words = [LABELS["mapping"].get(args.get("mapping"), "?"), args.get("shared_KiB", "?") + " KiB",
             "" if args.get("batch") == "1" else "batch " + args.get("batch", "?"), LABELS["pad"].get(args.get("pad"), ""),
             args.get("threads", IMPLIED["threads"]) + " threads",
             LABELS["split"].get(args.get("split", "0"), "split " + args.get("split", "?"))]
    if "bins" in args:
        words.append(args["bins"] + " bins")
    return ", ".join(w for w in words if w)


def load_runs(path):
    """The file's benchmark runs; a file cut off mid-run (gpu_bench killed at
    its time limit) gives the runs it finished, and says so."""
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)["benchmarks"]
    except json.JSONDecodeError:
        end = text.rfind("\n    }")  # the last complete run of the "benchmarks" list
        if end < 0:
            raise
        runs = json.loads(text[:end + 6] + "\n  ]\n}")["benchmarks"]
        print(f"{path} is cut off; ranking the {len(runs)} runs it finished")
        return runs


def main(path):
    runs = load_runs(path)
    cases = {}
    for r in runs:
        case, args = parse(r["name"])
        if set(TUNED) <= set(args):
            if "bins" in args:  # each bin count ranked against its own default
                case += f" ({args['bins']} bins)"
            cases.setdefault(case, []).append((args, r))
    if not cases:
        print("no tuned cases in", path)
        return 1

    def extra(r):
        gbs = f"  {r['bin_GB/s']:.0f} GB/s" if "bin_GB/s" in r else ""
        if "kernel_GB/s" in r:
            gbs += f", kernel {r['kernel_us']:.0f} us {r['kernel_GB/s']:.0f} GB/s"
        return gbs

    print_ranked(cases, is_default, lambda r: (r["real_time"], r["time_unit"]), "the default", "no default run",
                 extra, 44)
    return 0


def print_ranked(groups, is_base, measure, base_words, no_base, extra, width):
    """Each group's runs fastest first (measure(run): time and unit), with the
    ratio to its run whose arguments is_base takes and extra(run); runs that
    reported an error first, as such."""
    for key, rows in groups.items():
        print(f"== {key}")
        ok = [(a, r) for a, r in rows if not r.get("error_occurred")]
        for a, r in rows:
            if r.get("error_occurred"):
                print(f"  {label(a):{width}s} error: {r.get('error_message', '')}")
        base = next((measure(r)[0] for a, r in ok if is_base(a)), None)
        for a, r in sorted(ok, key=lambda x: measure(x[1])[0]):
            t, unit = measure(r)
            ratio = f"{base / t:.2f}x {base_words}" if base else no_base
            print(f"  {label(a):{width}s} {t:10.3f} {unit}  {ratio}{extra(r)}")


def opt_ins(path):
    """The opt-in cases (no "mapping" argument), ranked within each case and
    bin count against the one with every opt-in off."""
    groups = {}
    for r in load_runs(path):
        case, args = parse(r["name"])
        if "mapping" in args or not args:
            continue
        key = case + (f" ({args['bins']} bins)" if "bins" in args else "")
        groups.setdefault(key, []).append((args, r))
    if not groups:
        print("no opt-in cases in", path)
        return 1

    def off(args):
        return all(v == ("1" if k == "cluster" else "0") for k, v in args.items() if k != "bins")

    def measure(r):
        return (r["kernel_us"], "us kernel") if "kernel_us" in r else (r["real_time"], r["time_unit"])

    def frac(r):
        text = f", {r['kernel_fraction_of_3.35TB/s']:.1%} of 3.35 TB/s" if "kernel_fraction_of_3.35TB/s" in r else ""
        if "kernel_fraction_of_device" in r:
            text += f", {r['kernel_fraction_of_device']:.1%} of the device's {r['device_TB/s']:.2f} TB/s"
        return text

    print_ranked(groups, off, measure, "all off", "no run with all off", frac, 52)
    return 0


def fixed_part(small_path, small_rows, large_path, large_rows):
    """The histogram kernel's time (kernel_us) of each tuned case run at two
    row counts that launch as many blocks, split in two: a time a row, and a
    part that does not grow with the rows (each block's zeroing and flush of
    its shared histogram, the launch)."""
    def timed(path):
        runs = {}
        for r in load_runs(path):
            case, args = parse(r["name"])
            if "kernel_us" in r and not r.get("error_occurred"):
                runs[(case, tuple(sorted(args.items())))] = (args, r["kernel_us"])
        return runs
    small, large = timed(small_path), timed(large_path)
    both = [k for k in large if k in small]
    if not both:
        print(f"no case with kernel_us in both {small_path} and {large_path}")
        return 1
    for key in both:
        args, a = small[key]
        b = large[key][1]
        per_row = (b - a) / (large_rows - small_rows)
        fixed = a - per_row * small_rows
        print(f"{key[0]}  {label(args):44s} {a:7.0f} us at {small_rows} rows, {b:7.0f} us at {large_rows}: "
              f"{per_row * 1e6:6.1f} us a million rows, fixed part {fixed:5.0f} us ({fixed / b:.0%})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--opt-ins":
        sys.exit(opt_ins(sys.argv[2]))
    if len(sys.argv) == 6 and sys.argv[1] == "--fixed-part":
        sys.exit(fixed_part(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])))
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
