"""Describes the machine a bench ran on: CPU, cores, memory, GPU and driver,
OS, and the versions of canopy and of every peer."""
import json
import os
import platform
import shutil
import subprocess


def _run(cmd, timeout=60):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, "", str(e)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def physical_cores():
    try:
        import psutil
        return psutil.cpu_count(logical=False)
    except Exception:
        return None


def memory_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024.0 / 1024.0, 1)
    except OSError:
        pass
    return None


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def canopy_info(canopy):
    rc, out, err = _run([canopy, "--version"])
    version = out.strip() if rc == 0 else "unknown (%s)" % (err.strip() or rc)
    rc, out, err = _run([canopy, "devices", "--json"])
    devices = {"cuda_available": False, "devices": [], "reason": "canopy devices failed: " + err.strip()}
    if rc == 0:
        try:
            devices = json.loads(out)
        except ValueError:
            devices["reason"] = "canopy devices --json printed no JSON"
    return version, devices


def nvidia_driver():
    if not shutil.which("nvidia-smi"):
        return None
    rc, out, _ = _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"])
    return out.strip() if rc == 0 and out.strip() else None


def describe(canopy, peer_probe):
    version, devices = canopy_info(canopy)
    gpus = devices.get("devices") or []
    gpu_text = "none"
    if gpus:
        gpu_text = "; ".join(
            ", ".join("%s=%s" % (k, v) for k, v in g.items() if k in ("name", "memory_gib", "memory_mb",
                                                                      "compute_capability", "driver"))
            or json.dumps(g) for g in gpus)
    elif devices.get("reason"):
        gpu_text = "none (%s)" % devices["reason"]
    versions = {"canopy": version, "python": platform.python_version()}
    try:
        import numpy
        versions["numpy"] = numpy.__version__
    except ImportError:
        pass
    for system, info in peer_probe.items():
        versions[system] = info.get("version") or "missing: " + info.get("error", "?")
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "physical_cores": physical_cores(),
        "memory_gib": memory_gib(),
        "os": "%s %s" % (platform.system(), platform.release()),
        "hostname": platform.node(),
        "gpu": gpu_text,
        "gpu_devices": gpus,
        "cuda_available": bool(devices.get("cuda_available")) and bool(gpus),
        "gpu_reason": devices.get("reason", ""),
        "nvidia_driver": nvidia_driver(),
        "versions": versions,
    }
