#include "host/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace canopy {
namespace {

// Reference values below come from scikit-learn 1.2.1 (Debian python3-sklearn), computed once
// with `from sklearn import metrics as M; import numpy as np` on the arrays written out in each
// test; the Python expression is given next to each constant.

constexpr double kRelTol = 1e-12;
#define EXPECT_REL(actual, expected) \
  EXPECT_NEAR((actual), (expected), kRelTol * std::max(1.0, std::fabs(expected)))

// Two-column proba rows [1 - p, p].
std::vector<double> binary_proba(const std::vector<double>& p1) {
  std::vector<double> out;
  for (double p : p1) {
    out.push_back(1.0 - p);
    out.push_back(p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hand-computed.

TEST(Metrics, TinyBinaryByHand) {
  // The roc_auc_score docstring example: y = [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8].
  const std::vector<int32_t> y = {0, 0, 1, 1};
  const auto proba = binary_proba({0.1, 0.4, 0.35, 0.8});
  const ClassificationMetrics m = classification_metrics(y, proba, 2);
  // Predicted [0, 0, 0, 1]: 3 of 4 correct; TP = 1, FP = 0, FN = 1.
  EXPECT_EQ(m.n_classes, 2);
  EXPECT_REL(m.accuracy, 0.75);
  EXPECT_REL(m.precision, 1.0);
  EXPECT_REL(m.recall, 0.5);
  EXPECT_REL(m.f1, 2.0 / 3.0);
  EXPECT_REL(m.balanced_accuracy, (1.0 + 0.5) / 2);
  // Class 0: precision 2/3, recall 1, F1 0.8; class 1: F1 2/3. Supports are equal.
  EXPECT_REL(m.f1_macro, (0.8 + 2.0 / 3.0) / 2);
  EXPECT_REL(m.f1_weighted, (0.8 + 2.0 / 3.0) / 2);
  // Of the 4 positive/negative pairs, 3 are ranked correctly.
  EXPECT_REL(m.roc_auc, 0.75);
  // Positives at ranks 1 (precision 1/1) and 3 (precision 2/3): AP = (1 + 2/3) / 2.
  EXPECT_REL(m.pr_auc, (1.0 + 2.0 / 3.0) / 2);
  EXPECT_REL(m.log_loss, -(std::log(0.9) + std::log(0.6) + std::log(0.35) + std::log(0.8)) / 4);
  const std::vector<std::vector<int64_t>> confusion = {{2, 0}, {1, 1}};
  EXPECT_EQ(m.confusion, confusion);
}

TEST(Metrics, AllTiedScoresGiveHalfAuc) {
  // One score group: the ROC is the diagonal, AP = prevalence.
  const std::vector<int32_t> y = {0, 1, 1, 0, 1};
  const auto m = classification_metrics(y, binary_proba({0.3, 0.3, 0.3, 0.3, 0.3}), 2);
  EXPECT_REL(m.roc_auc, 0.5);
  EXPECT_REL(m.pr_auc, 0.6);
}

TEST(Metrics, PerfectClassification) {
  const std::vector<int32_t> y = {0, 2, 1, 1, 0, 2};
  std::vector<double> proba;
  for (int32_t c : y)
    for (int k = 0; k < 3; ++k) proba.push_back(k == c ? 1.0 : 0.0);
  const auto m = classification_metrics(y, proba, 3);
  for (const auto& [name, value] : metric_list(m)) {
    if (name == "log_loss")
      EXPECT_EQ(value, 0.0) << name;
    else
      EXPECT_EQ(value, 1.0) << name;
  }
  const std::vector<std::vector<int64_t>> confusion = {{2, 0, 0}, {0, 2, 0}, {0, 0, 2}};
  EXPECT_EQ(m.confusion, confusion);

  const auto b = classification_metrics({0, 1, 1}, binary_proba({0.2, 0.9, 0.7}), 2);
  EXPECT_EQ(b.accuracy, 1.0);
  EXPECT_EQ(b.roc_auc, 1.0);
  EXPECT_EQ(b.pr_auc, 1.0);
  EXPECT_EQ(b.f1, 1.0);
}

TEST(Metrics, SingleClassInYTrue) {
  // Only negatives: ROC AUC and AP are undefined; nothing predicted positive, so precision,
  // recall and F1 of class 1 are 0 (zero_division = 0).
  const auto neg = classification_metrics({0, 0, 0}, binary_proba({0.1, 0.2, 0.3}), 2);
  EXPECT_TRUE(std::isnan(neg.roc_auc));
  EXPECT_TRUE(std::isnan(neg.pr_auc));
  EXPECT_EQ(neg.precision, 0.0);
  EXPECT_EQ(neg.recall, 0.0);
  EXPECT_EQ(neg.f1, 0.0);
  EXPECT_EQ(neg.accuracy, 1.0);
  EXPECT_EQ(neg.balanced_accuracy, 1.0);
  EXPECT_EQ(neg.f1_macro, 1.0);  // only label 0 is present
  // Only positives: AUC undefined, AP = 1 (precision is 1 at every threshold).
  const auto pos = classification_metrics({1, 1}, binary_proba({0.1, 0.7}), 2);
  EXPECT_TRUE(std::isnan(pos.roc_auc));
  EXPECT_EQ(pos.pr_auc, 1.0);
  // Multi-class with one class present.
  const auto multi = classification_metrics({2, 2}, {0.2, 0.3, 0.5, 0.6, 0.3, 0.1}, 3);
  EXPECT_TRUE(std::isnan(multi.roc_auc));
  EXPECT_EQ(multi.pr_auc, 1.0);
}

TEST(Metrics, LogLossClipsAtEps) {
  // p_true = 0 is clipped to 1e-15; p_true = 1 gives 0.
  const auto m = classification_metrics({1, 0}, {1.0, 0.0, 1.0, 0.0}, 2);
  EXPECT_REL(m.log_loss, -std::log(1e-15) / 2);
}

TEST(Metrics, ArgmaxTiesGoToLowestClass) {
  const std::vector<double> proba = {0.5, 0.5,        //
                                     0.2, 0.8,        //
                                     0.25, 0.25,      //
                                     0.1, 0.1};       //
  EXPECT_EQ(argmax_classes(proba, 2), (std::vector<int32_t>{0, 1, 0, 0}));
  EXPECT_EQ(argmax_classes({0.3, 0.4, 0.4, 1 / 3.0, 1 / 3.0, 1 / 3.0}, 3),
            (std::vector<int32_t>{1, 0}));
  EXPECT_THROW(argmax_classes({0.1, 0.2, 0.3}, 2), std::invalid_argument);
}

// accuracy_score is classification_metrics' accuracy, bit for bit, ties included.
TEST(Metrics, AccuracyScoreEqualsTheFullMetricsAccuracy) {
  std::vector<int32_t> y;
  std::vector<double> p, w;
  uint64_t s = 12345;
  auto next = [&] { return (s = s * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  for (int i = 0; i < 997; ++i) {
    y.push_back(static_cast<int32_t>(next() % 5));
    for (int c = 0; c < 5; ++c) p.push_back(static_cast<double>(next() % 4) / 4.0);  // many ties
    w.push_back(static_cast<double>(next() % 1000) / 7.0);
  }
  EXPECT_EQ(accuracy_score(y, p, 5), classification_metrics(y, p, 5).accuracy);
  EXPECT_EQ(accuracy_score(y, p, 5, w), classification_metrics(y, p, 5, w).accuracy);
  EXPECT_THROW(accuracy_score(y, p, 4), std::invalid_argument);
}

TEST(Metrics, ZeroWeightRowsAreIgnoredAndIntegerWeightsDuplicate) {
  const std::vector<int32_t> y = {0, 1, 1, 0, 1, 0};
  const std::vector<double> p = {0.2, 0.6, 0.4, 0.6, 0.9, 0.1};
  // Row 3 at weight 0 == row 3 removed.
  const auto weighted = classification_metrics(y, binary_proba(p), 2, {1, 1, 1, 0, 1, 1});
  const auto removed =
      classification_metrics({0, 1, 1, 1, 0}, binary_proba({0.2, 0.6, 0.4, 0.9, 0.1}), 2);
  EXPECT_REL(weighted.accuracy, removed.accuracy);
  EXPECT_REL(weighted.roc_auc, removed.roc_auc);
  EXPECT_REL(weighted.pr_auc, removed.pr_auc);
  EXPECT_REL(weighted.log_loss, removed.log_loss);
  EXPECT_REL(weighted.f1, removed.f1);
  // Row 1 at weight 2 == row 1 duplicated.
  const auto doubled = classification_metrics(y, binary_proba(p), 2, {1, 2, 1, 1, 1, 1});
  const auto duplicated = classification_metrics(
      {0, 1, 1, 1, 0, 1, 0}, binary_proba({0.2, 0.6, 0.6, 0.4, 0.6, 0.9, 0.1}), 2);
  EXPECT_REL(doubled.accuracy, duplicated.accuracy);
  EXPECT_REL(doubled.balanced_accuracy, duplicated.balanced_accuracy);
  EXPECT_REL(doubled.roc_auc, duplicated.roc_auc);
  EXPECT_REL(doubled.pr_auc, duplicated.pr_auc);
  EXPECT_REL(doubled.log_loss, duplicated.log_loss);
  EXPECT_REL(doubled.f1_weighted, duplicated.f1_weighted);
}

TEST(Metrics, RankingIsIndependentOfRowOrder) {
  const std::vector<int32_t> y = {0, 1, 1, 0, 1, 0, 1, 0};
  const std::vector<double> p = {0.3, 0.3, 0.7, 0.7, 0.3, 0.1, 0.9, 0.7};
  std::vector<int32_t> y_rev(y.rbegin(), y.rend());
  std::vector<double> p_rev(p.rbegin(), p.rend());
  const auto a = classification_metrics(y, binary_proba(p), 2);
  const auto b = classification_metrics(y_rev, binary_proba(p_rev), 2);
  // Unit weights: the trapezoid sums are integers, so the AUC is bit-identical.
  EXPECT_EQ(a.roc_auc, b.roc_auc);
  EXPECT_REL(a.pr_auc, b.pr_auc);
}

// ---------------------------------------------------------------------------------------------
// Against scikit-learn.

// y  = np.array([0,1,1,0,1,0,1,1,0,0,1,0])
// p1 = np.array([0.1,0.4,0.35,0.8,0.4,0.4,0.9,0.65,0.2,0.65,0.5,0.3])   (ties at 0.4 and 0.65;
//      0.5 is a proba tie, predicted 0)
// w  = np.array([1,2,0.5,1,3,1,1,2,0.5,1,1,2]);  P = np.column_stack([1-p1, p1]);
// yp = P.argmax(axis=1)
const std::vector<int32_t> kBinY = {0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0};
const std::vector<double> kBinP1 = {0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.65, 0.2, 0.65, 0.5, 0.3};
const std::vector<double> kBinW = {1, 2, 0.5, 1, 3, 1, 1, 2, 0.5, 1, 1, 2};

TEST(MetricsSklearn, BinaryUnweighted) {
  const auto m = classification_metrics(kBinY, binary_proba(kBinP1), 2);
  EXPECT_REL(m.accuracy, 0.5);                        // M.accuracy_score(y, yp)
  EXPECT_REL(m.balanced_accuracy, 0.5);               // M.balanced_accuracy_score(y, yp)
  EXPECT_REL(m.precision, 0.5);                       // M.precision_score(y, yp)
  EXPECT_REL(m.recall, 0.3333333333333333);           // M.recall_score(y, yp)
  EXPECT_REL(m.f1, 0.4);                              // M.f1_score(y, yp)
  EXPECT_REL(m.f1_macro, 0.48571428571428577);        // M.f1_score(y, yp, average='macro')
  EXPECT_REL(m.f1_weighted, 0.48571428571428577);     // M.f1_score(y, yp, average='weighted')
  EXPECT_REL(m.roc_auc, 0.6805555555555556);          // M.roc_auc_score(y, p1)
  EXPECT_REL(m.pr_auc, 0.6694444444444444);           // M.average_precision_score(y, p1)
  EXPECT_REL(m.log_loss, 0.6639132393472292);         // M.log_loss(y, P)
  const std::vector<std::vector<int64_t>> confusion = {{4, 2}, {4, 2}};
  EXPECT_EQ(m.confusion, confusion);  // M.confusion_matrix(y, yp)
}

TEST(MetricsSklearn, BinaryWeighted) {
  const auto m = classification_metrics(kBinY, binary_proba(kBinP1), 2, kBinW);
  EXPECT_REL(m.accuracy, 0.46875);                    // M.accuracy_score(y, yp, sample_weight=w)
  EXPECT_REL(m.balanced_accuracy, 0.5040485829959513);  // M.balanced_accuracy_score(.., sample_weight=w)
  EXPECT_REL(m.precision, 0.6);                       // M.precision_score(y, yp, sample_weight=w)
  EXPECT_REL(m.recall, 0.3157894736842105);           // M.recall_score(y, yp, sample_weight=w)
  EXPECT_REL(m.f1, 0.41379310344827586);              // M.f1_score(y, yp, sample_weight=w)
  EXPECT_REL(m.f1_macro, 0.464039408866995);          // ..., average='macro', sample_weight=w)
  EXPECT_REL(m.f1_weighted, 0.45461822660098516);     // ..., average='weighted', sample_weight=w)
  EXPECT_REL(m.roc_auc, 0.6923076923076923);          // M.roc_auc_score(y, p1, sample_weight=w)
  EXPECT_REL(m.pr_auc, 0.7364912280701754);           // M.average_precision_score(y, p1, sample_weight=w)
  EXPECT_REL(m.log_loss, 0.6791753806196226);         // M.log_loss(y, P, sample_weight=w)
  // The confusion matrix stays in unweighted counts.
  const std::vector<std::vector<int64_t>> confusion = {{4, 2}, {4, 2}};
  EXPECT_EQ(m.confusion, confusion);
}

TEST(MetricsSklearn, BinaryPositiveClassZero) {
  const auto u = classification_metrics(kBinY, binary_proba(kBinP1), 2, {}, 0);
  EXPECT_REL(u.precision, 0.5);                 // M.precision_score(y, yp, pos_label=0)
  EXPECT_REL(u.recall, 0.6666666666666666);     // M.recall_score(y, yp, pos_label=0)
  EXPECT_REL(u.f1, 0.5714285714285715);         // M.f1_score(y, yp, pos_label=0)
  EXPECT_REL(u.roc_auc, 0.6805555555555556);    // M.roc_auc_score(1-y, P[:,0])
  EXPECT_REL(u.pr_auc, 0.7694805194805195);     // M.average_precision_score(y, P[:,0], pos_label=0)
  const auto w = classification_metrics(kBinY, binary_proba(kBinP1), 2, kBinW, 0);
  EXPECT_REL(w.precision, 0.4090909090909091);  // M.precision_score(y, yp, pos_label=0, sample_weight=w)
  EXPECT_REL(w.recall, 0.6923076923076923);     // M.recall_score(y, yp, pos_label=0, sample_weight=w)
  EXPECT_REL(w.f1, 0.5142857142857142);         // M.f1_score(y, yp, pos_label=0, sample_weight=w)
  EXPECT_REL(w.roc_auc, 0.6923076923076924);    // M.roc_auc_score(1-y, P[:,0], sample_weight=w)
  EXPECT_REL(w.pr_auc, 0.7347985347985347);     // M.average_precision_score(y, P[:,0], pos_label=0, sample_weight=w)
  // Threshold-free metrics do not depend on the positive class.
  EXPECT_EQ(w.accuracy, 0.46875);
  EXPECT_THROW(classification_metrics(kBinY, binary_proba(kBinP1), 2, {}, 2),
               std::invalid_argument);
}

// Three classes; ties inside rows (rows 4 and 5 predict 2; rows 3, 7 tie on 0.2/0.2), tied
// scores across rows within each column, and class 1 is never predicted.
// y = np.array([0,1,2,2,1,0,2,1,0,2])
// P = np.array([[0.5,0.3,0.2],[0.4,0.35,0.25],[0.1,0.3,0.6],[0.2,0.2,0.6],[0.25,0.25,0.5],
//               [0.25,0.25,0.5],[0.6,0.3,0.1],[0.2,0.2,0.6],[0.7,0.2,0.1],[0.3,0.3,0.4]])
// w = np.array([1,2,0.5,1,3,1,1,2,0.5,1]); yp = P.argmax(axis=1)   # [0 0 2 2 2 2 0 2 0 2]
const std::vector<int32_t> kMulY = {0, 1, 2, 2, 1, 0, 2, 1, 0, 2};
const std::vector<double> kMulP = {0.5, 0.3,  0.2, 0.4,  0.35, 0.25, 0.1, 0.3, 0.6, 0.2,
                                   0.2, 0.6,  0.25, 0.25, 0.5, 0.25, 0.25, 0.5, 0.6, 0.3,
                                   0.1, 0.2,  0.2, 0.6,  0.7, 0.2,  0.1,  0.3, 0.3, 0.4};
const std::vector<double> kMulW = {1, 2, 0.5, 1, 3, 1, 1, 2, 0.5, 1};

TEST(MetricsSklearn, MultiClassUnweighted) {
  const auto m = classification_metrics(kMulY, kMulP, 3);
  EXPECT_EQ(argmax_classes(kMulP, 3), (std::vector<int32_t>{0, 0, 2, 2, 2, 2, 0, 2, 0, 2}));
  EXPECT_REL(m.accuracy, 0.5);                      // M.accuracy_score(y, yp)
  EXPECT_REL(m.balanced_accuracy, 0.47222222222222215);  // M.balanced_accuracy_score(y, yp)
  EXPECT_REL(m.precision, 0.3333333333333333);      // M.precision_score(y, yp, average='macro', zero_division=0)
  EXPECT_REL(m.recall, 0.47222222222222215);        // M.recall_score(y, yp, average='macro', zero_division=0)
  EXPECT_REL(m.f1, 0.3904761904761905);             // M.f1_score(y, yp, average='macro', zero_division=0)
  EXPECT_REL(m.f1_macro, 0.3904761904761905);
  EXPECT_REL(m.f1_weighted, 0.41142857142857137);   // M.f1_score(y, yp, average='weighted', zero_division=0)
  EXPECT_REL(m.roc_auc, 0.6299603174603174);        // M.roc_auc_score(y, P, multi_class='ovr', average='macro')
  EXPECT_REL(m.pr_auc, 0.5951058201058201);         // M.average_precision_score(np.eye(3)[y], P, average='macro')
  EXPECT_REL(m.log_loss, 1.0722197956071418);       // M.log_loss(y, P)
  const std::vector<std::vector<int64_t>> confusion = {{2, 0, 1}, {1, 0, 2}, {1, 0, 3}};
  EXPECT_EQ(m.confusion, confusion);  // M.confusion_matrix(y, yp)
}

TEST(MetricsSklearn, MultiClassWeighted) {
  const auto m = classification_metrics(kMulY, kMulP, 3, kMulW);
  EXPECT_REL(m.accuracy, 0.3076923076923077);       // M.accuracy_score(y, yp, sample_weight=w)
  EXPECT_REL(m.balanced_accuracy, 0.4380952380952381);  // M.balanced_accuracy_score(y, yp, sample_weight=w)
  EXPECT_REL(m.precision, 0.20915032679738563);     // M.precision_score(.., average='macro', sample_weight=w, zero_division=0)
  EXPECT_REL(m.recall, 0.4380952380952381);         // M.recall_score(.., average='macro', sample_weight=w, zero_division=0)
  EXPECT_REL(m.f1_macro, 0.28174603174603174);      // M.f1_score(.., average='macro', sample_weight=w, zero_division=0)
  EXPECT_REL(m.f1, 0.28174603174603174);
  EXPECT_REL(m.f1_weighted, 0.19459706959706963);   // M.f1_score(.., average='weighted', sample_weight=w, zero_division=0)
  EXPECT_REL(m.roc_auc, 0.5709690893901421);        // M.roc_auc_score(y, P, multi_class='ovr', average='macro', sample_weight=w)
  EXPECT_REL(m.pr_auc, 0.5183392223286075);         // M.average_precision_score(np.eye(3)[y], P, average='macro', sample_weight=w)
  EXPECT_REL(m.log_loss, 1.209253571645509);        // M.log_loss(y, P, sample_weight=w)
}

TEST(MetricsSklearn, MultiClassWithAbsentClasses) {
  // Four classes declared; class 2 is predicted but absent from y_true; class 3 appears nowhere.
  // y = np.array([0,1,1,0,1,0])
  // P = np.array([[0.6,0.2,0.1,0.1],[0.1,0.7,0.1,0.1],[0.2,0.2,0.5,0.1],[0.3,0.4,0.2,0.1],
  //               [0.1,0.8,0.05,0.05],[0.5,0.1,0.3,0.1]]); yp = P.argmax(axis=1)  # [0 1 2 1 1 0]
  const std::vector<int32_t> y = {0, 1, 1, 0, 1, 0};
  const std::vector<double> proba = {0.6, 0.2, 0.1,  0.1,  0.1, 0.7, 0.1, 0.1,
                                     0.2, 0.2, 0.5,  0.1,  0.3, 0.4, 0.2, 0.1,
                                     0.1, 0.8, 0.05, 0.05, 0.5, 0.1, 0.3, 0.1};
  const auto m = classification_metrics(y, proba, 4);
  EXPECT_REL(m.accuracy, 0.6666666666666666);           // M.accuracy_score(y, yp)
  EXPECT_REL(m.balanced_accuracy, 0.6666666666666666);  // M.balanced_accuracy_score(y, yp)
  EXPECT_REL(m.precision, 0.5555555555555555);   // M.precision_score(y, yp, average='macro', zero_division=0)
  EXPECT_REL(m.recall, 0.4444444444444444);      // M.recall_score(y, yp, average='macro', zero_division=0)
  EXPECT_REL(m.f1_macro, 0.48888888888888893);   // M.f1_score(y, yp, average='macro', zero_division=0)
  EXPECT_REL(m.f1_weighted, 0.7333333333333334); // M.f1_score(y, yp, average='weighted', zero_division=0)
  // np.mean([M.roc_auc_score(y==c, P[:,c]) for c in (0,1)])  (OvR over classes in y_true)
  EXPECT_REL(m.roc_auc, 0.9166666666666666);
  // np.mean([M.average_precision_score(y==c, P[:,c]) for c in (0,1)])
  EXPECT_REL(m.pr_auc, 0.9333333333333333);
  EXPECT_REL(m.log_loss, 0.7662003360564857);    // M.log_loss(y, P, labels=[0,1,2,3])
  EXPECT_EQ(m.confusion.size(), 4u);
  EXPECT_EQ(m.confusion[3], (std::vector<int64_t>{0, 0, 0, 0}));
}

// yt = np.array([3,-0.5,2,7,4.2,1.5]); yq = np.array([2.5,0.0,2,8,3.9,1.0])
// w  = np.array([1,2,0.5,1,3,1.5])
const std::vector<double> kRegY = {3, -0.5, 2, 7, 4.2, 1.5};
const std::vector<double> kRegP = {2.5, 0.0, 2, 8, 3.9, 1.0};
const std::vector<double> kRegW = {1, 2, 0.5, 1, 3, 1.5};

TEST(MetricsSklearn, RegressionUnweighted) {
  const auto m = regression_metrics(kRegY, kRegP);
  EXPECT_REL(m.r2, 0.9439593908629441);                  // M.r2_score(yt, yq)
  EXPECT_REL(m.mse, 0.3066666666666667);                 // M.mean_squared_error(yt, yq)
  EXPECT_REL(m.rmse, 0.5537749241945383);                // M.mean_squared_error(yt, yq, squared=False)
  EXPECT_REL(m.mae, 0.46666666666666673);                // M.mean_absolute_error(yt, yq)
  EXPECT_REL(m.explained_variance, 0.9441624365482233);  // M.explained_variance_score(yt, yq)
}

TEST(MetricsSklearn, RegressionWeighted) {
  const auto m = regression_metrics(kRegY, kRegP, kRegW);
  EXPECT_REL(m.r2, 0.9502920099392919);                  // M.r2_score(yt, yq, sample_weight=w)
  EXPECT_REL(m.mse, 0.2661111111111112);                 // M.mean_squared_error(yt, yq, sample_weight=w)
  EXPECT_REL(m.rmse, 0.5158595846847388);                // ..., squared=False)
  EXPECT_REL(m.mae, 0.46111111111111114);                // M.mean_absolute_error(yt, yq, sample_weight=w)
  EXPECT_REL(m.explained_variance, 0.9503438971940525);  // M.explained_variance_score(yt, yq, sample_weight=w)
}

TEST(MetricsSklearn, RegressionConstantTargetAndPerfect) {
  // M.r2_score([3.,3.,3.], [3.,3.,3.]) == 1.0; M.explained_variance_score(same) == 1.0
  auto m = regression_metrics({3, 3, 3}, {3, 3, 3});
  EXPECT_EQ(m.r2, 1.0);
  EXPECT_EQ(m.explained_variance, 1.0);
  EXPECT_EQ(m.mse, 0.0);
  // M.r2_score([3.,3.,3.], [2.,3.,4.]) == 0.0; M.explained_variance_score(same) == 0.0
  m = regression_metrics({3, 3, 3}, {2, 3, 4});
  EXPECT_EQ(m.r2, 0.0);
  EXPECT_EQ(m.explained_variance, 0.0);
  EXPECT_REL(m.mse, 2.0 / 3.0);
  EXPECT_REL(m.mae, 2.0 / 3.0);
  // A constant that is inexact in binary: the mean is not 0.1 exactly, but SS_tot is still 0.
  m = regression_metrics({0.1, 0.1, 0.1}, {0.1, 0.1, 0.2});
  EXPECT_EQ(m.r2, 0.0);
  EXPECT_EQ(m.explained_variance, 0.0);
  // Constant among positive-weight rows only.
  m = regression_metrics({5, 1, 5}, {5, 0, 5}, {1, 0, 2});
  EXPECT_EQ(m.r2, 1.0);
  EXPECT_EQ(m.mse, 0.0);
  // Perfect non-constant predictions.
  m = regression_metrics(kRegY, kRegY, kRegW);
  EXPECT_EQ(m.r2, 1.0);
  EXPECT_EQ(m.explained_variance, 1.0);
  EXPECT_EQ(m.rmse, 0.0);
  EXPECT_EQ(m.mae, 0.0);
  // Shifted predictions: M.explained_variance_score([1.,2.,3.], [2.,3.,4.]) == 1.0,
  // M.r2_score([1.,2.,3.], [2.,3.,4.]) == -0.5
  m = regression_metrics({1, 2, 3}, {2, 3, 4});
  EXPECT_REL(m.explained_variance, 1.0);
  EXPECT_REL(m.r2, -0.5);
}

// ---------------------------------------------------------------------------------------------
// Listing, direction, validation.

TEST(Metrics, MetricListOrderAndDirection) {
  const auto c = classification_metrics(kBinY, binary_proba(kBinP1), 2);
  const auto list = metric_list(c, 2);
  const std::vector<std::string> names = {"accuracy", "balanced_accuracy", "precision", "recall",
                                          "f1",       "f1_macro",          "f1_weighted",
                                          "roc_auc",  "pr_auc",            "log_loss"};
  ASSERT_EQ(list.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(list[i].first, names[i]);
  EXPECT_EQ(list[0].second, c.accuracy);
  EXPECT_EQ(list[7].second, c.roc_auc);
  EXPECT_EQ(list[9].second, c.log_loss);
  EXPECT_THROW(metric_list(c, 3), std::invalid_argument);

  const auto r = regression_metrics(kRegY, kRegP);
  const auto rlist = metric_list(r);
  const std::vector<std::string> rnames = {"r2", "rmse", "mse", "mae", "explained_variance"};
  ASSERT_EQ(rlist.size(), rnames.size());
  for (size_t i = 0; i < rnames.size(); ++i) EXPECT_EQ(rlist[i].first, rnames[i]);
  EXPECT_EQ(rlist[1].second, r.rmse);

  for (const auto& [name, value] : list) {
    (void)value;
    EXPECT_EQ(greater_is_better(name), name != "log_loss") << name;
  }
  for (const auto& [name, value] : rlist) {
    (void)value;
    EXPECT_EQ(greater_is_better(name), name == "r2" || name == "explained_variance") << name;
  }
  try {
    greater_is_better("auc");
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("auc"), std::string::npos);
    EXPECT_NE(msg.find("roc_auc"), std::string::npos);
    EXPECT_NE(msg.find("explained_variance"), std::string::npos);
  }
}

TEST(Metrics, InvalidInputsThrow) {
  const std::vector<int32_t> y = {0, 1};
  const auto proba = binary_proba({0.2, 0.7});
  EXPECT_THROW(classification_metrics({}, {}, 2), std::invalid_argument);
  EXPECT_THROW(classification_metrics(y, {0.2, 0.8, 0.3}, 2), std::invalid_argument);
  EXPECT_THROW(classification_metrics({0, 2}, proba, 2), std::invalid_argument);
  EXPECT_THROW(classification_metrics({0, -1}, proba, 2), std::invalid_argument);
  EXPECT_THROW(classification_metrics(y, proba, 0), std::invalid_argument);
  EXPECT_THROW(classification_metrics(y, proba, 2, {1.0}), std::invalid_argument);
  EXPECT_THROW(classification_metrics(y, proba, 2, {1.0, -1.0}), std::invalid_argument);
  EXPECT_THROW(classification_metrics(y, proba, 2, {0.0, 0.0}), std::invalid_argument);
  EXPECT_THROW(classification_metrics(y, {0.2, 0.8, std::nan(""), 0.3}, 2),
               std::invalid_argument);
  EXPECT_THROW(regression_metrics({}, {}), std::invalid_argument);
  EXPECT_THROW(regression_metrics({1, 2}, {1}), std::invalid_argument);
  EXPECT_THROW(regression_metrics({1, 2}, {1, std::nan("")}), std::invalid_argument);
  EXPECT_THROW(regression_metrics({1, 2}, {1, 2}, {1, INFINITY}), std::invalid_argument);
}

}  // namespace
}  // namespace canopy
