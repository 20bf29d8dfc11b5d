// Against a real MLflow tracking server: started here from the venv made by
// scripts/setup_mlflow.sh (env CANOPY_MLFLOW_VENV, default <repo>/.venv-mlflow)
// on 127.0.0.1 and a free port with a SQLite backend and proxied artifacts.
// Skips with a message when that venv has no mlflow.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>
#include <thread>
#include <tuple>

#include "host/run_recorder.h"
#include "test_util.h"
#include "tracking/mlflow_client.h"
#include "tracking/sqlite_store.h"
#include "tracking/sync.h"
#include "tracking_test_util.h"

namespace fs = std::filesystem;

namespace canopy::tracking {
namespace {

std::string venv_dir() {
  if (const char* v = std::getenv("CANOPY_MLFLOW_VENV"); v && *v) return v;
  // <repo>/tests/tracking/this_file.cc -> <repo>/.venv-mlflow
  return (fs::path(__FILE__).parent_path().parent_path().parent_path() / ".venv-mlflow").string();
}

class MlflowServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string mlflow = venv_dir() + "/bin/mlflow";
    if (!fs::exists(mlflow)) {
      skip_reason_ = "no MLflow server: " + mlflow + " is missing (run scripts/setup_mlflow.sh)";
      return;
    }
    dir_ = canopy::test::temp_dir();
    port_ = canopy::test::free_port();
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    pid_ = canopy::test::spawn({mlflow, "server", "--host", "127.0.0.1", "--port", std::to_string(port_),
                                "--backend-store-uri", "sqlite:///" + dir_ + "/mlflow.db", "--artifacts-destination",
                                dir_ + "/artifacts", "--workers", "1"},
                               {}, true, dir_ + "/server.log");
    if (pid_ <= 0) {
      skip_reason_ = "cannot start " + mlflow;
      return;
    }
    MlflowOptions o;
    o.max_attempts = 1;
    MlflowClient probe(url_, o);
    for (int i = 0; i < 240; ++i) {  // first start migrates the database: allow 2 minutes
      if (probe.healthy()) return;
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    failure_ = "MLflow server did not become healthy; log:\n" + canopy::test::read_file(dir_ + "/server.log");
  }
  static void TearDownTestSuite() {
    if (pid_ > 0) {
      kill(-pid_, SIGTERM);
      for (int i = 0; i < 50; ++i) {
        int st = 0;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (pid_ > 0) {
        kill(-pid_, SIGKILL);
        canopy::test::wait_status(pid_);
      }
      pid_ = -1;
    }
  }
  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(failure_.empty()) << failure_;
  }
  static MlflowOptions options() {
    MlflowOptions o;
    o.max_attempts = 3;
    o.initial_backoff_s = 0.1;
    return o;
  }
  static std::string unique(const std::string& base) {
    return base + "-" + new_run_id().substr(0, 8);
  }

