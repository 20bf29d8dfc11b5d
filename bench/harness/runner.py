"""Runs every case on every system and collects results.json's content."""
import datetime
import json
import os
import signal
import statistics
import sys
import tempfile
import time

import h5py
import numpy as np

from . import SCHEMA_VERSION
from . import datasets as D
from . import machine as MACHINE
from . import metrics as M
from . import systems as S

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)

# "Equal or better accuracy" in the targets: canopy's primary metric at most
# this far below the peer's. The correctness check against scikit-learn uses
# CHECK_TOLERANCE on every checked metric, in either direction.
EQUAL_TOLERANCE = 0.005
CHECK_TOLERANCE = 0.01
TARGETS = {"xgboost": 1.5, "lightgbm": 1.5, "sklearn": 10.0}


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def run_measured(cmd, timeout_s, env=None, cwd=None):
    """Runs cmd; returns dict(rc, out, err, wall_s, max_rss_mb, timed_out).
    Peak RSS is the child's own (os.wait4), not the sum over children."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        import subprocess
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                             start_new_session=True)
        deadline = t0 + timeout_s if timeout_s and timeout_s > 0 else None
        timed_out = False
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                timed_out = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        return {"rc": p.returncode, "out": fo.read(), "err": fe.read(), "wall_s": wall,
                "max_rss_mb": ru.ru_maxrss / 1024.0, "timed_out": timed_out}


def child_env(threads):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def _median(xs):
    return float(statistics.median(xs)) if xs else None


def _tail(text, n=400):
    text = (text or "").strip()
    return text[-n:]


# ------------------------------------------------------------------ canopy

def run_canopy(canopy, system, split, case, threads, workdir):
    model_path = os.path.join(workdir, "model.h5")
    pred_path = os.path.join(workdir, "pred.h5")
    args = S.canopy_args(case["model"], split["task"], threads, case["seed"], S.canopy_device(system),
                         split["features"], one_vs_rest=system in S.ONE_VS_REST)
    train_cmd = [canopy, "train", "--data", split["train"], "--label", "/y", "--no-tracking", "--out", model_path,
                 "--json"] + args
    pred_cmd = [canopy, "predict", "--model", model_path, "--data", split["test"], "--label", "/y",
                "--out", pred_path] + (["--proba"] if split["task"] == "classification" else [])
    env = child_env(threads)
    flags = [a for a in args if a == "--no-bootstrap"]
    pairs = [a for a in args if a not in flags]
    res = {"status": "ok", "command": " ".join(train_cmd), "params": dict(zip(pairs[0::2], pairs[1::2]))}
    res["params"].update({f: True for f in flags})
    fits, walls, bins, trains, loads, predicts, rss = [], [], [], [], [], [], []
    cold = None
    start = time.perf_counter()
    total = case["warmup"] + case["repeats"]
    for i in range(total):
        left = case["timeout_s"] - (time.perf_counter() - start) if case["timeout_s"] else 0
        if case["timeout_s"] and left <= 0:
            break
        r = run_measured(train_cmd, left, env)
        if r["timed_out"]:
            res["timed_out_after_s"] = case["timeout_s"]
            break
        if r["rc"] != 0:
            return {"status": "failed", "reason": "canopy train exited %d: %s" % (r["rc"], _tail(r["err"])),
                    "command": res["command"]}
        try:
            info = json.loads(r["out"].strip().splitlines()[-1])
            t = info["timing"]
        except (ValueError, KeyError, IndexError):
            return {"status": "failed", "reason": "canopy train printed no timing JSON: " + _tail(r["out"]),
                    "command": res["command"]}
        fit = float(t["bin_s"]) + float(t["train_s"])
        rss.append(r["max_rss_mb"])
        p = run_measured(pred_cmd, 0, env)
        if p["rc"] != 0:
            return {"status": "failed", "reason": "canopy predict exited %d: %s" % (p["rc"], _tail(p["err"])),
                    "command": " ".join(pred_cmd)}
        if i < case["warmup"]:
            cold = fit
            continue
        fits.append(fit)
        walls.append(r["wall_s"])
        bins.append(float(t["bin_s"]))
        trains.append(float(t["train_s"]))
        loads.append(float(t["load_s"]))
        predicts.append(p["wall_s"])
    if not fits:
        if cold is None:
            return {"status": "timeout", "reason": "no fit finished within %gs" % case["timeout_s"],
                    "command": res["command"]}
        fits, res["note"] = [cold], "only the warm-up fit finished within the time limit"
    res.update(fit_s=_median(fits), fit_s_runs=fits, cold_fit_s=cold, wall_s=_median(walls) if walls else None,
               bin_s=_median(bins) if bins else None, train_s=_median(trains) if trains else None,
               load_s=_median(loads) if loads else None, predict_s=_median(predicts) if predicts else None,
               predict_kind="process wall time of canopy predict (load model and data, predict, write file)",
               peak_rss_mb=max(rss), repeats_done=len(fits), version=None)
    res["metrics"] = _canopy_metrics(pred_path, split)
    for path in (model_path, pred_path):
        if os.path.exists(path):
            os.remove(path)
    return res


def _canopy_metrics(pred_path, split):
    with h5py.File(split["test"], "r") as f:
        y = f["y"][:]
    with h5py.File(pred_path, "r") as f:
        if split["task"] == "regression":
            return M.regression_metrics(y, f["prediction"][:])
        n = len(y)
        proba = np.zeros((n, split["classes"]))
        for name in f.keys():
            if name.startswith("proba_"):
                # The split files hold class ids 0..C-1, so canopy's labels are those ids
                # (canopy 0.1.0 prints some as floats: class 10 is "1e+01").
                proba[:, int(round(float(name[len("proba_"):])))] = f[name][:]
    return M.classification_metrics(y, proba)


# ------------------------------------------------------------------ peers

def run_peer(python, system, split, case, threads):
    params = S.PARAMS[system](case["model"], split["task"], split["features"], threads, case["seed"])
    cmd = [python, os.path.join(HERE, "worker.py"), "--system", system, "--task", split["task"],
           "--classes", str(split["classes"]), "--train", split["train"], "--test", split["test"],
           "--params", json.dumps(params), "--warmup", str(case["warmup"]), "--repeats", str(case["repeats"]),
           "--budget-s", str(case["timeout_s"])]
    r = run_measured(cmd, case["timeout_s"] * 1.5 + 60 if case["timeout_s"] else 0, child_env(threads))
    events = []
    for line in r["out"].splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    fits = [e for e in events if e.get("event") == "fit"]
    done = [e for e in events if e.get("event") == "done"]
    loaded = [e for e in events if e.get("event") == "loaded"]
    res = {"params": params, "version": loaded[0]["version"] if loaded else None, "peak_rss_mb": r["max_rss_mb"],
           "rss_after_load_mb": loaded[0]["rss_mb"] if loaded else None}
    if r["rc"] != 0 and not r["timed_out"]:
        res.update(status="failed", reason="%s worker exited %d: %s" % (system, r["rc"], _tail(r["err"])))
        return res
    warm = [e for e in fits if not e["warmup"]]
    cold = [e for e in fits if e["warmup"]]
    if not done or not fits:
        res.update(status="timeout", reason="no fit finished within %gs" % case["timeout_s"])
        return res
    use = warm or cold
    if not warm:
        res["note"] = "only the warm-up fit finished within the time limit"
    res.update(status="ok", fit_s=_median([e["fit_s"] for e in use]), fit_s_runs=[e["fit_s"] for e in use],
               cold_fit_s=cold[0]["fit_s"] if cold else None, predict_s=_median([e["predict_s"] for e in use]),
               predict_kind="in-process predict_proba / predict on the in-memory test array",
               repeats_done=len(warm), metrics=done[0]["metrics"])
    return res


def probe_peers(python):
    r = run_measured([python, os.path.join(HERE, "worker.py"), "--probe"], 300)
    try:
        return json.loads(r["out"].strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {s: {"error": "probe failed: " + _tail(r["err"])} for s in S.PEERS}


def install_status(venv):
    """Reasons recorded by scripts/setup_bench.sh for packages it could not install."""
    path = os.path.join(venv, "bench-packages.json") if venv else None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError, TypeError):
        return {}


def system_availability(systems, machine_info, probe, packages):
    avail = {}
    for s in systems:
        if s in S.CANOPY and S.canopy_device(s) == "cpu":
            avail[s] = {"status": "available"}
        elif s in S.CANOPY:
            if machine_info["cuda_available"]:
                avail[s] = {"status": "available"}
            else:
                reason = machine_info.get("gpu_reason") or "no device listed by canopy devices"
                avail[s] = {"status": "not available", "reason": "no GPU (%s)" % reason}
        else:
            info = probe.get(s, {})
            if "version" in info:
                avail[s] = {"status": "available", "version": info["version"]}
            else:
                why = info.get("error", "not importable")
                for spec, st in packages.items():
                    if spec.split("==")[0].startswith(S.PEER_PACKAGES[s].split("-")[0]) and st.get("status") == "missing":
                        reason = st.get("reason", "")
                        why = reason if reason.startswith("not installed") else \
                            "pip install %s failed: %s" % (spec, reason)
                avail[s] = {"status": "missing", "reason": why}
    return avail


# ------------------------------------------------------------------ analysis

def analyse_point(point, task):
    res = point["results"]
    speed = {}
    for c in S.CANOPY:
        if res.get(c, {}).get("status") != "ok":
            continue
        speed[c] = {}
        for p in S.PEERS:
            if res.get(p, {}).get("status") == "ok" and res[c]["fit_s"] > 0:
                speed[c][p] = res[p]["fit_s"] / res[c]["fit_s"]
    point["speedups"] = speed
    checks = {}
    sk = res.get("sklearn", {})
    for c in S.CANOPY:
        if res.get(c, {}).get("status") != "ok":
            continue
        if c in S.ONE_VS_REST:
            checks[c] = {"status": "n/a", "reason": "a one-vs-rest forest is not scikit-learn's model (joint trees)"}
            continue
        if sk.get("status") != "ok":
            checks[c] = {"status": "n/a", "reason": "scikit-learn did not run on this case"}
            continue
        diffs = {}
        for m in M.CHECKED[task]:
            a, b = res[c]["metrics"].get(m), sk["metrics"].get(m)
            if a is not None and b is not None and np.isfinite(a) and np.isfinite(b):
                diffs[m] = a - b
        bad = {m: d for m, d in diffs.items() if abs(d) > CHECK_TOLERANCE}
        checks[c] = {"status": "fail" if bad else "pass", "diff_vs_sklearn": diffs, "tolerance": CHECK_TOLERANCE}
    point["check"] = checks


def target_system(peer, results):
    """The canopy CPU run a peer is measured against: the one that grows the
    peer's model. XGBoost and LightGBM grow one tree per class per member, so
    on 3+ classes that is canopy's one-vs-rest run when it ran."""
    if peer in ("xgboost", "lightgbm") and results.get("canopy-cpu-ovr", {}).get("status") == "ok":
        return "canopy-cpu-ovr"
    return "canopy-cpu"


