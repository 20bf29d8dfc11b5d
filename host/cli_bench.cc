#include "host/cli_bench.h"

#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#if __has_include("host/run_recorder.h")
#include "host/run_recorder.h"
#define CANOPY_BENCH_TRACKING 1
#endif

namespace canopy {
namespace fs = std::filesystem;

namespace bench_detail {

std::string find_bench_dir(const std::string& exe_path) {
  auto ok = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p / "canopy_bench.py", ec);
  };
  if (const char* env = std::getenv("CANOPY_BENCH_DIR"); env && *env) {
    return ok(env) ? fs::absolute(env).lexically_normal().string() : std::string();
  }
  if (exe_path.empty()) return "";
  const fs::path dir = fs::path(exe_path).parent_path();
  for (const fs::path& c : {dir / ".." / "bench", dir / ".." / ".." / "bench", dir / "bench",
                            dir / ".." / "share" / "canopy" / "bench"}) {
    if (ok(c)) return fs::weakly_canonical(c).string();
  }
  return "";
}

int run_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    ::execv(args[0], args.data());
    std::fprintf(stderr, "canopy bench: error: cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 127;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace bench_detail

namespace {

struct BenchArgs {
  bool quick = false, keep_data = false, no_setup = false, no_tracking = false;
  std::string out = "bench-report", cases, systems, data_dir, tracking_uri, experiment = "bench";
  int repeats = 0, warmup = -1, threads = 0;
  std::vector<std::string> raw_args;
};

std::string self_exe() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

#ifdef CANOPY_BENCH_TRACKING
std::string num_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "none";
  return v.dump();
}

void log_number(RunRecorder& r, const std::string& key, const nlohmann::json& v) {
  if (v.is_number()) {
    const double d = v.get<double>();
    if (std::isfinite(d)) r.log_metric(key, d);
  }
}

// One parent run for the invocation; a child per (case, rows, system) that ran.
void record_runs(RunRecorder& parent, const std::string& out_dir, const nlohmann::json& res) {
  parent.log_params({{"suite", res.value("suite", "")},
                     {"cases_file", res.value("cases_file", "")},
                     {"threads", num_text(res["settings"]["threads"])},
                     {"quick", num_text(res["settings"]["quick"])}});
  std::map<std::string, std::string> tags{{"canopy.bench.report", (fs::path(out_dir) / "report.html").string()}};
  if (res.contains("machine")) {
    tags["canopy.bench.cpu"] = res["machine"].value("cpu", "");
    tags["canopy.bench.gpu"] = res["machine"].value("gpu", "");
  }
  for (const auto& [s, a] : res["systems"].items())
    tags["canopy.bench.system." + s] = a.value("status", "") + (a.contains("version") ? " " + num_text(a["version"]) : "");
  parent.set_tags(tags);
  for (const auto& t : res["targets"]) {
    const std::string peer = t.value("peer", "");
    for (const auto& c : t["cases"]) log_number(parent, "speedup_vs_" + peer + "/" + c.value("case", ""), c["speedup"]);
  }
  for (const auto& c : res["cases"]) {
    for (const auto& p : c["points"]) {
      for (const auto& [s, r] : p["results"].items()) {
        if (r.value("status", "") != "ok") continue;
        std::string name = c.value("name", "") + "/" + s;
        if (c.value("kind", "") == "scaling") name += "/" + num_text(p["train_rows"]);
        auto child = parent.child(name, {{"canopy.bench.case", c.value("name", "")}, {"canopy.bench.system", s}});
        std::map<std::string, std::string> params{{"system", s},
                                                  {"case", c.value("name", "")},
                                                  {"task", num_text(c["task"])},
                                                  {"train_rows", num_text(p["train_rows"])},
                                                  {"test_rows", num_text(p["test_rows"])},
                                                  {"features", num_text(c["features"])}};
        for (const auto& [k, v] : c["model"].items()) params["model." + k] = num_text(v);
        if (r.contains("params"))
          for (const auto& [k, v] : r["params"].items()) params["system." + k] = num_text(v);
        if (r.contains("version") && !r["version"].is_null()) params["version"] = num_text(r["version"]);
        child->log_params(params);
        for (const char* k : {"fit_s", "cold_fit_s", "predict_s", "peak_rss_mb", "wall_s", "bin_s", "train_s"})
          if (r.contains(k)) log_number(*child, k, r[k]);
        for (const auto& [m, v] : r["metrics"].items()) log_number(*child, m, v);
        if (p.contains("speedups") && p["speedups"].contains(s))
          for (const auto& [peer, v] : p["speedups"][s].items()) log_number(*child, "speedup_vs_" + peer, v);
        child->finish();
      }
    }
  }
  for (const char* f : {"report.md", "report.html", "results.json"}) {
    const fs::path path = fs::path(out_dir) / f;
    if (fs::exists(path)) parent.log_artifact(path.string());
  }
  const fs::path plots = fs::path(out_dir) / "plots";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(plots, ec))
    if (e.is_regular_file()) parent.log_artifact(e.path().string(), "plots");
}
#endif

