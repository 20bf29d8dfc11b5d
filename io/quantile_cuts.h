#pragma once
// Quantile cut points per feature, computed from a deterministic sample of rows
// (DESIGN principle 4). See kernels/bin.h for how cuts define bins.
#include <cstddef>
#include <vector>

#include "kernels/bin.h"

namespace canopy {

struct CutOptions {
  int max_bins = 256;                 // bins per feature including the missing bin, 3..256
  std::size_t sample_rows = 100000;   // rows sampled (evenly strided) when the data is larger
};

// A feature with at most max_bins - 1 distinct values gets one value bin per
// distinct value (cut at the midpoint of neighbours), so splits are exact;
// otherwise cuts sit at evenly spaced quantiles of the sample.
BinCuts compute_cuts(const std::vector<std::vector<float>>& columns, const CutOptions& opt);

}  // namespace canopy
