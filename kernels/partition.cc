#include "kernels/partition.h"

#include <algorithm>

namespace canopy {

std::size_t partition_rows_cpu(const BinnedMatrix& bins, int32_t feature, int32_t bin, bool missing_left,
                               RowEntry* entries, std::size_t n, RowEntry* scratch) {
  const std::size_t nf = bins.n_features;
  const uint8_t* base = bins.bins.data() + feature;
  std::size_t nl = 0, nr = 0;
  // Branch-free (the direction is as unpredictable as the data): each entry
  // is written to both places and only its side's cursor advances. nl <= i,
  // so the in-place write never overtakes the read.
  for (std::size_t i = 0; i < n; ++i) {
    prefetch_row_ahead(base, nf, entries, i, n);
    const RowEntry e = entries[i];
    const bool left = goes_left(base[static_cast<std::size_t>(e.row) * nf], bin, missing_left);
    entries[nl] = e;
    scratch[nr] = e;
    nl += left;
    nr += !left;
  }
  std::copy(scratch, scratch + nr, entries + nl);
  return nl;
}

}  // namespace canopy
