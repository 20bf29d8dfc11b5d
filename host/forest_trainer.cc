#include "host/forest_trainer.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "host/grower.h"
#include "host/metrics.h"
#include "kernels/device.h"
#include "kernels/phase_profile.h"
#include "kernels/predict.h"
#include "kernels/row_sample.h"

namespace canopy {

namespace {

// Host memory a batch's per-job row data may take: a quarter of physical
// memory, at least 3 GiB.
std::size_t host_batch_budget() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const std::size_t phys = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
  return std::max<std::size_t>(std::size_t(3) << 30, phys / 4);
}

// The labels a group of trees grows on: the data's classes (joint forests,
// regression), or one class against the rest (one-vs-rest: label 1 = the class).
struct LabelView {
  const int32_t* class_id = nullptr;  // null for regression
  int32_t n_classes = 0;              // 0 for regression
  bool one_vs_rest = false;
};

LabelView joint_view(const TrainingData& data) {
  return {data.class_id.empty() ? nullptr : data.class_id.data(), data.n_classes, false};
}

// Whether a forest grows one tree per class (multi_class=ovr with 3+ classes).
bool grows_one_vs_rest(const TrainingData& data, const ForestParams& p) {
  return p.trees_per_member(data.task, data.n_classes) > 1;
}

struct RequestInfo {
  std::vector<uint32_t> train_rows;    // training rows with positive weight
  int64_t n_train = 0;
  GrowLimits limits;
  int32_t features_per_node = 1;
};

// Integer class weights n / (C * n_c), scaled so the largest is kWeightQuantum.
std::vector<int64_t> balanced_quantum(const std::vector<double>& class_counts) {
  const double c = static_cast<double>(class_counts.size());
  double total = 0, max_w = 0;
  for (double n : class_counts) total += n;
  std::vector<double> w(class_counts.size(), 0);
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = class_counts[i] > 0 ? total / (c * class_counts[i]) : 0;
    max_w = std::max(max_w, w[i]);
  }
  std::vector<int64_t> q(w.size(), 0);
  for (std::size_t i = 0; i < w.size(); ++i)
    q[i] = w[i] > 0 ? std::max<int64_t>(1, std::llround(w[i] / max_w * kWeightQuantum)) : 0;
  return q;
}

RequestInfo request_info(const TrainingData& data, const ForestRequest& req) {
  RequestInfo info;
  const std::size_t n = data.n_rows();
  for (std::size_t r = 0; r < n; ++r) {
    if (!req.train_mask.empty() && !req.train_mask[r]) continue;
    if (!data.row_quantum.empty() && data.row_quantum[r] == 0) continue;
    info.train_rows.push_back(static_cast<uint32_t>(r));
  }
  info.n_train = static_cast<int64_t>(info.train_rows.size());
  if (info.n_train == 0) throw DataError("no training rows with positive weight");
  const ForestParams& p = req.params;
  info.limits.max_depth = p.max_depth;
  info.limits.min_samples_split = p.min_samples_split_count(info.n_train);
  info.limits.min_samples_leaf = p.min_samples_leaf_count(info.n_train);
  info.limits.min_impurity_decrease = p.min_impurity_decrease;
  info.limits.gain_unit = data.task == Task::kRegression ? data.y_scale * data.y_scale : 1.0;
  info.features_per_node = p.features_per_node(data.task, static_cast<int32_t>(data.n_features()));
  return info;
}

// A tree's rows: the request's training rows, bootstrapped or not.
RowSample request_sample(const ForestParams& p, const RequestInfo& info) {
  return RowSample{&info.train_rows, p.bootstrap ? p.draws(info.n_train) : 0};
}

// class_weight=balanced: integer class weights of the request's training rows
// under `view`'s labels (fixed for every tree of that view); empty otherwise.
std::vector<int64_t> balanced_class_quantum(const LabelView& view, const ForestParams& p, const RequestInfo& info) {
  if (p.class_weight != "balanced") return {};
  std::vector<double> counts(view.n_classes, 0);
  for (uint32_t r : info.train_rows) counts[view.class_id[r]] += 1;
  return balanced_quantum(counts);
}

