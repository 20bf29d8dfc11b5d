#pragma once
// Row partitioning: after a node splits, its rows are reordered so the rows of
// the left child come first. Stable, so the order inside each child is fixed.
#include <cstddef>
#include <cstdint>

#include "kernels/bin.h"
#include "kernels/histogram.h"
#include "kernels/host_device.h"

namespace canopy {

// Goes left when the row's bin b satisfies: b == 0 ? missing_left : b <= bin
// (both backends).
CANOPY_HD bool goes_left(uint8_t b, int32_t bin, bool missing_left) {
  return b == 0 ? missing_left : static_cast<int32_t>(b) <= bin;
}

// Whether a frontier node's rows are partitioned after apply_splits: it
// splits and the level loop keeps a child (keep_pair: its two keep_children
// flags); a node whose children both end as leaves needs no partition (both
// backends).
inline bool partitions_rows(const SplitChoice& split, const uint8_t* keep_pair) {
  return split.valid() && (keep_pair[0] != 0 || keep_pair[1] != 0);
}

// Partitions entries[0, n) in place using `scratch` (n entries); returns the
// number of entries that went left.
std::size_t partition_rows_cpu(const BinnedMatrix& bins, int32_t feature, int32_t bin, bool missing_left,
                               RowEntry* entries, std::size_t n, RowEntry* scratch);

// The same with the split feature's bins stored contiguously: column[row]
// (a feature-major copy of the matrix; the same result as partition_rows_cpu).
std::size_t partition_rows_by_column(const uint8_t* column, int32_t bin, bool missing_left, RowEntry* entries,
                                     std::size_t n, RowEntry* scratch);

}  // namespace canopy
