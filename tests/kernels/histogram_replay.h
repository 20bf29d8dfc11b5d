#pragma once
// Fixtures of the tests that replay a CUDA histogram walk on the host
// (rotated_rows_test.cc, swizzled_rows_test.cc): device-shaped random rows,
// scattered entries, and the CPU histogram the replay must equal.
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/histogram.h"

namespace canopy {
namespace test {

struct ReplayMatrix {
  std::vector<uint8_t> bins;  // rows of `stride` bytes, a multiple of 4 (device rows); padding 0
  std::size_t stride = 0;
  int32_t max_bins = 0;
};

// Rows of `stride` bytes (0: n_features rounded up to whole words).
inline ReplayMatrix random_replay_matrix(std::size_t n_rows, std::size_t n_features, int32_t max_bins,
                                         std::mt19937& rng, std::size_t stride = 0) {
  ReplayMatrix m;
  m.stride = stride > 0 ? stride : (n_features + 3) / 4 * 4;
  m.max_bins = max_bins;
  m.bins.assign(n_rows * m.stride, 0);
  for (std::size_t r = 0; r < n_rows; ++r)
    for (std::size_t f = 0; f < n_features; ++f)
      m.bins[r * m.stride + f] = static_cast<uint8_t>(rng() % static_cast<uint32_t>(max_bins));
  return m;
}

// A node's feature sample: n_group distinct features of n_features, in draw order.
inline std::vector<int32_t> random_group(std::size_t n_features, int32_t n_group, std::mt19937& rng) {
  std::vector<int32_t> all(n_features);
  for (std::size_t f = 0; f < n_features; ++f) all[f] = static_cast<int32_t>(f);
  std::shuffle(all.begin(), all.end(), rng);
  return std::vector<int32_t>(all.begin(), all.begin() + n_group);
}

// A class id in [0, classes) a row.
inline std::vector<int32_t> random_classes(std::size_t n_rows, int32_t classes, std::mt19937& rng) {
  std::vector<int32_t> cls(n_rows);
  for (auto& x : cls) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(classes));
  return cls;
}

// Every second or third row, shuffled, with bootstrap multiplicities 1 to 3.
inline std::vector<RowEntry> scattered_entries(std::size_t n_rows, std::mt19937& rng) {
  std::vector<RowEntry> entries;
  for (uint32_t r = 0; r < n_rows; r += 1 + rng() % 3) entries.push_back({r, 1 + static_cast<uint32_t>(rng() % 3)});
  std::shuffle(entries.begin(), entries.end(), rng);
  return entries;
}

// accumulate_histogram_cpu over the group f: (j * max_bins + bin) * k + class.
inline std::vector<int64_t> cpu_histogram(const ReplayMatrix& m, const std::vector<int32_t>& cls, int32_t k,
                                          const std::vector<RowEntry>& entries, const std::vector<int32_t>& f) {
  const StatsLayout lay = StatsLayout::make(k, false);
  RowTargets t;
  t.layout = &lay;
  t.class_id = cls.data();
  std::vector<uint32_t> offsets(f.size() + 1);
  for (std::size_t j = 0; j <= f.size(); ++j) offsets[j] = static_cast<uint32_t>(j * m.max_bins);
  const FeatureSet fs{f.data(), offsets.data(), static_cast<int32_t>(f.size())};
  std::vector<int64_t> hist(f.size() * m.max_bins * k, 0);
  accumulate_histogram_cpu(BinRows{m.bins.data(), m.stride}, t, entries.data(), entries.size(), fs, hist.data());
  return hist;
}

}  // namespace test
}  // namespace canopy
