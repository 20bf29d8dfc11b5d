#pragma once
// Prediction on raw float features: each row walks every tree to a leaf and
// the leaves' values are averaged (class probabilities or regression means).
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/forest_nodes.h"
#include "kernels/host_device.h"

namespace canopy {

// Tree-local index of the leaf that a row reaches. `x(f)` returns the row's
// value of feature f. Node arrays point at the tree's first node.
template <typename Row>
CANOPY_HD int32_t find_leaf(const int32_t* feature, const float* threshold, const int32_t* left_child,
                            const uint8_t* default_left, const Row& x) {
  int32_t node = 0;
  while (feature[node] >= 0) {
    const float v = x(feature[node]);
    const bool left = (v != v) ? default_left[node] != 0 : v <= threshold[node];
    node = left_child[node] + (left ? 0 : 1);
  }
  return node;
}

// Feature-major input: columns[f][r].
struct ColumnsView {
  const float* const* columns;
  std::size_t n_rows;
  std::size_t n_features;
};

// out[r * n_outputs + o] = mean over trees [tree_begin, tree_end) of the leaf value.
void predict_cpu(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin,
                 std::size_t tree_end, double* out);

// The same on CUDA device `device` (kernels/predict.cu): one thread per row,
// trees in order, double accumulation, so `out` equals predict_cpu bit for bit.
// Throws std::runtime_error("built without CUDA") in a build without CUDA.
void predict_cuda(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin,
                  std::size_t tree_end, double* out, int device);

}  // namespace canopy
