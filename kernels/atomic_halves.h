#pragma once
// A 64-bit counter added to with 32-bit atomic adds, for shared memory, where
// a 64-bit atomic add is a compare-and-swap loop on sm_90
// (CudaTuning::histogram_atomics_in_halves). Written once for the CUDA
// kernel (histogram.cu) and the host test that interleaves it
// (tests/kernels/atomic_halves_test.cc).
//
// The counter is two little-endian 32-bit words. An add of x adds x's low
// word to the low word with an atomic add that returns the old value; the
// add carried out of the low word exactly when old > 2^32 - 1 - low. The
// high word then gets x's high word plus that carry, skipped when the sum is
// 0 mod 2^32 (a small positive x without a carry, or a small negative one
// with it). Whatever the order and interleaving of concurrent adds, the low
// word's carries sum to its wraps, so once every add is done the counter
// holds the sum mod 2^64: exact two's-complement arithmetic. In between, a
// reader may see a low word without its carry, so it is read only after the
// block's adds (the flush follows a barrier).
#include <cstdint>

#include "kernels/host_device.h"

namespace canopy {

// AtomicAdd32: uint32_t(uint32_t* word, uint32_t v), adds v and returns the
// old value.
template <typename AtomicAdd32>
CANOPY_HD void add_in_halves(uint32_t* counter, uint64_t x, AtomicAdd32 atomic_add) {
  const uint32_t low = static_cast<uint32_t>(x), high = static_cast<uint32_t>(x >> 32);
  const uint32_t old = atomic_add(counter, low);
  const uint32_t high_add = high + (old > UINT32_MAX - low ? 1u : 0u);
  if (high_add != 0) atomic_add(counter + 1, high_add);
}

}  // namespace canopy
