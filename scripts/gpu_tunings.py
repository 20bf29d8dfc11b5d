#!/usr/bin/env python3
"""Ranks the CudaTuning variants in a gpu_bench JSON file (scripts/gpu_check.sh bench).

    python3 scripts/gpu_tunings.py gpu-check-out/gpu_bench.json

For each case measured under every tuning (HistogramPass, Train10MTuned) it prints
one line per tuning, fastest first, with its time, its ratio to the default tuning
(mapping 0, 48 KiB, no batching, packed rows, thread split scan) and, for
HistogramPass, the bin GB/s. Train10MTuned also has a "split" argument (1 = the
warp split scan).
Cases that reported an error (no GPU) are listed as such. Standard library only:
the GPU machine has python3 but no packages.
"""
import json
import sys

DEFAULT = {"mapping": "0", "shared_KiB": "48", "batch": "0", "pad": "0"}
LABELS = {"mapping": {"0": "row", "1": "element"}, "batch": {"0": "", "1": "batched"}, "pad": {"0": "", "1": "padded"},
          "split": {"0": "", "1": "warp split"}}


def is_default(args):
    return all(args.get(k) == v for k, v in DEFAULT.items()) and args.get("split", "0") == "0"


def parse(name):
    """'BM_X/mapping:0/shared_KiB:48/.../manual_time' -> ('BM_X', {'mapping': '0', ...})."""
    parts = name.split("/")
    args = dict(p.split(":", 1) for p in parts[1:] if ":" in p and not p.startswith("iterations"))
    return parts[0], args


def label(args):
    words = [LABELS["mapping"].get(args.get("mapping"), "?"), args.get("shared_KiB", "?") + " KiB",
             LABELS["batch"].get(args.get("batch"), ""), LABELS["pad"].get(args.get("pad"), ""),
             LABELS["split"].get(args.get("split", "0"), "split " + args.get("split", "?"))]
    return ", ".join(w for w in words if w)


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    cases = {}
    for r in runs:
        case, args = parse(r["name"])
        if set(DEFAULT) <= set(args):
            cases.setdefault(case, []).append((args, r))
    if not cases:
        print("no tuned cases in", path)
        return 1
    for case, rows in cases.items():
        print(f"== {case}")
        ok = [(a, r) for a, r in rows if not r.get("error_occurred")]
        for a, r in rows:
            if r.get("error_occurred"):
                print(f"  {label(a):32s} error: {r.get('error_message', '')}")
        base = next((r["real_time"] for a, r in ok if is_default(a)), None)
        for a, r in sorted(ok, key=lambda x: x[1]["real_time"]):
            ratio = f"{base / r['real_time']:.2f}x the default" if base else "no default run"
            gbs = f"  {r['bin_GB/s']:.0f} GB/s" if "bin_GB/s" in r else ""
            print(f"  {label(a):32s} {r['real_time']:10.3f} {r['time_unit']}  {ratio}{gbs}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
