#include "kernels/predict.h"

#include <algorithm>

namespace canopy {

void predict_cpu(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin,
                 std::size_t tree_end, double* out) {
  const int32_t no = forest.n_outputs, nv = forest.values_per_node();
  const bool ovr = forest.one_vs_rest;
  const std::size_t n = x.n_rows;
  constexpr std::size_t kRowBlock = 256;
  const std::size_t n_blocks = (n + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(dynamic, 4) if (n * (tree_end - tree_begin) >= 65536)
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const std::size_t r0 = b * kRowBlock, r1 = std::min(n, r0 + kRowBlock);
    std::fill(out + r0 * no, out + r1 * no, 0.0);
    for (std::size_t t = tree_begin; t < tree_end; ++t) {
      const int64_t base = forest.tree_offsets[t];
      const int32_t* feat = forest.feature.data() + base;
      const float* thr = forest.threshold.data() + base;
      const int32_t* lc = forest.left_child.data() + base;
      const uint8_t* dl = forest.default_left.data() + base;
      for (std::size_t r = r0; r < r1; ++r) {
        auto row = [&](int32_t f) { return x.columns[f][r]; };
        const int64_t leaf = base + find_leaf(feat, thr, lc, dl, row);
        add_leaf(out + r * no, forest.value.data() + leaf * nv, no, ovr, static_cast<int64_t>(t));
      }
    }
    for (std::size_t r = r0; r < r1; ++r)
      finish_row(out + r * no, no, ovr, static_cast<int64_t>(tree_begin), static_cast<int64_t>(tree_end));
  }
}

}  // namespace canopy
