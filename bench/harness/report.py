"""Writes results.json, report.md (plots as PNG files beside it) and a
self-contained report.html (plots embedded as base64 PNG). Every file is
written to a temporary name and renamed."""
import base64
import html
import io
import json
import math
import os

from . import metrics as M
from . import systems as S

COLORS = {"canopy-cpu": "#2a7ab9", "canopy-gpu": "#76b900", "canopy-cpu-ovr": "#7fb3e0", "canopy-gpu-ovr": "#b5dc5c", "sklearn": "#f29a2e", "xgboost": "#c0392b",
          "lightgbm": "#8e6bbf"}


# ------------------------------------------------------------------ helpers

def atomic_write(path, data):
    tmp = path + ".tmp"
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _json_safe(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def fmt_s(x):
    if x is None:
        return "-"
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    if x >= 0.1:
        return "%.2f" % x
    return "%.3f" % x


def fmt_m(x):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else "%.4f" % x


def fmt_x(x):
    return "-" if x is None else ("%.1f×" % x if x >= 10 else "%.2f×" % x)


def rows_text(n):
    if n >= 1000000 and n % 100000 == 0:
        return ("%.1fM" % (n / 1e6)).replace(".0M", "M")
    if n >= 1000 and n % 100 == 0:
        return ("%.1fk" % (n / 1e3)).replace(".0k", "k")
    return str(n)


def dataset_text(case):
    d = case["dataset"]
    if "synth" in d:
        s = d["synth"]
        t = "canopy synth %s, %d features" % (s["task"], s["features"])
        if s["task"] == "classification":
            t += ", %d classes" % s["classes"]
        if s["missing"]:
            t += ", %g%% missing values" % (100 * s["missing"])
        return t + ", seed %d" % s["seed"]
    return "%s (label %s)" % (d["file"], d.get("label") or "last column")


def model_text(m):
    return "%s trees, max_depth %s, max_features %s, %s bins, min_samples_leaf %s%s" % (
        m["n_estimators"], m["max_depth"], m["max_features"], m["max_bins"], m["min_samples_leaf"],
        "" if m["bootstrap"] else ", no bootstrap")


def metric_names(task):
    return ["accuracy", "roc_auc", "log_loss"] if task == "classification" else ["r2", "rmse", "mae"]


def single_cases(results):
    return [c for c in results["cases"] if c["kind"] == "single" and c.get("points")]


def scaling_cases(results):
    return [c for c in results["cases"] if c["kind"] == "scaling" and c.get("points")]


# ------------------------------------------------------------------ plots

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _grouped(ax, cases, systems, value, log=False, fmt=fmt_s):
    n = max(1, len(systems))
    width = 0.8 / n
    for j, s in enumerate(systems):
        xs, ys = [], []
        for i, c in enumerate(cases):
            v = value(c, s)
            if v is not None:
                xs.append(i - 0.4 + width * (j + 0.5))
                ys.append(v)
        if xs:
            bars = ax.bar(xs, ys, width, label=S.LABELS[s], color=COLORS[s])
            for b, y in zip(bars, ys):
                ax.annotate(fmt(y),
                            (b.get_x() + b.get_width() / 2, y), ha="center", va="bottom", fontsize=7,
                            rotation=90 if n > 3 else 0, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([c["name"] for c in cases], rotation=20, ha="right")
    if log:
        import matplotlib.ticker as mt
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(mt.FuncFormatter(lambda v, _: "%g" % v))
        ax.yaxis.set_minor_formatter(mt.NullFormatter())


def make_plots(results):
    """{name: (title, png bytes)} in report order."""
    plt = _plt()
    plots = {}
    cases = single_cases(results)
    systems = [s for s in S.SYSTEMS if any(c["points"][0]["results"].get(s, {}).get("status") == "ok"
                                           for c in cases)]

    def res(c, s):
        r = c["points"][0]["results"].get(s, {})
        return r if r.get("status") == "ok" else None

    if cases and systems:
        def fit(c, s):
            r = res(c, s)
            return r["fit_s"] if r else None
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cases) + 3), 4.2))
        _grouped(ax, cases, systems, fit, log=True)
        ax.set_ylabel("fit time, s (median, log scale)")
        ax.set_title("Fit time per case (%d threads)" % results["settings"]["threads"])
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
        plots["fit_times"] = ("Fit time", _png(fig))

        def acc(c, s):
            r = res(c, s)
            return r["metrics"].get(M.PRIMARY[c["task"]]) if r else None
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cases) + 3), 4.2))
        _grouped(ax, cases, systems, acc, fmt=lambda y: "%.3f" % y)
        vals = [acc(c, s) for c in cases for s in systems if acc(c, s) is not None]
        if vals:
            lo, hi = min(vals), max(vals)
            ax.set_ylim(max(0.0, lo - max(0.02, (hi - lo) * 0.5)), min(1.0, hi + 0.02) if hi <= 1 else hi * 1.02)
        ax.set_ylabel("test accuracy (classification) / R² (regression)")
        ax.set_title("Accuracy side by side (same test rows)")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
        plots["accuracy"] = ("Accuracy", _png(fig))

        def rss(c, s):
            r = res(c, s)
            return r.get("peak_rss_mb") if r else None
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cases) + 3), 4.2))
        _grouped(ax, cases, systems, rss, fmt=lambda y: "%.0f" % y)
        ax.set_ylabel("peak RSS of the fitting process, MB")
        ax.set_title("Peak memory")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
        plots["memory"] = ("Peak memory", _png(fig))

        canopies = [c for c in S.CANOPY if c in systems]
        peers = [p for p in S.PEERS if p in systems]
        if canopies and peers:
            def sp(c, p, cs):
                return c["points"][0].get("speedups", {}).get(cs, {}).get(p)
            # Per canopy run, the cases it ran on (the one-vs-rest runs only have multi-class cases).
            ran = {cs: [c for c in cases if any(sp(c, p, cs) is not None for p in peers)] for cs in canopies}
            widths = [max(4, 1.6 * len(ran[cs]) + 3) for cs in canopies]
            fig, axes = plt.subplots(1, len(canopies), figsize=(sum(widths), 4.2), squeeze=False,
                                     gridspec_kw={"width_ratios": widths})
            for ax, cs in zip(axes[0], canopies):
                _grouped(ax, ran[cs], peers, lambda c, p, cs=cs: sp(c, p, cs), log=True, fmt=fmt_x)
                for p, ratio, style in (("sklearn", 10, ":"), ("xgboost", 1.5, "--")):
                    if p in peers:
                        ax.axhline(ratio, color="gray", linestyle=style, linewidth=1)
                        ax.annotate("target %g×" % ratio, (len(ran[cs]) - 0.5, ratio), fontsize=7, color="gray",
                                    ha="right", va="bottom")
                ax.axhline(1, color="black", linewidth=0.8)
                ax.set_ylabel("peer fit time / canopy fit time (log)")
                ax.set_title("Speed-up of %s over each peer" % S.LABELS[cs], fontsize=10)
            axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))  # the same peers in every panel
            fig.tight_layout()
            plots["speedup"] = ("Speed-up versus each peer", _png(fig))

    for c in scaling_cases(results):
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        any_line = False
        for s in S.SYSTEMS:
            pts = [(p["train_rows"], p["results"][s]["fit_s"]) for p in c["points"]
                   if p["results"].get(s, {}).get("status") == "ok"]
            if pts:
                any_line = True
                ax.plot([x for x, _ in pts], [y for _, y in pts], "o-", label=S.LABELS[s], color=COLORS[s])
        if not any_line:
            plt.close(fig)
            continue
        import matplotlib.ticker as mt
        ax.set_xscale("log")
        ax.set_yscale("log")
        rows = sorted({p["train_rows"] for p in c["points"]})
        ax.set_xticks(rows)
        ax.xaxis.set_major_formatter(mt.FuncFormatter(lambda v, _: rows_text(int(round(v)))))
        ax.xaxis.set_minor_formatter(mt.NullFormatter())
        ax.yaxis.set_major_formatter(mt.FuncFormatter(lambda v, _: "%g" % v))
        ax.set_xlabel("training rows")
        ax.set_ylabel("fit time, s (log)")
        ax.set_title("Fit time against rows: %s" % c["name"])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        plots["scaling_" + c["name"]] = ("Scaling: " + c["name"], _png(fig))
    return plots


