#pragma once
// Prediction on raw float features: each row walks every tree to a leaf and
// the leaves' values are averaged (class probabilities or regression means);
// a one-vs-rest forest averages each class over its own trees and scales the
// class scores to sum 1 (kernels/forest_nodes.h).
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

// Number of trees t in [begin, end) that score output o of a one-vs-rest
// forest with n_outputs classes (t % n_outputs == o).
CANOPY_HD int64_t trees_of_output(int64_t begin, int64_t end, int32_t n_outputs, int32_t o) {
  const auto upto = [&](int64_t x) { return (x + n_outputs - 1 - o) / n_outputs; };
  return upto(end) - upto(begin);
}

// Adds the leaf values `v` that tree t gives a row to the row's sums `acc`.
CANOPY_HD void add_leaf(double* acc, const float* v, int32_t n_outputs, bool one_vs_rest, int64_t t) {
  if (one_vs_rest) {
    acc[t % n_outputs] += v[0];
  } else {
    for (int32_t o = 0; o < n_outputs; ++o) acc[o] += v[o];
  }
}

// One-vs-rest outputs from per-class sums: each class's mean over its
// n_trees_of(o) trees (0 when it has none), scaled so the classes sum to 1
// (all equal when every mean is 0).
template <typename TreeCount>
CANOPY_HD void finish_one_vs_rest(double* acc, int32_t n_outputs, const TreeCount& n_trees_of) {
  double total = 0.0;
  for (int32_t o = 0; o < n_outputs; ++o) {
    const int64_t n = n_trees_of(o);
    acc[o] = n > 0 ? acc[o] / static_cast<double>(n) : 0.0;
    total += acc[o];
  }
  for (int32_t o = 0; o < n_outputs; ++o) acc[o] = total > 0.0 ? acc[o] / total : 1.0 / n_outputs;
}

// Turns a row's sums over trees [begin, end) into its outputs: the mean
// (sums times 1/(end - begin)), or the one-vs-rest class scores.
CANOPY_HD void finish_row(double* acc, int32_t n_outputs, bool one_vs_rest, int64_t begin, int64_t end) {
  if (one_vs_rest) {
    finish_one_vs_rest(acc, n_outputs, [&](int32_t o) { return trees_of_output(begin, end, n_outputs, o); });
    return;
  }
  const double scale = end > begin ? 1.0 / static_cast<double>(end - begin) : 0.0;
  for (int32_t o = 0; o < n_outputs; ++o) acc[o] *= scale;
}

// Feature-major input: columns[f][r].
struct ColumnsView {
  const float* const* columns;
  std::size_t n_rows;
  std::size_t n_features;
};

// out[r * n_outputs + o] = output o of trees [tree_begin, tree_end): the mean
// leaf value, or a one-vs-rest class score (finish_row).
void predict_cpu(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin,
                 std::size_t tree_end, double* out);

// The same on CUDA device `device` (kernels/predict.cu): one thread per row,
// trees in order, double accumulation, so `out` equals predict_cpu bit for bit.
// Throws std::runtime_error("built without CUDA") in a build without CUDA.
void predict_cuda(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin,
                  std::size_t tree_end, double* out, int device);

}  // namespace canopy
