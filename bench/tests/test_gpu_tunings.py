"""Tests of scripts/gpu_tunings.py, which ranks gpu_bench's CudaTuning variants."""
import contextlib
import importlib.util
import io
import json
import os
import re
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts", "gpu_tunings.py")
spec = importlib.util.spec_from_file_location("gpu_tunings", SCRIPT)
gpu_tunings = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_tunings)


def run(name, time_us, **extra):
    return dict({"name": name, "real_time": time_us, "time_unit": "us"}, **extra)


def call_on_files(call, files):
    """call(*paths) on temporary files of `files` ((name, text) each); returns
    its status and the lines it printed."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for name, text in files:
            paths.append(os.path.join(d, name))
            with open(paths[-1], "w") as f:
                f.write(text)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = call(*paths)
    return rc, out.getvalue().splitlines()


class GpuTunings(unittest.TestCase):
    def rank(self, benchmarks, ranker=gpu_tunings.main):
        return call_on_files(ranker, [("gpu_bench.json", json.dumps({"benchmarks": benchmarks}))])

    def test_fastest_first_with_ratio_to_the_default(self):
        h = "BM_HistogramPass/mapping:{}/shared_KiB:{}/batch:{}/pad:{}/threads:{}/iterations:20/manual_time"
        rc, lines = self.rank([
            run(h.format(4, 96, 1, 0, 512), 600.0, **{"bin_GB/s": 466.0}),
            run(h.format(1, 48, 1, 1, 256), 300.0, **{"bin_GB/s": 933.0}),
            run(h.format(0, 96, 8, 0, 512), 400.0),
            run("BM_Train10M/iterations:1/manual_time", 0.7),  # not a tuned case: left out
        ])
        self.assertEqual(rc, 0)
        self.assertEqual(lines[0], "== BM_HistogramPass")
        self.assertEqual(len(lines), 4)
        self.assertIn("element, 48 KiB, padded, 256 threads", lines[1])
        self.assertIn("2.00x the default", lines[1])
        self.assertIn("933 GB/s", lines[1])
        self.assertIn("row, 96 KiB, batch 8, 512 threads", lines[2])
        self.assertIn("1.50x the default", lines[2])
        self.assertIn("1.00x the default", lines[3])

    def test_the_histogram_kernel_alone_is_shown_where_timed(self):
        h = "BM_HistogramPass/mapping:{}/shared_KiB:96/batch:1/pad:0/threads:512/iterations:20/manual_time"
        rc, lines = self.rank([
            run(h.format(2), 500.0, **{"bin_GB/s": 560.0, "kernel_us": 280.4, "kernel_GB/s": 998.6}),
            run(h.format(3), 400.0, **{"bin_GB/s": 700.0}),
        ])
        self.assertEqual(rc, 0)
        self.assertNotIn("kernel", lines[1])
        self.assertIn("560 GB/s, kernel 280 us 999 GB/s", lines[2])

    def test_errors_are_listed_and_a_missing_default_is_said(self):
        t = "BM_Train10MTuned/mapping:1/shared_KiB:{}/batch:1/pad:0/threads:512/split:0/iterations:3/manual_time"
        rc, lines = self.rank([
            run(t.format(48), 0.0, error_occurred=True, error_message="no CUDA device"),
            run(t.format(96), 0.5),
        ])
        self.assertEqual(rc, 0)
        self.assertIn("error: no CUDA device", lines[1])
        self.assertIn("no default run", lines[2])

    def test_the_split_argument_is_labelled_and_not_the_default(self):
        t = "BM_Train10MTuned/mapping:4/shared_KiB:96/batch:1/pad:0/threads:512/split:{}/iterations:3/manual_time"
        rc, lines = self.rank([run(t.format(1), 0.5), run(t.format(0), 0.6)])
        self.assertEqual(rc, 0)
        self.assertIn("swizzled-rows, 96 KiB, 512 threads, warp split", lines[1])
        self.assertIn("1.20x the default", lines[1])
        self.assertNotIn("split", lines[2])
        self.assertIn("1.00x the default", lines[2])

    def test_files_from_before_the_block_size_argument_ran_256_threads(self):
        rc, lines = self.rank([run("BM_HistogramPass/mapping:2/shared_KiB:96/batch:1/pad:0/iterations:20/manual_time",
                                   600.0)])
        self.assertEqual(rc, 0)
        self.assertIn("row-words, 96 KiB, 256 threads", lines[1])
        self.assertIn("no default run", lines[1])

    def test_a_file_cut_off_mid_run_ranks_the_runs_it_finished(self):
        t = "BM_HistogramPass/mapping:{}/shared_KiB:96/batch:1/pad:0/threads:512/iterations:20/manual_time"
        text = json.dumps({"context": {}, "benchmarks": [run(t.format(4), 600.0), run(t.format(1), 300.0)]},
                          indent=2)
        rc, lines = call_on_files(gpu_tunings.main,  # the second run is cut off
                                  [("gpu_bench.json", text[:text.rindex('"real_time"')])])
        self.assertEqual(rc, 0)
        self.assertIn("cut off; ranking the 1 runs it finished", lines[0])
        self.assertEqual(len(lines), 3)
        self.assertIn("1.00x the default", lines[2])

    def test_gpu_check_names_the_same_default_tuning(self):
        # gpu_check.sh's ncu and profile steps filter gpu_bench by the default's name.
        check = os.path.join(os.path.dirname(SCRIPT), "gpu_check.sh")
        with open(check) as f:
            line = next(l for l in f if l.startswith("DEFAULT_TUNING="))
        args = dict(p.split(":", 1) for p in line.split("=", 1)[1].strip().strip("'").split("/"))
        self.assertEqual(args, {k: v for k, v in gpu_tunings.DEFAULT.items() if k != "split"})

    def test_gpu_check_opt_in_steps_name_their_walks(self):
        # The rotated and swizzled steps filter gpu_bench by their mapping numbers
        # and the row-words walk's, their baseline.
        check = os.path.join(os.path.dirname(SCRIPT), "gpu_check.sh")
        with open(check) as f:
            mappings = dict(m.groups() for m in (re.match(r"(\w+_MAPPING)=(\d+)$", l.strip()) for l in f) if m)
        labels = {k: gpu_tunings.LABELS["mapping"][v] for k, v in mappings.items()}
        self.assertEqual(labels, {"ROW_WORDS_MAPPING": "row-words", "ROTATED_MAPPING": "rotated-rows",
                                  "SWIZZLED_MAPPING": "swizzled-rows"})
        # ... which are CudaTuning::HistogramMapping's, as the labels' count is.
        with open(os.path.join(os.path.dirname(SCRIPT), "..", "kernels", "cuda_tuning.h")) as f:
            body = re.search(r"enum class HistogramMapping \{([^}]*)\}", f.read()).group(1)
        enum = [n.strip() for n in body.split(",") if n.strip()]
        self.assertEqual(len(enum), len(gpu_tunings.LABELS["mapping"]))
        self.assertEqual(mappings, {"ROW_WORDS_MAPPING": str(enum.index("kRowWords")),
                                    "ROTATED_MAPPING": str(enum.index("kRotatedRows")),
                                    "SWIZZLED_MAPPING": str(enum.index("kSwizzledRows"))})

    def test_each_bin_count_is_ranked_against_its_own_default(self):
        h = "BM_HistogramPassFewBins/mapping:{}/shared_KiB:96/batch:1/pad:0/threads:512/bins:{}/iterations:20/manual_time"
        rc, lines = self.rank([
            run(h.format(4, 4), 400.0), run(h.format(3, 4), 200.0),
            run(h.format(4, 64), 300.0), run(h.format(3, 64), 600.0),
        ])
        self.assertEqual(rc, 0)
        self.assertEqual(lines[0], "== BM_HistogramPassFewBins (4 bins)")
        self.assertIn("rotated-rows, 96 KiB, 512 threads, 4 bins", lines[1])
        self.assertIn("2.00x the default", lines[1])
        self.assertEqual(lines[3], "== BM_HistogramPassFewBins (64 bins)")
        self.assertIn("swizzled-rows, 96 KiB, 512 threads, 64 bins", lines[4])
        self.assertIn("0.50x the default", lines[5])

    def fixed_part(self, cases):
        """fixed_part over two files, at 4M and 10M rows, of `cases`: (name,
        kernel_us at 4M, kernel_us at 10M) each; returns its status and lines."""
        files = [(f"{rows}.json",
                  json.dumps({"benchmarks": [run(name, 1.0, kernel_us=times[i]) for name, *times in cases] +
                              [run("BM_Train10M/iterations:1/manual_time", 0.7)]}))
                 for i, rows in enumerate((4, 10))]
        return call_on_files(lambda small, large: gpu_tunings.fixed_part(small, 4000000, large, 10000000), files)

    def test_the_fixed_part_is_what_does_not_grow_with_the_rows(self):
        h = "BM_HistogramPass/mapping:{}/shared_KiB:96/batch:1/pad:0/threads:512/iterations:20/manual_time"
        rc, lines = self.fixed_part([(h.format(4), 140.0, 260.0), (h.format(2), 190.0, 250.0)])
        self.assertEqual(rc, 0)
        self.assertEqual(len(lines), 2)
        # swizzled: 20 us a million rows, 140 - 80 = 60 us fixed; row-words: 10 and 150.
        self.assertIn("swizzled-rows", lines[0])
        self.assertIn("20.0 us a million rows, fixed part    60 us (23%)", lines[0])
        self.assertIn("row-words", lines[1])
        self.assertIn("10.0 us a million rows, fixed part   150 us (60%)", lines[1])

    def test_the_fixed_part_of_cases_without_a_mapping_names_their_arguments(self):
        h = "BM_HistogramPassLean/stagger:{}/row_classes:1/identity:1/cluster:1/bins:256/iterations:20/manual_time"
        rc, lines = self.fixed_part([(h.format(0), 120.0, 240.0), (h.format(1), 100.0, 190.0)])
        self.assertEqual(rc, 0)
        self.assertEqual(len(lines), 2)
        # unstaggered: 20 us a million rows, 120 - 80 = 40 us fixed; staggered: 15 and 40.
        self.assertIn("stagger 0, row_classes 1, identity 1, cluster 1, bins 256", lines[0])
        self.assertIn("20.0 us a million rows, fixed part    40 us (17%)", lines[0])
        self.assertIn("stagger 1", lines[1])
        self.assertIn("15.0 us a million rows, fixed part    40 us (21%)", lines[1])

    def test_opt_ins_are_ranked_against_all_off_within_each_bin_count(self):
        h = "BM_HistogramPassLean/stagger:0/sectors:{}/row_classes:0/identity:{}/cluster:{}/bins:{}/iterations:20/manual_time"
        runs = [run(h.format(0, 0, 1, 256), 1.0, kernel_us=240.0, **{"kernel_fraction_of_3.35TB/s": 0.348}),
                run(h.format(1, 1, 1, 256), 1.0, kernel_us=160.0,
                    **{"kernel_fraction_of_3.35TB/s": 0.522, "kernel_fraction_of_device": 0.356, "device_TB/s": 4.915}),
                run(h.format(1, 0, 4, 256), 1.0, kernel_us=200.0),
                run(h.format(0, 0, 1, 4), 1.0, kernel_us=170.0),
                run("BM_Train10MLean/stagger:0/sectors:0/row_classes:0/identity:0/cluster:1/iterations:3/manual_time",
                    0.5, time_unit="s"),
                run("BM_HistogramPass/mapping:4/shared_KiB:96/batch:1/pad:0/threads:512/iterations:20/manual_time",
                    1.0)]
        rc, lines = self.rank(runs, gpu_tunings.opt_ins)
        self.assertEqual(rc, 0)
        self.assertEqual(lines[0], "== BM_HistogramPassLean (256 bins)")
        self.assertIn("sectors 1, row_classes 0, identity 1, cluster 1", lines[1])
        self.assertIn("1.50x all off, 52.2% of 3.35 TB/s, 35.6% of the device's 4.92 TB/s", lines[1])
        self.assertIn("cluster 4", lines[2])
        self.assertIn("1.20x all off", lines[2])
        self.assertIn("1.00x all off", lines[3])
        self.assertEqual(lines[4], "== BM_HistogramPassLean (4 bins)")
        self.assertEqual(lines[6], "== BM_Train10MLean")
        self.assertIn("0.500 s  1.00x all off", lines[7])
        self.assertEqual(len(lines), 8)  # the mapped case is not an opt-in case

    def test_a_file_without_tuned_cases_fails(self):
        rc, lines = self.rank([run("BM_FullyGrown1M/iterations:1/manual_time", 1.0)])
        self.assertEqual(rc, 1)


if __name__ == "__main__":
    unittest.main()