def evaluate_targets(cases):
    """Per peer: each single case where canopy on the CPU (target_system) and the peer both ran."""
    out = []
    for peer, ratio in TARGETS.items():
        rows = []
        for case in cases:
            if case["kind"] != "single" or not case.get("points"):
                continue
            pt = case["points"][0]
            system = target_system(peer, pt["results"])
            c, p = pt["results"].get(system, {}), pt["results"].get(peer, {})
            if c.get("status") != "ok" or p.get("status") != "ok":
                continue
            prim = M.PRIMARY[case["task"]]
            sp = p["fit_s"] / c["fit_s"]
            acc_ok = c["metrics"][prim] >= p["metrics"][prim] - EQUAL_TOLERANCE
            rows.append({"case": case["name"], "canopy_system": system, "speedup": sp, "metric": prim,
                         "canopy": c["metrics"][prim],
                         "peer": p["metrics"][prim], "speed_met": sp >= ratio, "accuracy_met": acc_ok,
                         "met": sp >= ratio and acc_ok})
        status = "not measured" if not rows else ("met" if all(r["met"] for r in rows) else "not met")
        out.append({"peer": peer, "required_speedup": ratio, "accuracy_tolerance": EQUAL_TOLERANCE,
                    "status": status, "cases": rows})
    return out


