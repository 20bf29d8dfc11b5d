#include "io/quantile_cuts.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace canopy {
namespace {

// A cut c with a <= c < b, so "v <= c" separates a from b exactly.
float midpoint_cut(float a, float b) {
  float mid = static_cast<float>((static_cast<double>(a) + static_cast<double>(b)) * 0.5);
  return (mid < b && mid >= a) ? mid : a;
}

// Order-preserving key of a non-NaN float: a < b exactly when key(a) < key(b)
// (-0.0 and +0.0 are folded to +0.0 by the caller).
uint32_t sort_key(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

// Sorts non-NaN floats ascending: least-significant-digit radix sort over the
// keys, one pass per byte, skipping bytes every key shares. The same order as
// std::sort (keys are unique per value), in linear time.
void sort_floats(std::vector<float>& v) {
  constexpr std::size_t kMinRadix = 1024;  // below this, std::sort is as fast
  if (v.size() < kMinRadix) {
    std::sort(v.begin(), v.end());
    return;
  }
  std::vector<uint32_t> keys(v.size()), tmp(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) keys[i] = sort_key(v[i]);
  for (int shift = 0; shift < 32; shift += 8) {
    std::size_t count[257] = {0};
    for (uint32_t k : keys) ++count[((k >> shift) & 0xff) + 1];
    if (count[((keys[0] >> shift) & 0xff) + 1] == keys.size()) continue;  // one digit: already in order
    for (int d = 0; d < 256; ++d) count[d + 1] += count[d];
    for (uint32_t k : keys) tmp[count[(k >> shift) & 0xff]++] = k;
    keys.swap(tmp);
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const uint32_t k = keys[i];
    const uint32_t bits = (k & 0x80000000u) ? k & 0x7fffffffu : ~k;
    std::memcpy(&v[i], &bits, sizeof bits);
  }
}

std::vector<float> feature_cuts(std::vector<float>& sample, std::size_t max_value_bins) {
  sort_floats(sample);
  std::vector<float> distinct;
  for (float v : sample)
    if (distinct.empty() || v != distinct.back()) distinct.push_back(v);
  std::vector<float> cuts;
  if (distinct.size() <= max_value_bins) {
    for (std::size_t i = 1; i < distinct.size(); ++i)
      cuts.push_back(midpoint_cut(distinct[i - 1], distinct[i]));
    return cuts;
  }
  const std::size_t n = sample.size();
  for (std::size_t k = 1; k < max_value_bins; ++k) {
    std::size_t p = k * n / max_value_bins;
    if (p == 0 || p >= n || !(sample[p - 1] < sample[p])) continue;
    float c = midpoint_cut(sample[p - 1], sample[p]);
    if (cuts.empty() || c > cuts.back()) cuts.push_back(c);
  }
  return cuts;
}

}  // namespace

BinCuts compute_cuts(const std::vector<std::vector<float>>& columns, const CutOptions& opt) {
  if (opt.max_bins < 3 || opt.max_bins > 256)
    throw std::invalid_argument("max_bins must be in [3, 256], got " + std::to_string(opt.max_bins));
  const std::size_t nf = columns.size();
  const std::size_t nr = nf ? columns[0].size() : 0;
  const std::size_t ns = std::min(nr, std::max<std::size_t>(opt.sample_rows, 1));
  const std::size_t max_value_bins = static_cast<std::size_t>(opt.max_bins) - 1;
  std::vector<std::vector<float>> per_feature(nf);
#pragma omp parallel for schedule(dynamic)
  for (std::size_t f = 0; f < nf; ++f) {
    std::vector<float> sample;
    sample.reserve(ns);
    for (std::size_t i = 0; i < ns; ++i) {
      float v = columns[f][ns == nr ? i : i * nr / ns];
      if (std::isnan(v)) continue;
      sample.push_back(v == 0.0f ? 0.0f : v);  // -0.0 as +0.0: one zero, whatever the sort order
    }
    per_feature[f] = feature_cuts(sample, max_value_bins);
  }
  BinCuts cuts;
  for (std::size_t f = 0; f < nf; ++f) {
    cuts.values.insert(cuts.values.end(), per_feature[f].begin(), per_feature[f].end());
    cuts.offsets.push_back(static_cast<uint32_t>(cuts.values.size()));
  }
  return cuts;
}

}  // namespace canopy
