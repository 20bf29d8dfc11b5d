#include "io/quantile_cuts.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace canopy {
namespace {

// The cut rule of quantile_cuts.h, written from its contract with std::sort:
// one value bin per distinct value when they fit, else cuts between the sorted
// sample's values at ranks k * n / (max_bins - 1).
std::vector<float> reference_cuts(std::vector<float> col, int max_bins) {
  std::vector<float> s;
  for (float v : col)
    if (!std::isnan(v)) s.push_back(v == 0.0f ? 0.0f : v);
  std::sort(s.begin(), s.end());
  auto mid = [](float a, float b) {
    const float m = static_cast<float>((static_cast<double>(a) + static_cast<double>(b)) * 0.5);
    return (m < b && m >= a) ? m : a;
  };
  std::vector<float> distinct;
  for (float v : s)
    if (distinct.empty() || v != distinct.back()) distinct.push_back(v);
  const std::size_t value_bins = static_cast<std::size_t>(max_bins) - 1;
  std::vector<float> cuts;
  if (distinct.size() <= value_bins) {
    for (std::size_t i = 1; i < distinct.size(); ++i) cuts.push_back(mid(distinct[i - 1], distinct[i]));
    return cuts;
  }
  for (std::size_t k = 1; k < value_bins; ++k) {
    const std::size_t p = k * s.size() / value_bins;
    if (p == 0 || p >= s.size() || !(s[p - 1] < s[p])) continue;
    const float c = mid(s[p - 1], s[p]);
    if (cuts.empty() || c > cuts.back()) cuts.push_back(c);
  }
  return cuts;
}

std::vector<float> cuts_of(const BinCuts& c, std::size_t f) {
  return std::vector<float>(c.cuts(f), c.cuts(f) + c.n_cuts(f));
}

// Bit-for-bit equality (a threshold's sign bit is part of the model file).
void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(std::signbit(got[i]), std::signbit(want[i])) << what << " cut " << i;
  EXPECT_EQ(got, want) << what;
}

TEST(QuantileCuts, MatchTheSortedReferenceOnAdversarialColumns) {
  std::mt19937 rng(7);
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::size_t n = 50000;  // large enough for the radix sort
  std::vector<std::vector<float>> cols(8, std::vector<float>(n));
  std::normal_distribution<float> normal(0.0f, 1000.0f);
  std::uniform_int_distribution<int> small(-3, 3);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) {
    cols[0][i] = normal(rng);                                                // continuous, both signs
    cols[1][i] = static_cast<float>(small(rng));                            // 7 distinct values
    cols[2][i] = (i % 2) ? -0.0f : 0.0f;                                    // one zero, two signs
    cols[3][i] = unit(rng) < 0.3f ? nan : normal(rng);                      // missing values
    cols[4][i] = (i % 97 == 0) ? inf : (i % 89 == 0) ? -inf : normal(rng);  // infinities
    cols[5][i] = std::ldexp(unit(rng) - 0.5f, -140);                        // subnormals
    cols[6][i] = static_cast<float>(i % 300) - 150.0f;                      // 300 distinct, many ties
    cols[7][i] = nan;                                                       // all missing
  }
  for (int max_bins : {3, 16, 256}) {
    CutOptions opt;
    opt.max_bins = max_bins;
    const BinCuts c = compute_cuts(cols, opt);
    ASSERT_EQ(c.n_features(), cols.size());
    for (std::size_t f = 0; f < cols.size(); ++f) {
      SCOPED_TRACE("feature " + std::to_string(f) + ", max_bins " + std::to_string(max_bins));
      const std::vector<float> got = cuts_of(c, f);
      expect_same_bits(got, reference_cuts(cols[f], max_bins), "cuts");
      EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
      EXPECT_LE(got.size(), static_cast<std::size_t>(max_bins) - 2);
    }
  }
}

TEST(QuantileCuts, FewDistinctValuesGetOneBinEach) {
  std::vector<std::vector<float>> cols{{3.0f, 1.0f, 2.0f, 1.0f, 3.0f, -0.0f, 0.0f}};
  CutOptions opt;
  const BinCuts c = compute_cuts(cols, opt);
  EXPECT_EQ(cuts_of(c, 0), (std::vector<float>{0.5f, 1.5f, 2.5f}));
  for (float v : {0.0f, 1.0f, 2.0f, 3.0f})  // each value alone in its bin
    EXPECT_EQ(bin_value(c.cuts(0), c.n_cuts(0), v), 1 + static_cast<int>(v));
}

TEST(QuantileCuts, RejectsMaxBinsOutOfRange) {
  std::vector<std::vector<float>> cols{{1.0f, 2.0f}};
  for (int bad : {2, 257}) {
    CutOptions opt;
    opt.max_bins = bad;
    try {
      compute_cuts(cols, opt);
      FAIL() << "max_bins " << bad << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("max_bins"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace canopy