# ------------------------------------------------------------------ main loop

def run(opts):
    """opts: canopy, out, cases_path, suite, cases (loaded), threads, python, venv, keep_data, data_dir."""
    started = datetime.datetime.now(datetime.timezone.utc)
    canopy = opts["canopy"]
    threads = opts["threads"]
    all_systems = list(dict.fromkeys(s for c in opts["cases"] for s in c["systems"]))
    log("canopy bench: probing systems")
    probe = probe_peers(opts["python"])
    machine_info = MACHINE.describe(canopy, probe)
    machine_info["load_avg_at_start"] = list(os.getloadavg())
    avail = system_availability(all_systems, machine_info, probe, install_status(opts.get("venv")))
    for s in all_systems:
        a = avail[s]
        log("  %-11s %s%s" % (s, a["status"], (": " + a["reason"]) if "reason" in a else
                              (" " + a.get("version", "")) if "version" in a else ""))
    data_dir = opts["data_dir"]
    workdir = tempfile.mkdtemp(prefix="canopy_bench_")
    cases_out = []
    try:
        for case in opts["cases"]:
            log("case %s" % case["name"])
            entry = {k: case[k] for k in ("name", "kind", "description", "model", "systems", "repeats", "warmup",
                                          "seed", "timeout_s", "max_rows")}
            entry["dataset"] = case["dataset"]
            try:
                splits = D.prepare(case, canopy, data_dir, log)
            except Exception as e:  # a bad file, a failed synth: the case fails, the suite goes on
                entry.update(status="failed", reason="data: %s" % e, points=[], task=case["dataset"].get("task"))
                log("  failed: %s" % e)
                cases_out.append(entry)
                continue
            entry.update(status="ok", task=splits[0]["task"], features=splits[0]["features"],
                         classes=splits[0]["classes"], source=splits[0]["source"], points=[])
            for split in splits:
                point = {"train_rows": split["train_rows"], "test_rows": split["test_rows"], "results": {}}
                for s in case["systems"]:
                    if avail[s]["status"] != "available":
                        point["results"][s] = dict(avail[s])
                        continue
                    if s in S.ONE_VS_REST and not (split["task"] == "classification" and split["classes"] >= 3):
                        point["results"][s] = {"status": "skipped",
                                               "reason": "one-vs-rest applies to 3 or more classes"}
                        continue
                    limit = case["max_rows"].get(s)
                    if limit is not None and split["train_rows"] > limit:
                        point["results"][s] = {"status": "skipped",
                                               "reason": "more than %d training rows (max_rows)" % limit}
                        continue
                    log("  %-11s %d rows x %d features ..." % (s, split["train_rows"], split["features"]))
                    load_before = os.getloadavg()[0]
                    t0 = time.perf_counter()
                    try:
                        if s in S.CANOPY:
                            r = run_canopy(canopy, s, split, case, threads, workdir)
                        else:
                            r = run_peer(opts["python"], s, split, case, threads)
                    except Exception as e:  # one system's failure never ends the suite
                        r = {"status": "failed", "reason": "harness error: %s: %s" % (type(e).__name__, e)}
                    r["load_avg_1m_before"] = load_before
                    point["results"][s] = r
                    if r["status"] == "ok":
                        prim = M.PRIMARY[split["task"]]
                        log("  %-11s fit %.3fs  %s %.4f  peak %.0f MB  (%.0fs)" % (
                            s, r["fit_s"], prim, r["metrics"][prim], r["peak_rss_mb"], time.perf_counter() - t0))
                    else:
                        log("  %-11s %s: %s" % (s, r["status"], r.get("reason", "")))
                analyse_point(point, split["task"])
                for c, chk in point["check"].items():
                    if chk["status"] == "fail":
                        log("  CHECK FAILED: %s differs from scikit-learn by more than %.2f: %s" % (
                            c, CHECK_TOLERANCE, chk["diff_vs_sklearn"]))
                entry["points"].append(point)
            entry["check"] = ("fail" if any(ch["status"] == "fail" for p in entry["points"]
                                            for ch in p["check"].values()) else "pass")
            cases_out.append(entry)
            if opts.get("on_case"):  # a partial report after each case: an interrupted run keeps its cases
                try:
                    opts["on_case"](_results(opts, started, machine_info, avail, cases_out, partial=True))
                except Exception as e:  # never lose the run to a report error
                    log("  warning: could not write the partial report: %s" % e)
    finally:
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)
        if not opts.get("keep_data") and opts.get("data_dir_is_temp"):
            shutil.rmtree(data_dir, ignore_errors=True)
    return _results(opts, started, machine_info, avail, cases_out, partial=False)


