#pragma once
// The rotated-rows histogram walk (CudaTuning::HistogramMapping::kRotatedRows):
// its shared-memory layout and index math, written once for the CUDA kernel
// (histogram.cu) and the host test that replays the walk
// (tests/kernels/rotated_rows_test.cc).
//
// As in the row-words walk, a lane owns whole rows and loads each row's
// 4-byte words at once. The row's nb bytes (bytes_of_row: the device row
// stride, at most kLanes) are its byte positions, feature q at position q.
// Lane l starts its rows at its own position, rotation(l): in step p it adds
// the bin at position (p + rotation(l)) % nb, so the lanes of a copy add nb
// distinct features in every step. Feature q's counters lie in column
// column(copy(l), nb, q) of a histogram kLanes columns wide, and column c in
// shared-memory bank c: a step's atomic adds fall in distinct banks whatever
// the bins (the row-words walk's lanes add one feature in a step, so the bin
// alone picks the bank and about 3.5 lanes meet in the busiest one). Where
// nb <= kLanes / 2 the warp holds kLanes / nb copies of every feature,
// summed when the block flushes; lanes from active_lanes(nb) on idle.
//
// The rotation costs no dynamic register index: a lane loads its row's words
// starting at word rotation / 4 (its own addresses), then shifts the words
// by rotation % 4 bytes (rotated_word), so step p's bin is byte p of the
// shifted words, a constant place.
//
// A lane adds every position of its row, padding and features outside the
// node's group too, each into its own column, and the flush takes only the
// group's (a step needs no test), so the host takes the walk only where a
// group covers more than half the row (dense_group): for a sampled few
// features most adds would be wasted.
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/lane_columns.h"

namespace canopy {
namespace rotated_rows {

// The histogram of kLanes columns, column c in bank c (lane_columns.h):
// the counter of a column at bin-channel bc, and the counters in all.
using lane_columns::column_counter;
using lane_columns::counters;
using lane_columns::kLanes;

// Byte positions a lane walks: the device row stride (whole words).
CANOPY_HD int32_t copies(int32_t nb) { return kLanes / nb; }
CANOPY_HD int32_t active_lanes(int32_t nb) { return copies(nb) * nb; }
CANOPY_HD int32_t rotation(int32_t lane, int32_t nb) { return lane % nb; }
CANOPY_HD int32_t copy(int32_t lane, int32_t nb) { return lane / nb; }

// The position a lane adds in step p is (p + rotation) % nb: rotation in
// step 0, then each step's next_position (a ring of nb; also of a row's words).
CANOPY_HD int32_t next_position(int32_t q, int32_t nb) { return q + 1 < nb ? q + 1 : 0; }

// Column of feature position q in copy c.
CANOPY_HD int32_t column(int32_t c, int32_t nb, int32_t q) { return c * nb + q; }

// The sum of position q's n_copies = copies(nb) copies at bin-channel bc:
// what the flush adds to the position's feature (n_copies passed in, so a
// loop divides once).
template <typename Counter>
CANOPY_HD unsigned long long sum_copies(const Counter* h, int64_t bc, int32_t nb, int32_t q, int32_t n_copies) {
  unsigned long long v = 0;
  for (int32_t c = 0; c < n_copies; ++c) v += h[column_counter(bc, column(c, nb, q))];
  return v;
}

// The flush's order: a block's thread t visits i = t, t + step, ... below
// nb x (bins x channels), i = bc * nb + q (consecutive threads on consecutive
// positions: consecutive columns of a copy, distinct banks). The cursor
// holds (bc, q) of its i and steps it without a division.
struct FlushCursor {
  int32_t bc, q;
  int32_t step_bc, step_q;
  CANOPY_HD FlushCursor(int32_t first, int32_t step, int32_t nb)
      : bc(first / nb), q(first % nb), step_bc(step / nb), step_q(step % nb) {}
  CANOPY_HD void next(int32_t nb) {
    bc += step_bc;
    q += step_q;
    if (q >= nb) {
      q -= nb;
      ++bc;
    }
  }
};

// Word u of a rotated row of w words: the row's words read around the ring
// from first_word(r) on (each the next_position of the one before), each
// shifted down by r % 4 bytes with the next one's low bytes on top, so byte
// p of the result is the row's byte (p + r) % (4 w).
CANOPY_HD int32_t first_word(int32_t r) { return r / 4; }
CANOPY_HD uint32_t rotated_word(uint32_t word, uint32_t next, int32_t r) {
  const uint64_t pair = (static_cast<uint64_t>(next) << 32) | word;
  return static_cast<uint32_t>(pair >> (8 * (r & 3)));
}

// Whether the walk suits a group of nj features over rows of nb bytes.
CANOPY_HD bool dense_group(int32_t nj, int32_t nb) { return 2 * nj > nb; }

}  // namespace rotated_rows
}  // namespace canopy
