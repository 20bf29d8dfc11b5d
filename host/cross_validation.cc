#include "host/cross_validation.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "host/metrics.h"
#include "kernels/predict.h"
#include "kernels/rng.h"

namespace canopy {
namespace {

// Rows in a seeded random order (sorted by a counter-based key).
std::vector<uint32_t> shuffled(std::vector<uint32_t> rows, uint64_t seed) {
  std::vector<std::pair<uint64_t, uint32_t>> keyed(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Philox4 w = philox(seed, kStreamFolds, rows[i], 0, 0);
    keyed[i] = {(static_cast<uint64_t>(w.v[0]) << 32) | w.v[1], rows[i]};
  }
  std::sort(keyed.begin(), keyed.end());
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = keyed[i].second;
  return rows;
}

}  // namespace

std::vector<int32_t> assign_folds(std::size_t n, const FoldOptions& opt, const std::vector<int32_t>* classes) {
  if (opt.folds < 2) throw std::invalid_argument("--folds must be at least 2, got " + std::to_string(opt.folds));
  if (static_cast<std::size_t>(opt.folds) > n)
    throw std::invalid_argument("--folds " + std::to_string(opt.folds) + " exceeds the " + std::to_string(n) +
                                " rows of the data");
  std::vector<int32_t> fold(n, 0);
  std::vector<uint32_t> all(n);
  std::iota(all.begin(), all.end(), 0u);
  if (opt.shuffle) all = shuffled(all, opt.shuffle_seed);
  if (classes && opt.stratify) {
    const int32_t nc = *std::max_element(classes->begin(), classes->end()) + 1;
    std::vector<std::vector<uint32_t>> by_class(nc);
    for (uint32_t r : all) by_class[(*classes)[r]].push_back(r);
    int64_t next = 0;
    for (const auto& rows : by_class)
      for (uint32_t r : rows) fold[r] = static_cast<int32_t>(next++ % opt.folds);
    return fold;
  }
  std::size_t pos = 0;
  for (int32_t f = 0; f < opt.folds; ++f) {
    const std::size_t size = n / opt.folds + (static_cast<std::size_t>(f) < n % opt.folds ? 1 : 0);
    for (std::size_t i = 0; i < size; ++i) fold[all[pos++]] = f;
  }
  return fold;
}

EvalSet make_eval_set(const TrainingData& data, const std::vector<uint8_t>& rows) {
  const Dataset& d = *data.dataset;
  EvalSet e;
  for (std::size_t r = 0; r < data.n_rows(); ++r)
    if (rows.empty() || rows[r]) e.rows.push_back(static_cast<uint32_t>(r));
  const std::size_t n = e.rows.size();
  e.columns.assign(d.n_features(), std::vector<float>(n));
#pragma omp parallel for schedule(static) if (n * e.columns.size() >= 1000000)
  for (std::size_t f = 0; f < e.columns.size(); ++f)
    for (std::size_t i = 0; i < n; ++i) e.columns[f][i] = d.columns[f][e.rows[i]];
  for (const auto& c : e.columns) e.column_ptrs.push_back(c.data());
  if (data.task == Task::kClassification) {
    for (uint32_t r : e.rows) e.class_id.push_back(data.class_id[r]);
  } else {
    for (uint32_t r : e.rows) e.y.push_back(data.y[r]);
  }
  if (!d.sample_weight.empty())
    for (uint32_t r : e.rows) e.weight.push_back(d.sample_weight[r]);
  return e;
}

MetricList evaluate_forest(const TrainingData& data, const EvalSet& e, const ForestNodes& forest,
                           const TreeBackend& backend, ClassificationMetrics* detail) {
  const std::size_t n = e.rows.size();
  std::vector<double> pred(n * forest.n_outputs);
  backend.predict(forest, ColumnsView{e.column_ptrs.data(), n, e.column_ptrs.size()}, 0, forest.n_trees(),
                  pred.data());
  if (data.task == Task::kClassification) {
    ClassificationMetrics m = classification_metrics(e.class_id, pred, forest.n_outputs, e.weight);
    if (detail) *detail = m;
    return metric_list(m);
  }
  return metric_list(regression_metrics(e.y, pred, e.weight));
}

MetricList evaluate_forest(const TrainingData& data, const ForestNodes& forest, const std::vector<uint8_t>& rows,
                           const TreeBackend& backend, ClassificationMetrics* detail) {
  return evaluate_forest(data, make_eval_set(data, rows), forest, backend, detail);
}

void summarise_folds(CvResult& r) {
  r.mean.clear();
  r.std.clear();
  if (r.per_fold.empty()) return;
  for (std::size_t m = 0; m < r.per_fold[0].size(); ++m) {
    double sum = 0;
    for (const auto& f : r.per_fold) sum += f[m].second;
    const double mean = sum / static_cast<double>(r.per_fold.size());
    double var = 0;
    for (const auto& f : r.per_fold) var += (f[m].second - mean) * (f[m].second - mean);
    r.mean.push_back({r.per_fold[0][m].first, mean});
    r.std.push_back({r.per_fold[0][m].first, std::sqrt(var / static_cast<double>(r.per_fold.size()))});
  }
}

std::vector<ForestRequest> fold_requests(const ForestParams& params, const std::vector<int32_t>& folds,
                                         int32_t k) {
  std::vector<ForestRequest> requests(k);
  for (int32_t f = 0; f < k; ++f) {
    requests[f].params = params;
    requests[f].train_mask.resize(folds.size());
    for (std::size_t r = 0; r < folds.size(); ++r) requests[f].train_mask[r] = folds[r] != f;
  }
  return requests;
}

CvResult score_folds(const TrainingData& data, const std::vector<TrainedForest>& forests,
                     const std::vector<int32_t>& folds, int32_t k, const TreeBackend& backend) {
  CvResult result;
  result.folds = k;
  result.per_fold.resize(k);
  std::vector<EvalSet> sets(k);
  for (int32_t f = 0; f < k; ++f) {
    std::vector<uint8_t> held_out(folds.size());
    for (std::size_t r = 0; r < folds.size(); ++r) held_out[r] = folds[r] == f;
    sets[f] = make_eval_set(data, held_out);
  }
  parallel_evaluations(static_cast<std::size_t>(k), [&](std::size_t f) {
    result.per_fold[f] = evaluate_forest(data, sets[f], forests[f].nodes, backend);
  });
  summarise_folds(result);
  return result;
}

CvResult cross_validate(const TrainingData& data, const ForestParams& params, const FoldOptions& opt,
                        TreeBackend& backend, const ProgressFn& progress) {
  const auto folds = assign_folds(data.n_rows(), opt,
                                  data.task == Task::kClassification ? &data.class_id : nullptr);
  const auto forests = train_forests(data, fold_requests(params, folds, opt.folds), backend, progress);
  return score_folds(data, forests, folds, opt.folds, backend);
}

}  // namespace canopy
