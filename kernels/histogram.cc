#include "kernels/histogram.h"

#include <algorithm>

namespace canopy {
namespace {

// The common case: class counts weighted by multiplicity, K channels known at
// compile time. Histogram pointers are hoisted per feature so the inner loop
// is one byte load and one add per (row, feature).
// K > 0: channels known at compile time; K == 0: `channels` at run time.
template <int K>
void accumulate_classes(const BinnedMatrix& bins, const int32_t* class_id, const RowEntry* entries, std::size_t n,
                        const FeatureSet& fs, int64_t* hist, int32_t channels = K) {
  const int32_t k = K > 0 ? K : channels;
  const std::size_t nf = bins.n_features;
  const uint8_t* base = bins.bins.data();
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
      const uint32_t r = entries[i].row;
      const uint8_t* row = base + static_cast<std::size_t>(r) * nf;
      const int64_t mult = entries[i].mult;
      const int32_t c = class_id[r];
      for (int32_t j = 0; j < m; ++j) feature_hist[j][row[feature_col[j]] * k + c] += mult;
    }
  }
}

// Unweighted regression: channel 0 = multiplicity, channel 1 = multiplicity * y.
void accumulate_regression(const BinnedMatrix& bins, const int64_t* y_fixed, const RowEntry* entries, std::size_t n,
                           const FeatureSet& fs, int64_t* hist) {
  const std::size_t nf = bins.n_features;
  const uint8_t* base = bins.bins.data();
  constexpr int kMaxFeatures = 64;
  int64_t* feature_hist[kMaxFeatures];
  int32_t feature_col[kMaxFeatures];
  for (int32_t j0 = 0; j0 < fs.n; j0 += kMaxFeatures) {
    const int32_t m = std::min(kMaxFeatures, fs.n - j0);
    for (int32_t j = 0; j < m; ++j) {
      feature_hist[j] = hist + static_cast<std::size_t>(fs.offsets[j0 + j]) * 2;
      feature_col[j] = fs.features[j0 + j];
    }
    for (std::size_t i = 0; i < n; ++i) {
      const uint32_t r = entries[i].row;
      const uint8_t* row = base + static_cast<std::size_t>(r) * nf;
      const int64_t mult = entries[i].mult;
      const int64_t wy = mult * y_fixed[r];
      for (int32_t j = 0; j < m; ++j) {
        int64_t* h = feature_hist[j] + row[feature_col[j]] * 2;
        h[0] += mult;
        h[1] += wy;
      }
    }
  }
}

}  // namespace

void accumulate_histogram_cpu(const BinnedMatrix& bins, const RowTargets& t, const RowEntry* entries,
                              std::size_t n, const FeatureSet& fs, int64_t* hist) {
  const StatsLayout& lay = *t.layout;
  const int32_t k = lay.n_channels;
  const std::size_t nf = bins.n_features;
  const uint8_t* base = bins.bins.data();
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
  for (std::size_t i = 0; i < n; ++i) {
    const uint32_t r = entries[i].row;
    const uint8_t* row = base + static_cast<std::size_t>(r) * nf;
    for (int32_t j = 0; j < fs.n; ++j)
      t.add(hist + (fs.offsets[j] + row[fs.features[j]]) * k, r, entries[i].mult);
  }
}

void accumulate_totals_cpu(const RowTargets& t, const RowEntry* entries, std::size_t n, int64_t* totals) {
  for (std::size_t i = 0; i < n; ++i) t.add(totals, entries[i].row, entries[i].mult);
}

}  // namespace canopy
