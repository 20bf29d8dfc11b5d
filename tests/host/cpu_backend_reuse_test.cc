// The CPU backend keeps its copies of a binned matrix (feature-major and
// line-aligned row-major) while the same matrix comes again. A backend reused
// across different matrices, or across the batches and requests of one, must
// grow exactly the forests a fresh backend grows.
#include <gtest/gtest.h>

#include "host/forest_trainer.h"
#include "host/params.h"
#include "host/training_data.h"
#include "test_util.h"

namespace canopy {
namespace {

TrainingData prepared(unsigned seed, int features) {
  return test::synthetic_classification(3000, features, 0.05, seed, 64);
}

ForestNodes grow(const TrainingData& td, TreeBackend& backend) {
  // 40 trees: several batches of the CPU backend on one matrix.
  const ForestParams p = resolve_params({{"n_estimators", "40"}, {"max_depth", "8"}, {"seed", "5"}}, td.task);
  return train_forests(td, {ForestRequest{p, {}}}, backend)[0].nodes;
}

TEST(CpuBackend, ReusedAcrossMatricesGrowsWhatAFreshOneGrows) {
  const TrainingData a = prepared(1, 10), b = prepared(2, 10), c = prepared(3, 7);
  auto reused = make_cpu_tree_backend();
  const ForestNodes a1 = grow(a, *reused);
  const ForestNodes b1 = grow(b, *reused);  // same shape, other data
  const ForestNodes c1 = grow(c, *reused);  // other shape
  const ForestNodes a2 = grow(a, *reused);  // back to the first matrix
  for (const auto& [mine, data] : {std::pair{&b1, &b}, std::pair{&c1, &c}, std::pair{&a2, &a}}) {
    auto fresh = make_cpu_tree_backend();
    test::expect_same_forest(*mine, grow(*data, *fresh));
  }
  test::expect_same_forest(a1, a2);
  EXPECT_NE(a1.feature, b1.feature);
}

}  // namespace
}  // namespace canopy
