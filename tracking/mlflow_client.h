#pragma once
// A RunStore over an MLflow tracking server's REST API 2.0 (libcurl):
// experiments get-by-name / get / create / search, runs create / update /
// log-batch (split to respect the server's limits: 1000 metrics, 100 params,
// 100 tags, 1000 entries per request) / get / search, metrics get-history,
// and artifacts through the server's artifact proxy
// (/api/2.0/mlflow-artifacts/artifacts/..., `mlflow server --serve-artifacts`,
// the default since MLflow 2.0).
// Auth: MLFLOW_TRACKING_TOKEN (Bearer) or MLFLOW_TRACKING_USERNAME and
// MLFLOW_TRACKING_PASSWORD (basic); MLFLOW_TRACKING_INSECURE_TLS=true skips
// certificate checks. 429, 5xx and connection errors are retried with
// exponential backoff; when every try fails the call throws UnreachableError.
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "tracking/run_store.h"

namespace canopy::tracking {

struct MlflowOptions {
  int max_attempts = 5;           // tries per request (>= 1)
  double initial_backoff_s = 0.5;  // doubled after each failed try: 0.5 + 1 + 2 + 4 = 7.5 s at most
  double max_backoff_s = 4;
  long connect_timeout_s = 5;
  long request_timeout_s = 120;
  std::string token;               // Bearer token
  std::string username, password;  // basic auth
  bool insecure_tls = false;
  // Defaults with MLFLOW_TRACKING_TOKEN / _USERNAME / _PASSWORD / _INSECURE_TLS
  // and CANOPY_MLFLOW_MAX_ATTEMPTS, CANOPY_MLFLOW_BACKOFF_S from the environment.
  static MlflowOptions from_env();
};

// The server's per-request limits for runs/log-batch.
inline constexpr size_t kMaxMetricsPerBatch = 1000;
inline constexpr size_t kMaxParamsPerBatch = 100;
inline constexpr size_t kMaxTagsPerBatch = 100;
inline constexpr size_t kMaxEntriesPerBatch = 1000;

struct BatchChunk {
  std::vector<Metric> metrics;
  std::map<std::string, std::string> params, tags;
};
// Splits one log_batch into requests within the limits above.
std::vector<BatchChunk> split_batch(const std::vector<Metric>& metrics,
                                    const std::map<std::string, std::string>& params,
                                    const std::map<std::string, std::string>& tags);

class MlflowClient : public RunStore {
 public:
  explicit MlflowClient(const std::string& base_url, MlflowOptions options = MlflowOptions::from_env());
  ~MlflowClient() override;
  MlflowClient(const MlflowClient&) = delete;
  MlflowClient& operator=(const MlflowClient&) = delete;

  std::string uri() const override { return base_; }

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

  // One REST call: method "GET" (body becomes the query string) or "POST";
  // endpoint relative to /api/2.0/mlflow/, e.g. "runs/get". Returns the JSON answer.
  nlohmann::json call(const std::string& method, const std::string& endpoint, const nlohmann::json& body);
  // GET /health; true when the server answers 200.
  bool healthy();
  // Number of HTTP requests sent (tests check batching).
  int64_t requests_sent() const { return requests_; }

 private:
  struct Response {
    long status = 0;
    std::string body;
  };
  // Sends with retries. upload_file: PUT the file's bytes; download_file: write the body there.
  Response send(const std::string& method, const std::string& url, const std::string& body,
                const std::string& what, const std::string& upload_file = "",
                const std::string& download_file = "");
  [[noreturn]] void throw_http_error(const Response& r, const std::string& what);
  std::string artifact_base(const std::string& run_id);  // "<exp>/<run>/artifacts"
  std::string artifact_url(const std::string& rel);
  std::string escape(const std::string& s);              // URL-encodes

  std::string base_;
  MlflowOptions opt_;
  void* curl_ = nullptr;
  std::recursive_mutex mu_;
  std::map<std::string, std::string> artifact_bases_;
  int64_t requests_ = 0;
};

}  // namespace canopy::tracking
