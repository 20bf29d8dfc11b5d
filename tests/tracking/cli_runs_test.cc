// `canopy runs ...` and `canopy experiments ...`, run in process through the
// same CLI11 hook that host/cli.cc uses.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "host/cli_runs.h"
#include "test_util.h"
#include "tracking/sqlite_store.h"
#include "tracking_test_util.h"

namespace canopy {
namespace {

using namespace tracking;

struct CliResult {
  int code = -1;
  std::string out, err;
};

CliResult run_cli_args(std::vector<std::string> args) {
  CLI::App app{"canopy"};
  app.require_subcommand(0, 1);
  add_tracking_commands(app);
  args.insert(args.begin(), "canopy");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CliResult r;
  canopy::test::CaptureOutput cap;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    if (!run_tracking_commands(app, r.code)) r.code = -2;
  } catch (const CLI::ParseError& e) {
    r.code = app.exit(e);
  }
  cap.stop();
  r.out = cap.out;
  r.err = cap.err;
  return r;
}

class RunsCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = canopy::test::temp_dir();
    uri_ = "sqlite://" + dir_ + "/canopy.db";
    SqliteStore s(dir_ + "/canopy.db");
    const std::string exp = s.create_experiment("wine");
    for (int i = 0; i < 3; ++i) {
      CreateRunRequest req;
      req.experiment_id = exp;
      req.run_name = "run" + std::to_string(i);
      req.start_time = 1700000000000 + i * 1000;
      ids_.push_back(s.create_run(req).run_id);
      s.log_batch(ids_.back(), {{"r2", 0.1 * (i + 1), 1, 0}, {"oob", 0.5, 1, 0}, {"oob", 0.6, 2, 1}},
                  {{"max_depth", std::to_string(4 + 2 * i)}, {"criterion", "gini"}}, {});
      s.set_terminated(ids_.back(), RunStatus::kFinished, 1700000005000 + i * 1000);
    }
  }
  std::string dir_, uri_;
  std::vector<std::string> ids_;
};

TEST_F(RunsCommands, ListFiltersAndOrders) {
  auto r = run_cli_args({"runs", "list", "--tracking-uri", uri_, "--experiment", "wine", "--filter",
                         "metrics.r2 > 0.15 and params.criterion = 'gini'", "--order-by", "metrics.r2 ASC"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("RUN ID"), std::string::npos);
  const auto p1 = r.out.find(ids_[1]), p2 = r.out.find(ids_[2]);
  ASSERT_NE(p1, std::string::npos) << r.out;
  ASSERT_NE(p2, std::string::npos);
  EXPECT_LT(p1, p2);
  EXPECT_EQ(r.out.find(ids_[0]), std::string::npos);
  EXPECT_NE(r.out.find("r2"), std::string::npos);

  auto j = run_cli_args({"runs", "list", "--tracking-uri", uri_, "--json", "--max-results", "2"});
  ASSERT_EQ(j.code, 0) << j.err;
  auto a = nlohmann::json::parse(j.out);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0]["info"]["run_id"], ids_[2]);
  EXPECT_EQ(a[0]["data"]["params"]["max_depth"], "8");
}

TEST_F(RunsCommands, MalformedFilterIsAnError) {
  auto r = run_cli_args({"runs", "list", "--tracking-uri", uri_, "--filter", "metrics.r2 >> 0.4"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "canopy: error: invalid filter \"metrics.r2 >> 0.4\": unexpected token \">\" at position 12\n");
}

TEST_F(RunsCommands, ShowAndUnknownRun) {
  auto r = run_cli_args({"runs", "show", ids_[0], "--tracking-uri", uri_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("run " + ids_[0] + " (run0)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("max_depth"), std::string::npos);
  EXPECT_NE(r.out.find("2 points, steps 0..1"), std::string::npos) << r.out;
  auto j = run_cli_args({"runs", "show", ids_[0], "--tracking-uri", uri_, "--json"});
  ASSERT_EQ(j.code, 0);
  auto o = nlohmann::json::parse(j.out);
  EXPECT_EQ(o["metric_history"]["oob"].size(), 2u);
  EXPECT_EQ(o["info"]["status"], "FINISHED");
  auto bad = run_cli_args({"runs", "show", "abc", "--tracking-uri", uri_});
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.err, "canopy: error: no run with id 'abc'\n");
}

TEST_F(RunsCommands, CompareMarksDifferences) {
  auto r = run_cli_args({"runs", "compare", ids_[0], ids_[1], "--tracking-uri", uri_});
  ASSERT_EQ(r.code, 0) << r.err;
  auto line_of = [&](const std::string& key) {
    auto p = r.out.find(key);
    auto b = r.out.rfind('\n', p);
    return r.out.substr(b + 1, r.out.find('\n', p) - b - 1);
  };
  EXPECT_EQ(line_of("max_depth").rfind("*", 0), 0u) << r.out;
  EXPECT_NE(line_of("criterion").rfind("*", 0), 0u) << r.out;
  EXPECT_EQ(line_of("r2").rfind("*", 0), 0u) << r.out;
  auto j = run_cli_args({"runs", "compare", ids_[0], ids_[1], ids_[2], "--json", "--tracking-uri", uri_});
  ASSERT_EQ(j.code, 0);
  auto o = nlohmann::json::parse(j.out);
  EXPECT_TRUE(o["params"]["max_depth"]["differs"]);
  EXPECT_FALSE(o["params"]["criterion"]["differs"]);
  EXPECT_EQ(o["params"]["max_depth"]["values"][2], "8");
  auto bad = run_cli_args({"runs", "compare", ids_[0], "nope", "--tracking-uri", uri_});
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.err, "canopy: error: no run with id 'nope'\n");
}

TEST_F(RunsCommands, Experiments) {
  auto c = run_cli_args({"experiments", "create", "trees", "--tracking-uri", uri_});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NE(c.out.find("created experiment 'trees' with id 2"), std::string::npos) << c.out;
  auto l = run_cli_args({"experiments", "list", "--json", "--tracking-uri", uri_});
  ASSERT_EQ(l.code, 0);
  auto a = nlohmann::json::parse(l.out);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0]["name"], "Default");
  EXPECT_EQ(a[2]["name"], "trees");
  auto dup = run_cli_args({"experiments", "create", "trees", "--tracking-uri", uri_});
  EXPECT_EQ(dup.code, 1);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos);
}

TEST_F(RunsCommands, SyncToUnreachableServerFailsClearly) {
  const std::string url = "http://127.0.0.1:" + std::to_string(canopy::test::free_port());
  setenv("CANOPY_MLFLOW_MAX_ATTEMPTS", "1", 1);
  auto r = run_cli_args({"runs", "sync", "--to", url, "--from", uri_});
  unsetenv("CANOPY_MLFLOW_MAX_ATTEMPTS");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "canopy: error: cannot reach MLflow server at " + url + ": Connection refused\n");
}

TEST(RunsCommandsHook, OtherCommandsAreNotOurs) {
  CLI::App app{"canopy"};
  add_tracking_commands(app);
  auto* other = app.add_subcommand("train", "");
  (void)other;
  std::vector<std::string> args{"canopy", "train"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  app.parse(2, argv.data());
  int code = 7;
  EXPECT_FALSE(run_tracking_commands(app, code));
  EXPECT_EQ(code, 7);
}

}  // namespace
}  // namespace canopy
