#include "kernels/row_sample.h"

namespace canopy {

std::vector<uint32_t> sample_multiplicity(const RowSample& sample, uint64_t seed, uint32_t tree, std::size_t n_rows) {
  std::vector<uint32_t> m(n_rows, 0);
  if (sample.empty()) return m;
  const std::vector<uint32_t>& rows = *sample.rows;
  if (sample.draws == 0) {
    for (uint32_t r : rows) m[r] = 1;
    return m;
  }
  const uint32_t n = static_cast<uint32_t>(rows.size());
  Philox4 words{};
  for (int64_t d = 0; d < sample.draws; ++d) {
    if (d % 4 == 0) words = bootstrap_block(seed, tree, d / 4);
    ++m[rows[bounded(words.v[d % 4], n)]];
  }
  return m;
}

}  // namespace canopy
