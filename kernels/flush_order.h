#pragma once
// Where a histogram block starts adding its shared histogram to the global
// one (CudaTuning::histogram_staggered_flush). The blocks of a launch end
// about together; flushing in one order, they would all add to the same
// global counters at a time, each counter taking one block's atomic after
// another. A staggered block takes its counters [lo, hi) from its own
// window of `threads` counters on, then wraps around to lo: every counter
// once, whatever the start.
#include <cstdint>

#include "kernels/host_device.h"

namespace canopy {

// The first counter block `block` of `threads` threads flushes of [lo, hi):
// lo plus a whole number of windows (lo when unstaggered or hi <= lo).
CANOPY_HD int32_t flush_start(int32_t lo, int32_t hi, uint32_t block, int32_t threads, bool staggered) {
  if (!staggered || hi <= lo) return lo;
  const int32_t windows = (hi - lo + threads - 1) / threads;
  return lo + static_cast<int32_t>(block % static_cast<uint32_t>(windows)) * threads;
}

}  // namespace canopy
