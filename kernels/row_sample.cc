#include "kernels/row_sample.h"

#include <algorithm>

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
  // Each draw counts into index space (one random access, not a read of
  // rows[i] and then a write); rows[i] then receives count i. When rows is
  // 0 .. n_rows-1 (n_rows consecutive rows below n_rows) the counts are the
  // multiplicities themselves.
  const bool identity =
      rows.size() == n_rows &&
      std::adjacent_find(rows.begin(), rows.end(), [](uint32_t a, uint32_t b) { return b != a + 1; }) == rows.end();
  std::vector<uint32_t> by_index;
  if (!identity) by_index.assign(n, 0);
  uint32_t* count = identity ? m.data() : by_index.data();
  // Whole Philox blocks first, so the four words stay in registers, then the
  // partial block.
  const int64_t blocks = sample.draws / 4;
  for (int64_t q = 0; q < blocks; ++q) {
    const Philox4 w = bootstrap_block(seed, tree, q);
    for (int i = 0; i < 4; ++i) ++count[bounded(w.v[i], n)];
  }
  const Philox4 w = bootstrap_block(seed, tree, blocks);
  for (int i = 0; i < static_cast<int>(sample.draws % 4); ++i) ++count[bounded(w.v[i], n)];
  if (!identity)
    for (uint32_t i = 0; i < n; ++i) m[rows[i]] += by_index[i];
  return m;
}

}  // namespace canopy
