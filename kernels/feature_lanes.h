#pragma once
// The feature-lanes histogram walk (CudaTuning::HistogramMapping::kFeatureLanes):
// its shared-memory layout and index math, written once for the CUDA kernel
// (histogram.cu) and the host test that replays the walk
// (tests/kernels/feature_lanes_test.cc).
//
// A warp adds the rows of a feature group of nj <= kLanes features. In one
// step, lane l adds feature l % nj of the step's row l / nj, so a step takes
// rows_per_step(nj) rows and the lanes from active_lanes(nj) on idle. Lane l
// owns column l of the block's histogram, and column l lies in shared-memory
// bank l: the 32 atomic adds of a step fall in 32 banks at 32 addresses,
// whatever the bins (a row walk's lanes hit random banks, and the same
// address wherever rows share a bin). Feature j has rows_per_step copies
// (columns j, j + nj, ...), summed when the block flushes.
//
// Rows are staged: each lane of a warp loads the 4-byte words of its own row
// that hold the group's features (the group's slots, in word order) and
// stores them in the warp's staging area, stage_stride words a row (then the
// rows' (class, weight) pairs: stage_words a lane in all); the lanes of a
// step then read their bytes from there. A feature's byte in a staged
// row is 4 * (its word's slot) + (feature & 3) (little-endian words keep the
// row's byte order).
#include <cstdint>

#include "kernels/host_device.h"

namespace canopy {
namespace feature_lanes {

constexpr int32_t kLanes = 32;  // a warp; also the shared-memory banks

CANOPY_HD int32_t rows_per_step(int32_t nj) { return kLanes / nj; }
CANOPY_HD int32_t active_lanes(int32_t nj) { return rows_per_step(nj) * nj; }
// In a step, lane l adds feature lane_feature(l) (a position in the group)
// of the step's row lane_row(l); feature j's copies are the columns
// copy_lane(r, nj, j) for r < rows_per_step(nj).
CANOPY_HD int32_t lane_row(int32_t lane, int32_t nj) { return lane / nj; }
CANOPY_HD int32_t lane_feature(int32_t lane, int32_t nj) { return lane % nj; }
CANOPY_HD int32_t copy_lane(int32_t r, int32_t nj, int32_t j) { return r * nj + j; }

// Counter of a lane's column at bin-channel bc = bin * k + channel.
CANOPY_HD int64_t column_counter(int64_t bc, int32_t lane) { return bc * kLanes + lane; }
// Counter of (lane's column, bin, channel) among k channels a bin.
CANOPY_HD int64_t counter(int32_t lane, int32_t bin, int32_t channel, int32_t k) {
  return column_counter(static_cast<int64_t>(bin) * k + channel, lane);
}

// Counters of the histogram: kLanes columns of max_bins x k.
CANOPY_HD int64_t counters(int32_t max_bins, int32_t k) { return static_cast<int64_t>(kLanes) * max_bins * k; }

// Staging words a row for a group of n_slots slots: odd, so the 32 lanes
// storing slot s of their rows hit 32 banks.
CANOPY_HD int32_t stage_stride(int32_t n_slots) { return n_slots | 1; }

// Staging words a lane: its row's stage_stride(n_slots) words and its row's
// (class, weight) pair.
CANOPY_HD int32_t stage_words(int32_t n_slots) { return stage_stride(n_slots) + 2; }

// The most slots a group can have over rows of bin_stride bytes: one word a
// feature, at most every word of the row.
CANOPY_HD int32_t max_slots(int64_t bin_stride) {
  const int64_t words = (bin_stride + 3) / 4;
  return words < kLanes ? static_cast<int32_t>(words) : kLanes;
}

// The slot tables, in two passes with a barrier between (the kernel: thread
// j runs pass 1 for feature j, thread p pass 2 for sorted position p).
// Pass 1: feature j's rank among the group's features f[0, nj) (distinct), so
// sorted[feature_rank(f, nj, j)] = f[j].
CANOPY_HD int32_t feature_rank(const int32_t* f, int32_t nj, int32_t j) {
  int32_t rank = 0;
  for (int32_t i = 0; i < nj; ++i) rank += f[i] < f[j];
  return rank;
}

// Pass 2: the slot of sorted position p (distinct words before its word) ...
CANOPY_HD int32_t sorted_slot(const int32_t* sorted, int32_t p) {
  int32_t slot = 0;
  for (int32_t q = 1; q <= p; ++q) slot += (sorted[q] >> 2) != (sorted[q - 1] >> 2);
  return slot;
}

// ... and whether p is the first position of its word (its thread then
// records the slot's word: slot_word[sorted_slot(p)] = sorted[p] >> 2).
CANOPY_HD bool starts_slot(const int32_t* sorted, int32_t p) { return p == 0 || (sorted[p] >> 2) != (sorted[p - 1] >> 2); }

// Byte of a feature in a staged row, from its word's slot.
CANOPY_HD int32_t staged_byte(int32_t slot, int32_t feature) { return 4 * slot + (feature & 3); }

// Offset from the warp's staging of byte `byte` of its staged row i
// (stage_stride words a row).
CANOPY_HD int32_t staged_offset(int32_t i, int32_t stride, int32_t byte) { return i * stride * 4 + byte; }

}  // namespace feature_lanes
}  // namespace canopy