int run_bench(const BenchArgs& a) {
  const std::string exe = self_exe();
  const std::string bench_dir = bench_detail::find_bench_dir(exe);
  if (bench_dir.empty()) {
    std::fprintf(stderr,
                 "canopy: error: cannot find the benchmark harness (bench/canopy_bench.py) next to %s; "
                 "set CANOPY_BENCH_DIR to the bench/ folder of a canopy checkout\n",
                 exe.empty() ? "the canopy executable" : exe.c_str());
    return 1;
  }
  const fs::path repo = fs::path(bench_dir).parent_path();
  const char* venv_env = std::getenv("CANOPY_BENCH_VENV");
  const fs::path venv = venv_env && *venv_env ? fs::path(venv_env) : repo / ".venv-bench";
  const fs::path python = venv / "bin" / "python";
  const fs::path setup = repo / "scripts" / "setup_bench.sh";
  if (::access(python.c_str(), X_OK) != 0) {
    if (a.no_setup || !fs::exists(setup)) {
      std::fprintf(stderr,
                   "canopy: error: the benchmark environment %s is missing; create it with %s "
                   "(pip-installs numpy, h5py, matplotlib, psutil, scikit-learn, XGBoost and LightGBM)\n",
                   venv.c_str(), fs::exists(setup) ? setup.c_str() : "scripts/setup_bench.sh");
      return 1;
    }
    std::fprintf(stderr, "canopy bench: creating %s with %s (once; a few minutes)\n", venv.c_str(), setup.c_str());
    std::vector<std::string> cmd{"/bin/bash", setup.string()};
    if (venv_env && *venv_env) cmd.insert(cmd.end(), {"--venv", venv.string()});
    const int rc = bench_detail::run_process(cmd);
    if (rc != 0 || ::access(python.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "canopy: error: %s failed (exit %d); fix the problem it reports and run it again\n",
                   setup.c_str(), rc);
      return 1;
    }
  }

  std::vector<std::string> cmd{python.string(), (fs::path(bench_dir) / "canopy_bench.py").string(),
                               "--canopy", exe, "--out", a.out};
  if (a.quick) cmd.push_back("--quick");
  if (!a.cases.empty()) cmd.insert(cmd.end(), {"--cases", a.cases});
  if (!a.systems.empty()) cmd.insert(cmd.end(), {"--systems", a.systems});
  if (a.repeats > 0) cmd.insert(cmd.end(), {"--repeats", std::to_string(a.repeats)});
  if (a.warmup >= 0) cmd.insert(cmd.end(), {"--warmup", std::to_string(a.warmup)});
  if (a.threads > 0) cmd.insert(cmd.end(), {"--threads", std::to_string(a.threads)});
  if (!a.data_dir.empty()) cmd.insert(cmd.end(), {"--data-dir", a.data_dir});
  if (a.keep_data) cmd.push_back("--keep-data");

#ifdef CANOPY_BENCH_TRACKING
  std::unique_ptr<RunRecorder> parent;
  if (!a.no_tracking) {
    RunOptions o;
    o.tracking_uri = a.tracking_uri;
    o.experiment = a.experiment;
    o.run_name = std::string("bench-") + (a.quick ? "quick" : fs::path(a.cases.empty() ? "default" : a.cases).stem().string());
    std::string line = "canopy bench";
    for (const auto& s : a.raw_args) line += " " + s;
    o.command_line = line;
    try {
      parent = std::make_unique<RunRecorder>(o);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "canopy bench: warning: not recording runs: %s\n", e.what());
    }
  }
