#include "kernels/bin.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace canopy {

float BinCuts::threshold(std::size_t f, uint32_t t) const {
  // Value bin t (1-based) is the last one on the left: v <= c_{t-1}.
  if (t >= n_cuts(f) + 1) return std::numeric_limits<float>::infinity();
  return cuts(f)[t - 1];
}

namespace {

inline uint8_t bin_of(const float* cuts, uint32_t n_cuts, float v) { return bin_search(cuts, n_cuts, v); }

}  // namespace

uint8_t bin_value(const float* cuts, uint32_t n_cuts, float v) { return bin_of(cuts, n_cuts, v); }

BinnedMatrixKey BinnedMatrixKey::of(const BinnedMatrix& m) {
  constexpr std::size_t kSamples = std::size_t(1) << 16;
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the sampled bytes
  const std::size_t n = m.bins.size();
  if (n > 0) {
    const std::size_t step = std::max<std::size_t>(1, n / kSamples);
    for (std::size_t i = 0; i < n; i += step) h = (h ^ m.bins[i]) * 1099511628211ull;
    h = (h ^ m.bins[n - 1]) * 1099511628211ull;
  }
  return BinnedMatrixKey{&m, m.bins.data(), m.n_rows, m.n_features, h};
}

void assign_bins_cpu(const BinCuts& cuts, const std::vector<std::vector<float>>& columns,
                     BinnedMatrix& out) {
  const std::size_t nf = columns.size();
  const std::size_t nr = nf ? columns[0].size() : 0;
  out.n_rows = nr;
  out.n_features = nf;
  out.bins.assign(nr * nf, 0);
  constexpr std::size_t kRowBlock = 4096;
  constexpr int kLanes = 16;  // values searched in lockstep
  const std::size_t n_blocks = (nr + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static)
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const std::size_t r0 = b * kRowBlock, r1 = std::min(nr, r0 + kRowBlock);
    for (std::size_t f = 0; f < nf; ++f) {
      const float* c = cuts.cuts(f);
      const uint32_t m = cuts.n_cuts(f);
      const float* col = columns[f].data();
      std::size_t r = r0;
      for (uint8_t lane[kLanes]; r + kLanes <= r1; r += kLanes) {
        bin_search_lanes<kLanes>(c, m, col + r, lane);
        for (std::size_t u = 0; u < kLanes; ++u) out.bins[(r + u) * nf + f] = lane[u];
      }
      for (; r < r1; ++r) out.bins[r * nf + f] = bin_of(c, m, col[r]);
    }
  }
}

}  // namespace canopy