  static inline std::string dir_, url_, skip_reason_, failure_;
  static inline int port_ = 0;
  static inline pid_t pid_ = -1;
};

TEST_F(MlflowServer, ClientRoundTrip) {
  MlflowClient c(url_, options());
  const std::string name = unique("canopy-client");
  EXPECT_FALSE(c.get_experiment_by_name(name));
  const std::string exp = c.create_experiment(name);
  EXPECT_EQ(c.get_experiment_by_name(name)->experiment_id, exp);
  EXPECT_EQ(c.get_or_create_experiment(name), exp);

  CreateRunRequest req;
  req.experiment_id = exp;
  req.run_name = "parent";
  req.user_id = "ada";
  req.start_time = 1700000000000;
  req.tags = {{kTagSourceType, "LOCAL"}};
  RunInfo parent = c.create_run(req);
  ASSERT_EQ(parent.run_id.size(), 32u);

  std::vector<Metric> m;
  for (int s = 0; s < 2500; ++s) m.push_back({"loss", 1.0 / (s + 1), 1700000000000 + s, s});
  m.push_back({"nan_metric", std::nan(""), 1700000000001, 0});
  std::map<std::string, std::string> params, tags;
  for (int i = 0; i < 150; ++i) params["p" + std::to_string(i)] = "v" + std::to_string(i);
  for (int i = 0; i < 120; ++i) tags["t" + std::to_string(i)] = "x" + std::to_string(i);
  const int64_t before = c.requests_sent();
  c.log_batch(parent.run_id, m, params, tags);
  EXPECT_GE(c.requests_sent() - before, 3) << "split into several requests";

  req.run_name = "child";
  req.tags = {{kTagParentRunId, parent.run_id}};
  RunInfo child = c.create_run(req);
  c.log_batch(child.run_id, {{"cv_r2", 0.4, 1700000000000, 0}}, {}, {});

  const std::string dir = canopy::test::temp_dir();
  std::string bytes;
  for (int i = 0; i < 70000; ++i) bytes += static_cast<char>(i * 7 % 256);
  canopy::test::write_file(dir + "/model.bin", bytes);
  canopy::test::write_file(dir + "/metrics.json", "{\"r2\": 0.5}");
  c.log_artifact(parent.run_id, dir + "/model.bin");
  c.log_artifact(parent.run_id, dir + "/metrics.json", "reports");
  c.set_terminated(parent.run_id, RunStatus::kFinished, 1700000099000);

  tracking::Run r = c.get_run(parent.run_id);
  EXPECT_EQ(r.info.status, RunStatus::kFinished);
  EXPECT_EQ(r.info.start_time, 1700000000000);
  EXPECT_EQ(r.info.end_time, 1700000099000);
  EXPECT_EQ(r.info.run_name, "parent");
  EXPECT_EQ(r.params.size(), 150u);
  EXPECT_EQ(r.params.at("p149"), "v149");
  EXPECT_EQ(r.tags.at("t119"), "x119");
  EXPECT_TRUE(std::isnan(r.metrics.at("nan_metric").value));
  auto h = c.get_metric_history(parent.run_id, "loss");
  ASSERT_EQ(h.size(), 2500u);
  for (int s = 0; s < 2500; ++s) {
    EXPECT_EQ(h[s].step, s);
    EXPECT_EQ(h[s].timestamp, 1700000000000 + s);
    EXPECT_DOUBLE_EQ(h[s].value, 1.0 / (s + 1));
  }
  auto files = c.list_all_artifacts(parent.run_id);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "model.bin");
  EXPECT_EQ(files[0].file_size, 70000);
  c.download_artifact(parent.run_id, "model.bin", dir + "/back.bin");
  EXPECT_EQ(canopy::test::read_file(dir + "/back.bin"), bytes);
  c.download_artifact(parent.run_id, "reports/metrics.json", dir + "/back.json");
  EXPECT_EQ(canopy::test::read_file(dir + "/back.json"), "{\"r2\": 0.5}");

  auto kids = c.search_runs({exp}, "tags.mlflow.parentRunId = '" + parent.run_id + "'", {}, 0);
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(kids[0].info.run_id, child.run_id);
  auto ordered = c.search_runs({exp}, "", {"attributes.run_name ASC"}, 0);
  ASSERT_EQ(ordered.size(), 2u);
  EXPECT_EQ(ordered[0].info.run_name, "child");
  try {
    c.get_run("0123456789abcdef0123456789abcdef");
    FAIL();
  } catch (const NotFoundError& e) {
    EXPECT_STREQ(e.what(), "no run with id '0123456789abcdef0123456789abcdef'");
  }
  // The same through the raw REST API.
  auto raw = c.call("GET", "runs/get", {{"run_id", child.run_id}});
  bool found = false;
  for (const auto& t : raw["run"]["data"]["tags"])
    if (t["key"] == kTagParentRunId) found = t["value"] == parent.run_id;
  EXPECT_TRUE(found) << raw.dump();
}

TEST_F(MlflowServer, RecorderLogsToTheServer) {
  const std::string dir = canopy::test::temp_dir();
  canopy::test::write_file(dir + "/model.h5", "model");
  RunOptions o;
  o.tracking_uri = url_;
  o.experiment = unique("canopy-recorder");
  o.fallback_uri = "sqlite://" + dir + "/canopy.db";
  o.install_signal_handlers = false;
  std::string id, child_id;
  {
    RunRecorder rec(o);
    id = rec.run_id();
    EXPECT_FALSE(rec.fell_back());
    rec.log_params({{"max_depth", "8"}});
    for (int i = 0; i < 1500; ++i) rec.log_metric("oob_score", i * 0.001, i);
    rec.log_artifact(dir + "/model.h5", "model");
    auto child = rec.child("fold-0");
    child_id = child->run_id();
    child->log_metric("r2", 0.3);
    child->finish();
    rec.finish();
  }
  EXPECT_FALSE(fs::exists(dir + "/canopy.db"));
  MlflowClient c(url_, options());
  tracking::Run r = c.get_run(id);
  EXPECT_EQ(r.info.status, RunStatus::kFinished);
  EXPECT_EQ(r.params.at("max_depth"), "8");
  EXPECT_EQ(r.tags.at("mlflow.source.type"), "LOCAL");
  EXPECT_EQ(c.get_metric_history(id, "oob_score").size(), 1500u);
  EXPECT_EQ(c.list_all_artifacts(id).at(0).path, "model/model.h5");
  EXPECT_EQ(c.get_run(child_id).tags.at(kTagParentRunId), id);
}

