// End-to-end test of `canopy bench` (host/cli_bench.cc + the Python harness in
// bench/): a tiny suite with canopy alone, checking that report.md,
// report.html and results.json are written and their numbers are well-formed.
// Needs the harness's virtual environment (.venv-bench with numpy, h5py,
// matplotlib, psutil); when it is missing the test creates it with
// scripts/setup_bench.sh --core and skips only when that fails (no network).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "test_util.h"

namespace canopy::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path source_dir() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }

fs::path venv_python() {
  const char* env = std::getenv("CANOPY_BENCH_VENV");
  return (env && *env ? fs::path(env) : source_dir() / ".venv-bench") / "bin" / "python";
}

// Makes sure the harness's environment exists; returns "" or why it cannot.
std::string ensure_venv() {
  // The binary finds bench/ next to itself; a build folder outside the source tree needs this.
  ::setenv("CANOPY_BENCH_DIR", (source_dir() / "bench").c_str(), 0);
  if (::access(venv_python().c_str(), X_OK) == 0) return "";
  const fs::path setup = source_dir() / "scripts" / "setup_bench.sh";
  const std::string cmd = "/bin/bash " + setup.string() + " --core >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0 || ::access(venv_python().c_str(), X_OK) != 0)
    return "the benchmark venv " + venv_python().parent_path().parent_path().string() +
           " is missing and scripts/setup_bench.sh --core could not create it (no PyPI access?)";
  return "";
}

const char* kTinyCases = R"({
  "name": "test-tiny",
  "defaults": {"repeats": 2, "warmup": 1, "timeout_s": 120,
               "model": {"n_estimators": 8, "max_depth": 5, "max_features": "sqrt", "max_bins": 32}},
  "cases": [
    {"name": "binary", "dataset": {"synth": {"task": "classification", "rows": 3000, "features": 8}}},
    {"name": "regression", "dataset": {"synth": {"task": "regression", "rows": 3000, "features": 8}},
     "model": {"max_features": "all"}},
    {"name": "multiclass-missing",
     "dataset": {"synth": {"task": "classification", "rows": 2000, "features": 6, "classes": 4, "missing": 0.1}}},
    {"name": "scaling", "kind": "scaling", "rows": [500, 1000, 2000], "repeats": 1, "warmup": 0,
     "dataset": {"synth": {"task": "classification", "features": 6}}}
  ]
})";

bool finite_positive(const json& v) { return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() > 0; }
bool in_unit(const json& v) { return v.is_number() && v.get<double>() >= 0 && v.get<double>() <= 1; }

class BenchCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = ensure_venv();
    if (!skip_.empty()) return;
    dir_ = new std::string(temp_dir());
    write_file(*dir_ + "/cases.json", kTinyCases);
    result_ = new CommandResult(run_canopy("bench --quick --systems canopy-cpu,canopy-cpu-ovr --no-tracking --threads 2 --cases " +
                                           *dir_ + "/cases.json --out " + *dir_ + "/report"));
  }
  static void TearDownTestSuite() {
    if (dir_) fs::remove_all(*dir_);
    delete dir_;
    delete result_;
    dir_ = nullptr;
    result_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_NE(result_->err.find("canopy bench"), std::string::npos)
        << "`canopy bench` is not wired into host/cli.cc (add_bench_command(app, exit_code)):\n"
        << result_->err;
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
  }
  static std::string report(const std::string& f) { return *dir_ + "/report/" + f; }

  static inline std::string skip_;
  static inline std::string* dir_ = nullptr;
  static inline CommandResult* result_ = nullptr;
};

TEST_F(BenchCli, WritesTheThreeReportFilesAndPlots) {
  for (const char* f : {"report.md", "report.html", "results.json", "plots/fit_times.png", "plots/accuracy.png",
                        "plots/scaling_scaling.png"})
    EXPECT_TRUE(fs::exists(report(f))) << f;
  for (const auto& e : fs::directory_iterator(*dir_ + "/report"))
    EXPECT_EQ(e.path().extension() == ".tmp", false) << "left a temporary file: " << e.path();
}

