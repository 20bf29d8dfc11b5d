// Tests for io/synth.h: shapes, determinism across thread counts, label
// ranges, missing-value rate, validation, and the HDF5 file.
#include "io/synth.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/hdf5_data.h"
#include "test_util.h"

namespace canopy {
namespace {

SynthSpec spec(int64_t rows, int features) {
  SynthSpec s;
  s.rows = rows;
  s.features = features;
  return s;
}

// Bitwise equality (NaN-safe).
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct Generated {
  std::vector<float> X, y;
};

Generated generate(const SynthSpec& s, int threads) {
  int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Generated g;
  g.X.resize(static_cast<size_t>(s.rows) * s.features);
  g.y.resize(s.rows);
  generate_synthetic(s, 0, s.rows, g.X.data(), g.y.data());
  omp_set_num_threads(saved);
  return g;
}

TEST(Synth, ResolvesDefaults) {
  SynthSpec s = resolve_synth_spec(spec(10, 28));
  EXPECT_EQ(s.informative, 9);
  EXPECT_EQ(s.redundant, 4);
  EXPECT_EQ(s.clusters_per_class, 2);
  s = resolve_synth_spec(spec(10, 2));
  EXPECT_EQ(s.informative, 2);
  EXPECT_EQ(s.redundant, 0);
  SynthSpec many = spec(10, 2);
  many.classes = 3;  // 3 classes x 2 clusters > 4 vertices: one cluster each
  EXPECT_EQ(resolve_synth_spec(many).clusters_per_class, 1);
}

TEST(Synth, ValidationNamesTheParameter) {
  auto message = [](SynthSpec s) -> std::string {
    try {
      resolve_synth_spec(s);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  SynthSpec s = spec(0, 5);
  EXPECT_NE(message(s).find("rows must be >= 1"), std::string::npos);
  s = spec(10, 1);
  EXPECT_NE(message(s).find("features must be >= 2"), std::string::npos);
  s = spec(10, 5);
  s.classes = 1;
  EXPECT_NE(message(s).find("classes must be >= 2"), std::string::npos);
  s = spec(10, 5);
  s.informative = 6;
  EXPECT_NE(message(s).find("informative must be between 1 and features"), std::string::npos);
  s = spec(10, 5);
  s.task = "ranking";
  EXPECT_NE(message(s).find("task must be"), std::string::npos);
  s = spec(10, 5);
  s.missing_fraction = 1.0;
  EXPECT_NE(message(s).find("missing_fraction"), std::string::npos);
  s = spec(10, 4);
  s.informative = 2;
  s.classes = 5;
  EXPECT_NE(message(s).find("classes (5) must be <= 2^informative (4)"), std::string::npos);
  EXPECT_THROW(write_synthetic_hdf5(spec(0, 5), test::temp_dir() + "/x.h5"), std::invalid_argument);
}

TEST(Synth, DeterministicAcrossThreadsAndSeeds) {
  SynthSpec s = spec(5000, 13);
  s.classes = 4;
  s.missing_fraction = 0.05;
  s.seed = 42;
  Generated one = generate(s, 1), two = generate(s, 2), again = generate(s, 2);
  EXPECT_TRUE(same_bits(one.X, two.X));
  EXPECT_TRUE(same_bits(one.y, two.y));
  EXPECT_TRUE(same_bits(one.X, again.X));
  s.seed = 43;
  Generated other = generate(s, 2);
  EXPECT_FALSE(same_bits(one.X, other.X));
}

TEST(Synth, RowRangesMatchTheWhole) {
  SynthSpec s = spec(3000, 6);
  s.task = "regression";
  Generated whole = generate(s, 2);
  std::vector<float> X(1000 * 6), y(1000);
  generate_synthetic(s, 1000, 2000, X.data(), y.data());
  EXPECT_EQ(0, std::memcmp(X.data(), whole.X.data() + 1000 * 6, X.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(y.data(), whole.y.data() + 1000, y.size() * sizeof(float)));
}

TEST(Synth, ClassesInRangeAndRoughlyBalanced) {
  SynthSpec s = spec(20000, 10);
  s.classes = 5;
  Generated g = generate(s, 2);
  std::vector<int> counts(5, 0);
  for (float v : g.y) {
    ASSERT_EQ(v, std::floor(v));
    ASSERT_GE(v, 0);
    ASSERT_LT(v, 5);
    ++counts[static_cast<int>(v)];
  }
  for (int c : counts) EXPECT_NEAR(c, 4000, 300);
}

TEST(Synth, InformativeFeaturesSeparateClassesAndRedundantAreCombinations) {
  SynthSpec s = spec(20000, 12);  // 4 informative, 2 redundant, 6 noise
  s.flip_fraction = 0;
  Dataset d = make_synthetic_dataset(s);
  // The class-conditional means of some informative feature differ clearly;
  // noise features do not depend on the class.
  auto mean_gap = [&](int j) {
    double sum[2] = {0, 0};
    int n[2] = {0, 0};
    for (size_t i = 0; i < d.n_rows(); ++i) {
      int c = static_cast<int>(d.label_numeric[i]);
      sum[c] += d.columns[j][i];
      ++n[c];
    }
    return std::fabs(sum[0] / n[0] - sum[1] / n[1]);
  };
  double best = 0;
  for (int j = 0; j < 4; ++j) best = std::max(best, mean_gap(j));
  EXPECT_GT(best, 0.5);
  for (int j = 6; j < 12; ++j) EXPECT_LT(mean_gap(j), 0.1) << "noise feature " << j;
}

TEST(Synth, RegressionTargetFollowsInformativeFeatures) {
  SynthSpec s = spec(20000, 6);
  s.task = "regression";
  s.informative = 2;
  Dataset d = make_synthetic_dataset(s);
  // Correlation between y and x0 + x1 weighted: y is linear in x0, x1 plus
  // noise of std 1 while the weights are up to 100, so R^2 of the best
  // single feature pair is high; check y's variance is mostly explained.
  double sy = 0, syy = 0;
  for (double v : d.label_numeric) {
    sy += v;
    syy += v * v;
  }
  const double n = static_cast<double>(d.n_rows());
  const double var_y = syy / n - (sy / n) * (sy / n);
  EXPECT_GT(var_y, 10.0);
  std::set<float> distinct(d.label_numeric.begin(), d.label_numeric.end());
  EXPECT_GT(distinct.size(), 19000u);
}

TEST(Synth, MissingFractionApproximatelyRight) {
  SynthSpec s = spec(20000, 10);
  s.missing_fraction = 0.1;
  Generated g = generate(s, 2);
  size_t missing = 0;
  for (float v : g.X) missing += std::isnan(v);
  EXPECT_NEAR(static_cast<double>(missing) / g.X.size(), 0.1, 0.005);
  for (float v : g.y) ASSERT_FALSE(std::isnan(v));
}

TEST(Synth, Hdf5FileMatchesInMemoryAndIsByteIdentical) {
  std::string dir = test::temp_dir();
  SynthSpec s = spec(70000, 7);  // more than one chunk and one read slab
  s.classes = 3;
  s.missing_fraction = 0.02;
  s.seed = 7;
  omp_set_num_threads(1);
  write_synthetic_hdf5(s, dir + "/a.h5");
  omp_set_num_threads(2);
  write_synthetic_hdf5(s, dir + "/b.h5");
  EXPECT_EQ(test::read_file(dir + "/a.h5"), test::read_file(dir + "/b.h5"));

  Dataset file = read_hdf5(dir + "/a.h5", ReadOptions{});
  Dataset mem = make_synthetic_dataset(s);
  ASSERT_EQ(file.n_rows(), 70000u);
  ASSERT_EQ(file.n_features(), 7u);
  EXPECT_EQ(file.feature_names, mem.feature_names);
  for (size_t j = 0; j < 7; ++j) EXPECT_TRUE(same_bits(file.columns[j], mem.columns[j])) << j;
  EXPECT_EQ(file.label_numeric, mem.label_numeric);

  s.task = "regression";
  s.compression = 4;
  write_synthetic_hdf5(s, dir + "/r.h5");
  Dataset r = read_hdf5(dir + "/r.h5", ReadOptions{});
  EXPECT_EQ(r.label_numeric, make_synthetic_dataset(s).label_numeric);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace canopy
