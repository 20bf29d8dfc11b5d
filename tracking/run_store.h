#pragma once
// The run store interface: MLflow's data model (experiments, runs, params,
// metrics with step and timestamp, tags, artifacts). Two implementations:
// SqliteStore (tracking/sqlite_store.h, the embedded default) and MlflowClient
// (tracking/mlflow_client.h, an MLflow tracking server over REST).
// No CUDA, no host/ dependencies.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace canopy::tracking {

// Every tracking failure. The message is meant for the user as is.
class TrackingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// An experiment or run that does not exist ("no run with id 'abc'").
class NotFoundError : public TrackingError {
 public:
  using TrackingError::TrackingError;
};
// The store cannot be reached (connection refused, timeouts, 5xx after every
// retry): the run recorder falls back to the local store on this.
class UnreachableError : public TrackingError {
 public:
  using TrackingError::TrackingError;
};

enum class RunStatus { kRunning, kScheduled, kFinished, kFailed, kKilled };
const char* status_name(RunStatus s);          // "RUNNING", ...
RunStatus parse_status(const std::string& s);  // throws TrackingError

// MLflow's standard tag names.
inline constexpr const char* kTagParentRunId = "mlflow.parentRunId";
inline constexpr const char* kTagRunName = "mlflow.runName";
inline constexpr const char* kTagUser = "mlflow.user";
inline constexpr const char* kTagSourceName = "mlflow.source.name";
inline constexpr const char* kTagSourceType = "mlflow.source.type";
// canopy's own: the local run a remote run was synced from.
inline constexpr const char* kTagSourceRunId = "canopy.source_run_id";

struct Experiment {
  std::string experiment_id;
  std::string name;
  std::string artifact_location;
  std::string lifecycle_stage = "active";
  int64_t creation_time = 0;  // ms since the epoch
  int64_t last_update_time = 0;
  std::map<std::string, std::string> tags;
};

struct Metric {
  std::string key;
  double value = 0;
  int64_t timestamp = 0;  // ms since the epoch
  int64_t step = 0;
};
bool operator==(const Metric& a, const Metric& b);  // NaN equals NaN here

struct RunInfo {
  std::string run_id;  // 32 lower-case hex digits
  std::string run_name;
  std::string experiment_id;
  std::string user_id;
  RunStatus status = RunStatus::kRunning;
  int64_t start_time = 0;  // ms since the epoch
  int64_t end_time = 0;    // 0 while unset
  std::string artifact_uri;
  std::string lifecycle_stage = "active";
};

struct Run {
  RunInfo info;
  std::map<std::string, std::string> params;
  std::map<std::string, Metric> metrics;  // the latest value per key (MLflow: max step, then timestamp, then value)
  std::map<std::string, std::string> tags;
};

struct FileInfo {
  std::string path;  // relative to the run's artifact root
  bool is_dir = false;
  int64_t file_size = 0;
};

struct CreateRunRequest {
  std::string experiment_id = "0";
  std::string run_name;
  std::string user_id;
  int64_t start_time = 0;  // 0: now
  std::map<std::string, std::string> tags;
};

class RunStore {
 public:
  virtual ~RunStore() = default;
  // Where this store lives: "sqlite:///abs/path/canopy.db" or "http://host:port".
  virtual std::string uri() const = 0;

  // Experiments.
  virtual std::optional<Experiment> get_experiment_by_name(const std::string& name) = 0;
  virtual Experiment get_experiment(const std::string& experiment_id) = 0;  // NotFoundError
  virtual std::string create_experiment(const std::string& name) = 0;      // returns the id
  virtual std::vector<Experiment> list_experiments() = 0;
  // The id of the experiment called `name`, created when missing.
  std::string get_or_create_experiment(const std::string& name);

  // Runs.
  virtual RunInfo create_run(const CreateRunRequest& request) = 0;
  // Sets the status and, when end_time is given, the end time (runs/update).
  virtual void update_run(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time) = 0;
  void set_terminated(const std::string& run_id, RunStatus status, int64_t end_time = 0);  // 0: now
  // Params are write-once (a different value for a logged key is an error), tags
  // are overwritten, metrics append to the key's history. One transaction (SQLite)
  // or as few requests as the server limits allow (MLflow).
  virtual void log_batch(const std::string& run_id, const std::vector<Metric>& metrics,
                         const std::map<std::string, std::string>& params,
                         const std::map<std::string, std::string>& tags) = 0;
  virtual Run get_run(const std::string& run_id) = 0;  // NotFoundError: "no run with id 'abc'"
  virtual std::vector<Metric> get_metric_history(const std::string& run_id, const std::string& key) = 0;
  // MLflow search: filter in MLflow's syntax (tracking/filter.h), order_by
  // clauses like "metrics.r2 DESC"; max_results <= 0: all. Empty
  // experiment_ids: every experiment.
  virtual std::vector<Run> search_runs(const std::vector<std::string>& experiment_ids, const std::string& filter,
                                       const std::vector<std::string>& order_by, int64_t max_results) = 0;

  // Artifacts: copies (uploads) one local file to <artifact root>/<artifact_dir>/<file name>.
  virtual void log_artifact(const std::string& run_id, const std::string& local_file,
                            const std::string& artifact_dir = "") = 0;
  // Lists one directory level under the run's artifact root ("" = the root).
  virtual std::vector<FileInfo> list_artifacts(const std::string& run_id, const std::string& path = "") = 0;
  // Copies the artifact at `path` to the local file `local_file`.
  virtual void download_artifact(const std::string& run_id, const std::string& path,
                                 const std::string& local_file) = 0;

  // Every file under the run's artifact root, recursively (paths relative to it).
  std::vector<FileInfo> list_all_artifacts(const std::string& run_id);
};

// Helpers shared by the stores.
int64_t now_ms();
std::string new_run_id();                     // 32 random lower-case hex digits
std::string generate_run_name();              // "brave-owl-123", like MLflow
std::vector<std::string> split_order_by(const std::string& order_by);  // at top-level commas

}  // namespace canopy::tracking
