#pragma once
// `canopy tune`: hyperparameter search with validation, as batches of tree
// jobs (DESIGN principle 5), with ranking, results files, refit, tracking
// (a parent run with one child run per candidate) and resume.
// Usage and file formats: docs/tuning.md.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/params.h"
#include "host/search.h"
#include "host/sweep.h"

namespace canopy {

// Everything that defines a sweep's candidates and scores. Recorded with the
// parent run (param canopy.sweep.spec) so that --resume can rebuild it.
struct TuneConfig {
  std::string data_path, label, features = "/X", weight_column, task = "auto";
  SearchSpace space;
  ParamValues fixed;                     // parameters shared by every candidate
  std::string strategy = "grid";         // grid, random, halving
  int64_t n_iter = 10;                   // random (and halving over distributions)
  uint64_t search_seed = 0;              // random search
  ValidationSpec validation;
  std::vector<std::string> scoring;      // empty: accuracy / r2
  std::string refit;                     // empty: the first scoring metric
  double halving_factor = 3;
  std::string halving_resource = "n_estimators";  // or rows
  int64_t min_resources = 0;             // 0: exhaust

  nlohmann::ordered_json to_json() const;
  static TuneConfig from_json(const nlohmann::json& j);
  // Applies the keys of a sweep file (see docs/tuning.md) over this config.
  void apply_sweep_file(const nlohmann::json& j);
};

// Settings of one invocation that do not change results.
struct TuneRuntime {
  std::string results_path;     // .csv or .json
  std::string out_path;         // refitted model
  std::string device = "auto";
  int32_t threads = 0;
  bool json = false;
  bool refit = true;            // false: --no-refit
  int64_t batch_candidates = 0; // candidates per chunk; 0 = auto
  bool tracking = true;
  std::string tracking_uri, experiment, run_name;
  std::string resume_run_id;
  std::string command_line;
};

// Ranks with ties at the minimum rank (method='min'); NaN values rank last
// (all NaNs tied). higher_first: larger values get the better (smaller) rank.
std::vector<int64_t> rank_min(const std::vector<double>& values, bool higher_first);

// Runs the command; returns the exit code. Throws for invalid input (before
// any training) and when every candidate fails.
int run_tune(TuneConfig cfg, const TuneRuntime& rt);

}  // namespace canopy