TEST_F(BenchCli, ResultsJsonNumbersAreWellFormed) {
  const json r = json::parse(read_file(report("results.json")));
  EXPECT_EQ(r["schema_version"], 1);
  EXPECT_EQ(r["settings"]["threads"], 2);
  EXPECT_EQ(r["systems"]["canopy-cpu"]["status"], "available");
  EXPECT_EQ(r["systems"]["canopy-cpu-ovr"]["status"], "available");
  EXPECT_FALSE(r["machine"]["cpu"].get<std::string>().empty());
  EXPECT_TRUE(finite_positive(r["machine"]["memory_gib"]));
  EXPECT_NE(r["machine"]["versions"]["canopy"].get<std::string>().find("canopy"), std::string::npos);
  ASSERT_EQ(r["cases"].size(), 4u);
  int points = 0;
  for (const auto& c : r["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    EXPECT_EQ(c["status"], "ok");
    const bool cls = c["task"] == "classification";
    const std::size_t n_points = c["kind"] == "scaling" ? 3u : 1u;
    ASSERT_EQ(c["points"].size(), n_points);
    for (const auto& p : c["points"]) {
      ++points;
      EXPECT_TRUE(finite_positive(p["train_rows"]));
      ASSERT_TRUE(p["results"].contains("canopy-cpu"));
      EXPECT_EQ(p["results"].size(), 2u) << "only --systems canopy-cpu,canopy-cpu-ovr should run";
      // The one-vs-rest run: C trees per member on 3+ classes, skipped otherwise.
      const json& o = p["results"]["canopy-cpu-ovr"];
      if (cls && c["classes"].get<int>() >= 3) {
        ASSERT_EQ(o["status"], "ok") << o.dump();
        EXPECT_EQ(o["params"]["--multi-class"], "ovr");
        EXPECT_GT(o["metrics"]["accuracy"].get<double>(), 1.0 / c["classes"].get<double>());
        EXPECT_EQ(p["check"]["canopy-cpu-ovr"]["status"], "n/a");  // not scikit-learn's model
      } else {
        EXPECT_EQ(o["status"], "skipped") << o.dump();
      }
      const json& x = p["results"]["canopy-cpu"];
      ASSERT_EQ(x["status"], "ok") << x.dump();
      for (const char* k : {"fit_s", "wall_s", "bin_s", "train_s", "predict_s", "peak_rss_mb"})
        EXPECT_TRUE(finite_positive(x[k])) << k << " = " << x[k];
      EXPECT_GE(x["wall_s"].get<double>(), x["fit_s"].get<double>());
      EXPECT_EQ(x["fit_s_runs"].size(), c["kind"] == "scaling" ? 1u : 2u);
      for (const auto& t : x["fit_s_runs"]) EXPECT_TRUE(finite_positive(t));
      if (cls) {
        EXPECT_TRUE(in_unit(x["metrics"]["accuracy"])) << x["metrics"];
        EXPECT_TRUE(in_unit(x["metrics"]["roc_auc"])) << x["metrics"];
        EXPECT_GT(x["metrics"]["accuracy"].get<double>(), 1.0 / c["classes"].get<double>());
      } else {
        EXPECT_TRUE(x["metrics"]["r2"].is_number());
        EXPECT_LE(x["metrics"]["r2"].get<double>(), 1.0);
        EXPECT_GT(x["metrics"]["r2"].get<double>(), 0.0);
        EXPECT_TRUE(finite_positive(x["metrics"]["rmse"]));
      }
      EXPECT_EQ(p["check"]["canopy-cpu"]["status"], "n/a");  // scikit-learn did not run
    }
  }
  EXPECT_EQ(points, 6);
  // Targets are stated even when not measured.
  ASSERT_EQ(r["targets"].size(), 3u);
  for (const auto& t : r["targets"]) EXPECT_EQ(t["status"], "not measured");
}

TEST_F(BenchCli, ReportsDescribeMachineCasesAndEmbedPlots) {
  const std::string md = read_file(report("report.md"));
  for (const char* s : {"## Machine", "## Cases", "### binary", "### regression", "### scaling",
                        "| canopy (CPU) |", "Parameter mapping", "Targets", "![Fit time](plots/fit_times.png)"})
    EXPECT_NE(md.find(s), std::string::npos) << s;
  const std::string html = read_file(report("report.html"));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("src='data:image/png;base64,"), std::string::npos);
  EXPECT_EQ(html.find("src='http"), std::string::npos) << "report.html must be self-contained";
  EXPECT_EQ(html.find("src='plots/"), std::string::npos) << "report.html must be self-contained";
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(BenchCliErrors, BadCasesFileFailsWithAClearMessage) {
  if (const std::string why = ensure_venv(); !why.empty()) GTEST_SKIP() << why;
  const std::string dir = temp_dir();
  write_file(dir + "/bad.json", R"({"cases": [{"name": "x", "dataset": {"synth": {"task": "classification",
      "rows": 100, "features": 4}}, "model": {"n_trees": 3}}]})");
  CommandResult r = run_canopy("bench --no-tracking --cases " + dir + "/bad.json --out " + dir + "/out");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("unknown model setting(s): n_trees"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/out/results.json"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace canopy::test
