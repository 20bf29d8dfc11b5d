#include "host/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace canopy {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kLogLossEps = 1e-15;

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("metrics: " + what);
}

// Returns per-row weights (all 1 when sample_weight is empty) and checks them.
std::vector<double> checked_weights(const std::vector<double>& sample_weight, size_t n) {
  if (sample_weight.empty()) return std::vector<double>(n, 1.0);
  if (sample_weight.size() != n)
    fail("sample_weight has " + std::to_string(sample_weight.size()) + " entries, expected " +
         std::to_string(n));
  double total = 0;
  for (double w : sample_weight) {
    if (!std::isfinite(w) || w < 0) fail("sample weights must be finite and >= 0");
    total += w;
  }
  if (!(total > 0)) fail("sample weights sum to zero");
  return sample_weight;
}

double safe_div(double num, double den) { return den == 0 ? 0.0 : num / den; }

// Weighted per-score-group cumulative counts of one binary problem (label[i] != 0 is positive),
// scanned from the highest score down, ties grouped. Computes ROC AUC (trapezoid) and average
// precision (step-wise) exactly as sklearn's _binary_clf_curve-based scores do.
struct BinaryRanking {
  double roc_auc = kNaN;
  double average_precision = kNaN;
};

BinaryRanking rank_binary(const std::vector<uint8_t>& positive, const std::vector<double>& score,
                          const std::vector<double>& weight, const std::vector<size_t>& order) {
  // `order` sorts rows by score descending (stable), shared by all classes using the same score.
  double tp = 0, fp = 0;            // cumulative weights after the current group
  double area = 0;                  // trapezoid area in (fp, tp) units
  double ap_sum = 0;                // sum over groups of d(tp) * precision
  const size_t n = order.size();
  size_t i = 0;
  while (i < n) {
    const double s = score[order[i]];
    const double tp_prev = tp, fp_prev = fp;
    for (; i < n && score[order[i]] == s; ++i) {
      const size_t r = order[i];
      if (positive[r]) tp += weight[r]; else fp += weight[r];
    }
    area += (fp - fp_prev) * (tp + tp_prev) / 2.0;
    if (tp > tp_prev) ap_sum += (tp - tp_prev) * (tp / (tp + fp));
  }
  BinaryRanking out;
  if (tp > 0 && fp > 0) out.roc_auc = area / (tp * fp);
  if (tp > 0) out.average_precision = ap_sum / tp;
  return out;
}

std::vector<size_t> descending_order(const std::vector<double>& score) {
  std::vector<size_t> order(score.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return score[a] > score[b]; });
  return order;
}

void check_classification_inputs(const std::vector<int32_t>& y_true,
                                 const std::vector<double>& proba, int n_classes) {
  if (n_classes < 1) fail("n_classes must be >= 1, got " + std::to_string(n_classes));
  if (y_true.empty()) fail("no rows");
  if (proba.size() != y_true.size() * static_cast<size_t>(n_classes))
    fail("proba has " + std::to_string(proba.size()) + " values, expected " +
         std::to_string(y_true.size()) + " rows x " + std::to_string(n_classes) + " classes");
  for (int32_t y : y_true)
    if (y < 0 || y >= n_classes)
      fail("class id " + std::to_string(y) + " outside [0, " + std::to_string(n_classes) + ")");
  for (double p : proba)
    if (std::isnan(p)) fail("proba contains NaN");
}

}  // namespace

std::vector<int32_t> argmax_classes(const std::vector<double>& proba, int n_classes) {
  if (n_classes < 1) fail("n_classes must be >= 1, got " + std::to_string(n_classes));
  const size_t k = static_cast<size_t>(n_classes);
  if (proba.size() % k != 0)
    fail("proba size " + std::to_string(proba.size()) + " is not a multiple of n_classes " +
         std::to_string(n_classes));
  const size_t n = proba.size() / k;
  std::vector<int32_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double* row = proba.data() + i * k;
    size_t best = 0;
    for (size_t c = 1; c < k; ++c)
      if (row[c] > row[best] || (std::isnan(row[best]) && !std::isnan(row[c]))) best = c;
    out[i] = static_cast<int32_t>(best);
  }
  return out;
}

double accuracy_score(const std::vector<int32_t>& y_true, const std::vector<double>& proba, int n_classes,
                      const std::vector<double>& sample_weight) {
  check_classification_inputs(y_true, proba, n_classes);
  const std::vector<double> w = checked_weights(sample_weight, y_true.size());
  const std::vector<int32_t> y_pred = argmax_classes(proba, n_classes);
  double total = 0, correct = 0;  // summed in row order, as classification_metrics does
  for (size_t i = 0; i < y_true.size(); ++i) {
    total += w[i];
    if (y_true[i] == y_pred[i]) correct += w[i];
  }
  return correct / total;
}

