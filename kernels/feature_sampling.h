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
  // A partial Fisher-Yates shuffle: draw i swaps scratch[i] with
  // scratch[i + bounded(word, n - i)], word i % 4 of Philox block i / 4.
  // Taken a whole block at a time (about 3x faster than a block test per draw).
  for (int32_t i = 0; i < n; ++i) scratch[i] = i;
  for (int32_t block = 0; block * 4 < k; ++block) {
    const Philox4 words = philox(seed, kStreamNodeFeatures, tree, node, static_cast<uint32_t>(block));
    const int32_t draws = k - block * 4 < 4 ? k - block * 4 : 4;
    for (int32_t u = 0; u < draws; ++u) {
      const int32_t i = block * 4 + u;
      const int32_t j = i + static_cast<int32_t>(bounded(words.v[u], static_cast<uint32_t>(n - i)));
      const int32_t t = scratch[i];
      scratch[i] = scratch[j];
      scratch[j] = t;
    }
  }
  if (n <= 64) {  // ascending order from a bit mask of the sample
    uint64_t mask = 0;
    for (int32_t i = 0; i < k; ++i) mask |= uint64_t{1} << scratch[i];
    for (int32_t i = 0; i < k; ++i, mask &= mask - 1) out[i] = lowest_set_bit(mask);
    return;
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
