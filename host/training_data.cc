#include "host/training_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "io/hash.h"
#include "io/quantile_cuts.h"

namespace canopy {

std::string numeric_label_text(double v) {
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {  // integers as integers: "10", not "1e+01"
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Shortest text that reads back as the same double.
  for (int p = 1; p <= 17; ++p) {
    char s[64];
    std::snprintf(s, sizeof s, "%.*g", p, v);
    if (std::strtod(s, nullptr) == v) return s;
  }
  return buf;
}

Task infer_task(const Dataset& d) {
  if (d.label_is_text()) return Task::kClassification;
  std::set<double> distinct;
  for (double v : d.label_numeric) {
    if (v != std::floor(v)) return Task::kRegression;
    distinct.insert(v);
    if (distinct.size() > 50) return Task::kRegression;
  }
  return Task::kClassification;
}

std::vector<int32_t> encode_classes(const Dataset& d, const std::vector<std::string>& labels) {
  std::map<std::string, int32_t> index;
  for (std::size_t c = 0; c < labels.size(); ++c) index[labels[c]] = static_cast<int32_t>(c);
  const std::size_t n = d.n_rows();
  std::vector<int32_t> out(n);
  auto unknown = [&](std::size_t r, const std::string& key) {
    return DataError(d.source + ": row " + std::to_string(r + 1) + ": label \"" + key +
                     "\" is not one of the model's classes");
  };
  if (d.label_is_text()) {
    for (std::size_t r = 0; r < n; ++r) {
      auto it = index.find(d.label_text[r]);
      if (it == index.end()) throw unknown(r, d.label_text[r]);
      out[r] = it->second;
    }
    return out;
  }
  // Numeric labels: format each distinct value once, then look rows up by value.
  std::vector<double> distinct(d.label_numeric);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::vector<int32_t> class_of(distinct.size(), -1);
  for (std::size_t i = 0; i < distinct.size(); ++i) {
    auto it = index.find(numeric_label_text(distinct[i]));
    if (it != index.end()) class_of[i] = it->second;
  }
  for (std::size_t r = 0; r < n; ++r) {
    const double v = d.label_numeric[r];
    const int32_t c = class_of[std::lower_bound(distinct.begin(), distinct.end(), v) - distinct.begin()];
    if (c < 0) throw unknown(r, numeric_label_text(v));
    out[r] = c;
  }
  return out;
}

namespace {

void encode_labels(const Dataset& d, TrainingData& t) {
  const std::size_t n = d.n_rows();
  if (t.task == Task::kClassification) {
    if (d.label_is_text()) {
      std::set<std::string> s(d.label_text.begin(), d.label_text.end());
      t.class_labels.assign(s.begin(), s.end());
    } else {
      std::vector<double> s(d.label_numeric);
      std::sort(s.begin(), s.end());
      s.erase(std::unique(s.begin(), s.end()), s.end());
      for (double v : s) t.class_labels.push_back(numeric_label_text(v));
    }
    if (t.class_labels.size() < 2)
      throw DataError(d.source + ": label column \"" + d.label_name + "\" has a single class (\"" +
                      (t.class_labels.empty() ? std::string() : t.class_labels[0]) +
                      "\"); classification needs at least two");
    t.n_classes = static_cast<int32_t>(t.class_labels.size());
    t.class_id = encode_classes(d, t.class_labels);
    return;
  }
  if (d.label_is_text())
    throw DataError(d.source + ": label column \"" + d.label_name + "\" is not numeric; regression needs numbers");
  t.y = d.label_numeric;
  double lo = INFINITY, hi = -INFINITY;
  for (std::size_t r = 0; r < n; ++r) {
    if (!std::isfinite(t.y[r]))
      throw DataError(d.source + ": row " + std::to_string(r + 1) + ": label is not a finite number");
    lo = std::min(lo, t.y[r]);
    hi = std::max(hi, t.y[r]);
  }
  t.y_center = 0.5 * (lo + hi);
  const double max_abs = std::max(hi - t.y_center, t.y_center - lo);
  const double weight_bound = static_cast<double>(n) * (t.row_quantum.empty() ? 1.0 : kWeightQuantum);
  int s = 40;
  if (max_abs > 0) {
    s = static_cast<int>(std::floor(52.0 - std::log2(max_abs * weight_bound)));
    s = std::min(s, 40);
  }
  t.y_scale = std::ldexp(1.0, s);
  t.y_fixed.resize(n);
  for (std::size_t r = 0; r < n; ++r) t.y_fixed[r] = std::llround((t.y[r] - t.y_center) * t.y_scale);
}

void quantise_weights(const Dataset& d, TrainingData& t) {
  if (d.sample_weight.empty()) return;
  double max_w = 0;
  for (double w : d.sample_weight) max_w = std::max(max_w, w);
  if (!(max_w > 0)) throw DataError(d.source + ": every sample weight is zero");
  t.weight_scale = kWeightQuantum / max_w;
  t.row_quantum.resize(d.sample_weight.size());
  for (std::size_t r = 0; r < d.sample_weight.size(); ++r) {
    const double w = d.sample_weight[r];
    t.row_quantum[r] = w > 0 ? std::max<int64_t>(1, std::llround(w * t.weight_scale)) : 0;
  }
}

}  // namespace

void require_trainable_shape(const std::string& source, std::size_t n_rows, std::size_t n_features) {
  if (n_rows == 0) throw DataError(source + ": no data rows");
  if (n_features == 0) throw DataError(source + ": no feature columns");
  if (n_rows > kMaxTrainingRows)
    throw DataError(source + ": " + std::to_string(n_rows) + " data rows; canopy trains on at most " +
                    std::to_string(kMaxTrainingRows) + " (32-bit row indices)");
}

TrainingData prepare_training_data(const Dataset& d, TaskChoice choice, int32_t max_bins, const TreeBackend* binner) {
  if (!d.has_label()) throw DataError(d.source + ": no label column");
  require_trainable_shape(d.source, d.n_rows(), d.n_features());
  TrainingData t;
  t.dataset = &d;
  t.task = choice == TaskChoice::kAuto ? infer_task(d)
           : choice == TaskChoice::kClassification ? Task::kClassification
                                                   : Task::kRegression;
  quantise_weights(d, t);
  encode_labels(d, t);
  t.max_bins = max_bins;
  CutOptions co;
  co.max_bins = max_bins;
  t.cuts = compute_cuts(d.columns, co);
  if (binner)
    binner->assign_bins(t.cuts, d.columns, t.bins);
  else
    assign_bins_cpu(t.cuts, d.columns, t.bins);
  t.fingerprint = dataset_fingerprint(d);
  return t;
}

}  // namespace canopy
