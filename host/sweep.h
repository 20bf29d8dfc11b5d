#pragma once
// The sweep engine of `canopy tune`: evaluates many parameter sets (units)
// with the same validation splits as one batch of tree jobs (DESIGN
// principle 5). Units sharing max_bins share one TrainingData; every unit x
// split of a call goes to one train_forests call per max_bins value.
//
//   SweepEngine eng(dataset, TaskChoice::kAuto, task, validation, *backend);
//   std::vector<UnitResult> r = eng.evaluate(units);
//
// A unit whose parameters do not fit the data (max_features above the
// feature count, ...) or whose training throws is returned failed with its
// error; the others are unaffected.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "host/cross_validation.h"
#include "host/forest_trainer.h"
#include "host/params.h"
#include "host/training_data.h"
#include "io/dataset.h"

namespace canopy {

enum class ValidationMode { kKFold, kHoldout, kOob };

struct ValidationSpec {
  ValidationMode mode = ValidationMode::kKFold;
  int32_t folds = 5;
  bool shuffle = false;
  uint64_t shuffle_seed = 0;
  double holdout = 0.2;  // fraction of rows held out (kHoldout)
  int32_t n_splits() const { return mode == ValidationMode::kKFold ? folds : 1; }
  std::string describe() const;  // "5-fold cross-validation (shuffled, seed 3)", ...
};

// One parameter set to validate.
struct SweepUnit {
  ParamValues values;    // every given parameter (fixed + candidate + resource), canonical names
  int64_t row_limit = 0; // > 0: train on only this many rows (halving on rows)
};

struct UnitResult {
  bool ok = false;
  std::string error;
  std::vector<MetricList> per_split;  // metric_list order
  MetricList mean, std;
  double fit_seconds = 0;             // share of the batch time (see docs/tuning.md)
  std::vector<double> score_seconds;  // per split: predicting and scoring
  int64_t trees = 0;                  // trees trained for this unit
};

class SweepEngine {
 public:
  SweepEngine(const Dataset& d, TaskChoice choice, Task task, const ValidationSpec& v, TreeBackend& backend);

  // Prepared data for a max_bins value (binned once, then cached).
  const TrainingData& data(int32_t max_bins);
  Task task() const { return task_; }
  const ValidationSpec& validation() const { return v_; }
  std::size_t n_rows() const { return d_.n_rows(); }
  std::size_t n_features() const { return d_.n_features(); }

  // Checks a unit against the data (features per node, sample counts) without
  // training; "" when fine, else the error.
  std::string check(const SweepUnit& u);

  // Trains and scores every unit: one train_forests call per max_bins value
  // (falling back to one call per unit when that call throws).
  std::vector<UnitResult> evaluate(const std::vector<SweepUnit>& units, const ProgressFn& progress = {});

  // Trains the final model on all rows.
  TrainedForest refit(const SweepUnit& u, const TrainingData** used);

  // Trees trained by evaluate() so far (all calls), and the seconds spent in train_forests.
  int64_t trees_trained() const { return trees_trained_; }
  double train_seconds() const { return train_seconds_; }

 private:
  ForestParams params_of(const SweepUnit& u) const;
  std::vector<uint8_t> train_mask(int32_t split, int64_t row_limit) const;
  std::vector<uint8_t> held_out(int32_t split) const;
  // The held-out rows of a split, gathered on first use (raw features and
  // targets: the same for every max_bins). Not thread-safe on first use.
  const EvalSet& eval_set(const TrainingData& td, int32_t split);
  void train_group(const TrainingData& td, const std::vector<std::size_t>& idx, const std::vector<SweepUnit>& units,
                   std::vector<UnitResult>& out, const ProgressFn& progress);

  const Dataset& d_;
  TaskChoice choice_;
  Task task_;
  ValidationSpec v_;
  TreeBackend& backend_;
  std::map<int32_t, std::unique_ptr<TrainingData>> data_;
  std::vector<int32_t> split_of_row_;  // k-fold: fold; holdout: 1 = held out
  std::vector<uint32_t> row_order_;    // seeded order for row_limit subsets
  std::vector<std::unique_ptr<EvalSet>> eval_sets_;  // by split
  int64_t trees_trained_ = 0;
  double train_seconds_ = 0;
};

// Metrics of out-of-bag predictions (rows with at least one OOB tree among
// `rows`, all rows when empty), in metric_list order.
MetricList oob_metrics(const TrainingData& data, const TrainedForest& f, const std::vector<uint8_t>& rows);

}  // namespace canopy