TEST_F(MlflowServer, SyncFromSqliteIsCompleteAndIdempotent) {
  const std::string dir = canopy::test::temp_dir();
  SqliteStore local(dir + "/canopy.db");
  const std::string exp_name = unique("canopy-sync");
  const std::string exp = local.create_experiment(exp_name);
  CreateRunRequest req;
  req.experiment_id = exp;
  req.run_name = "sweep";
  req.user_id = "ada";
  req.start_time = 1700000000000;
  req.tags = {{"canopy.version", "0.1.0"}};
  const std::string parent = local.create_run(req).run_id;
  std::vector<Metric> hist;
  for (int s = 0; s < 1200; ++s) hist.push_back({"oob_score", 0.5 + s * 1e-4, 1700000000000 + s * 3, s});
  hist.push_back({"oob_score", 0.99, 1700000000000, 5});  // two points at one step
  local.log_batch(parent, hist, {{"max_depth", "8"}, {"criterion", "gini"}}, {{"canopy.task", "classification"}});
  canopy::test::write_file(dir + "/model.h5", std::string("\x01\x02\x00model", 8));
  local.log_artifact(parent, dir + "/model.h5");
  local.log_artifact(parent, dir + "/model.h5", "copies/deep");
  local.set_terminated(parent, RunStatus::kFinished, 1700000050000);
  req.run_name = "candidate-1";
  req.start_time = 1700000001000;
  req.tags = {{kTagParentRunId, parent}};
  const std::string child = local.create_run(req).run_id;
  local.log_batch(child, {{"cv_accuracy", 0.9, 1700000001500, 0}}, {{"max_depth", "4"}}, {});
  local.set_terminated(child, RunStatus::kFailed, 1700000002000);

  MlflowClient remote(url_, options());
  SyncResult r1 = sync_runs(local, remote, SyncOptions{exp_name, {}, {}});
  EXPECT_EQ(r1.created, 2);
  EXPECT_EQ(r1.failed, 0) << (r1.errors.empty() ? "" : r1.errors[0]);
  ASSERT_EQ(r1.mapping.size(), 2u);
  std::map<std::string, std::string> map(r1.mapping.begin(), r1.mapping.end());
  const std::string rp = map.at(parent), rc = map.at(child);
  EXPECT_NE(rp, parent);

  auto check = [&] {
    tracking::Run p = remote.get_run(rp);
    EXPECT_EQ(p.info.run_name, "sweep");
    EXPECT_EQ(p.info.status, RunStatus::kFinished);
    EXPECT_EQ(p.info.start_time, 1700000000000);
    EXPECT_EQ(p.info.end_time, 1700000050000);
    EXPECT_EQ(remote.get_experiment(p.info.experiment_id).name, exp_name);
    EXPECT_EQ(p.params, local.get_run(parent).params);
    EXPECT_EQ(p.tags.at("canopy.task"), "classification");
    EXPECT_EQ(p.tags.at(kTagSourceRunId), parent);
    EXPECT_EQ(p.tags.at(kTagUser), "ada");
    auto lh = local.get_metric_history(parent, "oob_score");
    auto rh = remote.get_metric_history(rp, "oob_score");
    ASSERT_EQ(rh.size(), lh.size());
    std::multiset<std::tuple<int64_t, int64_t, double>> a, b;
    for (const auto& m : lh) a.insert({m.step, m.timestamp, m.value});
    for (const auto& m : rh) b.insert({m.step, m.timestamp, m.value});
    EXPECT_EQ(a, b);
    tracking::Run c = remote.get_run(rc);
    EXPECT_EQ(c.tags.at(kTagParentRunId), rp);
    EXPECT_EQ(c.info.status, RunStatus::kFailed);
    EXPECT_EQ(c.params.at("max_depth"), "4");
    auto files = remote.list_all_artifacts(rp);
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0].path, "copies/deep/model.h5");
    EXPECT_EQ(files[1].path, "model.h5");
    remote.download_artifact(rp, "copies/deep/model.h5", dir + "/back.h5");
    EXPECT_EQ(canopy::test::read_file(dir + "/back.h5"), std::string("\x01\x02\x00model", 8));
  };
  check();

  // Again: nothing to do.
  SyncResult r2 = sync_runs(local, remote, SyncOptions{exp_name, {}, {}});
  EXPECT_EQ(r2.created, 0);
  EXPECT_EQ(r2.updated, 0);
  EXPECT_EQ(r2.unchanged, 2);
  // A local change: only the missing points go.
  local.log_batch(parent, {{"oob_score", 0.7, 1700000060000, 1200}}, {}, {{"note", "late"}});
  SyncResult r3 = sync_runs(local, remote, SyncOptions{exp_name, {}, {}});
  EXPECT_EQ(r3.updated, 1);
  EXPECT_EQ(r3.unchanged, 1);
  EXPECT_EQ(remote.get_metric_history(rp, "oob_score").size(), 1202u);
  EXPECT_EQ(remote.get_run(rp).tags.at("note"), "late");
  // The sync table lost (another machine): the remote run is found by its tag.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/canopy.db").c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "DELETE FROM sync_records", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  SqliteStore copy(dir + "/canopy.db");
  SyncResult r4 = sync_runs(copy, remote, SyncOptions{exp_name, {}, {}});
  EXPECT_EQ(r4.created, 0);
  EXPECT_EQ(remote.search_runs({}, "tags.canopy.source_run_id = '" + parent + "'", {}, 0).size(), 1u);
}

