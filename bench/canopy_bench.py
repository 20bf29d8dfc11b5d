#!/usr/bin/env python3
"""canopy's benchmark harness: what `canopy bench` runs (in .venv-bench).

  .venv-bench/bin/python bench/canopy_bench.py --canopy build/canopy [--quick] [--out DIR]
      [--cases FILE] [--systems canopy-cpu,sklearn,...] [--repeats N] [--threads N]
      [--data-dir DIR] [--keep-data]

Runs each case of the cases file (bench/cases/default.json, or quick.json with
--quick) on each system and writes DIR/report.md, DIR/report.html,
DIR/results.json and DIR/plots/*.png. See docs/benchmarks.md.

Exit status: 0 done; 1 error (bad cases file, canopy binary missing, ...);
3 done but a case is red (canopy's accuracy more than 0.01 from
scikit-learn's) or canopy itself failed on a case.
"""
import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import systems as S  # noqa: E402  (after the path insert)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="canopy bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--canopy", default=os.environ.get("CANOPY_BINARY", ""), help="canopy binary")
    ap.add_argument("--quick", action="store_true", help="the small suite (bench/cases/quick.json)")
    ap.add_argument("--out", default="bench-report", help="report folder (default ./bench-report)")
    ap.add_argument("--cases", default="", help="cases file (JSON, or YAML with PyYAML)")
    ap.add_argument("--systems", default="", help="comma-separated: " + ",".join(S.SYSTEMS))
    ap.add_argument("--repeats", type=int, default=None, help="timed fits per system and case (after the warm-up)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed warm-up fits (default from the cases file)")
    ap.add_argument("--threads", type=int, default=0, help="threads for every system (0: every usable core)")
    ap.add_argument("--data-dir", default="", help="keep generated train/test files here and reuse them")
    ap.add_argument("--keep-data", action="store_true", help="do not delete the generated data")
    ap.add_argument("--suite-name", default="", help="name shown in the report (default: the cases file's)")
    ap.add_argument("--render", metavar="RESULTS_JSON[,RESULTS_JSON...]", default="",
                    help="only rewrite the report in --out from existing results.json files (several: "
                         "their cases merged into one report, e.g. a suite run in pieces on one machine)")
    a = ap.parse_args(argv)

    from harness import cases as C
    from harness import report as R
    from harness import runner

    if a.render:
        import json
        parts = []
        for path in a.render.split(","):
            with open(path) as f:
                parts.append(json.load(f))
        results = runner.merge_results(parts, a.render.split(",")) if len(parts) > 1 else parts[0]
        R.write_all(results, os.path.abspath(a.out))
        sys.stderr.write("canopy bench: rewrote the report in %s\n" % os.path.abspath(a.out))
        return 0
    canopy = a.canopy
    if not canopy or not os.access(canopy, os.X_OK):
        sys.stderr.write("canopy bench: error: canopy binary not found (%r); pass --canopy PATH\n" % canopy)
        return 1
    canopy = os.path.abspath(canopy)
    cases_path = a.cases or os.path.join(HERE, "cases", "quick.json" if a.quick else "default.json")
    if not os.path.exists(cases_path):
        sys.stderr.write("canopy bench: error: cases file not found: %s\n" % cases_path)
        return 1
    if a.repeats is not None and a.repeats < 1:
        sys.stderr.write("canopy bench: error: --repeats must be >= 1\n")
        return 1
    overrides = {"repeats": a.repeats, "warmup": a.warmup}
    if a.systems:
        overrides["systems"] = a.systems
    try:
        suite, cases = C.load_cases(cases_path, overrides=overrides)
    except (C.CaseError, OSError) as e:
        sys.stderr.write("canopy bench: error: %s\n" % e)
        return 1
    threads = a.threads if a.threads > 0 else len(os.sched_getaffinity(0))
    if a.data_dir:
        data_dir, temp = os.path.abspath(a.data_dir), False
    else:
        data_dir, temp = tempfile.mkdtemp(prefix="canopy_bench_data_"), True
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    results = runner.run({
        "canopy": canopy, "out": out, "cases_path": os.path.abspath(cases_path), "suite": a.suite_name or suite,
        "cases": cases, "threads": threads, "python": sys.executable, "venv": sys.prefix,
        "data_dir": data_dir, "data_dir_is_temp": temp and not a.keep_data, "keep_data": a.keep_data,
        "quick": a.quick, "on_case": lambda partial: R.write_all(partial, out),
    })
    R.write_all(results, out)
    sys.stderr.write("canopy bench: wrote %s/report.md, report.html, results.json\n" % out)
    for line in R.summary_lines(results):
        sys.stderr.write("  " + line + "\n")
    for t in results["targets"]:
        sys.stderr.write("  target vs %s (%g×): %s\n" % (t["peer"], t["required_speedup"], t["status"]))
    canopy_failed = any(p["results"].get(s, {}).get("status") in ("failed", "timeout")
                        for c in results["cases"] for p in c["points"] for s in S.CANOPY)
    red = any(c.get("check") == "fail" for c in results["cases"])
    data_failed = any(c.get("status") == "failed" for c in results["cases"])
    return 3 if (red or canopy_failed or data_failed) else 0


if __name__ == "__main__":
    sys.exit(main())
