// The embedded SQLite run store: round trips, migrations, artifacts, several
// processes at once, and a process killed mid-write.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "test_util.h"
#include "tracking/filter.h"
#include "tracking/sqlite_store.h"
#include "tracking/store_factory.h"
#include "tracking_test_util.h"

namespace canopy::tracking {
namespace {

using canopy::test::temp_dir;

TEST(SqliteStore, DefaultExperimentAndSchema) {
  SqliteStore s(temp_dir() + "/canopy.db");
  EXPECT_EQ(s.schema_version(), SqliteStore::kSchemaVersion);
  auto e = s.get_experiment_by_name("Default");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->experiment_id, "0");
  EXPECT_EQ(s.integrity_check(), "ok");
  EXPECT_FALSE(s.get_experiment_by_name("nope"));
  EXPECT_THROW(s.get_experiment("42"), NotFoundError);
}

TEST(SqliteStore, WalModeAndBusyTimeout) {
  const std::string path = temp_dir() + "/canopy.db";
  { SqliteStore s(path); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(SqliteStore, MigratesFromEmptyAndFromVersionOne) {
  const std::string dir = temp_dir();
  // An empty file (e.g. touched by a user) is migrated from scratch.
  { std::ofstream(dir + "/empty.db"); }
  {
    SqliteStore s(dir + "/empty.db");
    EXPECT_EQ(s.schema_version(), SqliteStore::kSchemaVersion);
    EXPECT_TRUE(s.get_experiment_by_name("Default"));
  }
  // A version-1 database (no sync_records) gains the table and keeps its runs.
  const std::string v1 = dir + "/v1.db";
  std::string run_id;
  {
    SqliteStore s(v1);
    CreateRunRequest r;
    run_id = s.create_run(r).run_id;
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(v1.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE sync_records; DELETE FROM schema_version WHERE version = 2", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  SqliteStore s(v1);
  EXPECT_EQ(s.schema_version(), 2);
  EXPECT_EQ(s.get_run(run_id).info.run_id, run_id);
  s.put_sync_record(SyncRecord{run_id, "http://x", "remote", "fp", 1});
  EXPECT_EQ(s.get_sync_record(run_id, "http://x")->remote_run_id, "remote");
  // Re-opening does not re-apply migrations.
  SqliteStore again(v1);
  EXPECT_EQ(again.schema_version(), 2);
}

TEST(SqliteStore, RefusesNewerSchema) {
  const std::string path = temp_dir() + "/canopy.db";
  { SqliteStore s(path); }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  try {
    SqliteStore s(path);
    FAIL() << "expected an error";
  } catch (const TrackingError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST(SqliteStore, EveryEntityRoundTrips) {
  SqliteStore s(temp_dir() + "/canopy.db");
  const std::string exp = s.create_experiment("forests");
  EXPECT_EQ(exp, "1");
  EXPECT_EQ(s.get_or_create_experiment("forests"), exp);
  EXPECT_THROW(s.create_experiment("forests"), TrackingError);
  EXPECT_EQ(s.get_experiment(exp).name, "forests");
  EXPECT_EQ(s.list_experiments().size(), 2u);

  CreateRunRequest req;
  req.experiment_id = exp;
  req.run_name = "first";
  req.user_id = "ada";
  req.start_time = 1700000000123;
  req.tags = {{"mlflow.source.type", "LOCAL"}, {"note", "héllo 'quoted'"}};
  RunInfo info = s.create_run(req);
  EXPECT_EQ(info.run_id.size(), 32u);
  EXPECT_EQ(info.run_id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(info.status, RunStatus::kRunning);

  std::vector<Metric> m;
  for (int step = 0; step < 10; ++step) m.push_back({"oob_score", 0.5 + step * 0.01, 1700000000200 + step, step});
  m.push_back({"r2", 0.75, 1700000000300, 0});
  m.push_back({"nan_metric", std::nan(""), 1700000000300, 0});
  m.push_back({"inf_metric", INFINITY, 1700000000300, 0});
  s.log_batch(info.run_id, m, {{"max_depth", "8"}, {"n_estimators", "100"}}, {{"stage", "a"}});
  s.log_batch(info.run_id, {}, {{"max_depth", "8"}}, {{"stage", "b"}});  // same param value: fine
  EXPECT_THROW(s.log_batch(info.run_id, {}, {{"max_depth", "9"}}, {}), TrackingError);
  s.set_terminated(info.run_id, RunStatus::kFinished, 1700000009999);

  tracking::Run r = s.get_run(info.run_id);
  EXPECT_EQ(r.info.run_name, "first");
  EXPECT_EQ(r.info.user_id, "ada");
  EXPECT_EQ(r.info.experiment_id, exp);
  EXPECT_EQ(r.info.start_time, 1700000000123);
  EXPECT_EQ(r.info.end_time, 1700000009999);
  EXPECT_EQ(r.info.status, RunStatus::kFinished);
  EXPECT_EQ(r.params.at("max_depth"), "8");
  EXPECT_EQ(r.params.at("n_estimators"), "100");
  EXPECT_EQ(r.tags.at("stage"), "b");
  EXPECT_EQ(r.tags.at("note"), "héllo 'quoted'");
  EXPECT_EQ(r.tags.at(kTagRunName), "first");
  EXPECT_EQ(r.tags.at(kTagUser), "ada");
  EXPECT_DOUBLE_EQ(r.metrics.at("oob_score").value, 0.59);
  EXPECT_EQ(r.metrics.at("oob_score").step, 9);
  EXPECT_TRUE(std::isnan(r.metrics.at("nan_metric").value));
  EXPECT_TRUE(std::isinf(r.metrics.at("inf_metric").value));
  auto h = s.get_metric_history(info.run_id, "oob_score");
  ASSERT_EQ(h.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(h[i].step, i);
    EXPECT_EQ(h[i].timestamp, 1700000000200 + i);
    EXPECT_DOUBLE_EQ(h[i].value, 0.5 + i * 0.01);
  }
  EXPECT_EQ(s.metric_point_count(info.run_id), 13);
  // Latest = largest step even when logged out of order.
  s.log_batch(info.run_id, {{"late", 2.0, 10, 5}, {"late", 1.0, 20, 3}}, {}, {});
  EXPECT_DOUBLE_EQ(s.get_run(info.run_id).metrics.at("late").value, 2.0);
}

TEST(SqliteStore, UnknownRunSaysSo) {
  SqliteStore s(temp_dir() + "/canopy.db");
  try {
    s.get_run("abc");
    FAIL();
  } catch (const NotFoundError& e) {
    EXPECT_STREQ(e.what(), "no run with id 'abc'");
  }
  EXPECT_THROW(s.log_batch("abc", {{"m", 1, 1, 0}}, {}, {}), NotFoundError);
  EXPECT_THROW(s.set_terminated("abc", RunStatus::kFinished), NotFoundError);
  EXPECT_THROW(s.create_run(CreateRunRequest{"77", "", "", 0, {}}), NotFoundError);
}

TEST(SqliteStore, ArtifactsBesideTheDatabase) {
  const std::string dir = temp_dir();
  SqliteStore s(dir + "/sub/canopy.db");
  RunInfo info = s.create_run({});
  canopy::test::write_file(dir + "/model.h5", std::string("\x00\x01binary\xff", 10));
  canopy::test::write_file(dir + "/metrics.json", "{\"r2\": 0.5}");
  s.log_artifact(info.run_id, dir + "/model.h5");
  s.log_artifact(info.run_id, dir + "/metrics.json", "reports/json");
  const std::string expected_root = dir + "/sub/canopy-artifacts/0/" + info.run_id + "/artifacts";
  EXPECT_EQ(s.get_run(info.run_id).info.artifact_uri, expected_root);
  EXPECT_TRUE(std::filesystem::exists(expected_root + "/model.h5"));
  auto top = s.list_artifacts(info.run_id);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].path, "model.h5");
  EXPECT_EQ(top[0].file_size, 10);
  EXPECT_EQ(top[1].path, "reports");
  EXPECT_TRUE(top[1].is_dir);
  auto all = s.list_all_artifacts(info.run_id);
  ASSERT_EQ(all.size(), 2u);
  s.download_artifact(info.run_id, "reports/json/metrics.json", dir + "/back.json");
  EXPECT_EQ(canopy::test::read_file(dir + "/back.json"), "{\"r2\": 0.5}");
  EXPECT_THROW(s.log_artifact(info.run_id, dir + "/model.h5", "../escape"), TrackingError);
  EXPECT_THROW(s.log_artifact(info.run_id, dir + "/missing.bin"), TrackingError);
}

TEST(SqliteStore, SearchFiltersAndOrders) {
  SqliteStore s(temp_dir() + "/canopy.db");
  const std::string exp = s.create_experiment("e");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    CreateRunRequest req;
    req.experiment_id = exp;
    req.run_name = "run-" + std::to_string(i);
    req.start_time = 1000 + i;
    RunInfo info = s.create_run(req);
    ids.push_back(info.run_id);
    std::vector<Metric> m{{"r2", 0.1 * i, 1, 0}};
    if (i != 2) m.push_back({"my metric", static_cast<double>(i), 1, 0});
    s.log_batch(info.run_id, m, {{"max_depth", std::to_string(4 + i)}}, {{"team", i % 2 ? "red" : "Blue"}});
    if (i < 3) s.set_terminated(info.run_id, RunStatus::kFinished, 2000 + i);
  }
  s.create_run({});  // another experiment: not in the search below
  auto search = [&](const std::string& f, const std::vector<std::string>& order = {}) {
    std::vector<std::string> names;
    for (const tracking::Run& r : s.search_runs({exp}, f, order, 0)) names.push_back(r.info.run_name);
    return names;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(search(""), (V{"run-4", "run-3", "run-2", "run-1", "run-0"}));  // start_time DESC
  EXPECT_EQ(search("metrics.r2 > 0.25"), (V{"run-4", "run-3"}));
  EXPECT_EQ(search("metrics.r2 >= 0.3 and params.max_depth = '8'"), (V{"run-4"}));
  EXPECT_EQ(search("metrics.`my metric` < 2", {"metrics.r2 ASC"}), (V{"run-0", "run-1"}));
  EXPECT_EQ(search("tags.team ILIKE 'b%'", {"params.max_depth DESC"}), (V{"run-4", "run-2", "run-0"}));
  EXPECT_EQ(search("tags.team LIKE 'b%'"), V{});
  EXPECT_EQ(search("attributes.status = 'FINISHED'", {"attributes.start_time ASC"}), (V{"run-0", "run-1", "run-2"}));
  EXPECT_EQ(search("status != 'FINISHED'"), (V{"run-4", "run-3"}));
  EXPECT_EQ(search("attributes.run_name = \"run-1\""), (V{"run-1"}));
  EXPECT_EQ(search("attribute.run_id = '" + ids[3] + "'"), (V{"run-3"}));
  EXPECT_EQ(search("end_time > 2000"), (V{"run-2", "run-1"}));
  // Missing metric sorts last whatever the direction.
  EXPECT_EQ(search("", {"metrics.`my metric` DESC"}), (V{"run-4", "run-3", "run-1", "run-0", "run-2"}));
  EXPECT_EQ(search("", {"metrics.`my metric` ASC"}), (V{"run-0", "run-1", "run-3", "run-4", "run-2"}));
  EXPECT_EQ(s.search_runs({exp}, "", {"metrics.r2 DESC"}, 2).size(), 2u);
  EXPECT_EQ(s.search_runs({}, "", {}, 0).size(), 6u);
  EXPECT_THROW(s.search_runs({exp}, "metrics.r2 >> 0.4", {}, 0), FilterError);
}

// --- several processes -----------------------------------------------------

TEST(TrackingHelper, LogMetrics) {
  if (!canopy::test::in_helper()) GTEST_SKIP() << "helper process for the multi-process tests";
  // arg: <db>|<run_id>|<key>|<count>
  std::string a = canopy::test::helper_arg();
  auto p1 = a.find('|'), p2 = a.find('|', p1 + 1), p3 = a.find('|', p2 + 1);
  SqliteStore s(a.substr(0, p1));
  const std::string run = a.substr(p1 + 1, p2 - p1 - 1), key = a.substr(p2 + 1, p3 - p2 - 1);
  const int count = std::stoi(a.substr(p3 + 1));
  for (int i = 0; i < count; ++i) s.log_batch(run, {{key, static_cast<double>(i), now_ms(), i}}, {}, {});
}

TEST(TrackingHelper, LogForever) {
  if (!canopy::test::in_helper()) GTEST_SKIP() << "helper process for the SIGKILL test";
  std::string a = canopy::test::helper_arg();
  auto p1 = a.find('|');
  SqliteStore s(a.substr(0, p1));
  const std::string run = a.substr(p1 + 1);
  for (int64_t step = 0;; ++step) {
    std::vector<Metric> m;
    for (int k = 0; k < 50; ++k) m.push_back({"m" + std::to_string(k), static_cast<double>(step), now_ms(), step});
    s.log_batch(run, m, {{"p" + std::to_string(step), "v"}}, {{"t", std::to_string(step)}});
  }
}

TEST(SqliteStore, TwoProcessesLoggingAtOnceLoseNothing) {
  const std::string db = temp_dir() + "/canopy.db";
  std::string run;
  {
    SqliteStore s(db);
    run = s.create_run({}).run_id;
  }
  pid_t a = canopy::test::spawn_helper("LogMetrics", db + "|" + run + "|a|500");
  pid_t b = canopy::test::spawn_helper("LogMetrics", db + "|" + run + "|b|500");
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  // This process reads (and writes) while they log.
  SqliteStore s(db);
  for (int i = 0; i < 20; ++i) {
    s.get_run(run);
    s.log_batch(run, {{"c", static_cast<double>(i), now_ms(), i}}, {}, {});
  }
  int sa = canopy::test::wait_status(a), sb = canopy::test::wait_status(b);
  ASSERT_TRUE(WIFEXITED(sa) && WEXITSTATUS(sa) == 0) << sa;
  ASSERT_TRUE(WIFEXITED(sb) && WEXITSTATUS(sb) == 0) << sb;
  for (const char* key : {"a", "b"}) {
    auto h = s.get_metric_history(run, key);
    ASSERT_EQ(h.size(), 500u) << key;
    for (int i = 0; i < 500; ++i) EXPECT_EQ(h[i].step, i);
  }
  EXPECT_EQ(s.get_metric_history(run, "c").size(), 20u);
  EXPECT_EQ(s.integrity_check(), "ok");
}

TEST(SqliteStore, KilledWriterLeavesAReadableDatabase) {
  const std::string db = temp_dir() + "/canopy.db";
  std::string run;
  {
    SqliteStore s(db);
    run = s.create_run({}).run_id;
  }
  pid_t pid = canopy::test::spawn_helper("LogForever", db + "|" + run);
  ASSERT_GT(pid, 0);
  {
    SqliteStore s(db);
    for (int i = 0; i < 200 && s.metric_point_count(run) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(pid, SIGKILL);
  int st = canopy::test::wait_status(pid);
  ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  SqliteStore s(db);
  EXPECT_EQ(s.integrity_check(), "ok");
  tracking::Run r = s.get_run(run);
  const int64_t points = s.metric_point_count(run);
  EXPECT_GT(points, 0);
  EXPECT_EQ(points % 50, 0) << "a batch is all or nothing";
  EXPECT_EQ(static_cast<int64_t>(r.params.size()) * 50, points);
  // And it still takes writes.
  s.log_batch(run, {{"after", 1, now_ms(), 0}}, {}, {});
  s.set_terminated(run, RunStatus::kKilled);
  EXPECT_EQ(s.get_run(run).info.status, RunStatus::kKilled);
}

// --- URIs ---------------------------------------------------------------------

TEST(StoreFactory, ResolvesUris) {
  const std::string dir = temp_dir();
  EXPECT_EQ(sqlite_path_from_uri("sqlite:///" + dir.substr(1) + "/a.db"), dir + "/a.db");
  EXPECT_EQ(sqlite_path_from_uri("sqlite:///" + dir + "/a.db"), dir + "/a.db");  // sqlite:////abs
  EXPECT_EQ(sqlite_path_from_uri("sqlite:rel/a.db"), (std::filesystem::current_path() / "rel/a.db").string());
  EXPECT_TRUE(is_remote_uri("http://127.0.0.1:5000"));
  EXPECT_TRUE(is_sqlite_uri("runs.db"));
  EXPECT_THROW(is_sqlite_uri("databricks"), TrackingError);
  try {
    open_store("ftp://x");
    FAIL();
  } catch (const TrackingError& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported tracking URI \"ftp://x\""), std::string::npos);
  }
  auto st = open_store("sqlite://" + dir + "/b.db");
  EXPECT_EQ(st->uri(), "sqlite://" + dir + "/b.db");
  EXPECT_TRUE(std::filesystem::exists(dir + "/b.db"));
  setenv("CANOPY_TRACKING_URI", ("sqlite://" + dir + "/env.db").c_str(), 1);
  EXPECT_EQ(resolve_tracking_uri(""), "sqlite://" + dir + "/env.db");
  EXPECT_EQ(resolve_tracking_uri("http://flag"), "http://flag");
  unsetenv("CANOPY_TRACKING_URI");
  const char* saved = std::getenv("MLFLOW_TRACKING_URI");
  std::string keep = saved ? saved : "";
  setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000", 1);
  EXPECT_EQ(resolve_tracking_uri(""), "http://mlflow:5000");
  if (saved) setenv("MLFLOW_TRACKING_URI", keep.c_str(), 1); else unsetenv("MLFLOW_TRACKING_URI");
  if (!saved) EXPECT_EQ(resolve_tracking_uri(""), default_local_uri());
}

}  // namespace
}  // namespace canopy::tracking