ClassificationMetrics classification_metrics(const std::vector<int32_t>& y_true,
                                             const std::vector<double>& proba, int n_classes,
                                             const std::vector<double>& sample_weight,
                                             int positive_class) {
  check_classification_inputs(y_true, proba, n_classes);
  const bool binary = n_classes == 2;
  if (binary && (positive_class < 0 || positive_class >= n_classes))
    fail("positive_class " + std::to_string(positive_class) + " outside [0, 2)");
  const size_t n = y_true.size();
  const size_t k = static_cast<size_t>(n_classes);
  const std::vector<double> w = checked_weights(sample_weight, n);
  const std::vector<int32_t> y_pred = argmax_classes(proba, n_classes);

  ClassificationMetrics m;
  m.n_classes = n_classes;
  m.confusion.assign(k, std::vector<int64_t>(k, 0));

  // Weighted per-class sums: true positives, predicted and true totals.
  std::vector<double> tp(k, 0), pred_sum(k, 0), true_sum(k, 0);
  std::vector<uint8_t> in_true(k, 0), in_pred(k, 0);
  double total = 0, correct = 0, loss = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t t = static_cast<size_t>(y_true[i]), p = static_cast<size_t>(y_pred[i]);
    ++m.confusion[t][p];
    in_true[t] = in_pred[p] = 1;
    total += w[i];
    true_sum[t] += w[i];
    pred_sum[p] += w[i];
    if (t == p) {
      tp[t] += w[i];
      correct += w[i];
    }
    const double pt = std::min(std::max(proba[i * k + t], kLogLossEps), 1.0);
    loss += w[i] * -std::log(pt);
  }
  m.accuracy = correct / total;
  m.log_loss = loss / total;

  // Per-class precision / recall / F1 over the labels in y_true or y_pred.
  std::vector<double> prec(k, 0), rec(k, 0), f1(k, 0);
  for (size_t c = 0; c < k; ++c) {
    prec[c] = safe_div(tp[c], pred_sum[c]);
    rec[c] = safe_div(tp[c], true_sum[c]);
    f1[c] = safe_div(2.0 * prec[c] * rec[c], prec[c] + rec[c]);
  }
  double sum_p = 0, sum_r = 0, sum_f = 0, sum_wf = 0, sum_support = 0, sum_bal = 0;
  int n_labels = 0, n_bal = 0;
  for (size_t c = 0; c < k; ++c) {
    if (!in_true[c] && !in_pred[c]) continue;
    ++n_labels;
    sum_p += prec[c];
    sum_r += rec[c];
    sum_f += f1[c];
    sum_wf += f1[c] * true_sum[c];
    sum_support += true_sum[c];
    if (true_sum[c] > 0) {
      ++n_bal;
      sum_bal += rec[c];
    }
  }
  m.balanced_accuracy = n_bal ? sum_bal / n_bal : kNaN;
  m.f1_macro = sum_f / n_labels;
  m.f1_weighted = safe_div(sum_wf, sum_support);
  if (binary) {
    const size_t pc = static_cast<size_t>(positive_class);
    m.precision = prec[pc];
    m.recall = rec[pc];
    m.f1 = f1[pc];
  } else {
    m.precision = sum_p / n_labels;
    m.recall = sum_r / n_labels;
    m.f1 = m.f1_macro;
  }

  // Ranking metrics.
  std::vector<double> score(n);
  std::vector<uint8_t> positive(n);
  auto rank_class = [&](size_t c) {
    for (size_t i = 0; i < n; ++i) {
      score[i] = proba[i * k + c];
      positive[i] = static_cast<size_t>(y_true[i]) == c;
    }
    return rank_binary(positive, score, w, descending_order(score));
  };
  if (binary) {
    const BinaryRanking r = rank_class(static_cast<size_t>(positive_class));
    m.roc_auc = r.roc_auc;
    m.pr_auc = r.average_precision;
  } else {
    // One-vs-rest over the classes present in y_true. Each has positives; each has negatives
    // as soon as two classes are present.
    double sum_auc = 0, sum_ap = 0;
    int n_present = 0;
    for (size_t c = 0; c < k; ++c) {
      if (!(true_sum[c] > 0)) continue;
      const BinaryRanking r = rank_class(c);
      sum_auc += r.roc_auc;
      sum_ap += r.average_precision;
      ++n_present;
    }
    m.roc_auc = n_present >= 2 ? sum_auc / n_present : kNaN;
    m.pr_auc = sum_ap / n_present;  // n_present >= 1: the weights have a positive total
  }
  return m;
}

