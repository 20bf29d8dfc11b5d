#pragma once
// Histogram building: integer statistics per (feature, bin) of a node's rows.
#include <cstddef>
#include <cstdint>

#include "kernels/bin.h"
#include "kernels/split_math.h"

namespace canopy {

// One in-bag row of a tree job and its bootstrap multiplicity (>= 1).
struct RowEntry {
  uint32_t row;
  uint32_t mult;
};

// Row-major bins as the CPU loops read them: row r's bins start at
// data + r * stride (stride >= n_features; the CPU backend reads a copy whose
// rows are padded to stay within as few cache lines as possible).
struct BinRows {
  const uint8_t* data = nullptr;
  std::size_t stride = 0;
  const uint8_t* row(std::size_t r) const { return data + r * stride; }
};
inline BinRows rows_of(const BinnedMatrix& m) { return BinRows{m.bins.data(), m.n_features}; }

// The row stride that keeps rows of n_features bytes within the fewest
// `granule`-byte blocks (cache lines, sectors) from a granule-aligned start:
// the smallest power of two >= n_features up to the granule, else a multiple
// of it. Unpadded rows of 28 bytes straddle two 64-byte lines 38% of the time
// (6 of the 16 offsets) and two 32-byte sectors 75%; rows of 50 bytes two
// lines 75%.
inline std::size_t padded_stride(std::size_t n_features, std::size_t granule) {
  if (n_features > granule) return (n_features + granule - 1) / granule * granule;
  std::size_t stride = 1;
  while (stride < n_features) stride *= 2;
  return stride;
}

// A node's rows lie scattered over the row-major binned matrix. Loops that
// visit them in entry order call this at entry i to prefetch the row of entry
// i + kRowPrefetchDistance (`rows`: the matrix, or any column of it, with its
// row stride).
constexpr std::size_t kRowPrefetchDistance = 16;
inline void prefetch_row_ahead(const uint8_t* rows, std::size_t stride, const RowEntry* entries, std::size_t i,
                               std::size_t n) {
  if (i + kRowPrefetchDistance < n)
    __builtin_prefetch(rows + static_cast<std::size_t>(entries[i + kRowPrefetchDistance].row) * stride);
}

// The rows of entries[0, min(n, kRowPrefetchDistance)), which
// prefetch_row_ahead never covers: small nodes would otherwise miss on every
// row one after another.
inline void prefetch_first_rows(const uint8_t* rows, std::size_t stride, const RowEntry* entries, std::size_t n) {
  for (std::size_t i = 0; i < n && i < kRowPrefetchDistance; ++i)
    __builtin_prefetch(rows + static_cast<std::size_t>(entries[i].row) * stride);
}

// A row's statistics in a job, the one definition for both backends (the
// CPU's RowTargets, the CUDA kernels in tree_kernels.cuh and histogram.cu).
// Its integer weight: the bootstrap multiplicity times the row's sample
// weight (row_quantum, null = 1) times its class's weight in the job
// (class_quantum, null = 1).
CANOPY_HD int64_t row_weight(uint32_t row, uint32_t mult, const int64_t* row_quantum, const int64_t* class_quantum,
                             const int32_t* class_id) {
  int64_t w = mult;
  if (row_quantum) w *= row_quantum[row];
  if (class_quantum) w *= class_quantum[class_id[row]];
  return w;
}
// Its additions, made through add(channel, value) (plain, or an atomic on the
// device): w to its class's channel, or for regression w and w * y to channels
// 0 and 1; and its multiplicity to the count channel, when the layout has one.
template <typename Add>
CANOPY_HD void add_row_statistics(const StatsLayout& layout, uint32_t row, uint32_t mult, int64_t w,
                                  const int32_t* class_id, const int64_t* y_fixed, Add&& add) {
  if (layout.regression()) {
    add(0, w);
    add(1, w * y_fixed[row]);
  } else {
    add(class_id[row], w);
  }
  if (layout.count_channel >= 0) add(layout.count_channel, static_cast<int64_t>(mult));
}

// Per-row training targets and weights, shared by every job of a batch.
struct RowTargets {
  const StatsLayout* layout = nullptr;
  const int32_t* class_id = nullptr;       // classification
  const int64_t* y_fixed = nullptr;        // regression, fixed point
  const int64_t* row_quantum = nullptr;    // integer sample weight per row; null = 1
  const int64_t* class_quantum = nullptr;  // integer class weight of the job; null = 1

  int64_t weight(uint32_t row, uint32_t mult) const {
    return row_weight(row, mult, row_quantum, class_quantum, class_id);
  }
  // Adds one row's statistics to the n_channels values at `s`.
  void add(int64_t* s, uint32_t row, uint32_t mult) const {
    add_row_statistics(*layout, row, mult, weight(row, mult), class_id, y_fixed,
                       [s](int32_t c, int64_t v) { s[c] += v; });
  }
};

// The features a histogram covers: feature j of the list is features[j], its
// bins start at bin offset offsets[j] (offsets has n + 1 entries).
struct FeatureSet {
  const int32_t* features;
  const uint32_t* offsets;
  int32_t n;
  std::size_t total_bins() const { return offsets[n]; }
};

// hist[(offsets[j] + bin) * n_channels + c] += statistics of entries[0, n).
void accumulate_histogram_cpu(const BinRows& rows, const RowTargets& t, const RowEntry* entries, std::size_t n,
                              const FeatureSet& fs, int64_t* hist);

// Statistics of a set of rows (the node totals).
void accumulate_totals_cpu(const RowTargets& t, const RowEntry* entries, std::size_t n, int64_t* totals);

}  // namespace canopy
