#pragma once
// Counter-based randomness (DESIGN principle 3). Every random draw is a pure
// function of (seed, stream, counter words), so neither thread scheduling nor
// backend can change a model.
#include <Random123/philox.h>

#include <cstdint>

#include "kernels/host_device.h"

namespace canopy {

// One stream per use, so draws for different purposes never collide.
enum RngStream : uint32_t {
  kStreamBootstrap = 1,     // counter: (tree, draw block, 0)
  kStreamNodeFeatures = 2,  // counter: (tree, node, draw block)
  kStreamFolds = 3,         // counter: (row block, 0, 0)
  kStreamSynth = 4,         // counter: (row, feature block, 0)
  kStreamMaxSamples = 5,
};

// Four independent 32-bit words for (seed, stream, a, b, c).
struct Philox4 {
  uint32_t v[4];
};

CANOPY_HD Philox4 philox(uint64_t seed, uint32_t stream, uint32_t a, uint32_t b, uint32_t c) {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type ctr = {{a, b, c, stream}};
  r123::Philox4x32::key_type key = {{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
  r123::Philox4x32::ctr_type r = gen(ctr, key);
  Philox4 out;
  for (int i = 0; i < 4; ++i) out.v[i] = r.v[i];
  return out;
}

// Maps a uniform 32-bit word onto [0, n) (multiply-shift; n < 2^32).
CANOPY_HD uint32_t bounded(uint32_t word, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(word) * n) >> 32);
}

// Uniform double in [0, 1) from two words (53 bits).
CANOPY_HD double unit_double(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ static_cast<uint64_t>(lo >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

}  // namespace canopy
