#pragma once
// The embedded run store: one SQLite database file (default ./canopy.db) in WAL
// mode with a 10 s busy timeout, so several processes can log at once; one
// transaction per write call; a versioned schema (table schema_version) with
// numbered migrations applied in one transaction. Artifacts live beside the
// database: <db dir>/canopy-artifacts/<experiment_id>/<run_id>/artifacts/...
// (copied to a temporary name, then renamed). Experiment "Default" has id "0".
// Thread-safe (one connection guarded by a mutex).
#include <mutex>
#include <optional>
#include <string>

#include "tracking/run_store.h"

struct sqlite3;

namespace canopy::tracking {

// Where a local run was sent by `canopy runs sync` (schema version 2).
struct SyncRecord {
  std::string local_run_id;
  std::string target_uri;
  std::string remote_run_id;
  std::string fingerprint;  // the local run's state when it was last pushed
  int64_t synced_at = 0;
};

class SqliteStore : public RunStore {
 public:
  static constexpr int kSchemaVersion = 2;

  // Opens (creating when missing, with its folder) the database file at `path`
  // and brings its schema up to date. Throws TrackingError.
  explicit SqliteStore(const std::string& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  std::string uri() const override;  // sqlite:///abs/path
  const std::string& path() const { return path_; }
  std::string artifact_root() const;  // <db dir>/canopy-artifacts
  int schema_version();
  std::string integrity_check();  // "ok" when PRAGMA integrity_check passes

  std::optional<Experiment> get_experiment_by_name(const std::string& name) override;
  Experiment get_experiment(const std::string& experiment_id) override;
  std::string create_experiment(const std::string& name) override;
  std::vector<Experiment> list_experiments() override;

  RunInfo create_run(const CreateRunRequest& request) override;
  void update_run(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time) override;
  void log_batch(const std::string& run_id, const std::vector<Metric>& metrics,
                 const std::map<std::string, std::string>& params,
                 const std::map<std::string, std::string>& tags) override;
  Run get_run(const std::string& run_id) override;
  std::vector<Metric> get_metric_history(const std::string& run_id, const std::string& key) override;
  std::vector<Run> search_runs(const std::vector<std::string>& experiment_ids, const std::string& filter,
                               const std::vector<std::string>& order_by, int64_t max_results) override;

  void log_artifact(const std::string& run_id, const std::string& local_file,
                    const std::string& artifact_dir = "") override;
  std::vector<FileInfo> list_artifacts(const std::string& run_id, const std::string& path = "") override;
  void download_artifact(const std::string& run_id, const std::string& path, const std::string& local_file) override;
  // The local folder holding the run's artifacts.
  std::string run_artifact_dir(const std::string& run_id);

  // Sync bookkeeping (`canopy runs sync`).
  std::optional<SyncRecord> get_sync_record(const std::string& local_run_id, const std::string& target_uri);
  void put_sync_record(const SyncRecord& record);
  // Number of metric points logged to the run (all keys).
  int64_t metric_point_count(const std::string& run_id);
  // Every run id in the store, oldest first (all experiments).
  std::vector<std::string> all_run_ids();

 private:
  class Txn;
  void exec(const char* sql);
  void migrate();
  RunInfo load_info(const std::string& run_id);
  std::string run_dir(const std::string& experiment_id, const std::string& run_id) const;

  std::string path_;
  std::string dir_;
  sqlite3* db_ = nullptr;
  std::recursive_mutex mu_;
};

// Parses sqlite:///abs/path, sqlite:rel/path, sqlite://rel or a plain path;
// returns the (absolute) file path.
std::string sqlite_path_from_uri(const std::string& uri);

}  // namespace canopy::tracking
