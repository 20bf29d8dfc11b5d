#pragma once
// RunRecorder: what `train`, `cv` and `tune` use to leave a run record.
//
//   RunOptions o;  o.tracking_uri = flag; o.experiment = "..."; o.command_line = command_line_string(argc, argv);
//   RunRecorder rec(o);                     // starts a RUNNING run (or does nothing when !o.enabled)
//   rec.log_params(all_params);             // write-once
//   rec.start_system_metrics();             // system/... every 5 s on a background thread
//   rec.log_metric("oob_score", v, step);   // buffered, flushed in batches
//   rec.log_artifact(model_path);
//   rec.finish();                           // FINISHED  (rec.fail(msg): FAILED + tag canopy.error)
//
// A recorder destroyed without finish()/fail() marks its run FAILED (an
// exception unwound past it). SIGINT/SIGTERM mark every live run KILLED, then
// the signal takes its default course. Tracking never stops training: when an
// MLflow server is unreachable at start or fails mid-run, everything logged
// (before and after) goes to the local SQLite store and stderr says, once,
// how to send it later (`canopy runs sync --to URL`); other store errors are
// reported once as warnings.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tracking/run_store.h"
#include "tracking/system_metrics.h"

namespace canopy {

struct RunOptions {
  bool enabled = true;           // false (--no-tracking): every call is a no-op
  std::string tracking_uri;      // --tracking-uri; "" = $CANOPY_TRACKING_URI, $MLFLOW_TRACKING_URI, ./canopy.db
  std::string experiment;        // "" = "Default"
  std::string run_name;          // "" = generated ("brave-oak-123")
  std::string parent_run_id;     // nested run: sets mlflow.parentRunId
  std::string command_line;      // tag canopy.command; its first word is mlflow.source.name
  std::map<std::string, std::string> tags;  // extra tags at start
  std::string fallback_uri;      // where runs go when MLflow fails; "" = sqlite:///$PWD/canopy.db
  bool install_signal_handlers = true;
  size_t flush_every = 1000;     // buffered metric points before a write
  double flush_interval_s = 2;   // or this long since the last write
};

// The command line as one string, arguments with spaces or quotes quoted.
std::string command_line_string(int argc, char** argv);

// canopy.version, canopy.git_commit, canopy.git_dirty, mlflow.source.git.commit, canopy.host,
// mlflow.user, mlflow.source.type=LOCAL (+ mlflow.source.name, canopy.command
// when command_line is given).
std::map<std::string, std::string> standard_tags(const std::string& command_line);

// Tags describing a data file: canopy.dataset.path (absolute), canopy.dataset.sha256.
std::map<std::string, std::string> dataset_tags(const std::string& path);

class RunRecorder {
 public:
  explicit RunRecorder(const RunOptions& options);
  ~RunRecorder();
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  bool enabled() const { return enabled_; }
  // The run's id in the store that holds it (the local id after a fallback); "" when disabled.
  const std::string& run_id() const;
  // Where the run is recorded now (changes to the local store after a fallback).
  std::string tracking_uri() const;
  bool fell_back() const;

  void log_param(const std::string& key, const std::string& value);
  void log_params(const std::map<std::string, std::string>& params);
  void log_metric(const std::string& key, double value, int64_t step = 0);
  void log_metrics(const std::vector<std::pair<std::string, double>>& metrics, const std::string& prefix = "",
                   int64_t step = 0);
  void set_tag(const std::string& key, const std::string& value);
  void set_tags(const std::map<std::string, std::string>& tags);
  // Copies (uploads) the file into the run's artifacts under artifact_dir.
  void log_artifact(const std::string& local_path, const std::string& artifact_dir = "");
  // Samples system/... metrics every interval_s seconds until finish/fail;
  // `extra` (e.g. NVML GPU readings) is called at each sample.
  void start_system_metrics(double interval_s = 5, tracking::SystemMetricsSampler::Source extra = {});
  void flush();  // writes buffered metric points now

  void finish();                         // FINISHED
  void fail(const std::string& error);   // FAILED, tag canopy.error
  void kill();                           // KILLED

  // A nested run (mlflow.parentRunId = this run) in the same experiment and store.
  std::unique_ptr<RunRecorder> child(const std::string& run_name,
                                     const std::map<std::string, std::string>& tags = {});

  struct Journal;
  struct Backend;

 private:
  RunRecorder(std::shared_ptr<Backend> backend, const RunOptions& options, const std::string& experiment_id);
  void start(const std::string& experiment_id);
  void end(tracking::RunStatus status, const std::string& error);
  void add_points(const std::vector<tracking::Metric>& points);
  void flush_locked();
  void kill_from_signal();
  friend struct SignalWatcher;

  bool enabled_ = false;
  RunOptions opt_;
  std::shared_ptr<Backend> backend_;
  std::shared_ptr<Journal> journal_;
  std::mutex mu_;  // buffer_
  std::vector<tracking::Metric> buffer_;
  int64_t last_flush_ms_ = 0;
  std::unique_ptr<tracking::SystemMetricsSampler> sampler_;
  bool ended_ = false;
};

}  // namespace canopy