#else
  if (!a.no_tracking && !a.tracking_uri.empty())
    std::fprintf(stderr, "canopy bench: warning: this build has no tracking store; --tracking-uri ignored\n");
#endif

  const int rc = bench_detail::run_process(cmd);

#ifdef CANOPY_BENCH_TRACKING
  if (parent) {
    const fs::path results = fs::path(a.out) / "results.json";
    try {
      if ((rc == 0 || rc == 3) && fs::exists(results)) {
        std::ifstream f(results);
        record_runs(*parent, fs::absolute(a.out).string(), nlohmann::json::parse(f));
        parent->finish();
        std::fprintf(stderr, "canopy bench: recorded run %s in %s\n", parent->run_id().c_str(),
                     parent->tracking_uri().c_str());
      } else {
        parent->fail("the benchmark harness exited with status " + std::to_string(rc));
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "canopy bench: warning: could not record the results: %s\n", e.what());
      parent->fail(e.what());
    }
  }
#endif
  return rc;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  auto* c = app.add_subcommand("bench", "benchmark report: canopy vs scikit-learn, XGBoost and LightGBM");
  c->add_flag("--quick", args->quick, "the small suite (bench/cases/quick.json): minutes on 2 cores");
  c->add_option("--out", args->out, "report folder (report.md, report.html, results.json, plots/)")
      ->capture_default_str();
  c->add_option("--cases", args->cases, "cases file (JSON; see docs/benchmarks.md)");
  c->add_option("--systems", args->systems, "comma-separated: canopy-cpu,canopy-gpu,canopy-cpu-ovr,canopy-gpu-ovr (--multi-class ovr, on 3+ classes),"
                 "sklearn,xgboost,lightgbm");
  c->add_option("--repeats", args->repeats, "timed fits per system and case, after the warm-up")
      ->check(CLI::PositiveNumber);
  c->add_option("--warmup", args->warmup, "untimed warm-up fits (default: the cases file's)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--threads", args->threads, "threads for every system (default: every usable core)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--data-dir", args->data_dir, "keep the generated train/test files here and reuse them");
  c->add_flag("--keep-data", args->keep_data, "do not delete the generated data");
  c->add_flag("--no-setup", args->no_setup, "fail instead of running scripts/setup_bench.sh when the venv is missing");
  c->add_flag("--no-tracking", args->no_tracking, "do not record the results as runs");
  c->add_option("--tracking-uri", args->tracking_uri, "run store: sqlite:///PATH or http://HOST:PORT");
  c->add_option("--experiment", args->experiment, "experiment for the runs")->capture_default_str();
  c->callback([args, c, &exit_code] {
    // The command line as given, for the run record.
    for (const auto* o : c->get_options()) {
      if (o->count() == 0 || o->get_name() == "--help") continue;
      args->raw_args.push_back(o->get_name());
      for (const auto& r : o->results())
        if (o->get_expected_max() > 0) args->raw_args.push_back(r);
    }
    exit_code = run_bench(*args);
    throw CLI::RuntimeError(exit_code);
  });
}

}  // namespace canopy