def _results(opts, started, machine_info, avail, cases_out, partial):
    threads = opts["threads"]
    canopy = opts["canopy"]
    finished = datetime.datetime.now(datetime.timezone.utc)
    machine_info = dict(machine_info, load_avg_at_end=list(os.getloadavg()))
    return {
        "partial": partial,
        "schema_version": SCHEMA_VERSION,
        "suite": opts["suite"] + (" (partial: interrupted or still running)" if partial else ""),
        "cases_file": opts["cases_path"],
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_s": (finished - started).total_seconds(),
        "settings": {"threads": threads, "quick": opts.get("quick", False), "canopy_binary": canopy,
                     "fit_time": "canopy: bin_s + train_s as canopy train --json reports them (file loading "
                                 "excluded); peers: estimator.fit() on in-memory arrays (their own binning / "
                                 "DMatrix / Dataset construction included)",
                     "peak_memory": "max RSS of the fitting process (os.wait4): canopy train, or the Python "
                                    "worker with the interpreter, library, data and model",
                     "check_tolerance": CHECK_TOLERANCE, "equal_accuracy_tolerance": EQUAL_TOLERANCE},
        "machine": machine_info,
        "systems": avail,
        "parameter_mapping": [list(r) for r in S.mapping_rows()],
        "cases": cases_out,
        "targets": evaluate_targets(cases_out),
    }


