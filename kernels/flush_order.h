#pragma once
// The order in which a histogram block adds its shared histogram to the
// global one (CudaTuning::histogram_staggered_flush, histogram_sector_flush),
// written once for histogram.cu's flushes and the host test that replays
// them (tests/kernels/flush_order_test.cc).
//
// Staggered: the blocks of a launch end about together; flushing in one
// order, they would all add to the same global counters at a time, each
// counter taking one block's atomic after another. A staggered block takes
// its flush steps from its own window on, then wraps around to the first:
// every step once, whatever the start.
//
// Sectors (the lane-columns flush of the rotated- and swizzled-rows walks):
// consecutive threads take consecutive positions of one bin-channel, so a
// warp's 32 global atomics fall on 32 features' histograms, 32 sectors. In
// groups of kSectorCounters threads, a group takes one position and the
// group's threads consecutive bin-channels of it, from a multiple of
// kSectorCounters (a cluster's shares start at one): a warp's atomics fall
// in 8 sectors, 4 to a sector, where a feature's histogram starts at a
// multiple of 4 counters (max_bins x channels a multiple of 4, as 256 bins;
// else up to 16), while kSectorCounters threads read one shared column
// (bank) at a time.
#include <cstdint>

#include "kernels/host_device.h"

namespace canopy {

// A kernel argument: the tuning's flush choices.
struct FlushOrder {
  bool staggered = false;
  bool sectors = false;
};

// 8-byte global counters a 32-byte sector holds.
constexpr int32_t kSectorCounters = 4;

// The first step block `block` flushes of steps [lo, hi), taken by `threads`
// threads (or thread groups) a round: lo plus a whole number of rounds (lo
// when unstaggered or hi <= lo).
CANOPY_HD int32_t flush_start(int32_t lo, int32_t hi, uint32_t block, int32_t threads, bool staggered) {
  if (!staggered || hi <= lo) return lo;
  const int32_t windows = (hi - lo + threads - 1) / threads;
  return lo + static_cast<int32_t>(block % static_cast<uint32_t>(windows)) * threads;
}

// The lane-columns flush of bin-channels [bc0, bc1) at nb positions:
// threads in groups of flush_group(sectors) (a divisor of the block size),
// group g of thread t = t / group taking steps g, g + threads / group, ...
// below flush_steps(bc1 - bc0, nb, group); step r is (run r / nb, position
// r % nb), of which the group's thread t % group adds bin-channel
// bc0 + group * run + t % group where below bc1.
CANOPY_HD int32_t flush_group(bool sectors) { return sectors ? kSectorCounters : 1; }
CANOPY_HD int32_t flush_steps(int32_t n_bc, int32_t nb, int32_t group) { return (n_bc + group - 1) / group * nb; }

// The first of n bin-channels that share `index` of `count` flushes (the
// blocks of a cluster, each the next share; share count ends at n): about
// n / count each, from a multiple of kSectorCounters.
CANOPY_HD int32_t flush_share_begin(int32_t n, uint32_t index, uint32_t count) {
  if (index >= count) return n;
  const int32_t even = static_cast<int32_t>(static_cast<int64_t>(n) * index / count);
  return even - even % kSectorCounters;
}

}  // namespace canopy