JobSpec make_job(const TrainingData& data, const LabelView& view, const ForestRequest& req, const RequestInfo& info,
                 const std::vector<int64_t>& balanced, uint32_t tree) {
  const ForestParams& p = req.params;
  JobSpec job;
  job.seed = p.seed;
  job.tree_index = tree;
  job.features_per_node = info.features_per_node;
  job.min_samples_leaf = info.limits.min_samples_leaf;
  job.criterion = p.criterion;
  job.sample = request_sample(p, info);
  // The backend materialises the sample (on the device for CUDA) unless the
  // host needs the multiplicities itself: per-tree class weights.
  if (p.class_weight == "balanced") {
    job.class_quantum = balanced;
  } else if (p.class_weight == "balanced_subsample") {
    job.multiplicity = sample_multiplicity(job.sample, p.seed, tree, data.n_rows());
    std::vector<double> counts(view.n_classes, 0);
    for (std::size_t r = 0; r < job.multiplicity.size(); ++r) counts[view.class_id[r]] += job.multiplicity[r];
    job.class_quantum = balanced_quantum(counts);
  }
  return job;
}

// Writes tree t's nodes into f at node index `at` (f already sized).
void write_tree(const TrainingData& data, const StatsLayout& lay, const GrownTree& t, ForestNodes& f, std::size_t at) {
  const int32_t k = lay.n_channels;
  const int32_t nv = f.values_per_node();
  const int32_t first = f.one_vs_rest ? 1 : 0;  // one-vs-rest: the fraction of label 1, the tree's class
  const double unit = data.row_quantum.empty() ? 1.0 : 1.0 / data.weight_scale;
  for (std::size_t i = 0; i < t.n_nodes(); ++i) {
    const std::size_t o = at + i;
    const int64_t* s = &t.stats[i * k];
    const int32_t feat = t.feature[i];
    f.feature[o] = feat;
    f.threshold[o] = feat >= 0 ? data.cuts.threshold(feat, t.bin[i]) : 0.0f;
    f.left_child[o] = t.left_child[i];
    f.default_left[o] = t.default_left[i];
    f.n_samples[o] = lay.count(s);
    const double w = static_cast<double>(lay.weight(s));
    f.weight[o] = lay.count_channel >= 0 ? w * unit : w;
    float* v = &f.value[o * nv];
    if (lay.regression()) {
      v[0] = static_cast<float>(static_cast<double>(s[1]) / w / data.y_scale + data.y_center);
    } else {
      for (int32_t c = 0; c < nv; ++c) v[c] = static_cast<float>(static_cast<double>(s[first + c]) / w);
    }
  }
}

// The trees' nodes, back to back in tree order (trees written in parallel).
void assemble_forest(const TrainingData& data, const StatsLayout& lay, const std::vector<GrownTree>& trees,
                     ForestNodes& f) {
  f.tree_offsets.assign(1, 0);
  for (const GrownTree& t : trees) f.tree_offsets.push_back(f.tree_offsets.back() + static_cast<int64_t>(t.n_nodes()));
  const std::size_t n = static_cast<std::size_t>(f.tree_offsets.back());
  f.feature.resize(n);
  f.threshold.resize(n);
  f.left_child.resize(n);
  f.default_left.resize(n);
  f.n_samples.resize(n);
  f.weight.resize(n);
  f.value.resize(n * static_cast<std::size_t>(f.values_per_node()));
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t i = 0; i < trees.size(); ++i)
    write_tree(data, lay, trees[i], f, static_cast<std::size_t>(f.tree_offsets[i]));
}

// Out-of-bag sums of a forest: per row, the leaf values of the trees that did
// not see the row (add_leaf), and how many such trees there were (per class for
// a one-vs-rest forest).
struct OobSums {
  int32_t n_outputs = 1;
  bool one_vs_rest = false;
  std::vector<double> acc;   // n_rows x n_outputs
  std::vector<int32_t> cnt;  // n_rows, or n_rows x n_outputs (one-vs-rest)