// Asserts that a run recorded by `canopy train --cv 3 --oob-score` on iris
// arrived complete: every parameter, stepped metrics, tags and artifacts.
void expect_complete_train_run(MlflowClient& c, const Run& run) {
  EXPECT_EQ(run.info.status, RunStatus::kFinished);
  for (const char* p : {"n_estimators", "max_depth", "max_features", "min_samples_leaf", "criterion", "bootstrap",
                        "max_bins", "seed", "class_weight", "oob_score"})
    EXPECT_TRUE(run.params.count(p)) << "missing param " << p;
  EXPECT_EQ(run.params.at("n_estimators"), "10");
  EXPECT_EQ(run.params.at("max_depth"), "none");  // defaults are recorded too
  for (const char* t : {"canopy.version", "canopy.git_commit", "canopy.dataset.path", "canopy.dataset.fingerprint",
                        "canopy.label", "canopy.task", "canopy.device", "canopy.command", "mlflow.user"})
    EXPECT_TRUE(run.tags.count(t)) << "missing tag " << t;
  EXPECT_EQ(run.tags.at("canopy.task"), "classification");
  EXPECT_EQ(run.tags.at("canopy.label"), "species");
  const auto oob = c.get_metric_history(run.info.run_id, "oob_score");
  ASSERT_EQ(oob.size(), 10u);  // one point per tree count 1..10
  EXPECT_EQ(oob.front().step, 1);
  EXPECT_EQ(oob.back().step, 10);
  const auto folds = c.get_metric_history(run.info.run_id, "cv_fold_accuracy");
  ASSERT_EQ(folds.size(), 3u);
  std::set<int64_t> steps;
  for (const auto& m : folds) steps.insert(m.step);
  EXPECT_EQ(steps, (std::set<int64_t>{0, 1, 2}));
  EXPECT_TRUE(run.metrics.count("cv_mean_accuracy"));
  EXPECT_TRUE(run.metrics.count("train_accuracy"));
  std::set<std::string> files;
  for (const auto& f : c.list_artifacts(run.info.run_id)) files.insert(f.path);
  for (const auto& f : c.list_artifacts(run.info.run_id, "model")) files.insert(f.path);
  for (const char* f : {"metrics.json", "feature_importances.csv", "confusion_matrix.csv", "model/m.h5"})
    EXPECT_TRUE(files.count(f)) << "missing artifact " << f;
}

TEST_F(MlflowServer, TrainThroughTheCommandLine) {
  const std::string dir = canopy::test::temp_dir();
  if (!fs::exists(canopy::test::data_file("iris.csv"))) GTEST_SKIP() << "no example data (run through ctest)";
  const std::string exp = unique("canopy-cli");
  const std::string train = "train --data " + canopy::test::data_file("iris.csv") +
                            " --label species --n-estimators 10 --cv 3 --oob-score --out " + dir + "/m.h5";
  auto t = canopy::test::run_canopy(train + " --tracking-uri " + url_ + " --experiment " + exp);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  MlflowClient c(url_, options());
  auto e = c.get_experiment_by_name(exp);
  ASSERT_TRUE(e) << "train did not record a run";
  auto runs = c.search_runs({e->experiment_id}, "", {}, 0);
  ASSERT_EQ(runs.size(), 1u);
  expect_complete_train_run(c, runs[0]);

  // The same run recorded locally and sent later with `canopy runs sync`.
  const std::string local = "sqlite://" + dir + "/canopy.db";
  const std::string exp2 = unique("canopy-sync");
  auto t2 = canopy::test::run_canopy(train + " --tracking-uri " + local + " --experiment " + exp2);
  ASSERT_EQ(t2.exit_code, 0) << t2.err;
  for (int pass = 0; pass < 2; ++pass) {  // idempotent: a second sync adds nothing
    auto s = canopy::test::run_canopy("runs sync --to " + url_ + " --from " + local);
    ASSERT_EQ(s.exit_code, 0) << s.err;
  }
  auto e2 = c.get_experiment_by_name(exp2);
  ASSERT_TRUE(e2);
  auto synced = c.search_runs({e2->experiment_id}, "", {}, 0);
  ASSERT_EQ(synced.size(), 1u);
  expect_complete_train_run(c, synced[0]);
}

}  // namespace
}  // namespace canopy::tracking
