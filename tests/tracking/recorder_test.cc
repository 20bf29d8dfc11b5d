// RunRecorder: statuses, nested runs, batching, signals, system metrics, and
// the fallback to the local store when an MLflow server cannot be reached.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "host/run_recorder.h"
#include "test_util.h"
#include "tracking/mlflow_client.h"
#include "tracking/sqlite_store.h"
#include "tracking/sync.h"
#include "tracking/system_metrics.h"
#include "tracking_test_util.h"

namespace canopy {
namespace {

using canopy::test::temp_dir;
using namespace tracking;

RunOptions local_options(const std::string& db) {
  RunOptions o;
  o.tracking_uri = "sqlite://" + db;
  o.experiment = "recorder-tests";
  o.command_line = "canopy train --data x.csv";
  o.install_signal_handlers = false;
  return o;
}

TEST(RunRecorder, FinishedRunWithEverything) {
  const std::string dir = temp_dir();
  const std::string db = dir + "/canopy.db";
  canopy::test::write_file(dir + "/model.h5", "model bytes");
  std::string id;
  {
    RunOptions o = local_options(db);
    o.run_name = "my-run";
    o.tags = {{"canopy.task", "regression"}};
    RunRecorder rec(o);
    id = rec.run_id();
    ASSERT_EQ(id.size(), 32u);
    rec.log_params({{"max_depth", "8"}, {"n_estimators", "100"}});
    for (int step = 1; step <= 2500; ++step) rec.log_metric("oob_score", 1.0 / step, step);
    rec.log_metrics({{"r2", 0.5}, {"rmse", 1.5}}, "train_");
    rec.set_tag("canopy.device", "cpu");
    rec.log_artifact(dir + "/model.h5");
    rec.finish();
    rec.finish();  // idempotent
  }
  SqliteStore s(db);
  tracking::Run r = s.get_run(id);
  EXPECT_EQ(r.info.status, RunStatus::kFinished);
  EXPECT_GT(r.info.end_time, 0);
  EXPECT_EQ(r.info.run_name, "my-run");
  EXPECT_EQ(s.get_experiment(r.info.experiment_id).name, "recorder-tests");
  EXPECT_EQ(r.params.at("max_depth"), "8");
  EXPECT_DOUBLE_EQ(r.metrics.at("train_r2").value, 0.5);
  EXPECT_EQ(s.get_metric_history(id, "oob_score").size(), 2500u);
  EXPECT_EQ(r.tags.at("canopy.device"), "cpu");
  EXPECT_EQ(r.tags.at("canopy.task"), "regression");
  EXPECT_EQ(r.tags.at("canopy.command"), "canopy train --data x.csv");
  EXPECT_EQ(r.tags.at("mlflow.source.name"), "canopy");
  EXPECT_EQ(r.tags.at("mlflow.source.type"), "LOCAL");
  EXPECT_EQ(r.tags.at("mlflow.runName"), "my-run");
  EXPECT_TRUE(r.tags.count("mlflow.user"));
  EXPECT_TRUE(r.tags.count("canopy.version"));
  EXPECT_TRUE(r.tags.count("canopy.git_commit"));
  EXPECT_TRUE(r.tags.count("canopy.git_dirty"));
  EXPECT_TRUE(r.tags.count("canopy.host"));
  EXPECT_EQ(s.list_artifacts(id).at(0).path, "model.h5");
}

TEST(RunRecorder, FailAndExceptionPaths) {
  const std::string db = temp_dir() + "/canopy.db";
  std::string failed, unwound, abandoned;
  {
    RunRecorder rec(local_options(db));
    failed = rec.run_id();
    rec.fail("data file has no label column");
  }
  try {
    RunRecorder rec(local_options(db));
    unwound = rec.run_id();
    rec.log_metric("partial", 1);
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  {
    RunRecorder rec(local_options(db));
    abandoned = rec.run_id();
  }
  SqliteStore s(db);
  tracking::Run f = s.get_run(failed);
  EXPECT_EQ(f.info.status, RunStatus::kFailed);
  EXPECT_EQ(f.tags.at("canopy.error"), "data file has no label column");
  tracking::Run u = s.get_run(unwound);
  EXPECT_EQ(u.info.status, RunStatus::kFailed);
  EXPECT_EQ(u.tags.at("canopy.error"), "an exception ended the run");
  EXPECT_EQ(u.metrics.count("partial"), 1u) << "buffered points are flushed on the way out";
  EXPECT_EQ(s.get_run(abandoned).info.status, RunStatus::kFailed);
}

TEST(RunRecorder, NestedRuns) {
  const std::string db = temp_dir() + "/canopy.db";
  std::string parent, child_id;
  {
    RunRecorder rec(local_options(db));
    parent = rec.run_id();
    auto child = rec.child("candidate-0", {{"canopy.candidate", "0"}});
    child_id = child->run_id();
    child->log_metric("cv_r2", 0.4);
    child->finish();
    rec.finish();
  }
  SqliteStore s(db);
  tracking::Run c = s.get_run(child_id);
  EXPECT_EQ(c.tags.at(kTagParentRunId), parent);
  EXPECT_EQ(c.info.run_name, "candidate-0");
  EXPECT_EQ(c.info.experiment_id, s.get_run(parent).info.experiment_id);
  auto kids = s.search_runs({}, "tags.mlflow.parentRunId = '" + parent + "'", {}, 0);
  ASSERT_EQ(kids.size(), 1u);
}

TEST(RunRecorder, DisabledDoesNothing) {
  const std::string dir = temp_dir();
  RunOptions o = local_options(dir + "/canopy.db");
  o.enabled = false;
  RunRecorder rec(o);
  EXPECT_TRUE(rec.run_id().empty());
  rec.log_metric("x", 1);
  rec.log_params({{"a", "b"}});
  rec.finish();
  EXPECT_FALSE(std::filesystem::exists(dir + "/canopy.db"));
}

TEST(RunRecorder, SystemMetricsAreSampled) {
  const std::string db = temp_dir() + "/canopy.db";
  std::string id;
  {
    RunRecorder rec(local_options(db));
    id = rec.run_id();
    rec.start_system_metrics(0.05, [](MetricValues& v) { v.emplace_back("system/gpu_0_utilization_percentage", 7); });
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    rec.finish();
  }
  SqliteStore s(db);
  tracking::Run r = s.get_run(id);
  for (const char* k : {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes",
                        "system/system_memory_usage_percentage", "system/gpu_0_utilization_percentage"})
    EXPECT_TRUE(r.metrics.count(k)) << k;
  auto h = s.get_metric_history(id, "system/system_memory_usage_megabytes");
  ASSERT_GE(h.size(), 3u);
  for (size_t i = 0; i < h.size(); ++i) EXPECT_EQ(h[i].step, static_cast<int64_t>(i));
  EXPECT_GT(h[0].value, 0);
  const double cpu = r.metrics.at("system/cpu_utilization_percentage").value;
  EXPECT_GE(cpu, 0);
  EXPECT_LE(cpu, 100);
}

TEST(SystemMetricsSampler, StopsPromptly) {
  int calls = 0;
  SystemMetricsSampler s([&](const std::vector<Metric>&) { ++calls; }, 60);
  s.start();
  const auto t0 = std::chrono::steady_clock::now();
  s.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  s.stop();
}

// --- signals ---------------------------------------------------------------

TEST(TrackingHelper, RecordUntilSignalled) {
  if (!canopy::test::in_helper()) GTEST_SKIP() << "helper process for the signal test";
  std::string a = canopy::test::helper_arg();  // <db>|<id file>
  auto p = a.find('|');
  RunOptions o = local_options(a.substr(0, p));
  o.install_signal_handlers = true;
  RunRecorder rec(o);
  canopy::test::write_file(a.substr(p + 1) + ".tmp", rec.run_id());
  std::filesystem::rename(a.substr(p + 1) + ".tmp", a.substr(p + 1));
  for (int64_t step = 0; step < 1000000; ++step) {
    rec.log_metric("loss", 1.0 / (step + 1), step);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  rec.finish();
}

TEST(RunRecorder, SigtermMarksTheRunKilled) {
  const std::string dir = temp_dir();
  const std::string db = dir + "/canopy.db", id_file = dir + "/run_id";
  pid_t pid = canopy::test::spawn_helper("RecordUntilSignalled", db + "|" + id_file);
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 400 && !std::filesystem::exists(id_file); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_TRUE(std::filesystem::exists(id_file));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGTERM);
  int st = canopy::test::wait_status(pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) << st;
  SqliteStore s(db);
  tracking::Run r = s.get_run(canopy::test::read_file(id_file));
  EXPECT_EQ(r.info.status, RunStatus::kKilled);
  EXPECT_GT(r.info.end_time, 0);
  EXPECT_GT(s.get_metric_history(r.info.run_id, "loss").size(), 0u);
}

// --- MLflow unreachable ------------------------------------------------------

TEST(MlflowClient, UnreachableServerGivesAClearMessage) {
  const int port = canopy::test::free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  MlflowOptions o;
  o.max_attempts = 3;
  o.initial_backoff_s = 0.01;
  MlflowClient c(url, o);
  try {
    c.get_experiment_by_name("Default");
    FAIL();
  } catch (const UnreachableError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot reach MLflow server at " + url + ": Connection refused (after 3 tries)");
  }
  EXPECT_EQ(c.requests_sent(), 3);
  EXPECT_FALSE(c.healthy());
}

TEST(MlflowClient, SplitsBatchesWithinServerLimits) {
  std::vector<Metric> m(2500);
  std::map<std::string, std::string> p, t;
  for (int i = 0; i < 250; ++i) p["p" + std::to_string(i)] = "v";
  for (int i = 0; i < 120; ++i) t["t" + std::to_string(i)] = "v";
  auto chunks = split_batch(m, p, t);
  size_t nm = 0, np = 0, nt = 0;
  for (const auto& c : chunks) {
    EXPECT_LE(c.metrics.size(), kMaxMetricsPerBatch);
    EXPECT_LE(c.params.size(), kMaxParamsPerBatch);
    EXPECT_LE(c.tags.size(), kMaxTagsPerBatch);
    EXPECT_LE(c.metrics.size() + c.params.size() + c.tags.size(), kMaxEntriesPerBatch);
    nm += c.metrics.size();
    np += c.params.size();
    nt += c.tags.size();
  }
  EXPECT_EQ(nm, 2500u);
  EXPECT_EQ(np, 250u);
  EXPECT_EQ(nt, 120u);
  EXPECT_LE(chunks.size(), 4u);
  EXPECT_EQ(split_batch({}, {}, {{"a", "b"}}).size(), 1u);
}

TEST(RunRecorder, UnreachableServerKeepsTheRunLocally) {
  const std::string dir = temp_dir();
  const int port = canopy::test::free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  setenv("CANOPY_MLFLOW_MAX_ATTEMPTS", "2", 1);
  setenv("CANOPY_MLFLOW_BACKOFF_S", "0.01", 1);
  RunOptions o = local_options(dir + "/unused.db");
  o.tracking_uri = url;
  o.fallback_uri = "sqlite://" + dir + "/canopy.db";
  canopy::test::write_file(dir + "/model.h5", "model");
  std::string id;
  canopy::test::CaptureOutput cap;
  {
    RunRecorder rec(o);
    id = rec.run_id();
    EXPECT_TRUE(rec.fell_back());
    EXPECT_EQ(rec.tracking_uri(), "sqlite://" + dir + "/canopy.db");
    rec.log_params({{"max_depth", "8"}});
    for (int i = 0; i < 10; ++i) rec.log_metric("oob", i, i);
    rec.log_artifact(dir + "/model.h5");
    auto child = rec.child("c0");
    child->finish();
    rec.finish();
  }
  cap.stop();
  unsetenv("CANOPY_MLFLOW_MAX_ATTEMPTS");
  unsetenv("CANOPY_MLFLOW_BACKOFF_S");
  EXPECT_EQ(cap.err, "canopy: MLflow server " + url + " unreachable (Connection refused (after 2 tries)); run " + id +
                         " kept in sqlite://" + dir + "/canopy.db; send it later with: canopy runs sync --to " + url +
                         "\n");
  SqliteStore s(dir + "/canopy.db");
  tracking::Run r = s.get_run(id);
  EXPECT_EQ(r.info.status, RunStatus::kFinished);
  EXPECT_EQ(r.params.at("max_depth"), "8");
  EXPECT_EQ(s.get_metric_history(id, "oob").size(), 10u);
  EXPECT_EQ(s.list_artifacts(id).size(), 1u);
  EXPECT_EQ(s.search_runs({}, "tags.mlflow.parentRunId = '" + id + "'", {}, 0).size(), 1u);
}

// --- the runs / experiments commands, in process ------------------------------

}  // namespace
}  // namespace canopy
