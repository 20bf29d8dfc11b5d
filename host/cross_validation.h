#pragma once
// k-fold cross-validation. Folds are tree jobs whose held-out rows get weight
// 0 (DESIGN principle 5): every fold trains on the same binned data in one batch.
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "host/forest_trainer.h"
#include "host/metrics.h"

namespace canopy {

struct FoldOptions {
  int32_t folds = 5;
  bool shuffle = false;
  uint64_t shuffle_seed = 0;
  bool stratify = true;  // classification only
};

// Fold index of each row. Stratified folds deal each class's rows round-robin
// (continuing across classes so fold sizes differ by at most one); plain folds
// are contiguous blocks of the (optionally shuffled) row order.
std::vector<int32_t> assign_folds(std::size_t n_rows, const FoldOptions& opt, const std::vector<int32_t>* classes);

using MetricList = std::vector<std::pair<std::string, double>>;

struct CvResult {
  int32_t folds = 0;
  std::vector<MetricList> per_fold;
  MetricList mean, std;  // std: population standard deviation over folds
  std::vector<double> fit_seconds;
};

// Held-out rows gathered once for repeated scoring (a sweep scores every
// candidate on the same folds): row ids, feature columns, targets, weights.
struct EvalSet {
  std::vector<uint32_t> rows;
  std::vector<std::vector<float>> columns;
  std::vector<const float*> column_ptrs;
  std::vector<int32_t> class_id;  // classification
  std::vector<double> y;          // regression
  std::vector<double> weight;     // empty = unweighted
};
EvalSet make_eval_set(const TrainingData& data, const std::vector<uint8_t>& rows);

// Runs fn(i) for i in [0, n) on the OpenMP threads, each call alone on its
// thread (evaluations are independent; a prediction inside runs serially on
// the CPU, or on the device for CUDA, whose predictions take the device one at
// a time while their metrics run in parallel). After all calls end, one exception
// thrown by any of them is rethrown.
template <typename Fn>
void parallel_evaluations(std::size_t n, Fn fn) {
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t i = 0; i < n; ++i) {
    try {
      fn(i);
    } catch (...) {
#pragma omp critical(canopy_parallel_evaluations)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

MetricList evaluate_forest(const TrainingData& data, const EvalSet& rows, const ForestNodes& forest,
                           const TreeBackend& backend, ClassificationMetrics* detail = nullptr);

// Metrics of a forest's predictions (made by `backend`) on the rows flagged in
// `rows` (all when empty). For classification, `detail` (if given) receives the
// full metrics, confusion matrix included.
MetricList evaluate_forest(const TrainingData& data, const ForestNodes& forest, const std::vector<uint8_t>& rows,
                           const TreeBackend& backend, ClassificationMetrics* detail = nullptr);

// One request per fold: fold f trains on the rows whose fold is not f.
std::vector<ForestRequest> fold_requests(const ForestParams& params, const std::vector<int32_t>& folds, int32_t k);

// Scores forests[f] (f < k) on the rows of fold f, with means and stds.
CvResult score_folds(const TrainingData& data, const std::vector<TrainedForest>& forests,
                     const std::vector<int32_t>& folds, int32_t k, const TreeBackend& backend);

CvResult cross_validate(const TrainingData& data, const ForestParams& params, const FoldOptions& opt,
                        TreeBackend& backend, const ProgressFn& progress = {});

// Mean and population std of each metric across folds (same names and order).
void summarise_folds(CvResult& r);

}  // namespace canopy