def merge_results(parts, sources):
    """One results dict from several runs' results (same machine): the cases of
    all, the machine and settings of the first, targets recomputed."""
    first = dict(parts[0])
    cases, names = [], set()
    for part in parts:
        for c in part["cases"]:
            if c["name"] in names:
                raise ValueError("case %r appears in more than one results file" % c["name"])
            names.add(c["name"])
            cases.append(c)
    first["cases"] = cases
    first["suite"] = " + ".join(p["suite"].replace(" (partial: interrupted or still running)", "") for p in parts)
    first["cases_file"] = ", ".join(p["cases_file"] for p in parts)
    first["merged_from"] = list(sources)
    first["started"] = min(p["started"] for p in parts)
    first["finished"] = max(p["finished"] for p in parts)
    first["duration_s"] = sum(p["duration_s"] for p in parts)
    first["partial"] = any(p.get("partial") for p in parts)
    systems = {}
    for p in parts:
        for s, a in p["systems"].items():
            if s not in systems or a["status"] == "available":
                systems[s] = a
    first["systems"] = systems
    loads = [p["machine"].get("load_avg_at_end") for p in parts if p["machine"].get("load_avg_at_end")]
    first["machine"] = dict(first["machine"], load_avg_at_end=loads[-1] if loads else None)
    first["targets"] = evaluate_targets(cases)
    return first
