#pragma once
// The swizzled-rows histogram walk (CudaTuning::HistogramMapping::kSwizzledRows):
// its register layout and index math, written once for the CUDA kernel
// (histogram.cu) and the host test that replays the walk
// (tests/kernels/swizzled_rows_test.cc).
//
// Rows are row_bytes(n_features) on the device: 4, 8, 16 or 32 (up to 32
// features, padded to a power of two), or a multiple of 32 for wider rows,
// whose 32-byte slices the walk takes one at a time: slice s holds features
// 32 s .. 32 s + 31, which an every-feature histogram (the subtraction
// trick's, in feature order) groups together. A block walks nb =
// walk_bytes(row) bytes of each row, one row per lane; the warp's lanes form
// kLanes / nb copies of nb lanes. In step p (0 .. nb - 1)
// lane l adds the bin at byte position(l, nb, p) = (l % nb) ^ p of its row
// into column l ^ p (copy l / nb, position (l % nb) ^ p) of the
// lane-columns histogram (kLanes columns, column c in shared-memory bank c),
// so a step's 32 atomic adds fall in 32 distinct banks whatever the bins
// (the row-words walk's lanes add one feature in a step, so the bin alone
// picks the bank). The flush sums a position's copies.
//
// A lane swizzles its row's words once: register slot s holds the row's
// word s ^ ((l % nb) / 4) (slot_word), so the row's byte (4 s + i) ^ (l % nb)
// is byte i ^ (l % 4) of slot s. Step p then reads slot p / 4, a constant
// register, with one of four byte selectors the lane keeps, and its column
// is the lane's column bits XORed with a constant (step_counter): the walk
// costs no dynamic register index and no per-step arithmetic beyond the
// bin's address.
//
// As in the rotated-rows walk, a lane adds every position of its row
// (padding and features outside the group, each into its own column), and
// the flush takes only the group's, so the host takes the walk only where a
// group covers more than half the row, or a wide row's slice (takes). Only 32-bit counters
// (unweighted classification): an entry adds its multiplicity to its
// class's channel and nothing else.
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/lane_columns.h"

