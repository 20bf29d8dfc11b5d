// canopy — evaluation metrics for classification and regression.
//
// Every metric follows scikit-learn's definition (the reference is noted per field), including
// sample weights. Summation is plain double accumulation in row order, and ranking metrics sort
// with a stable, deterministic order and group tied scores, so results are reproducible bit for
// bit for the same inputs.
//
// Inputs are validated: sizes must agree, class ids must lie in [0, n_classes), probabilities and
// labels must not be NaN, weights must be finite and >= 0 with a positive total. Violations throw
// std::invalid_argument.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace canopy {

// Classification metrics. "Present" classes for the averages below follow scikit-learn's default
// (labels=None): a class takes part in the precision/recall/F1 averages when it occurs in y_true
// or in the predictions, and in balanced accuracy when its weighted support in y_true is > 0.
// zero_division is 0 everywhere.
struct ClassificationMetrics {
  int n_classes = 0;
  double accuracy = 0;           // accuracy_score (weighted fraction of argmax == y_true)
  double balanced_accuracy = 0;  // balanced_accuracy_score: mean per-class recall
  // Binary (n_classes == 2): for the positive class (average='binary', pos_label=positive_class).
  // Multi-class: macro averages, i.e. equal to the *_macro values (average='macro').
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  double f1_macro = 0;     // f1_score(average='macro')
  double f1_weighted = 0;  // f1_score(average='weighted'), weights = weighted support
  // roc_auc_score. Binary: AUC of proba[:, positive_class], ties by the trapezoid. Multi-class:
  // one-vs-rest macro average over the classes present in y_true (multi_class='ovr',
  // average='macro'). NaN when y_true holds only one class (by positive weight).
  double roc_auc = 0;
  // average_precision_score (step-wise, no interpolation). Binary: for positive_class; NaN when
  // it has no positive weight (scikit-learn warns and returns 0 there). Multi-class: one-vs-rest
  // macro average over the classes present in y_true.
  double pr_auc = 0;
  // Weighted mean of -log(p_true) with p_true clipped to [1e-15, 1]; rows are not renormalised.
  // (Equal to sklearn.metrics.log_loss for rows summing to 1 away from the clipping bounds.)
  double log_loss = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true][pred] row counts (unweighted)
};

// y_true: class ids in [0, n_classes). proba: row-major n_rows x n_classes probabilities.
// sample_weight: empty = unweighted. positive_class is used only when n_classes == 2.
ClassificationMetrics classification_metrics(const std::vector<int32_t>& y_true,
                                             const std::vector<double>& proba, int n_classes,
                                             const std::vector<double>& sample_weight = {},
                                             int positive_class = 1);

// classification_metrics(...).accuracy alone (the same value, bit for bit), without the sorts the
// AUCs need: for scores computed often, such as the out-of-bag score after every tenth of a forest.
double accuracy_score(const std::vector<int32_t>& y_true, const std::vector<double>& proba, int n_classes,
                      const std::vector<double>& sample_weight = {});

// Predicted class per row = argmax of the proba row; ties go to the lowest class id.
std::vector<int32_t> argmax_classes(const std::vector<double>& proba, int n_classes);

struct RegressionMetrics {
  // r2_score: 1 - SS_res / SS_tot. When SS_tot == 0 (constant y_true): 1.0 if the predictions are
  // perfect, else 0.0 (force_finite=True). A constant y_true is detected exactly, so rounding in
  // the mean never makes SS_tot a tiny non-zero number.
  double r2 = 0;
  double rmse = 0;                // sqrt(mse)
  double mse = 0;                 // mean_squared_error
  double mae = 0;                 // mean_absolute_error
  double explained_variance = 0;  // explained_variance_score, same force_finite rule as r2
};

RegressionMetrics regression_metrics(const std::vector<double>& y_true,
                                     const std::vector<double>& y_pred,
                                     const std::vector<double>& sample_weight = {});

// Name -> value, for printing, JSON and tracking; the confusion matrix is excluded. The names and
// their order are fixed (the same for binary and multi-class problems):
//   classification: accuracy, balanced_accuracy, precision, recall, f1, f1_macro, f1_weighted,
//                   roc_auc, pr_auc, log_loss
//   regression:     r2, rmse, mse, mae, explained_variance
std::vector<std::pair<std::string, double>> metric_list(const ClassificationMetrics& m);
// Same list; n_classes must equal m.n_classes (std::invalid_argument otherwise).
std::vector<std::pair<std::string, double>> metric_list(const ClassificationMetrics& m,
                                                        int n_classes);
std::vector<std::pair<std::string, double>> metric_list(const RegressionMetrics& m);

// True when a larger value is better (accuracy, r2, roc_auc, ...), false for rmse, mse, mae and
// log_loss. Throws std::invalid_argument for an unknown name; the message lists the known ones.
bool greater_is_better(const std::string& metric);

}  // namespace canopy
