#include "kernels/partition.h"

#include <algorithm>

namespace canopy {

namespace {

// Row r's bin of the split feature is base[r * stride].
std::size_t partition_strided(const uint8_t* base, std::size_t stride, int32_t bin, bool missing_left,
                              RowEntry* entries, std::size_t n, RowEntry* scratch) {
  std::size_t nl = 0, nr = 0;
  // Branch-free (the direction is as unpredictable as the data): each entry
  // is written to both places and only its side's cursor advances. nl <= i,
  // so the in-place write never overtakes the read.
  for (std::size_t i = 0; i < n; ++i) {
    prefetch_row_ahead(base, stride, entries, i, n);
    const RowEntry e = entries[i];
    const bool left = goes_left(base[static_cast<std::size_t>(e.row) * stride], bin, missing_left);
    entries[nl] = e;
    scratch[nr] = e;
    nl += left;
    nr += !left;
  }
  std::copy(scratch, scratch + nr, entries + nl);
  return nl;
}

}  // namespace

std::size_t partition_rows_cpu(const BinnedMatrix& bins, int32_t feature, int32_t bin, bool missing_left,
                               RowEntry* entries, std::size_t n, RowEntry* scratch) {
  return partition_strided(bins.bins.data() + feature, bins.n_features, bin, missing_left, entries, n, scratch);
}

std::size_t partition_rows_by_column(const uint8_t* column, int32_t bin, bool missing_left, RowEntry* entries,
                                     std::size_t n, RowEntry* scratch) {
  return partition_strided(column, 1, bin, missing_left, entries, n, scratch);
}

}  // namespace canopy
