#pragma once
// Split gain and node statistics shared by the CPU and CUDA backends
// (DESIGN principle 2). Everything here is compiled from this one source for
// host and device, uses only IEEE-exact operations (+ - * / and comparisons;
// no library transcendental functions, no FMA contraction), and therefore
// rounds identically on both backends.
//
// Statistics are integers. A node's (or bin's) statistics are `n_channels`
// int64 values:
//   classification: channels [0, n_classes) = weighted class counts;
//   regression:     channel 0 = weight, channel 1 = weight * y in fixed point;
//   when the training is weighted (sample or class weights) one more channel
//   holds the plain sample count (sum of bootstrap multiplicities) that
//   min_samples_leaf is checked against; unweighted, the count is the weight.
#include <cstdint>
#include <cstring>

#include "kernels/host_device.h"

namespace canopy {

enum class Criterion : int32_t { kGini = 0, kEntropy = 1, kSquaredError = 2 };

struct StatsLayout {
  int32_t n_classes = 0;       // 0 for regression
  int32_t n_channels = 0;
  int32_t count_channel = -1;  // -1: the count equals the weight

  static StatsLayout make(int32_t n_classes, bool weighted) {
    StatsLayout l;
    l.n_classes = n_classes;
    int32_t base = n_classes > 0 ? n_classes : 2;
    l.count_channel = weighted ? base : -1;
    l.n_channels = base + (weighted ? 1 : 0);
    return l;
  }
  CANOPY_HD bool regression() const { return n_classes == 0; }
  CANOPY_HD int64_t weight(const int64_t* s) const {
    if (n_classes == 0) return s[0];
    int64_t w = 0;
    for (int32_t c = 0; c < n_classes; ++c) w += s[c];
    return w;
  }
  CANOPY_HD int64_t count(const int64_t* s) const {
    return count_channel >= 0 ? s[count_channel] : weight(s);
  }
};

// log2(x) for a normal positive double, from exact operations only (bit
// manipulation, + - * /), so host and device round identically:
// x = m * 2^e with m in [sqrt(1/2), sqrt(2)), ln(m) = 2 atanh(z),
// z = (m-1)/(m+1), |z| < 0.1716, and atanh's series to z^27 (error < 2^-70).
CANOPY_HD double exact_log2(double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  int e = static_cast<int>((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;  // mantissa in [1, 2)
  double m;
  memcpy(&m, &bits, sizeof m);
  if (m >= 1.4142135623730951) {
    m *= 0.5;
    ++e;
  }
  const double z = (m - 1.0) / (m + 1.0);
  const double z2 = z * z;
  // 1/(2k+1) for k = 13 .. 0, Horner's scheme from the highest term.
  double p = 1.0 / 27;
  p = p * z2 + 1.0 / 25;
  p = p * z2 + 1.0 / 23;
  p = p * z2 + 1.0 / 21;
  p = p * z2 + 1.0 / 19;
  p = p * z2 + 1.0 / 17;
  p = p * z2 + 1.0 / 15;
  p = p * z2 + 1.0 / 13;
  p = p * z2 + 1.0 / 11;
  p = p * z2 + 1.0 / 9;
  p = p * z2 + 1.0 / 7;
  p = p * z2 + 1.0 / 5;
  p = p * z2 + 1.0 / 3;
  p = p * z2 + 1.0;
  return static_cast<double>(e) + (2.0 * z * p) * 1.4426950408889634;
}

CANOPY_HD double xlog2x(double x) { return x > 0.0 ? x * exact_log2(x) : 0.0; }

// Purity score of a node's class counts: larger is purer; the impurity
// decrease of a split (in weight units) is score(L) + score(R) - score(P).
//   gini:    sum_c n_c^2 / n        ( = n - n * gini )
//   entropy: sum_c n_c log2 n_c - n log2 n   ( = -n * entropy in bits )
CANOPY_HD double class_score_w(Criterion crit, const StatsLayout& lay, const int64_t* s, int64_t weight) {
  const double w = static_cast<double>(weight);
  if (w <= 0.0) return 0.0;
  double acc = 0.0;
  if (crit == Criterion::kGini) {
    for (int32_t c = 0; c < lay.n_classes; ++c) {
      const double n = static_cast<double>(s[c]);
      acc += n * n;
    }
    return acc / w;
  }
  for (int32_t c = 0; c < lay.n_classes; ++c) acc += xlog2x(static_cast<double>(s[c]));
  return acc - xlog2x(w);
}

CANOPY_HD double class_score(Criterion crit, const StatsLayout& lay, const int64_t* s) {
  return class_score_w(crit, lay, s, lay.weight(s));
}

// Regression impurity decrease of a split whose children have weight * y
// sums sl, sr and weights wl, wr, in weight * (fixed-point y)^2 units, as
// wL wR / wP (mean_L - mean_R)^2, which is exactly 0 when the means agree.
CANOPY_HD double regression_gain(int64_t sl, int64_t sr, int64_t wl, int64_t wr) {
  const double dl = static_cast<double>(wl), dr = static_cast<double>(wr);
  const double d = static_cast<double>(sl) / dl - static_cast<double>(sr) / dr;
  return (dl * dr / (dl + dr)) * (d * d);
}

// Impurity decrease of splitting a node into `left` and `right` (weights wl
// and wr, already known to the caller), in weight units (regression:
// regression_gain).
CANOPY_HD double split_gain_w(Criterion crit, const StatsLayout& lay, const int64_t* left, const int64_t* right,
                              int64_t wl, int64_t wr, double parent_score) {
  if (lay.regression()) return regression_gain(left[1], right[1], wl, wr);
  return class_score_w(crit, lay, left, wl) + class_score_w(crit, lay, right, wr) - parent_score;
}

CANOPY_HD double split_gain(Criterion crit, const StatsLayout& lay, const int64_t* left, const int64_t* right,
                            const int64_t* parent, double parent_score) {
  (void)parent;
  return split_gain_w(crit, lay, left, right, lay.weight(left), lay.weight(right), parent_score);
}

// The smallest gain a classification split must exceed, relative to the
// parent weight: below it the "gain" is floating-point noise.
constexpr double kMinRelativeClassGain = 1e-13;

// Candidate order for ties (DESIGN principle 2): higher gain wins; equal gains
// go to the lowest feature, then the lowest bin, then missing-left before
// missing-right.
struct SplitChoice {
  double gain = 0.0;
  int32_t feature = -1;      // -1: no valid split
  int32_t bin = 0;           // left = value bins 1..bin
  int32_t missing_left = 0;  // 1: the missing bin goes left
  int32_t default_left = 0;  // stored direction for missing values at predict time

  CANOPY_HD bool valid() const { return feature >= 0; }
  CANOPY_HD bool better_than(const SplitChoice& o) const {
    if (!o.valid()) return valid();
    if (!valid()) return false;
    if (gain != o.gain) return gain > o.gain;
    if (feature != o.feature) return feature < o.feature;
    if (bin != o.bin) return bin < o.bin;
    return missing_left > o.missing_left;
  }
};

}  // namespace canopy