# ------------------------------------------------------------------ tables

def system_cell(r):
    st = r.get("status")
    if st == "ok":
        return None
    if st == "missing":
        return "missing: " + r.get("reason", "")
    if st == "not available":
        return "not available: " + r.get("reason", "")
    return "%s: %s" % (st, r.get("reason", ""))


def case_table(case, point):
    """(header, rows, row_is_red) for one point of a case."""
    task = case["task"]
    mnames = metric_names(task)
    header = ["system", "fit s (median)", "runs", "cold fit s", "predict s", "peak RSS MB"] + mnames + \
             ["canopy CPU speed-up", "vs sklearn"]
    rows, red = [], []
    canopy_fit = point["results"].get("canopy-cpu", {}).get("fit_s") \
        if point["results"].get("canopy-cpu", {}).get("status") == "ok" else None
    for s in case["systems"]:
        r = point["results"].get(s, {"status": "not run"})
        cell = system_cell(r)
        if cell:
            rows.append([S.LABELS[s], cell] + [""] * (len(header) - 2))
            red.append(False)
            continue
        sp = "-"
        if s in S.PEERS and canopy_fit:
            sp = fmt_x(r["fit_s"] / canopy_fit)
        chk = point.get("check", {}).get(s)
        chk_text = "-"
        if chk:
            if chk["status"] == "n/a":
                chk_text = "n/a"
            else:
                chk_text = ("FAIL " if chk["status"] == "fail" else "ok ") + ", ".join(
                    "%s %+.4f" % (m, d) for m, d in chk["diff_vs_sklearn"].items())
        rows.append([S.LABELS[s], fmt_s(r["fit_s"]), str(len(r.get("fit_s_runs", []))), fmt_s(r.get("cold_fit_s")),
                     fmt_s(r.get("predict_s")), "%.0f" % r["peak_rss_mb"] if r.get("peak_rss_mb") else "-"]
                    + [fmt_m(r["metrics"].get(m)) for m in mnames] + [sp, chk_text])
        red.append(bool(chk and chk["status"] == "fail"))
    return header, rows, red


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(x).replace("|", "\\|") for x in r) + " |")
    return "\n".join(out)


