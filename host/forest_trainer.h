#pragma once
// Trains forests as batches of tree jobs (DESIGN principle 5). One request is
// one forest: a plain fit, one fold of a cross-validation, or one candidate x
// fold of a sweep. All requests over the same TrainingData share its bins.
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "host/params.h"
#include "host/training_data.h"
#include "io/model.h"
#include "kernels/forest_nodes.h"
#include "kernels/tree_backend.h"

namespace canopy {

struct ForestRequest {
  ForestParams params;
  std::vector<uint8_t> train_mask;  // per row, 1 = training row; empty = every row
};

struct TrainedForest {
  ForestNodes nodes;
  std::vector<double> importances;   // normalised, sums to 1 (or all 0)
  // Out-of-bag results, filled when params.oob_score: per-row mean over the
  // trees that did not see the row (n_rows x n_outputs, NaN when none did).
  std::vector<double> oob_prediction;
  double oob_score = 0.0;            // accuracy (classification) or R^2 (regression)
  int64_t oob_rows = 0;              // rows with at least one out-of-bag tree
  std::vector<std::pair<int64_t, double>> oob_score_by_trees;  // (trees, score) after each tenth of the trees
};

// Trees a forest with parameters p grows on data: n_estimators, times the
// number of classes for a one-vs-rest forest (multi_class=ovr, 3+ classes).
int64_t forest_tree_count(const TrainingData& data, const ForestParams& p);

// Called after each batch with (trees done, trees total).
using ProgressFn = std::function<void(int64_t, int64_t)>;

std::vector<TrainedForest> train_forests(const TrainingData& data, const std::vector<ForestRequest>& requests,
                                         TreeBackend& backend, const ProgressFn& progress = {});

}  // namespace canopy
