#include "tracking/sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <thread>

#include "tracking/filter.h"

namespace fs = std::filesystem;

namespace canopy::tracking {
namespace {

// A prepared statement with typed binds; throws TrackingError on failure.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
      throw TrackingError(std::string("SQLite: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt& bind(int i, const std::string& s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  Stmt& bind_double(int i, double v) {
    if (std::isnan(v))
      sqlite3_bind_null(st_, i);
    else
      sqlite3_bind_double(st_, i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(st_, i);
    return *this;
  }
  // true while a row is available.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw TrackingError(std::string("SQLite: ") + sqlite3_errmsg(db_));
  }
  void run() {
    step();
    reset();
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  std::string text(int c) const {
    const unsigned char* p = sqlite3_column_text(st_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(st_, c)) : std::string();
  }
  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  double dbl(int c) const {
    if (sqlite3_column_type(st_, c) == SQLITE_NULL) return std::numeric_limits<double>::quiet_NaN();
    return sqlite3_column_double(st_, c);
  }
  bool is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

// The RunInfo (artifact_uri aside) of the current row of a statement selecting,
// in order: run_id, experiment_id, run_name, user_id, status, start_time,
// end_time, lifecycle_stage.
RunInfo info_of_row(Stmt& s) {
  RunInfo i;
  i.run_id = s.text(0);
  i.experiment_id = std::to_string(s.i64(1));
  i.run_name = s.text(2);
  i.user_id = s.text(3);
  i.status = parse_status(s.text(4));
  i.start_time = s.i64(5);
  i.end_time = s.is_null(6) ? 0 : s.i64(6);
  i.lifecycle_stage = s.text(7);
  return i;
}

// The numbered migrations; migration i brings the schema from version i-1 to i.
const char* const kMigrations[] = {
    // 1: MLflow's entities.
    R"sql(
CREATE TABLE experiments (
  experiment_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL DEFAULT '',
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  creation_time INTEGER NOT NULL DEFAULT 0,
  last_update_time INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE experiment_tags (
  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
  key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
);
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
  run_name TEXT NOT NULL DEFAULT '',
  user_id TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'RUNNING',
  start_time INTEGER NOT NULL DEFAULT 0,
  end_time INTEGER,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active'
);
CREATE INDEX runs_by_experiment ON runs(experiment_id, start_time);
CREATE TABLE params (
  run_id TEXT NOT NULL REFERENCES runs(run_id), key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE TABLE tags (
  run_id TEXT NOT NULL REFERENCES runs(run_id), key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE TABLE metrics (
  run_id TEXT NOT NULL REFERENCES runs(run_id), key TEXT NOT NULL,
  value REAL, timestamp INTEGER NOT NULL, step INTEGER NOT NULL
);
CREATE INDEX metrics_by_run_key ON metrics(run_id, key, step, timestamp);
CREATE TABLE latest_metrics (
  run_id TEXT NOT NULL REFERENCES runs(run_id), key TEXT NOT NULL,
  value REAL, timestamp INTEGER NOT NULL, step INTEGER NOT NULL,
  PRIMARY KEY (run_id, key)
);
INSERT INTO experiments (experiment_id, name, creation_time, last_update_time)
  VALUES (0, 'Default', CAST(strftime('%s','now') AS INTEGER) * 1000, CAST(strftime('%s','now') AS INTEGER) * 1000);
)sql",
    // 2: where local runs were synced to.
    R"sql(
CREATE TABLE sync_records (
  local_run_id TEXT NOT NULL, target_uri TEXT NOT NULL, remote_run_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL DEFAULT '', synced_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (local_run_id, target_uri)
);
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == SqliteStore::kSchemaVersion);

std::string tmp_suffix() {
  static thread_local std::mt19937_64 g(std::random_device{}());
  return ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(g() % 1000000000);
}

// Rejects absolute paths and ".." so artifacts stay under the run's folder.
std::string clean_relative(const std::string& p) {
  fs::path rel = fs::path(p).lexically_normal();
  if (rel.is_absolute()) throw TrackingError("artifact path \"" + p + "\" must be relative");
  for (const auto& part : rel)
    if (part == "..") throw TrackingError("artifact path \"" + p + "\" must not contain \"..\"");
  std::string s = rel.generic_string();
  if (s == ".") s.clear();
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

// BEGIN IMMEDIATE ... COMMIT, rolled back when not committed. IMMEDIATE takes
// the write lock up front so the busy timeout applies (no deadlock on upgrade).
class SqliteStore::Txn {
 public:
  explicit Txn(SqliteStore& s) : s_(s) { s_.exec("BEGIN IMMEDIATE"); }
  void commit() {
    s_.exec("COMMIT");
    done_ = true;
  }
  ~Txn() {
    if (!done_) sqlite3_exec(s_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  SqliteStore& s_;
  bool done_ = false;
};

std::string sqlite_path_from_uri(const std::string& uri) {
  std::string p = uri;
  if (p.rfind("sqlite:", 0) == 0) {
    p = p.substr(7);
    if (p.rfind("///", 0) == 0)
      p = "/" + p.substr(p.find_first_not_of('/'));  // sqlite:///abs/path -> /abs/path (sqlite:////abs too)
    else if (p.rfind("//", 0) == 0)
      p = p.substr(2);  // sqlite://rel/path
  }
  if (p.empty()) throw TrackingError("invalid tracking URI \"" + uri + "\": no database path");
  return fs::absolute(fs::path(p)).lexically_normal().string();
}

SqliteStore::SqliteStore(const std::string& path) {
  path_ = fs::absolute(fs::path(path)).lexically_normal().string();
  dir_ = fs::path(path_).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw TrackingError("cannot open tracking database " + path_ + ": " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 10000);
    // WAL lets readers and one writer work at once across processes.
    for (int attempt = 0;; ++attempt) {
      char* err = nullptr;
      int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &err);
      if (err) sqlite3_free(err);
      if (rc == SQLITE_OK) break;
      if (attempt > 50) throw TrackingError("cannot set WAL mode on " + path_ + ": " + sqlite3_errmsg(db_));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteStore::~SqliteStore() {
  if (db_) sqlite3_close(db_);
}

void SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw TrackingError("SQLite error on " + path_ + ": " + msg);
  }
}

void SqliteStore::migrate() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Txn t(*this);
  exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  int version = 0;
  {
    Stmt s(db_, "SELECT MAX(version) FROM schema_version");
    if (s.step() && !s.is_null(0)) version = static_cast<int>(s.i64(0));
  }
  if (version > kSchemaVersion)
    throw TrackingError("tracking database " + path_ + " has schema version " + std::to_string(version) +
                        ", newer than this canopy understands (" + std::to_string(kSchemaVersion) +
                        "); upgrade canopy");
  for (int v = version + 1; v <= kSchemaVersion; ++v) {
    exec(kMigrations[v - 1]);
    Stmt s(db_, "INSERT INTO schema_version (version) VALUES (?)");
    s.bind(1, static_cast<int64_t>(v)).run();
  }
  t.commit();
}

int SqliteStore::schema_version() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt s(db_, "SELECT MAX(version) FROM schema_version");
  return s.step() ? static_cast<int>(s.i64(0)) : 0;
}

std::string SqliteStore::integrity_check() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt s(db_, "PRAGMA integrity_check");
  std::string out;
  while (s.step()) out += (out.empty() ? "" : "\n") + s.text(0);
  return out;
}

std::string SqliteStore::uri() const { return "sqlite://" + path_; }
std::string SqliteStore::artifact_root() const { return (fs::path(dir_) / "canopy-artifacts").string(); }

std::string SqliteStore::run_dir(const std::string& experiment_id, const std::string& run_id) const {
  return (fs::path(artifact_root()) / experiment_id / run_id / "artifacts").string();
}

namespace {
Experiment read_experiment(Stmt& s, const std::string& root) {
  Experiment e;
  e.experiment_id = std::to_string(s.i64(0));
  e.name = s.text(1);
  e.artifact_location = s.text(2);
  if (e.artifact_location.empty()) e.artifact_location = (fs::path(root) / e.experiment_id).string();
  e.lifecycle_stage = s.text(3);
  e.creation_time = s.i64(4);
  e.last_update_time = s.i64(5);
  return e;
}
constexpr const char* kExperimentCols =
    "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time FROM experiments";

int64_t parse_experiment_id(const std::string& id) {
  try {
    size_t n = 0;
    int64_t v = std::stoll(id, &n);
    if (n == id.size()) return v;
  } catch (...) {
  }
  throw NotFoundError("no experiment with id '" + id + "'");
}
}  // namespace

std::optional<Experiment> SqliteStore::get_experiment_by_name(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt s(db_, (std::string(kExperimentCols) + " WHERE name = ?").c_str());
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return read_experiment(s, artifact_root());
}

Experiment SqliteStore::get_experiment(const std::string& experiment_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt s(db_, (std::string(kExperimentCols) + " WHERE experiment_id = ?").c_str());
  s.bind(1, parse_experiment_id(experiment_id));
  if (!s.step()) throw NotFoundError("no experiment with id '" + experiment_id + "'");
  return read_experiment(s, artifact_root());
}

std::string SqliteStore::create_experiment(const std::string& name) {
  if (name.empty()) throw TrackingError("an experiment name must not be empty");
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Txn t(*this);
  {
    Stmt s(db_, "SELECT experiment_id FROM experiments WHERE name = ?");
    s.bind(1, name);
    if (s.step()) throw TrackingError("experiment '" + name + "' already exists (id " + s.text(0) + ")");
  }
  int64_t id = 0;
  {
    Stmt s(db_, "SELECT COALESCE(MAX(experiment_id), 0) + 1 FROM experiments");
    s.step();
    id = s.i64(0);
  }
  const int64_t now = now_ms();
  Stmt s(db_,
         "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time) "
         "VALUES (?, ?, '', ?, ?)");
  s.bind(1, id).bind(2, name).bind(3, now).bind(4, now).run();
  t.commit();
  return std::to_string(id);
}

std::vector<Experiment> SqliteStore::list_experiments() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt s(db_, (std::string(kExperimentCols) + " ORDER BY experiment_id").c_str());
  std::vector<Experiment> out;
  while (s.step()) out.push_back(read_experiment(s, artifact_root()));
  return out;
}

RunInfo SqliteStore::create_run(const CreateRunRequest& req) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  RunInfo info;
  info.run_id = new_run_id();
  info.experiment_id = req.experiment_id.empty() ? "0" : req.experiment_id;
  info.run_name = req.run_name;
  if (info.run_name.empty()) {
    auto it = req.tags.find(kTagRunName);
    info.run_name = it != req.tags.end() ? it->second : generate_run_name();
  }
  info.user_id = req.user_id;
  info.status = RunStatus::kRunning;
  info.start_time = req.start_time > 0 ? req.start_time : now_ms();
  info.artifact_uri = run_dir(info.experiment_id, info.run_id);
  const int64_t exp = parse_experiment_id(info.experiment_id);
  Txn t(*this);
  {
    Stmt s(db_, "SELECT 1 FROM experiments WHERE experiment_id = ?");
    s.bind(1, exp);
    if (!s.step()) throw NotFoundError("no experiment with id '" + info.experiment_id + "'");
  }
  {
    Stmt s(db_,
           "INSERT INTO runs (run_id, experiment_id, run_name, user_id, status, start_time) VALUES (?,?,?,?,?,?)");
    s.bind(1, info.run_id).bind(2, exp).bind(3, info.run_name).bind(4, info.user_id);
    s.bind(5, std::string(status_name(info.status))).bind(6, info.start_time).run();
  }
  std::map<std::string, std::string> tags = req.tags;
  tags[kTagRunName] = info.run_name;
  if (!info.user_id.empty() && !tags.count(kTagUser)) tags[kTagUser] = info.user_id;
  {
    Stmt s(db_, "INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?,?,?)");
    for (const auto& [k, v] : tags) {
      s.bind(1, info.run_id).bind(2, k).bind(3, v);
      s.run();
    }
  }
  t.commit();
  return info;
}

RunInfo SqliteStore::load_info(const std::string& run_id) {
  Stmt s(db_,
         "SELECT run_id, experiment_id, run_name, user_id, status, start_time, end_time, lifecycle_stage "
         "FROM runs WHERE run_id = ?");
  s.bind(1, run_id);
  if (!s.step()) throw NotFoundError("no run with id '" + run_id + "'");
  RunInfo i = info_of_row(s);
  i.artifact_uri = run_dir(i.experiment_id, i.run_id);
  return i;
}

void SqliteStore::update_run(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Txn t(*this);
  Stmt s(db_, end_time ? "UPDATE runs SET status = ?, end_time = ? WHERE run_id = ?"
                       : "UPDATE runs SET status = ? WHERE run_id = ?");
  s.bind(1, std::string(status_name(status)));
  if (end_time)
    s.bind(2, *end_time).bind(3, run_id);
  else
    s.bind(2, run_id);
  s.step();
  if (sqlite3_changes(db_) == 0) throw NotFoundError("no run with id '" + run_id + "'");
  t.commit();
}

void SqliteStore::log_batch(const std::string& run_id, const std::vector<Metric>& metrics,
                            const std::map<std::string, std::string>& params,
                            const std::map<std::string, std::string>& tags) {
  if (metrics.empty() && params.empty() && tags.empty()) return;
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Txn t(*this);
  {
    Stmt s(db_, "SELECT 1 FROM runs WHERE run_id = ?");
    s.bind(1, run_id);
    if (!s.step()) throw NotFoundError("no run with id '" + run_id + "'");
  }
  if (!params.empty()) {
    Stmt get(db_, "SELECT value FROM params WHERE run_id = ? AND key = ?");
    Stmt put(db_, "INSERT INTO params (run_id, key, value) VALUES (?,?,?)");
    for (const auto& [k, v] : params) {
      if (k.empty()) throw TrackingError("a param key must not be empty");
      get.bind(1, run_id).bind(2, k);
      if (get.step()) {
        std::string old = get.text(0);
        get.reset();
        if (old != v)
          throw TrackingError("param '" + k + "' of run " + run_id + " was already logged as '" + old +
                              "'; params cannot change (new value '" + v + "')");
        continue;
      }
      get.reset();
      put.bind(1, run_id).bind(2, k).bind(3, v);
      put.run();
    }
  }
  if (!tags.empty()) {
    Stmt put(db_, "INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?,?,?)");
    for (const auto& [k, v] : tags) {
      if (k.empty()) throw TrackingError("a tag key must not be empty");
      put.bind(1, run_id).bind(2, k).bind(3, v);
      put.run();
    }
    auto it = tags.find(kTagRunName);
    if (it != tags.end()) {
      Stmt s(db_, "UPDATE runs SET run_name = ? WHERE run_id = ?");
      s.bind(1, it->second).bind(2, run_id).run();
    }
  }
  if (!metrics.empty()) {
    Stmt put(db_, "INSERT INTO metrics (run_id, key, value, timestamp, step) VALUES (?,?,?,?,?)");
    // MLflow's "latest": the largest (step, timestamp, value); NaN counts as smallest value.
    Stmt latest(db_,
                "INSERT INTO latest_metrics (run_id, key, value, timestamp, step) VALUES (?1,?2,?3,?4,?5) "
                "ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, "
                "step = excluded.step WHERE (excluded.step, excluded.timestamp, COALESCE(excluded.value, -1e308)) "
                "> (latest_metrics.step, latest_metrics.timestamp, COALESCE(latest_metrics.value, -1e308))");
    for (const Metric& m : metrics) {
      if (m.key.empty()) throw TrackingError("a metric key must not be empty");
      put.bind(1, run_id).bind(2, m.key).bind_double(3, m.value).bind(4, m.timestamp).bind(5, m.step);
      put.run();
      latest.bind(1, run_id).bind(2, m.key).bind_double(3, m.value).bind(4, m.timestamp).bind(5, m.step);
      latest.run();
    }
  }
  t.commit();
}

Run SqliteStore::get_run(const std::string& run_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Run r;
  r.info = load_info(run_id);
  {
    Stmt s(db_, "SELECT key, value FROM params WHERE run_id = ?");
    s.bind(1, run_id);
    while (s.step()) r.params[s.text(0)] = s.text(1);
  }
  {
    Stmt s(db_, "SELECT key, value FROM tags WHERE run_id = ?");
    s.bind(1, run_id);
    while (s.step()) r.tags[s.text(0)] = s.text(1);
  }
  {
    Stmt s(db_, "SELECT key, value, timestamp, step FROM latest_metrics WHERE run_id = ?");
    s.bind(1, run_id);
    while (s.step()) r.metrics[s.text(0)] = Metric{s.text(0), s.dbl(1), s.i64(2), s.i64(3)};
  }
  return r;
}

std::vector<Metric> SqliteStore::get_metric_history(const std::string& run_id, const std::string& key) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  load_info(run_id);  // NotFoundError
  Stmt s(db_,
         "SELECT key, value, timestamp, step FROM metrics WHERE run_id = ? AND key = ? "
         "ORDER BY step, timestamp, rowid");
  s.bind(1, run_id).bind(2, key);
  std::vector<Metric> out;
  while (s.step()) out.push_back(Metric{s.text(0), s.dbl(1), s.i64(2), s.i64(3)});
  return out;
}

std::vector<Run> SqliteStore::search_runs(const std::vector<std::string>& experiment_ids, const std::string& filter,
                                          const std::vector<std::string>& order_by, int64_t max_results) {
  const Filter f = Filter::parse(filter);
  const std::vector<OrderKey> keys = parse_order_by(order_by);
  std::lock_guard<std::recursive_mutex> lock(mu_);
  std::string where = "r.lifecycle_stage = 'active'";
  if (!experiment_ids.empty()) {
    where += " AND r.experiment_id IN (";
    for (size_t i = 0; i < experiment_ids.size(); ++i) {
      where += (i ? "," : "") + std::to_string(parse_experiment_id(experiment_ids[i]));
    }
    where += ")";
  }
  std::map<std::string, Run> by_id;
  {
    Stmt s(db_, ("SELECT run_id, experiment_id, run_name, user_id, status, start_time, end_time, lifecycle_stage "
                 "FROM runs r WHERE " + where)
                    .c_str());
    while (s.step()) {
      Run r;
      r.info = info_of_row(s);
      r.info.artifact_uri = run_dir(r.info.experiment_id, r.info.run_id);
      const std::string id = r.info.run_id;
      by_id.emplace(id, std::move(r));
    }
  }
  auto load = [&](const char* table, auto&& fn) {
    Stmt s(db_, (std::string("SELECT x.* FROM ") + table + " x JOIN runs r ON r.run_id = x.run_id WHERE " + where)
                    .c_str());
    while (s.step()) {
      auto it = by_id.find(s.text(0));
      if (it != by_id.end()) fn(it->second, s);
    }
  };
  load("params", [](Run& r, Stmt& s) { r.params[s.text(1)] = s.text(2); });
  load("tags", [](Run& r, Stmt& s) { r.tags[s.text(1)] = s.text(2); });
  load("latest_metrics",
       [](Run& r, Stmt& s) { r.metrics[s.text(1)] = Metric{s.text(1), s.dbl(2), s.i64(3), s.i64(4)}; });
  std::vector<Run> out;
  for (auto& [id, r] : by_id)
    if (f.matches(r)) out.push_back(std::move(r));
  sort_runs(out, keys);
  if (max_results > 0 && static_cast<int64_t>(out.size()) > max_results) out.resize(max_results);
  return out;
}

std::string SqliteStore::run_artifact_dir(const std::string& run_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return load_info(run_id).artifact_uri;
}

void SqliteStore::log_artifact(const std::string& run_id, const std::string& local_file,
                               const std::string& artifact_dir) {
  const std::string root = run_artifact_dir(run_id);
  if (!fs::is_regular_file(local_file)) throw TrackingError("cannot log artifact " + local_file + ": not a file");
  const std::string sub = clean_relative(artifact_dir);
  fs::path dest_dir = sub.empty() ? fs::path(root) : fs::path(root) / sub;
  std::error_code ec;
  fs::create_directories(dest_dir, ec);
  if (ec) throw TrackingError("cannot create artifact folder " + dest_dir.string() + ": " + ec.message());
  const fs::path dest = dest_dir / fs::path(local_file).filename();
  const fs::path tmp = dest.string() + tmp_suffix();
  fs::copy_file(local_file, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) throw TrackingError("cannot copy artifact " + local_file + " to " + tmp.string() + ": " + ec.message());
  fs::rename(tmp, dest, ec);
  if (ec) {
    fs::remove(tmp);
    throw TrackingError("cannot store artifact " + dest.string() + ": " + ec.message());
  }
}

std::vector<FileInfo> SqliteStore::list_artifacts(const std::string& run_id, const std::string& path) {
  const fs::path root = run_artifact_dir(run_id);
  const std::string sub = clean_relative(path);
  const fs::path dir = sub.empty() ? root : root / sub;
  std::vector<FileInfo> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp-") != std::string::npos) continue;  // an upload in progress
    FileInfo fi;
    fi.path = sub.empty() ? name : sub + "/" + name;
    fi.is_dir = e.is_directory();
    fi.file_size = fi.is_dir ? 0 : static_cast<int64_t>(e.file_size());
    out.push_back(fi);
  }
  std::sort(out.begin(), out.end(), [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  return out;
}

void SqliteStore::download_artifact(const std::string& run_id, const std::string& path,
                                    const std::string& local_file) {
  const fs::path src = fs::path(run_artifact_dir(run_id)) / clean_relative(path);
  std::error_code ec;
  if (!fs::is_regular_file(src, ec)) throw NotFoundError("run " + run_id + " has no artifact '" + path + "'");
  fs::copy_file(src, local_file, fs::copy_options::overwrite_existing, ec);
  if (ec) throw TrackingError("cannot copy artifact to " + local_file + ": " + ec.message());
}

std::optional<SyncRecord> SqliteStore::get_sync_record(const std::string& local_run_id,
                                                       const std::string& target_uri) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt s(db_,
         "SELECT remote_run_id, fingerprint, synced_at FROM sync_records WHERE local_run_id = ? AND target_uri = ?");
  s.bind(1, local_run_id).bind(2, target_uri);
  if (!s.step()) return std::nullopt;
  return SyncRecord{local_run_id, target_uri, s.text(0), s.text(1), s.i64(2)};
}

void SqliteStore::put_sync_record(const SyncRecord& r) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Txn t(*this);
  Stmt s(db_,
         "INSERT OR REPLACE INTO sync_records (local_run_id, target_uri, remote_run_id, fingerprint, synced_at) "
         "VALUES (?,?,?,?,?)");
  s.bind(1, r.local_run_id).bind(2, r.target_uri).bind(3, r.remote_run_id).bind(4, r.fingerprint);
  s.bind(5, r.synced_at).run();
  t.commit();
}

int64_t SqliteStore::metric_point_count(const std::string& run_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM metrics WHERE run_id = ?");
  s.bind(1, run_id);
  return s.step() ? s.i64(0) : 0;
}

std::vector<std::string> SqliteStore::all_run_ids() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Stmt s(db_, "SELECT run_id FROM runs WHERE lifecycle_stage = 'active' ORDER BY start_time, rowid");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

}  // namespace canopy::tracking
