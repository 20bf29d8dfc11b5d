"""Tests of scripts/gpu_check.sh's time bound and packing, with a stand-in GPU bundle.

The device machine's calls end at a hard limit, and what the script has not packed by
then is lost; these check that GPU_CHECK_DEADLINE_S cuts a step's own limit to the
seconds left, skips the steps that no longer fit, and that GPU_CHECK_TAR holds every
finished step's files and the summary.
"""
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts", "gpu_check.sh")

# Stands in for gpu-bundle/run.sh: the test binary hangs far past any limit the
# test uses, everything else answers at once.
FAKE_RUN = """#!/bin/sh
case "$1" in
  test_kernels) echo "test_kernels starts"; exec sleep 120 ;;
  *) echo "ran $*" ;;
esac
"""


class GpuCheckDeadline(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.root, "scripts"))
        shutil.copy(SCRIPT, os.path.join(self.root, "scripts", "gpu_check.sh"))
        os.makedirs(os.path.join(self.root, "gpu-bundle"))
        run_sh = os.path.join(self.root, "gpu-bundle", "run.sh")
        with open(run_sh, "w") as f:
            f.write(FAKE_RUN)
        os.chmod(run_sh, 0o755)

    def tearDown(self):
        shutil.rmtree(self.root)

    def run_check(self, deadline_s, *steps):
        out = os.path.join(self.root, "out")
        tar = os.path.join(self.root, "check.tgz")
        env = dict(os.environ, OUT=out, GPU_CHECK_TAR=tar, GPU_CHECK_DEADLINE_S=str(deadline_s))
        t0 = time.monotonic()
        proc = subprocess.run([os.path.join(self.root, "scripts", "gpu_check.sh"), *steps], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=100)
        elapsed = time.monotonic() - t0
        with tarfile.open(tar) as t:
            names = set(t.getnames())
            summary = t.extractfile("out/summary.txt").read().decode().splitlines()
        return proc, elapsed, names, summary

    def test_a_step_is_cut_to_the_deadline_and_later_steps_are_skipped(self):
        # The tests step would hang for 120 s twice under its own 180 s limits.
        proc, elapsed, names, summary = self.run_check(24, "info", "tests", "info")
        self.assertLess(elapsed, 60, proc.stdout)
        self.assertEqual(len(summary), 3, summary)
        self.assertRegex(summary[0], r"^info: exit \d+ in \d+ s$")
        self.assertRegex(summary[1], r"^tests: exit 124 in \d+ s$")  # timeout's status: cut, not failed
        self.assertEqual(summary[2], "info: skipped, under 20 s left of GPU_CHECK_DEADLINE_S=24")
        self.assertTrue({"out/info.txt", "out/tests.log", "out/summary.txt"} <= names, names)

    def test_without_time_left_no_step_runs_and_the_summary_still_comes_back(self):
        proc, elapsed, names, summary = self.run_check(10, "tests", "lean")
        self.assertLess(elapsed, 10, proc.stdout)
        self.assertEqual(summary, ["tests: skipped, under 20 s left of GPU_CHECK_DEADLINE_S=10",
                                   "lean: skipped, under 20 s left of GPU_CHECK_DEADLINE_S=10"])
        self.assertNotIn("out/tests.log", names)


if __name__ == "__main__":
    unittest.main()
