#pragma once
// Bin assignment: raw float features -> row-major uint8 bin matrix.
//
// Contract (shared by every backend and by the model's thresholds):
//  - Feature f has cuts c_0 < c_1 < ... < c_{m-1} (m = n_cuts(f) <= 254).
//  - Bin 0 holds missing values (NaN). A value v goes to bin 1 + #{i : c_i < v},
//    so value bins are 1 .. m+1 and n_bins(f) = m + 2 <= 256.
//  - "bin <= t" (t >= 1) is therefore equivalent to "v <= c_{t-1}" for t <= m,
//    and t = m+1 means "every non-missing value".
#include <cstddef>
#include <cstdint>
#include <vector>

namespace canopy {

struct BinCuts {
  std::vector<float> values;        // all features' cuts, back to back
  std::vector<uint32_t> offsets{0}; // feature f owns values[offsets[f], offsets[f+1])

  std::size_t n_features() const { return offsets.size() - 1; }
  uint32_t n_cuts(std::size_t f) const { return offsets[f + 1] - offsets[f]; }
  uint32_t n_bins(std::size_t f) const { return n_cuts(f) + 2; }
  const float* cuts(std::size_t f) const { return values.data() + offsets[f]; }
  // Threshold of the split "bin <= t" on feature f: +inf when t covers every value bin.
  float threshold(std::size_t f, uint32_t t) const;
};

struct BinnedMatrix {
  std::size_t n_rows = 0;
  std::size_t n_features = 0;
  std::vector<uint8_t> bins;        // row-major, n_rows * n_features
  const uint8_t* row(std::size_t r) const { return bins.data() + r * n_features; }
};

// Bin of one value (NaN -> 0). Binary search over the feature's cuts.
uint8_t bin_value(const float* cuts, uint32_t n_cuts, float v);

// Fills out.bins from feature-major float columns on the CPU (OpenMP).
void assign_bins_cpu(const BinCuts& cuts, const std::vector<std::vector<float>>& columns,
                     BinnedMatrix& out);

}  // namespace canopy
