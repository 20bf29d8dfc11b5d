// Sample weights, class weights, missing values and OOB through the host API.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "host/cross_validation.h"
#include "host/forest_trainer.h"
#include "host/metrics.h"
#include "host/params.h"
#include "host/training_data.h"
#include "kernels/predict.h"
#include "kernels/row_sample.h"

namespace canopy {
namespace {

Dataset grid_data(int n, unsigned seed, bool regression) {
  std::mt19937 rng(seed);
  Dataset d;
  d.source = "grid";
  d.label_name = "y";
  d.columns.assign(3, std::vector<float>(n));
  d.feature_names = {"a", "b", "c"};
  for (int r = 0; r < n; ++r) {
    for (int f = 0; f < 3; ++f) d.columns[f][r] = static_cast<float>(rng() % 12);
    const double s = d.columns[0][r] - 0.5 * d.columns[1][r] + (rng() % 7);
    d.label_numeric.push_back(regression ? std::round(s * 4) / 4 : static_cast<double>(s > 5));
  }
  return d;
}

std::vector<TrainedForest> fit(const Dataset& d, TaskChoice task, ParamValues v) {
  const TrainingData td = prepare_training_data(d, task, 256);
  ForestParams p = resolve_params(v, td.task);
  auto backend = make_cpu_tree_backend();
  return train_forests(td, {ForestRequest{p, {}}}, *backend);
}

// A row with sample weight 2 trains exactly like the row duplicated.
TEST(Weights, WeightTwoEqualsADuplicatedRow) {
  for (bool regression : {false, true}) {
    Dataset base = grid_data(200, 11, regression);
    Dataset weighted = base, duplicated = base;
    weighted.sample_weight.assign(base.n_rows(), 1.0);
    for (int r = 0; r < 200; r += 3) {
      weighted.sample_weight[r] = 2.0;
      for (int f = 0; f < 3; ++f) duplicated.columns[f].push_back(base.columns[f][r]);
      duplicated.label_numeric.push_back(base.label_numeric[r]);
    }
    const TaskChoice task = regression ? TaskChoice::kRegression : TaskChoice::kClassification;
    ParamValues v{{"n_estimators", "1"}, {"bootstrap", "false"}, {"max_features", "all"}};
    const ForestNodes a = fit(weighted, task, v)[0].nodes;
    const ForestNodes b = fit(duplicated, task, v)[0].nodes;
    ASSERT_EQ(a.n_nodes(), b.n_nodes()) << "regression=" << regression;
    EXPECT_EQ(a.feature, b.feature);
    EXPECT_EQ(a.threshold, b.threshold);
    for (std::size_t i = 0; i < a.value.size(); ++i) EXPECT_NEAR(a.value[i], b.value[i], 1e-5 * std::fabs(b.value[i]) + 1e-6);
    for (std::size_t i = 0; i < a.n_nodes(); ++i) EXPECT_NEAR(a.weight[i], b.weight[i], 1e-9);
  }
}

TEST(Weights, BalancedClassWeightRaisesMinorityRecall) {
  std::mt19937 rng(5);
  Dataset d;
  d.source = "imbalanced";
  d.label_name = "y";
  d.feature_names = {"a", "b"};
  d.columns.assign(2, {});
  for (int r = 0; r < 4000; ++r) {
    const bool minority = r % 20 == 0;
    std::normal_distribution<float> g(minority ? 1.0f : 0.0f, 1.0f);
    d.columns[0].push_back(g(rng));
    d.columns[1].push_back(g(rng));
    d.label_numeric.push_back(minority ? 1 : 0);
  }
  TrainingData td = prepare_training_data(d, TaskChoice::kClassification, 256);
  auto backend = make_cpu_tree_backend();
  auto recall = [&](const std::string& cw) {
    ForestParams p = resolve_params({{"n_estimators", "30"}, {"class_weight", cw}, {"min_samples_leaf", "20"}},
                                    td.task);
    FoldOptions fo;
    CvResult r = cross_validate(td, p, fo, *backend);
    for (const auto& [k, v] : r.mean)
      if (k == "recall") return v;
    return -1.0;
  };
  const double none = recall("none"), balanced = recall("balanced"), sub = recall("balanced_subsample");
  EXPECT_GT(balanced, none + 0.1);
  EXPECT_GT(sub, none + 0.1);
}

TEST(MissingValues, TrainsLearnsDirectionsAndStaysDeterministic) {
  Dataset d = grid_data(2000, 3, false);
  std::mt19937 rng(9);
  for (auto& col : d.columns)
    for (float& v : col)
      if (rng() % 10 == 0) v = std::numeric_limits<float>::quiet_NaN();
  // A column that is missing exactly when the label is 1 must be used with missing going right.
  d.feature_names.push_back("signal");
  d.columns.push_back(std::vector<float>(d.n_rows(), 1.0f));
  for (std::size_t r = 0; r < d.n_rows(); ++r)
    if (d.label_numeric[r] == 1) d.columns[3][r] = std::numeric_limits<float>::quiet_NaN();
  ParamValues v{{"n_estimators", "5"}, {"max_features", "all"}, {"seed", "4"}};
  const ForestNodes a = fit(d, TaskChoice::kClassification, v)[0].nodes;
  const ForestNodes b = fit(d, TaskChoice::kClassification, v)[0].nodes;
  EXPECT_EQ(a.feature, b.feature);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.default_left, b.default_left);
  EXPECT_EQ(a.feature[0], 3);
  EXPECT_EQ(a.default_left[0], 0);
  EXPECT_TRUE(std::isinf(a.threshold[0]));  // every non-missing value goes left
}

TEST(Oob, ScoreIsCloseToCrossValidation) {
  Dataset d = grid_data(3000, 21, false);
  auto f = fit(d, TaskChoice::kClassification, {{"n_estimators", "50"}, {"oob_score", "true"}});
  EXPECT_EQ(f[0].oob_rows, 3000);
  EXPECT_GT(f[0].oob_score, 0.6);
  EXPECT_LT(f[0].oob_score, 0.95);
  for (double p : f[0].oob_prediction) EXPECT_TRUE(std::isfinite(p));
  double s = 0;
  for (double v : f[0].importances) s += v;
  EXPECT_NEAR(s, 1.0, 1e-12);
  EXPECT_GT(f[0].importances[0], f[0].importances[2]);  // "a" carries signal, "c" none
}

// A row's out-of-bag prediction is the mean leaf value over exactly the trees
// whose bootstrap sample (row_sample.h, keyed by seed and tree index) missed
// it; one-vs-rest: each class's mean over its own such trees, normalised.
TEST(Oob, PredictionsUseExactlyTheTreesThatLeftTheRowOut) {
  Dataset d = grid_data(800, 5, false);
  for (std::size_t r = 0; r < d.n_rows(); r += 5) d.label_numeric[r] = 2;  // a third class
  for (const char* multi : {"joint", "ovr"}) {
    const TrainedForest f =
        fit(d, TaskChoice::kClassification, {{"n_estimators", "12"}, {"oob_score", "true"}, {"multi_class", multi},
                                             {"seed", "4"}, {"max_depth", "5"}})[0];
    const ForestNodes& nodes = f.nodes;
    const int32_t C = nodes.n_outputs;
    ASSERT_EQ(C, 3);
    std::vector<uint32_t> rows(d.n_rows());
    for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<uint32_t>(r);
    const RowSample sample{&rows, static_cast<int64_t>(rows.size())};
    std::vector<std::vector<uint32_t>> mult;
    for (std::size_t t = 0; t < nodes.n_trees(); ++t) mult.push_back(sample_multiplicity(sample, 4, t, d.n_rows()));
    for (std::size_t r = 0; r < d.n_rows(); ++r) {
      std::vector<double> sum(C, 0.0), n(C, 0.0);
      for (std::size_t t = 0; t < nodes.n_trees(); ++t) {
        if (mult[t][r] > 0) continue;
        const int64_t base = nodes.tree_offsets[t];
        auto row = [&](int32_t k) { return d.columns[k][r]; };
        const int64_t leaf = base + find_leaf(&nodes.feature[base], &nodes.threshold[base], &nodes.left_child[base],
                                              &nodes.default_left[base], row);
        for (int32_t c = 0; c < C; ++c) {
          if (nodes.one_vs_rest && static_cast<int32_t>(t % C) != c) continue;
          sum[c] += nodes.value[leaf * nodes.values_per_node() + (nodes.one_vs_rest ? 0 : c)];
          n[c] += 1;
        }
      }
      double total = 0;
      for (int32_t c = 0; c < C; ++c) total += sum[c] = n[c] > 0 ? sum[c] / n[c] : 0.0;
      for (int32_t c = 0; c < C; ++c) {
        const double want = nodes.one_vs_rest ? sum[c] / total : sum[c];
        EXPECT_NEAR(f.oob_prediction[r * C + c], want, 1e-12) << multi << " row " << r << " class " << c;
      }
    }
  }
}

}  // namespace
}  // namespace canopy
