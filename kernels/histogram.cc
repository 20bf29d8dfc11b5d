#include "kernels/histogram.h"

#include <algorithm>

namespace canopy {
namespace {

// Visits every (row, feature) pair of entries[0, n): `row_fn(r, mult)` returns
// an adder called with the statistics of the row's bin for each feature
// (stride k). Histogram pointers are hoisted per feature, so the inner loop is
// one byte load and the adder's increments. `row_targets` (optional): the
// per-row array row_fn reads, `target_bytes` per row, prefetched ahead like
// the rows.
template <typename RowFn>
void for_each_row_bin(const BinRows& rows, const RowEntry* entries, std::size_t n, const FeatureSet& fs,
                      int64_t* hist, int32_t k, RowFn row_fn, const void* row_targets = nullptr,
                      std::size_t target_bytes = 0) {
  const std::size_t stride = rows.stride;
  const uint8_t* base = rows.data;
  constexpr int kMaxFeatures = 64;
  int64_t* feature_hist[kMaxFeatures];
  int32_t feature_col[kMaxFeatures];
  for (int32_t j0 = 0; j0 < fs.n; j0 += kMaxFeatures) {
    const int32_t m = std::min(kMaxFeatures, fs.n - j0);
    for (int32_t j = 0; j < m; ++j) {
      feature_hist[j] = hist + static_cast<std::size_t>(fs.offsets[j0 + j]) * k;
      feature_col[j] = fs.features[j0 + j];
    }
    for (std::size_t i = 0; i < n; ++i) {
      prefetch_row_ahead(base, stride, entries, i, n);
      if (row_targets) prefetch_row_ahead(static_cast<const uint8_t*>(row_targets), target_bytes, entries, i, n);
      const uint32_t r = entries[i].row;
      const uint8_t* row = base + static_cast<std::size_t>(r) * stride;
      auto add = row_fn(r, static_cast<int64_t>(entries[i].mult));
      for (int32_t j = 0; j < m; ++j) add(feature_hist[j] + row[feature_col[j]] * k);
    }
  }
}

// Class counts weighted by multiplicity; K > 0 channels known at compile
// time, K == 0 for any count.
template <int K>
void accumulate_classes(const BinRows& bins, const int32_t* class_id, const RowEntry* entries, std::size_t n,
                        const FeatureSet& fs, int64_t* hist, int32_t channels = K) {
  for_each_row_bin(bins, entries, n, fs, hist, K > 0 ? K : channels, [class_id](uint32_t r, int64_t mult) {
    const int32_t c = class_id[r];
    return [c, mult](int64_t* s) { s[c] += mult; };
  }, class_id, sizeof *class_id);
}

// Unweighted regression: channel 0 = multiplicity, channel 1 = multiplicity * y.
void accumulate_regression(const BinRows& bins, const int64_t* y_fixed, const RowEntry* entries, std::size_t n,
                           const FeatureSet& fs, int64_t* hist) {
  for_each_row_bin(bins, entries, n, fs, hist, 2, [y_fixed](uint32_t r, int64_t mult) {
    const int64_t wy = mult * y_fixed[r];
    return [mult, wy](int64_t* s) {
      s[0] += mult;
      s[1] += wy;
    };
  }, y_fixed, sizeof *y_fixed);
}

}  // namespace

void accumulate_histogram_cpu(const BinRows& bins, const RowTargets& t, const RowEntry* entries, std::size_t n,
                              const FeatureSet& fs, int64_t* hist) {
  const StatsLayout& lay = *t.layout;
  const int32_t k = lay.n_channels;
  const bool simple_class = !lay.regression() && lay.count_channel < 0 && !t.row_quantum &&
                            !t.class_quantum;
  if (lay.regression() && lay.count_channel < 0 && !t.row_quantum)
    return accumulate_regression(bins, t.y_fixed, entries, n, fs, hist);
  if (simple_class) {
    switch (k) {
      case 2: return accumulate_classes<2>(bins, t.class_id, entries, n, fs, hist);
      case 3: return accumulate_classes<3>(bins, t.class_id, entries, n, fs, hist);
      case 4: return accumulate_classes<4>(bins, t.class_id, entries, n, fs, hist);
      default: return accumulate_classes<0>(bins, t.class_id, entries, n, fs, hist, k);
    }
  }
  // Weighted statistics (sample or class weights, count channel): the general adder.
  for_each_row_bin(bins, entries, n, fs, hist, k, [&t](uint32_t r, int64_t mult) {
    return [&t, r, mult](int64_t* s) { t.add(s, r, static_cast<uint32_t>(mult)); };
  });
}

void accumulate_totals_cpu(const RowTargets& t, const RowEntry* entries, std::size_t n, int64_t* totals) {
  for (std::size_t i = 0; i < n; ++i) t.add(totals, entries[i].row, entries[i].mult);
}

}  // namespace canopy
