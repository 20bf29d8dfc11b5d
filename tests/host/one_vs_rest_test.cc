// One-vs-rest forests (multi_class=ovr): each forest member grows one tree per
// class, that class against the rest, and prediction averages each class over
// its own trees (kernels/forest_nodes.h, kernels/predict.h).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "host/forest_trainer.h"
#include "host/params.h"
#include "host/training_data.h"
#include "io/synth.h"
#include "kernels/predict.h"
#include "test_util.h"

namespace canopy {
namespace {

Dataset classes_data(int classes, double missing) {
  SynthSpec spec;
  spec.rows = 1500;
  spec.features = 8;
  spec.informative = 4;
  spec.classes = classes;
  spec.missing_fraction = missing;
  spec.seed = 17;
  return make_synthetic_dataset(spec);
}

TrainedForest fit(const Dataset& d, ParamValues v) {
  const TrainingData td = prepare_training_data(d, TaskChoice::kClassification, 64);
  auto backend = make_cpu_tree_backend();
  return train_forests(td, {ForestRequest{resolve_params(v, td.task), {}}}, *backend)[0];
}

// Tree m*C + c of a one-vs-rest forest is, node for node, tree m*C + c of a
// forest trained on the labels "class c" (1) against "the rest" (0): same
// splits, same sample counts and weights, and the fraction of label 1 as its
// value. So the trees really are class-against-rest trees, under every
// weighting, and their RNG streams are the trees' own.
TEST(OneVsRest, EachTreeIsItsClassAgainstTheRest) {
  const int C = 5, members = 3;
  const Dataset d = classes_data(C, 0.05);
  for (const char* weight : {"none", "balanced", "balanced_subsample"}) {
    ParamValues v{{"n_estimators", std::to_string(members)}, {"max_depth", "6"}, {"class_weight", weight},
                  {"multi_class", "ovr"}, {"min_samples_leaf", "3"}};
    const ForestNodes ovr = fit(d, v).nodes;
    ASSERT_TRUE(ovr.one_vs_rest);
    ASSERT_EQ(ovr.n_outputs, C);
    ASSERT_EQ(ovr.n_trees(), static_cast<std::size_t>(members * C));
    ASSERT_EQ(ovr.value.size(), ovr.n_nodes());
    for (int c = 0; c < C; ++c) {
      Dataset binary = d;
      for (double& y : binary.label_numeric) y = y == c ? 1.0 : 0.0;
      ParamValues bv = v;
      bv["n_estimators"] = std::to_string(members * C);
      bv.erase("multi_class");
      const ForestNodes ref = fit(binary, bv).nodes;
      ASSERT_EQ(ref.n_outputs, 2);
      for (int m = 0; m < members; ++m) {
        const std::size_t t = static_cast<std::size_t>(m * C + c);
        const int64_t a = ovr.tree_offsets[t], b = ref.tree_offsets[t];
        const int64_t n = ovr.tree_offsets[t + 1] - a;
        ASSERT_EQ(n, ref.tree_offsets[t + 1] - b) << weight << " class " << c << " member " << m;
        for (int64_t i = 0; i < n; ++i) {
          SCOPED_TRACE(std::string(weight) + " class " + std::to_string(c) + " tree " + std::to_string(t) +
                       " node " + std::to_string(i));
          EXPECT_EQ(ovr.feature[a + i], ref.feature[b + i]);
          EXPECT_EQ(ovr.threshold[a + i], ref.threshold[b + i]);
          EXPECT_EQ(ovr.left_child[a + i], ref.left_child[b + i]);
          EXPECT_EQ(ovr.default_left[a + i], ref.default_left[b + i]);
          EXPECT_EQ(ovr.n_samples[a + i], ref.n_samples[b + i]);
          EXPECT_EQ(ovr.weight[a + i], ref.weight[b + i]);
          EXPECT_EQ(ovr.value[a + i], ref.value[(b + i) * 2 + 1]);
        }
      }
    }
  }
}

// Walks tree t for row r of d (the reference traversal, written out here).
int64_t leaf_of(const ForestNodes& f, std::size_t t, const Dataset& d, std::size_t r) {
  int64_t i = 0;
  const int64_t base = f.tree_offsets[t];
  while (f.feature[base + i] >= 0) {
    const float v = d.columns[f.feature[base + i]][r];
    const bool left = std::isnan(v) ? f.default_left[base + i] != 0 : v <= f.threshold[base + i];
    i = f.left_child[base + i] + (left ? 0 : 1);
  }
  return base + i;
}

// Output c of a row = mean of class c's trees' leaf values, divided by the sum
// of those means over the classes; also for a range of trees that starts and
// ends inside a forest member.
TEST(OneVsRest, PredictionIsEachClassMeanNormalised) {
  const int C = 4;
  const Dataset d = classes_data(C, 0.1);
  const ForestNodes f = fit(d, {{"n_estimators", "5"}, {"max_depth", "4"}, {"multi_class", "ovr"}}).nodes;
  std::vector<const float*> cols;
  for (const auto& c : d.columns) cols.push_back(c.data());
  for (auto [begin, end] : {std::pair<std::size_t, std::size_t>{0, f.n_trees()}, {3, 14}, {6, 7}}) {
    std::vector<double> out(d.n_rows() * C);
    predict_cpu(f, ColumnsView{cols.data(), d.n_rows(), cols.size()}, begin, end, out.data());
    for (std::size_t r = 0; r < d.n_rows(); ++r) {
      std::vector<double> mean(C, 0.0), n(C, 0.0);
      for (std::size_t t = begin; t < end; ++t) {
        mean[t % C] += f.value[leaf_of(f, t, d, r)];
        n[t % C] += 1;
      }
      double total = 0, sum = 0;
      for (int c = 0; c < C; ++c) total += mean[c] = n[c] > 0 ? mean[c] / n[c] : 0.0;
      for (int c = 0; c < C; ++c) {
        const double want = total > 0 ? mean[c] / total : 1.0 / C;
        EXPECT_NEAR(out[r * C + c], want, 1e-15) << "trees [" << begin << ", " << end << ") row " << r;
        sum += out[r * C + c];
      }
      EXPECT_NEAR(sum, 1.0, 1e-12);
    }
  }
}

// Out-of-bag predictions follow the same rule over the trees that left the
// row out, and the stepped score counts forest members, not trees.
TEST(OneVsRest, OutOfBagScoreCountsMembers) {
  const int C = 3;
  const Dataset d = classes_data(C, 0.0);
  const TrainedForest f = fit(d, {{"n_estimators", "20"}, {"max_depth", "6"}, {"multi_class", "ovr"},
                                  {"oob_score", "true"}});
  ASSERT_EQ(f.oob_score_by_trees.size(), 10u);
  EXPECT_EQ(f.oob_score_by_trees.back().first, 20);
  EXPECT_EQ(f.oob_rows, 1500);
  EXPECT_GT(f.oob_score, 0.6);
  for (std::size_t r = 0; r < d.n_rows(); ++r) {
    double sum = 0;
    for (int c = 0; c < C; ++c) sum += f.oob_prediction[r * C + c];
    EXPECT_NEAR(sum, 1.0, 1e-12) << "row " << r;
  }
}

// Two classes: one-vs-rest would grow two mirror-image trees per member, so
// ovr trains the joint forest (as scikit-learn's OneVsRestClassifier fits one
// estimator for a binary problem).
TEST(OneVsRest, TwoClassesTrainTheJointForest) {
  const Dataset d = classes_data(2, 0.0);
  const ForestNodes a = fit(d, {{"n_estimators", "4"}, {"multi_class", "ovr"}}).nodes;
  const ForestNodes b = fit(d, {{"n_estimators", "4"}}).nodes;
  EXPECT_FALSE(a.one_vs_rest);
  EXPECT_EQ(a.feature, b.feature);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.value, b.value);
}

TEST(OneVsRest, BadSettingsNameTheParameter) {
  EXPECT_EQ(test::error_message<ParamError>([] { resolve_params({{"multi_class", "ecoc"}}, Task::kClassification); }),
            "invalid value \"ecoc\" for parameter multi_class: expected joint or ovr");
  EXPECT_EQ(test::error_message<ParamError>([] { resolve_params({{"multi_class", "ovr"}}, Task::kRegression); }),
            "parameter multi_class=ovr applies to classification only");
  EXPECT_TRUE(resolve_params({{"multi_class", "OVR"}}, Task::kClassification).one_vs_rest);
  EXPECT_FALSE(resolve_params({}, Task::kClassification).one_vs_rest);
}

}  // namespace
}  // namespace canopy