RegressionMetrics regression_metrics(const std::vector<double>& y_true,
                                     const std::vector<double>& y_pred,
                                     const std::vector<double>& sample_weight) {
  const size_t n = y_true.size();
  if (n == 0) fail("no rows");
  if (y_pred.size() != n)
    fail("y_pred has " + std::to_string(y_pred.size()) + " values, expected " +
         std::to_string(n));
  for (size_t i = 0; i < n; ++i)
    if (std::isnan(y_true[i]) || std::isnan(y_pred[i])) fail("NaN in y_true or y_pred");
  const std::vector<double> w = checked_weights(sample_weight, n);

  double total = 0, sum_y = 0, sum_diff = 0, sse = 0, sae = 0;
  bool constant = true;
  double first = 0;
  bool have_first = false;
  for (size_t i = 0; i < n; ++i) {
    const double d = y_true[i] - y_pred[i];
    total += w[i];
    sum_y += w[i] * y_true[i];
    sum_diff += w[i] * d;
    sse += w[i] * d * d;
    sae += w[i] * std::fabs(d);
    if (w[i] > 0) {
      if (!have_first) {
        first = y_true[i];
        have_first = true;
      } else if (y_true[i] != first) {
        constant = false;
      }
    }
  }
  const double mean_y = sum_y / total;
  const double mean_diff = sum_diff / total;
  double ss_tot = 0, ss_resid_var = 0;
  for (size_t i = 0; i < n; ++i) {
    const double dy = y_true[i] - mean_y;
    const double dd = (y_true[i] - y_pred[i]) - mean_diff;
    ss_tot += w[i] * dy * dy;
    ss_resid_var += w[i] * dd * dd;
  }
  if (constant) ss_tot = 0;

  RegressionMetrics m;
  m.mse = sse / total;
  m.rmse = std::sqrt(m.mse);
  m.mae = sae / total;
  // force_finite: a zero denominator gives 1 for a zero numerator, else 0.
  m.r2 = ss_tot == 0 ? (sse == 0 ? 1.0 : 0.0) : 1.0 - sse / ss_tot;
  const double var_y = ss_tot / total, var_resid = ss_resid_var / total;
  m.explained_variance = var_y == 0 ? (var_resid == 0 ? 1.0 : 0.0) : 1.0 - var_resid / var_y;
  return m;
}

std::vector<std::pair<std::string, double>> metric_list(const ClassificationMetrics& m) {
  return {{"accuracy", m.accuracy},   {"balanced_accuracy", m.balanced_accuracy},
          {"precision", m.precision}, {"recall", m.recall},
          {"f1", m.f1},               {"f1_macro", m.f1_macro},
          {"f1_weighted", m.f1_weighted}, {"roc_auc", m.roc_auc},
          {"pr_auc", m.pr_auc},       {"log_loss", m.log_loss}};
}

std::vector<std::pair<std::string, double>> metric_list(const ClassificationMetrics& m,
                                                        int n_classes) {
  if (n_classes != m.n_classes)
    fail("metric_list: n_classes " + std::to_string(n_classes) +
         " does not match the metrics' " + std::to_string(m.n_classes));
  return metric_list(m);
}

std::vector<std::pair<std::string, double>> metric_list(const RegressionMetrics& m) {
  return {{"r2", m.r2},
          {"rmse", m.rmse},
          {"mse", m.mse},
          {"mae", m.mae},
          {"explained_variance", m.explained_variance}};
}

bool greater_is_better(const std::string& metric) {
  static const std::pair<const char*, bool> kKnown[] = {
      {"accuracy", true}, {"balanced_accuracy", true}, {"precision", true}, {"recall", true},
      {"f1", true},       {"f1_macro", true},          {"f1_weighted", true}, {"roc_auc", true},
      {"pr_auc", true},   {"log_loss", false},         {"r2", true},        {"rmse", false},
      {"mse", false},     {"mae", false},              {"explained_variance", true}};
  for (const auto& [name, greater] : kKnown)
    if (metric == name) return greater;
  std::string known;
  for (const auto& entry : kKnown) {
    if (!known.empty()) known += ", ";
    known += entry.first;
  }
  throw std::invalid_argument("unknown metric '" + metric + "' (known: " + known + ")");
}

}  // namespace canopy