def html_table(header, rows, red=None):
    out = ["<table><thead><tr>" + "".join("<th>%s</th>" % html.escape(h) for h in header) + "</tr></thead><tbody>"]
    for i, r in enumerate(rows):
        cls = ' class="red"' if red and red[i] else ""
        out.append("<tr%s>" % cls + "".join("<td>%s</td>" % html.escape(str(x)) for x in r) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def machine_rows(m):
    v = m["versions"]
    rows = [("CPU", m["cpu"]),
            ("cores", "%s logical, %s usable, %s physical" % (m["logical_cpus"], m["usable_cpus"],
                                                            m["physical_cores"] or "?")),
            ("memory", "%s GiB" % m["memory_gib"]),
            ("GPU", m["gpu"]),
            ("NVIDIA driver", m["nvidia_driver"] or "none (nvidia-smi not found)"),
            ("OS", m["os"]),
            ("load average (1 min) at start / end", "%s / %s" % (
                "%.2f" % m["load_avg_at_start"][0] if m.get("load_avg_at_start") else "?",
                "%.2f" % m["load_avg_at_end"][0] if m.get("load_avg_at_end") else "?")),
            ("canopy", v.get("canopy", "?")),
            ("Python / numpy", "%s / %s" % (v.get("python"), v.get("numpy", "?")))]
    for s in S.PEERS:
        if s in v:
            rows.append((S.LABELS[s], v[s]))
    return rows


def accuracy_note(results):
    """The sentence under the targets table: the tolerance, and why peers may differ on many classes."""
    note = "Equal or better accuracy: canopy's accuracy (R² for regression) at most %.3f below the peer's." % (
        results["settings"]["equal_accuracy_tolerance"])
    peers = any(results["systems"].get(p, {}).get("status") == "available" for p in ("xgboost", "lightgbm"))
    if peers and any(c.get("task") == "classification" and (c.get("classes") or 0) > 2 for c in results["cases"]):
        note += (" With more than two classes XGBoost and LightGBM grow one tree per class per forest member"
                 " (C × T trees; see the parameter mapping), so at the same depth their model has more leaves"
                 " than canopy's or scikit-learn's joint trees. canopy grows that model too with --multi-class ovr"
                 " (the one-vs-rest rows): where that run is in a case, it is the one measured against XGBoost"
                 " and LightGBM, and the joint run the one measured against scikit-learn.")
    return note


def target_rows(results):
    rows = []
    for t in results["targets"]:
        per = "; ".join("%s%s: %s, %s %.4f vs %.4f%s" % (
            c["case"], " (one-vs-rest)" if c.get("canopy_system", "canopy-cpu") in S.ONE_VS_REST else "",
            fmt_x(c["speedup"]), c["metric"], c["canopy"], c["peer"], "" if c["met"] else " (not met)")
            for c in t["cases"]) or "-"
        rows.append(["canopy CPU fit ≥ %g× faster than %s at equal or better accuracy" % (
            t["required_speedup"], S.LABELS[t["peer"]]), t["status"], per])
    return rows


def summary_lines(results):
    lines = []
    if results.get("partial"):
        lines.append("PARTIAL: the run was interrupted or is still going; only the cases below finished.")
    if results.get("merged_from"):
        lines.append("Merged from %d runs on this machine: %s." % (len(results["merged_from"]),
                                                                 ", ".join(results["merged_from"])))
    fails = [c["name"] for c in results["cases"] if c.get("check") == "fail"]
    failed = [c["name"] for c in results["cases"] if c.get("status") == "failed"]
    checked = [c["name"] for c in results["cases"]
               if any(ch["status"] in ("pass", "fail") for p in c.get("points", []) for ch in p["check"].values())]
    if fails:
        lines.append("RED: canopy's accuracy/AUC/R² differs from scikit-learn's by more than %.2f on: %s" % (
            results["settings"]["check_tolerance"], ", ".join(fails)))
    elif checked:
        lines.append("Correctness: canopy is within %.2f of scikit-learn on every checked metric of %d case(s): "
                     "%s." % (results["settings"]["check_tolerance"], len(checked), ", ".join(checked)))
    else:
        lines.append("Correctness check not made: scikit-learn did not run on any case (not selected or missing).")
    m = results["machine"]
    loads = [m.get("load_avg_at_start", [0])[0], m.get("load_avg_at_end", [0])[0]] + [
        r.get("load_avg_1m_before", 0) for c in results["cases"] for p in c.get("points", [])
        for r in p["results"].values()]
    cpus = m.get("usable_cpus") or 1
    if loads and max(loads) > 0.5 * cpus:
        lines.append("WARNING: the machine was busy with other work during the run (1-minute load average up to "
                     "%.1f on %d usable CPUs); timings, and so the ratios, carry that noise." % (max(loads), cpus))
    if failed:
        lines.append("Cases that could not run: " + ", ".join(failed))
    for s, a in results["systems"].items():
        if a["status"] != "available":
            lines.append("%s: %s (%s)" % (S.LABELS[s], a["status"], a.get("reason", "")))
    return lines


# ------------------------------------------------------------------ writers

def write_markdown(results, plots, plot_files):
    r = results
    out = ["# canopy benchmark report: %s" % r["suite"], "",
           "Generated %s, took %.0f s. Cases file `%s`; %d threads for every system." % (
               r["finished"], r["duration_s"], r["cases_file"], r["settings"]["threads"]), ""]
    out += ["## Summary", ""] + ["- " + l for l in summary_lines(r)] + [""]
    out += ["### Targets (measured side by side on this machine)", "",
            md_table(["target", "status", "per case"], target_rows(r)), "", accuracy_note(r), ""]
    out += ["## Machine", "", md_table(["", ""], machine_rows(r["machine"])), ""]
    out += ["## Systems", "", md_table(["system", "status", "version / reason"],
                                       [[S.LABELS[s], a["status"], a.get("version") or a.get("reason", "")]
                                        for s, a in r["systems"].items()]), ""]
    out += ["## How it was measured", "",
            "- Fit time: " + r["settings"]["fit_time"] + ". Median of the repeats after the warm-up fit(s); "
            "the cold (warm-up) fit is shown too. canopy's process wall time (load + bin + train + write) is in "
            "results.json as wall_s.",
            "- Predict time: canopy: wall time of `canopy predict` on the test file (a process: loads the model "
            "and data, predicts, writes the file); peers: in-process predict_proba / predict on the in-memory "
            "test array.",
            "- Peak memory: " + r["settings"]["peak_memory"] + ".",
            "- Metrics: computed by the harness with the same code for every system, on the same held-out "
            "rows. Multi-class AUC is the macro one-vs-rest average.",
            "- Correctness: canopy's accuracy and AUC (classification) or R² (regression) must be within %.2f of "
            "scikit-learn's; a case is marked **RED** otherwise." % r["settings"]["check_tolerance"], ""]
    out += ["### Parameter mapping", "",
            md_table(["setting", "canopy", "scikit-learn", "XGBoost", "LightGBM"], r["parameter_mapping"]), ""]
    out += ["## Cases", ""]
    for c in r["cases"]:
        red = c.get("check") == "fail"
        out += ["### %s%s" % (c["name"], " — RED: accuracy differs from scikit-learn" if red else ""), ""]
        if c.get("description"):
            out += [c["description"], ""]
        out += ["- data: %s" % dataset_text(c), "- model: %s" % model_text(c["model"]),
                "- repeats: %d after %d warm-up" % (c["repeats"], c["warmup"])]
        if c.get("status") == "failed":
            out += ["- **could not run**: %s" % c["reason"], ""]
            continue
        out.append("")
        for p in c["points"]:
            out += ["%s training rows, %s test rows, %s features%s:" % (
                rows_text(p["train_rows"]), rows_text(p["test_rows"]), c["features"],
                ", %d classes" % c["classes"] if c["task"] == "classification" else ""), ""]
            h, rows, _ = case_table(c, p)
            out += [md_table(h, rows), ""]
    if plots:
        out += ["## Plots", ""]
        for name, (title, _) in plots.items():
            out += ["### %s" % title, "", "![%s](%s)" % (title, plot_files[name]), ""]
    return "\n".join(out) + "\n"


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.2em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}
tr.red td,.red{background:#fbd5d5}.case-red h3{color:#b00}.ok{color:#176d2c}.bad{color:#b00;font-weight:bold}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}code{background:#f5f5f5;padding:0 3px}"""


def write_html(results, plots):
    r = results
    h = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>canopy benchmark report: %s</title>"
         "<style>%s</style></head><body>" % (html.escape(r["suite"]), CSS)]
    h.append("<h1>canopy benchmark report: %s</h1>" % html.escape(r["suite"]))
    h.append("<p>Generated %s, took %.0f s. Cases file <code>%s</code>; %d threads for every system.</p>" % (
        html.escape(r["finished"]), r["duration_s"], html.escape(r["cases_file"]), r["settings"]["threads"]))
    h.append("<h2>Summary</h2><ul>")
    for l in summary_lines(r):
        cls = "bad" if l.startswith(("RED", "WARNING", "PARTIAL")) else ""
        h.append("<li class='%s'>%s</li>" % (cls, html.escape(l)))
    h.append("</ul><h3>Targets (measured side by side on this machine)</h3>")
    trows = target_rows(r)
    h.append(html_table(["target", "status", "per case"], trows, [t[1] == "not met" for t in trows]))
    h.append("<p>%s</p>" % html.escape(accuracy_note(r)))
    h.append("<h2>Machine</h2>" + html_table(["", ""], machine_rows(r["machine"])))
    h.append("<h2>Systems</h2>" + html_table(
        ["system", "status", "version / reason"],
        [[S.LABELS[s], a["status"], a.get("version") or a.get("reason", "")] for s, a in r["systems"].items()]))
    h.append("<h2>How it was measured</h2><ul><li>Fit time: %s. Median after the warm-up.</li>"
             "<li>Predict time: canopy: wall time of <code>canopy predict</code> (process); peers: in-process "
             "predict on the in-memory test array.</li><li>Peak memory: %s.</li><li>Correctness: canopy within %.2f "
             "of scikit-learn on accuracy and AUC, or R²; rows in red otherwise.</li></ul>" % (
                 html.escape(r["settings"]["fit_time"]), html.escape(r["settings"]["peak_memory"]),
                 r["settings"]["check_tolerance"]))
    h.append("<h3>Parameter mapping</h3>" + html_table(["setting", "canopy", "scikit-learn", "XGBoost", "LightGBM"],
                                                       r["parameter_mapping"]))
    h.append("<h2>Cases</h2>")
    for c in r["cases"]:
        red = c.get("check") == "fail"
        h.append("<div class='%s'><h3>%s%s</h3>" % ("case-red" if red else "", html.escape(c["name"]),
                                                   " — RED: accuracy differs from scikit-learn" if red else ""))
        if c.get("description"):
            h.append("<p>%s</p>" % html.escape(c["description"]))
        h.append("<ul><li>data: %s</li><li>model: %s</li><li>repeats: %d after %d warm-up</li></ul>" % (
            html.escape(dataset_text(c)), html.escape(model_text(c["model"])), c["repeats"], c["warmup"]))
        if c.get("status") == "failed":
            h.append("<p class='bad'>could not run: %s</p></div>" % html.escape(c["reason"]))
            continue
        for p in c["points"]:
            h.append("<p>%s training rows, %s test rows, %s features%s:</p>" % (
                rows_text(p["train_rows"]), rows_text(p["test_rows"]), c["features"],
                ", %d classes" % c["classes"] if c["task"] == "classification" else ""))
            hd, rows, redrows = case_table(c, p)
            h.append(html_table(hd, rows, redrows))
        h.append("</div>")
    if plots:
        h.append("<h2>Plots</h2>")
        for name, (title, png) in plots.items():
            h.append("<h3>%s</h3><img alt='%s' src='data:image/png;base64,%s'>" % (
                html.escape(title), html.escape(title), base64.b64encode(png).decode()))
    h.append("</body></html>")
    return "\n".join(h)


def write_all(results, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    results = _json_safe(results)
    atomic_write(os.path.join(out_dir, "results.json"), json.dumps(results, indent=1) + "\n")
    plots = make_plots(results)
    plot_dir = os.path.join(out_dir, "plots")
    os.makedirs(plot_dir, exist_ok=True)
    files = {}
    for name, (_, png) in plots.items():
        atomic_write(os.path.join(plot_dir, name + ".png"), png)
        files[name] = "plots/%s.png" % name
    atomic_write(os.path.join(out_dir, "report.md"), write_markdown(results, plots, files))
    atomic_write(os.path.join(out_dir, "report.html"), write_html(results, plots))
    return results