namespace canopy {
namespace swizzled_rows {

// The histogram of kLanes columns, column c in bank c (lane_columns.h):
// the counter of a column at bin-channel bc, and the counters in all.
using lane_columns::column_counter;
using lane_columns::counters;
using lane_columns::kLanes;

// The widest slice of a row the walk takes at once.
constexpr int32_t kSliceBytes = kLanes;

// The device row stride of n features under the walk: the next power of two
// from 4 up to kSliceBytes, or the next multiple of kSliceBytes.
CANOPY_HD int64_t row_bytes(int64_t n_features) {
  if (n_features > kSliceBytes) return (n_features + kSliceBytes - 1) / kSliceBytes * kSliceBytes;
  int64_t nb = 4;
  while (nb < n_features) nb *= 2;
  return nb;
}

// The bytes of each row a block walks (its slice), and the first byte of the
// slice of a group whose first feature is f0.
CANOPY_HD int32_t walk_bytes(int64_t row) { return row < kSliceBytes ? static_cast<int32_t>(row) : kSliceBytes; }
CANOPY_HD int32_t slice_start(int32_t f0) { return f0 & ~(kSliceBytes - 1); }

// Whether the walk suits a group of nj features over device rows of `row`
// bytes: in rows of at most kSliceBytes, any group of more than half the
// row; in wider rows, only the groups of an every-feature histogram in
// feature order (all_features), which are its slices (the last one perhaps
// short).
CANOPY_HD bool takes(int32_t nj, int64_t row, bool all_features) {
  if (row > kSliceBytes) return row % kSliceBytes == 0 && all_features && nj > 0;
  return (row == 4 || row == 8 || row == 16 || row == 32) && 2 * nj > row;
}

// The row byte lane `lane` adds in step p over rows of nb bytes; its column
// is lane ^ p (p < nb keeps it in the lane's copy).
CANOPY_HD int32_t position(int32_t lane, int32_t nb, int32_t p) { return (lane % nb) ^ p; }

// The row word that register slot s of lane `lane` holds.
CANOPY_HD int32_t slot_word(int32_t s, int32_t lane, int32_t nb) { return s ^ ((lane % nb) >> 2); }

// A lane loads a row of 32 bytes as two 16-byte halves, half first_half(lane)
// into slots 0-3 and the other into slots 4-7 (the exchange by bit 4 of the
// lane, at no cost), and a narrower row in one load; swizzle_words then
// exchanges words within 16 bytes by the lane's bits 2 and 3, so slot s
// holds word slot_word(s, lane, nb).
CANOPY_HD int32_t first_half(int32_t lane) { return (lane >> 4) & 1; }
template <int kWords>
CANOPY_HD void swizzle_words(uint32_t (&w)[kWords], int32_t lane) {
  for (int32_t bit = 1; bit < kWords && bit < 4; bit <<= 1) {  // selects, no dynamic register index
    const bool exchange = ((lane >> 2) & bit) != 0;
    for (int32_t s = 0; s < kWords; ++s)
      if ((s & bit) == 0) {
        const uint32_t a = w[s], b = w[s | bit];
        w[s] = exchange ? b : a;
        w[s | bit] = exchange ? a : b;
      }
  }
}

// The row's last word among a lane's words as loaded, before swizzle_words:
// a 32-byte row's second half is in slots 4-7 unless the lane took it first.
// Its top byte is the row's last, which holds the row's class id under
// CudaTuning::histogram_row_classes (rows of at most kSliceBytes).
template <int kWords>
CANOPY_HD uint32_t loaded_last_word(const uint32_t (&w)[kWords], int32_t lane) {
  if constexpr (kWords == 8) return first_half(lane) ? w[3] : w[7];
  return w[kWords - 1];
}
CANOPY_HD int32_t class_of_last_word(uint32_t word) { return static_cast<int32_t>(word >> 24); }

// Byte i of a slot holds the row's byte i ^ (lane % 4) of its word: the bin
// lane `lane` adds in step p is byte_of(slot p / 4, selector(lane, p % 4)),
// one __byte_perm with one of four selectors a lane keeps. shifted_selector
// takes the same byte to bits 8-15 instead: byte_of(slot, shifted_selector)
// is 256 * the bin, at no extra cost.
CANOPY_HD uint32_t selector(int32_t lane, int32_t i) {
  return 0x4440u | static_cast<uint32_t>((i ^ lane) & 3);  // bytes 1-3 from the zero operand
}
CANOPY_HD uint32_t shifted_selector(int32_t lane, int32_t i) {
  return 0x4404u | static_cast<uint32_t>((i ^ lane) & 3) << 4;  // bytes 0, 2 and 3 from the zero operand
}
// __byte_perm(word, 0, selector) for selectors of nibbles 0-4 (4: a zero byte).
CANOPY_HD uint32_t byte_of(uint32_t word, uint32_t selector) {
#ifdef __CUDA_ARCH__
  return __byte_perm(word, 0u, selector);
#else
  uint32_t out = 0;
  for (int32_t i = 0; i < 4; ++i) {
    const uint32_t n = (selector >> (4 * i)) & 7u;
    if (n < 4) out |= ((word >> (8 * n)) & 0xffu) << (8 * i);
  }
  return out;
#endif
}

// Shared-memory bytes of one bin-channel's row of kLanes 32-bit counters.
// The histogram starts at a multiple of it, so the low bits of a counter's
// byte address are 4 * its column.
constexpr uint32_t kCounterRowBytes = kLanes * 4;

// The histogram's start in a block's dynamic shared memory at byte address
// `base`: the next multiple of kCounterRowBytes (the host adds that many
// bytes to the block, so the shift always fits).
CANOPY_HD uint32_t histogram_start(uint32_t base) {
  return (base + kCounterRowBytes - 1) / kCounterRowBytes * kCounterRowBytes;
}

// The byte address of lane `lane`'s counter of class channel c at bin 0,
// column `lane`, in a histogram starting at `start` (a multiple of
// kCounterRowBytes); and the address of its step-p counter at bin b, in
// histograms of k channels: moving to column lane ^ p flips bits 2 to 6 only.
CANOPY_HD uint32_t lane_counter(uint32_t start, int32_t c, int32_t lane) {
  return start + static_cast<uint32_t>(c) * kCounterRowBytes + 4u * static_cast<uint32_t>(lane);
}
CANOPY_HD uint32_t step_counter(uint32_t lane_counter, int32_t p, uint32_t b, int32_t k) {
  return b * (static_cast<uint32_t>(k) * kCounterRowBytes) + (lane_counter ^ (4u * static_cast<uint32_t>(p)));
}

// Two-channel histograms (binary classification): a bin's counters span
// 256 bytes, so a counter's offset from the histogram start,
// step_counter(lane_counter(start, c, lane), p, b, 2) - start, is
// (256 b | lane_offset(c, lane)) ^ 4 p: the shifted byte select and one
// three-input logic op, no multiply-add (two_channel_step_offset).
constexpr int32_t kTwoChannels = 2;
static_assert(kTwoChannels * kCounterRowBytes == 256, "a two-channel bin must span bits 0-7 of a counter's offset");
CANOPY_HD uint32_t lane_offset(int32_t c, int32_t lane) { return lane_counter(0u, c, lane); }
CANOPY_HD uint32_t two_channel_step_offset(uint32_t shifted_bin, uint32_t lane_offset, int32_t p) {
  return (shifted_bin | lane_offset) ^ (4u * static_cast<uint32_t>(p));
}

}  // namespace swizzled_rows
}  // namespace canopy
