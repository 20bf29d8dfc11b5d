#pragma once
// Pieces shared by the command-line commands (train, cv, tune, ...): dataset
// and parameter flags, backend selection, progress and JSON helpers.
#include <CLI/CLI.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "host/cross_validation.h"
#include "host/cuda_tuning_text.h"
#include "host/forest_trainer.h"
#include "host/params.h"
#include "host/training_data.h"
#include "io/dataset.h"
#include "kernels/tree_backend.h"

namespace canopy {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t);

// --data, --label, --features, --weight-column.
struct DataArgs {
  std::string path, label, features = "/X", weight_column;
  void add(CLI::App* app, bool required_data = true);
  Dataset read(bool require_label) const;
};

// Every parameter of the table as a flag (kebab-case, Spark aliases), plus
// --no-bootstrap, --oob-score, --device, --task and the tracking flags.
struct ParamArgs {
  std::map<std::string, std::string> raw;
  bool no_bootstrap = false, oob = false;
  std::string device = "auto";
  std::string task = "auto";
  bool no_tracking = false;
  std::string tracking_uri, experiment;

  void add(CLI::App* app);
  ParamValues collect() const;  // only the parameters given on the command line
  TaskChoice task_choice() const;
  Task resolve_task(const Dataset& d) const;
};

// The tree backend for --device (select_device): the CUDA backend under
// cuda_tuning_from_environment(), or the CPU. Prints the auto-fallback notice
// on stderr (also under --json, whose output on stdout names the backend).
std::unique_ptr<TreeBackend> make_backend(const std::string& spec);

// The CUDA backend's launch choices from CANOPY_CUDA_TUNING
// (host/cuda_tuning_text.h; unset or empty: the defaults). Throws ParamError
// naming the variable, the key or value, and what was expected.
CudaTuning cuda_tuning_from_environment();

// Applies --threads (0 = every core).
void set_threads(int32_t threads);

// A one-line progress bar on stderr when stderr is a terminal; empty otherwise.
ProgressFn progress_bar(const char* what);

nlohmann::ordered_json metrics_json(const MetricList& m);  // NaN -> null
nlohmann::ordered_json cv_json(const CvResult& r);         // {"folds", "metrics": {name: {mean, std, per_fold}}}
void print_cv(const CvResult& r);
void print_metrics(const MetricList& m);

}  // namespace canopy
