#pragma once
// Per-node feature sampling (max_features): k of n features without
// replacement, keyed by (seed, tree, node) so every backend draws the same set.
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/rng.h"

namespace canopy {

// Writes the k sampled feature indices, ascending, to out[0, k). `scratch`
// holds n ints. k >= n gives every feature.
CANOPY_HD void sample_features(uint64_t seed, uint32_t tree, uint32_t node, int32_t n, int32_t k,
                               int32_t* scratch, int32_t* out) {
  if (k >= n) {
    for (int32_t i = 0; i < n; ++i) out[i] = i;
    return;
  }
  for (int32_t i = 0; i < n; ++i) scratch[i] = i;
  Philox4 words{};
  for (int32_t i = 0; i < k; ++i) {
    if (i % 4 == 0) words = philox(seed, kStreamNodeFeatures, tree, node, static_cast<uint32_t>(i / 4));
    const int32_t j = i + static_cast<int32_t>(bounded(words.v[i % 4], static_cast<uint32_t>(n - i)));
    const int32_t t = scratch[i];
    scratch[i] = scratch[j];
    scratch[j] = t;
  }
  for (int32_t i = 0; i < k; ++i) {  // insertion sort: k is small
    int32_t v = scratch[i], p = i;
    while (p > 0 && out[p - 1] > v) {
      out[p] = out[p - 1];
      --p;
    }
    out[p] = v;
  }
}

}  // namespace canopy
