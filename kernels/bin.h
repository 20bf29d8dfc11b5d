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

#include "kernels/host_device.h"

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

// Identifies a binned matrix cheaply: its address, data pointer, shape and a
// fingerprint of 2^16 sampled bytes. A backend keeps what it derives from a
// matrix (a device copy, a padded or transposed copy) while the same key comes
// again, as it does for the batches of a forest or the candidates of a sweep.
struct BinnedMatrixKey {
  const BinnedMatrix* matrix = nullptr;
  const uint8_t* data = nullptr;
  std::size_t n_rows = 0, n_features = 0;
  uint64_t fingerprint = 0;

  static BinnedMatrixKey of(const BinnedMatrix& m);
  bool operator==(const BinnedMatrixKey& o) const {
    return matrix == o.matrix && data == o.data && n_rows == o.n_rows && n_features == o.n_features &&
           fingerprint == o.fingerprint;
  }
};

// Number of cuts strictly below v, plus one; 0 for NaN, for each of the L
// values v[0 .. L-1] (out[u] is the bin of v[u]). The trip count depends only
// on n_cuts and the step is arithmetic, so there is no data-dependent branch,
// and the L searches advance in lockstep: their dependent loads overlap (the
// CPU bins 16 values at a time, about 3x faster than one at a time).
// The one source of the bin search for the CPU (bin.cc) and CUDA (bin.cu).
template <int L>
CANOPY_HD void bin_search_lanes(const float* cuts, uint32_t n_cuts, const float* v, uint8_t* out) {
  if (n_cuts == 0) {
    for (int u = 0; u < L; ++u) out[u] = v[u] == v[u] ? 1 : 0;
    return;
  }
  const float* base[L];
  for (int u = 0; u < L; ++u) base[u] = cuts;
  uint32_t n = n_cuts;
  while (n > 1) {
    const uint32_t half = n / 2;
    for (int u = 0; u < L; ++u) base[u] += static_cast<uint32_t>(base[u][half - 1] < v[u]) * half;
    n -= half;
  }
  for (int u = 0; u < L; ++u) {
    const int b = 1 + static_cast<int>(base[u] - cuts) + static_cast<int>(*base[u] < v[u]);
    out[u] = v[u] == v[u] ? static_cast<uint8_t>(b) : 0;
  }
}

CANOPY_HD uint8_t bin_search(const float* cuts, uint32_t n_cuts, float v) {
  uint8_t b;
  bin_search_lanes<1>(cuts, n_cuts, &v, &b);
  return b;
}

// Bin of one value (NaN -> 0). Binary search over the feature's cuts.
uint8_t bin_value(const float* cuts, uint32_t n_cuts, float v);

// Fills out.bins from feature-major float columns on the CPU (OpenMP).
void assign_bins_cpu(const BinCuts& cuts, const std::vector<std::vector<float>>& columns,
                     BinnedMatrix& out);

// The same on CUDA device `device` (kernels/bin.cu); identical output. Throws
// std::runtime_error("built without CUDA") in a build without CUDA, and
// canopy::CudaError on a CUDA failure.
void assign_bins_cuda(const BinCuts& cuts, const std::vector<std::vector<float>>& columns,
                      BinnedMatrix& out, int device);

}  // namespace canopy
