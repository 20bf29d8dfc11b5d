#include "kernels/histogram.h"

namespace canopy {

void accumulate_histogram_cpu(const BinnedMatrix& bins, const RowTargets& t, const RowEntry* entries,
                              std::size_t n, const FeatureSet& fs, int64_t* hist) {
  const StatsLayout& lay = *t.layout;
  const int32_t k = lay.n_channels;
  const std::size_t nf = bins.n_features;
  const uint8_t* base = bins.bins.data();
  const bool simple_class = !lay.regression() && lay.count_channel < 0 && !t.row_quantum &&
                            !t.class_quantum;
  if (simple_class) {  // the common case: class counts weighted by multiplicity
    for (std::size_t i = 0; i < n; ++i) {
      const uint32_t r = entries[i].row;
      const uint8_t* row = base + static_cast<std::size_t>(r) * nf;
      const int64_t m = entries[i].mult;
      const int32_t c = t.class_id[r];
      for (int32_t j = 0; j < fs.n; ++j)
        hist[(fs.offsets[j] + row[fs.features[j]]) * k + c] += m;
    }
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const uint32_t r = entries[i].row;
    const uint8_t* row = base + static_cast<std::size_t>(r) * nf;
    for (int32_t j = 0; j < fs.n; ++j)
      t.add(hist + (fs.offsets[j] + row[fs.features[j]]) * k, r, entries[i].mult);
  }
}

void accumulate_totals_cpu(const RowTargets& t, const RowEntry* entries, std::size_t n, int64_t* totals) {
  for (std::size_t i = 0; i < n; ++i) t.add(totals, entries[i].row, entries[i].mult);
}

}  // namespace canopy