  // Writes row r's out-of-bag outputs to o; false when no tree left r out.
  bool row_output(std::size_t r, double* o) const {
    const int32_t no = n_outputs;
    if (one_vs_rest) {
      const int32_t* c = &cnt[r * no];
      if (std::all_of(c, c + no, [](int32_t v) { return v == 0; })) return false;
      std::copy(&acc[r * no], &acc[r * no] + no, o);
      finish_one_vs_rest(o, no, [&](int32_t k) { return static_cast<int64_t>(c[k]); });
      return true;
    }
    if (cnt[r] == 0) return false;
    for (int32_t k = 0; k < no; ++k) o[k] = acc[r * no + k] / cnt[r];
    return true;
  }
};

// Score of the out-of-bag predictions over the rows seen out of bag at least
// once: accuracy (classification) or R^2 (regression). NaN if none.
double oob_metric(const TrainingData& data, const OobSums& sums, int64_t& rows) {
  const int32_t no = data.n_outputs();
  const Dataset& d = *data.dataset;
  std::vector<double> proba, y_pred, y_true, weight, row(no);
  std::vector<int32_t> cls;
  for (std::size_t r = 0; r < data.n_rows(); ++r) {
    if (!sums.row_output(r, row.data())) continue;
    if (data.task == Task::kClassification) {
      cls.push_back(data.class_id[r]);
      proba.insert(proba.end(), row.begin(), row.end());
    } else {
      y_true.push_back(data.y[r]);
      y_pred.push_back(row[0]);
    }
    if (!d.sample_weight.empty()) weight.push_back(d.sample_weight[r]);
  }
  rows = static_cast<int64_t>(data.task == Task::kClassification ? cls.size() : y_true.size());
  if (rows == 0) return std::numeric_limits<double>::quiet_NaN();
  if (data.task == Task::kClassification) return accuracy_score(cls, proba, no, weight);
  return regression_metrics(y_true, y_pred, weight).r2;
}

// Out-of-bag predictions and score, plus the score after every tenth of the
// forest's members (a stepped metric: how the forest improves with more trees).
// Host memory the in-bag flags of a chunk of trees may take (n_rows bytes a tree).
constexpr std::size_t kOobBagBytes = std::size_t(256) << 20;

void compute_oob(const TrainingData& data, const ForestRequest& req, const RequestInfo& info, TrainedForest& out) {
  const std::size_t n = data.n_rows();
  const Dataset& d = *data.dataset;
  std::vector<const float*> cols(d.n_features());
  for (std::size_t f = 0; f < cols.size(); ++f) cols[f] = d.columns[f].data();
  const ForestNodes& forest = out.nodes;
  OobSums sums;
  sums.n_outputs = forest.n_outputs;
  sums.one_vs_rest = forest.one_vs_rest;
  const int32_t no = forest.n_outputs, nv = forest.values_per_node();
  const int64_t per_member = forest.one_vs_rest ? no : 1;  // trees per forest member
  const int64_t n_members = static_cast<int64_t>(forest.n_trees()) / per_member;
  sums.acc.assign(n * no, 0.0);
  sums.cnt.assign(n * per_member, 0);
  // Which rows each tree drew is recomputed from the RNG (row_sample.h), a
  // chunk of trees at a time, so memory stays bounded for any number of trees.
  const RowSample sample = request_sample(req.params, info);
  const int64_t chunk = static_cast<int64_t>(std::max<std::size_t>(1, kOobBagBytes / std::max<std::size_t>(1, n)));
  std::vector<std::vector<uint8_t>> in_bag;
  int64_t done = 0;
  for (int64_t step = 1; step <= 10 && done < n_members; ++step) {
    const int64_t upto = std::max(done + 1, (n_members * step + 9) / 10);
    for (int64_t t0 = done * per_member; t0 < upto * per_member; t0 += chunk) {
      const int64_t t1 = std::min(upto * per_member, t0 + chunk);
      in_bag.resize(static_cast<std::size_t>(t1 - t0));
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t t = t0; t < t1; ++t) {
        const std::vector<uint32_t> m = sample_multiplicity(sample, req.params.seed, static_cast<uint32_t>(t), n);
        std::vector<uint8_t>& bag = in_bag[t - t0];
        bag.resize(n);
        for (std::size_t r = 0; r < n; ++r) bag[r] = m[r] > 0;
      }
      // Each row adds its out-of-bag trees in tree order, as predict does.
#pragma omp parallel for schedule(dynamic, 256)
      for (std::size_t r = 0; r < n; ++r) {
        if (!req.train_mask.empty() && !req.train_mask[r]) continue;
        auto row = [&](int32_t f) { return cols[f][r]; };
        for (int64_t t = t0; t < t1; ++t) {
          if (in_bag[t - t0][r]) continue;
          const int64_t base = forest.tree_offsets[t];
          const int64_t leaf = base + find_leaf(forest.feature.data() + base, forest.threshold.data() + base,
                                                forest.left_child.data() + base, forest.default_left.data() + base, row);
          add_leaf(&sums.acc[r * no], &forest.value[leaf * nv], no, forest.one_vs_rest, t);
          ++sums.cnt[r * per_member + t % per_member];
        }
      }
    }
    done = upto;
    out.oob_score = oob_metric(data, sums, out.oob_rows);
    out.oob_score_by_trees.push_back({done, out.oob_score});
  }
  out.oob_prediction.assign(n * no, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> row(no);
  for (std::size_t r = 0; r < n; ++r)
    if (sums.row_output(r, row.data())) std::copy(row.begin(), row.end(), &out.oob_prediction[r * no]);
}

}  // namespace

