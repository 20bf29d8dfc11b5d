#include "host/sweep.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "host/cli_common.h"
#include "host/metrics.h"
#include "kernels/rng.h"

namespace canopy {
namespace {

// Rows ordered by a counter-based key (the same construction as the
// cross-validation shuffle; `word` separates the uses).
std::vector<uint32_t> keyed_order(std::size_t n, uint64_t seed, uint32_t word) {
  std::vector<std::pair<uint64_t, uint32_t>> keyed(n);
  for (std::size_t i = 0; i < n; ++i) {
    Philox4 w = philox(seed, kStreamFolds, static_cast<uint32_t>(i), word, 0);
    keyed[i] = {(static_cast<uint64_t>(w.v[0]) << 32) | w.v[1], static_cast<uint32_t>(i)};
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<uint32_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = keyed[i].second;
  return out;
}

}  // namespace

std::string ValidationSpec::describe() const {
  switch (mode) {
    case ValidationMode::kOob:
      return "out-of-bag validation: no per-fold refits";
    case ValidationMode::kHoldout: {
      char buf[96];
      std::snprintf(buf, sizeof buf, "holdout validation (%.3g of the rows held out, seed %llu)", holdout,
                    static_cast<unsigned long long>(shuffle_seed));
      return buf;
    }
    default:
      return std::to_string(folds) + "-fold cross-validation" +
             (shuffle ? " (shuffled, seed " + std::to_string(shuffle_seed) + ")" : "");
  }
}

MetricList oob_metrics(const TrainingData& data, const TrainedForest& f, const std::vector<uint8_t>& rows) {
  const int32_t no = data.n_outputs();
  const Dataset& d = *data.dataset;
  std::vector<double> proba, y_pred, y_true, weight;
  std::vector<int32_t> cls;
  for (std::size_t r = 0; r < data.n_rows(); ++r) {
    if (!rows.empty() && !rows[r]) continue;
    if (f.oob_prediction.size() < (r + 1) * no || std::isnan(f.oob_prediction[r * no])) continue;
    if (data.task == Task::kClassification) {
      cls.push_back(data.class_id[r]);
      proba.insert(proba.end(), &f.oob_prediction[r * no], &f.oob_prediction[r * no] + no);
    } else {
      y_true.push_back(data.y[r]);
      y_pred.push_back(f.oob_prediction[r]);
    }
    if (!d.sample_weight.empty()) weight.push_back(d.sample_weight[r]);
  }
  if (cls.empty() && y_true.empty())
    throw std::runtime_error("no row has an out-of-bag prediction (too few trees for --oob)");
  if (data.task == Task::kClassification) return metric_list(classification_metrics(cls, proba, no, weight));
  return metric_list(regression_metrics(y_true, y_pred, weight));
}

SweepEngine::SweepEngine(const Dataset& d, TaskChoice choice, Task task, const ValidationSpec& v,
                         TreeBackend& backend)
    : d_(d), choice_(choice), task_(task), v_(v), backend_(backend) {
  if (v_.mode == ValidationMode::kHoldout && !(v_.holdout > 0 && v_.holdout < 1))
    throw ParamError("invalid value for --holdout: expected a fraction in (0, 1)");
}

const TrainingData& SweepEngine::data(int32_t max_bins) {
  auto it = data_.find(max_bins);
  if (it != data_.end()) return *it->second;
  auto td = std::make_unique<TrainingData>(prepare_training_data(d_, choice_, max_bins, &backend_));
  if (split_of_row_.empty()) {
    const std::size_t n = td->n_rows();
    const std::vector<int32_t>* classes = task_ == Task::kClassification ? &td->class_id : nullptr;
    if (v_.mode == ValidationMode::kKFold) {
      FoldOptions fo;
      fo.folds = v_.folds;
      fo.shuffle = v_.shuffle;
      fo.shuffle_seed = v_.shuffle_seed;
      split_of_row_ = assign_folds(n, fo, classes);
    } else if (v_.mode == ValidationMode::kHoldout) {
      // Held-out rows: the first round(holdout * n_c) rows of each class in a
      // seeded order (stratified), or of all rows for regression.
      split_of_row_.assign(n, 0);
      const std::vector<uint32_t> order = keyed_order(n, v_.shuffle_seed, 0);
      const int32_t groups = classes ? td->n_classes : 1;
      std::vector<std::vector<uint32_t>> by(groups);
      for (uint32_t r : order) by[classes ? (*classes)[r] : 0].push_back(r);
      std::size_t held = 0;
      for (const auto& rows : by) {
        const std::size_t k = static_cast<std::size_t>(std::llround(v_.holdout * static_cast<double>(rows.size())));
        for (std::size_t i = 0; i < k && i < rows.size(); ++i) split_of_row_[rows[i]] = 1, ++held;
      }
      if (held == 0 || held == n)
        throw ParamError("--holdout " + std::to_string(v_.holdout) + " leaves no " +
                         (held == 0 ? "held-out" : "training") + " rows in " + std::to_string(n) + " rows");
    } else {
      split_of_row_.assign(n, 0);
    }
    row_order_ = keyed_order(n, v_.shuffle_seed, 1);
  }
  return *data_.emplace(max_bins, std::move(td)).first->second;
}

ForestParams SweepEngine::params_of(const SweepUnit& u) const {
  ParamValues v = u.values;
  if (v_.mode == ValidationMode::kOob) v["oob_score"] = "true";
  return resolve_params(v, task_);
}

std::vector<uint8_t> SweepEngine::train_mask(int32_t split, int64_t row_limit) const {
  const std::size_t n = split_of_row_.size();
  std::vector<uint8_t> m;
  if (v_.mode == ValidationMode::kKFold) {
    m.resize(n);
    for (std::size_t r = 0; r < n; ++r) m[r] = split_of_row_[r] != split;
  } else if (v_.mode == ValidationMode::kHoldout) {
    m.resize(n);
    for (std::size_t r = 0; r < n; ++r) m[r] = split_of_row_[r] == 0;
  }
  if (row_limit > 0 && static_cast<std::size_t>(row_limit) < n) {
    std::vector<uint8_t> subset(n, 0);
    for (int64_t i = 0; i < row_limit; ++i) subset[row_order_[i]] = 1;
    if (m.empty()) return subset;
    for (std::size_t r = 0; r < n; ++r) m[r] = m[r] && subset[r];
  }
  return m;
}

std::vector<uint8_t> SweepEngine::held_out(int32_t split) const {
  const std::size_t n = split_of_row_.size();
  std::vector<uint8_t> h(n);
  if (v_.mode == ValidationMode::kKFold)
    for (std::size_t r = 0; r < n; ++r) h[r] = split_of_row_[r] == split;
  else
    for (std::size_t r = 0; r < n; ++r) h[r] = split_of_row_[r] == 1;
  return h;
}

std::string SweepEngine::check(const SweepUnit& u) {
  try {
    const ForestParams p = params_of(u);
    const TrainingData& td = data(p.max_bins);
    (void)p.features_per_node(task_, static_cast<int32_t>(td.n_features()));
    for (int32_t s = 0; s < v_.n_splits(); ++s) {
      const std::vector<uint8_t> m = train_mask(s, u.row_limit);
      int64_t n_train = 0;
      for (std::size_t r = 0; r < td.n_rows(); ++r)
        n_train += (m.empty() || m[r]) && (td.row_quantum.empty() || td.row_quantum[r] != 0);
      if (n_train == 0) return "no training rows with positive weight";
      (void)p.draws(n_train);
    }
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

void SweepEngine::train_group(const TrainingData& td, const std::vector<std::size_t>& idx,
                              const std::vector<SweepUnit>& units, std::vector<UnitResult>& out,
                              const ProgressFn& progress) {
  const int32_t ns = v_.n_splits();
  std::vector<ForestRequest> requests;
  int64_t total_trees = 0;
  for (std::size_t i : idx) {
    const ForestParams p = params_of(units[i]);
    for (int32_t s = 0; s < ns; ++s) requests.push_back(ForestRequest{p, train_mask(s, units[i].row_limit)});
    out[i].trees = forest_tree_count(td, p) * ns;
    total_trees += out[i].trees;
  }
  std::vector<TrainedForest> forests;
  const auto t0 = Clock::now();
  try {
    forests = train_forests(td, requests, backend_, progress);
  } catch (const std::exception& e) {
    if (idx.size() == 1) {
      out[idx[0]].ok = false;
      out[idx[0]].error = e.what();
      return;
    }
    // Isolate the failure: one call per unit.
    for (std::size_t i : idx) train_group(td, {i}, units, out, {});
    return;
  }
  const double secs = seconds_since(t0);
  train_seconds_ += secs;
  trees_trained_ += total_trees;
  requests.clear();

  // Scores: every (unit, split) pair independently, in parallel; the held-out
  // rows of each split are gathered once for all units (eval_set).
  struct PairScore {
    MetricList metrics;
    double seconds = 0;
    std::string error;
  };
  std::vector<PairScore> scores(idx.size() * ns);
  if (v_.mode != ValidationMode::kOob)
    for (int32_t s = 0; s < ns; ++s) (void)eval_set(td, s);
  parallel_evaluations(scores.size(), [&](std::size_t q) {
    const std::size_t k = q / ns;
    const int32_t s = static_cast<int32_t>(q % ns);
    TrainedForest& f = forests[q];
    PairScore& sc = scores[q];
    const auto ts = Clock::now();
    try {
      sc.metrics = v_.mode == ValidationMode::kOob ? oob_metrics(td, f, train_mask(s, units[idx[k]].row_limit))
                                                   : evaluate_forest(td, eval_set(td, s), f.nodes, backend_);
    } catch (const std::exception& e) {
      sc.error = e.what();
    }
    sc.seconds = seconds_since(ts);
    f = TrainedForest();  // free the trees as soon as they are scored
  });
  for (std::size_t k = 0; k < idx.size(); ++k) {
    UnitResult& r = out[idx[k]];
    const PairScore* failed = nullptr;
    CvResult cv;
    cv.folds = ns;
    for (int32_t s = 0; s < ns; ++s) {
      const PairScore& sc = scores[k * ns + s];
      if (!sc.error.empty() && !failed) failed = &sc;
      cv.per_fold.push_back(sc.metrics);
      r.score_seconds.push_back(sc.seconds);
    }
    if (failed) {
      const int64_t trees = r.trees;
      r = UnitResult();
      r.trees = trees;
      r.error = failed->error;
      continue;
    }
    summarise_folds(cv);
    r.per_split = std::move(cv.per_fold);
    r.mean = std::move(cv.mean);
    r.std = std::move(cv.std);
    r.fit_seconds = total_trees > 0 ? secs * static_cast<double>(r.trees) / static_cast<double>(total_trees) : 0;
    r.ok = true;
  }
}

const EvalSet& SweepEngine::eval_set(const TrainingData& td, int32_t split) {
  if (eval_sets_.size() < static_cast<std::size_t>(v_.n_splits())) eval_sets_.resize(v_.n_splits());
  auto& slot = eval_sets_[split];
  if (!slot) slot = std::make_unique<EvalSet>(make_eval_set(td, held_out(split)));
  return *slot;
}

std::vector<UnitResult> SweepEngine::evaluate(const std::vector<SweepUnit>& units, const ProgressFn& progress) {
  std::vector<UnitResult> out(units.size());
  // Groups: same max_bins (one TrainingData) and same statistics layout
  // (class weights add a weight channel), so every model equals the one a
  // plain `canopy cv` of the same parameters trains.
  std::map<std::pair<int32_t, bool>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < units.size(); ++i) {
    const std::string err = check(units[i]);
    if (!err.empty()) {
      out[i].error = err;
      continue;
    }
    const ForestParams p = params_of(units[i]);
    groups[{p.max_bins, p.class_weight != "none"}].push_back(i);
  }
  int64_t all_trees = 0, done_before = 0;
  for (const auto& [key, idx] : groups)
    for (std::size_t i : idx) all_trees += params_of(units[i]).n_estimators * v_.n_splits();
  for (const auto& [key, idx] : groups) {
    int64_t group_trees = 0;
    for (std::size_t i : idx) group_trees += params_of(units[i]).n_estimators * v_.n_splits();
    ProgressFn p;
    if (progress)
      p = [&, done_before](int64_t done, int64_t) { progress(done_before + done, all_trees); };
    train_group(data(key.first), idx, units, out, p);
    done_before += group_trees;
  }
  return out;
}

TrainedForest SweepEngine::refit(const SweepUnit& u, const TrainingData** used) {
  const ForestParams p = params_of(u);
  const TrainingData& td = data(p.max_bins);
  if (used) *used = &td;
  auto f = train_forests(td, {ForestRequest{p, {}}}, backend_);
  return std::move(f[0]);
}

}  // namespace canopy