int64_t forest_tree_count(const TrainingData& data, const ForestParams& p) {
  return p.n_estimators * p.trees_per_member(data.task, data.n_classes);
}

std::vector<TrainedForest> train_forests(const TrainingData& data, const std::vector<ForestRequest>& requests,
                                         TreeBackend& backend, const ProgressFn& progress) {
  const bool weighted = !data.row_quantum.empty() ||
                        std::any_of(requests.begin(), requests.end(),
                                    [](const ForestRequest& r) { return r.params.class_weight != "none"; });
  const bool classification = data.task == Task::kClassification;
  std::vector<uint8_t> ovr(requests.size());
  for (std::size_t q = 0; q < requests.size(); ++q) ovr[q] = grows_one_vs_rest(data, requests[q].params);
  const StatsLayout joint_layout = StatsLayout::make(classification ? data.n_classes : 0, weighted);
  const StatsLayout ovr_layout = StatsLayout::make(2, weighted);

  // Forest q's tree i grows on view -1 (the data's labels) or, one-vs-rest, on
  // view i % C (that class against the rest). Its index i also keys its RNG.
  std::vector<std::vector<GrownTree>> grown(requests.size());
  std::vector<RequestInfo> infos;
  int64_t total_trees = 0;
  for (std::size_t q = 0; q < requests.size(); ++q) {
    infos.push_back(request_info(data, requests[q]));
    grown[q].resize(forest_tree_count(data, requests[q].params));
    total_trees += static_cast<int64_t>(grown[q].size());
  }

  // Batch size: what the backend asks for, bounded by host memory (about 12
  // bytes per row per job while a batch is alive: multiplicities and entries).
  // A batch that meets DeviceMemoryError is grown again as two halves, and
  // the later batches keep the smaller size; one tree that does not fit ends
  // the run. The trees do not depend on the batches.
  const std::size_t by_memory = std::max<std::size_t>(1, host_batch_budget() / (12 * std::max<std::size_t>(1, data.n_rows())));
  std::size_t batch_size = std::max<std::size_t>(1, std::min(backend.batch_jobs(data.bins), by_memory));

  PhaseProfile profile("train_forests");
  int64_t trees_done = 0;
  std::vector<int32_t> binary_class_id;
  const bool any_ovr = std::find(ovr.begin(), ovr.end(), 1) != ovr.end();
  const int32_t last_view = any_ovr ? data.n_classes - 1 : -1;
  for (int32_t v = -1; v <= last_view; ++v) {
    LabelView view = joint_view(data);
    if (v >= 0) {
      binary_class_id.resize(data.n_rows());
      for (std::size_t r = 0; r < binary_class_id.size(); ++r) binary_class_id[r] = data.class_id[r] == v;
      view = {binary_class_id.data(), 2, true};
    }
    struct TreeRef {
      std::size_t request;
      uint32_t tree;
    };
    std::vector<TreeRef> all;
    std::vector<std::vector<int64_t>> balanced(requests.size());
    for (std::size_t q = 0; q < requests.size(); ++q) {
      if (static_cast<bool>(ovr[q]) != (v >= 0)) continue;
      balanced[q] = balanced_class_quantum(view, requests[q].params, infos[q]);
      const int64_t n = static_cast<int64_t>(grown[q].size());
      for (int64_t t = v >= 0 ? v : 0; t < n; t += v >= 0 ? data.n_classes : 1)
        all.push_back({q, static_cast<uint32_t>(t)});
    }
    if (all.empty()) continue;
    BatchData batch;
    batch.bins = &data.bins;
    batch.cuts = &data.cuts;
    batch.layout = view.one_vs_rest ? ovr_layout : joint_layout;
    batch.class_id = view.class_id;
    batch.y_fixed = data.y_fixed.empty() ? nullptr : data.y_fixed.data();
    batch.row_quantum = data.row_quantum.empty() ? nullptr : data.row_quantum.data();
    for (std::size_t b0 = 0; b0 < all.size();) {
      auto t = profile.now();
      const std::size_t b1 = std::min(all.size(), b0 + batch_size);
      std::vector<JobSpec> jobs(b1 - b0);
      std::vector<GrowLimits> limits(b1 - b0);
#pragma omp parallel for schedule(dynamic, 1)
      for (std::size_t i = b0; i < b1; ++i) {
        const TreeRef& ref = all[i];
        jobs[i - b0] =
            make_job(data, view, requests[ref.request], infos[ref.request], balanced[ref.request], ref.tree);
        limits[i - b0] = infos[ref.request].limits;
      }
      t = profile.add("jobs", t);
      std::vector<GrownTree> out;
      try {
        grow_batch(backend, batch, jobs, limits, out);
      } catch (const DeviceMemoryError& e) {
        if (b1 - b0 == 1) throw DeviceMemoryError(std::string(e.what()) + " (growing one tree at a time)");
        batch_size = (b1 - b0) / 2;  // the same trees again, in smaller batches
        profile.add("grow (out of device memory)", t);
        continue;
      }
      profile.add("grow", t);
      for (std::size_t i = b0; i < b1; ++i) grown[all[i].request][all[i].tree] = std::move(out[i - b0]);
      trees_done += static_cast<int64_t>(b1 - b0);
      if (progress) progress(trees_done, total_trees);
      b0 = b1;
    }
  }

  std::vector<TrainedForest> result(requests.size());
  const std::size_t nf = data.n_features();
  for (std::size_t q = 0; q < requests.size(); ++q) {
    TrainedForest& tf = result[q];
    tf.nodes.n_outputs = data.n_outputs();
    tf.nodes.one_vs_rest = ovr[q];
    tf.importances.assign(nf, 0.0);
    assemble_forest(data, ovr[q] ? ovr_layout : joint_layout, grown[q], tf.nodes);
    for (const GrownTree& t : grown[q]) {
      double sum = 0;
      for (double v : t.importance) sum += v;
      if (sum > 0)
        for (std::size_t f = 0; f < nf; ++f) tf.importances[f] += t.importance[f] / sum;
    }
    double total = 0;
    for (double v : tf.importances) total += v;
    if (total > 0)
      for (double& v : tf.importances) v /= total;
    std::vector<GrownTree>().swap(grown[q]);
    if (requests[q].params.oob_score) compute_oob(data, requests[q], infos[q], tf);
  }
  return result;
}

}  // namespace canopy
