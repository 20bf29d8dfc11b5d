#pragma once
// Flat, structure-of-arrays storage for the nodes of a forest. This is what
// the predict primitive reads and what io/ writes into model files.
//
// Contract:
//  - Trees are stored back to back; tree t owns nodes [tree_offsets[t], tree_offsets[t+1]).
//  - Node indices inside a tree are level order; the root is 0.
//  - Internal node: feature >= 0; a row goes left when x[feature] <= threshold,
//    right otherwise; a missing (NaN) value goes left iff default_left != 0.
//    Children are left_child and left_child + 1 (tree-local indices).
//  - Leaf: feature == -1, left_child == -1.
//  - value holds values_per_node() floats per node, kept for internal nodes too:
//    class probabilities (classification) or the mean target (regression).
//  - One-vs-rest forests (one_vs_rest, classification with n_outputs >= 3
//    classes): tree t scores only class t % n_outputs, each node holds one
//    value (the weighted fraction of that class), and the number of trees is a
//    multiple of n_outputs (forest member m owns trees m*C .. m*C + C-1).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace canopy {

struct ForestNodes {
  int32_t n_outputs = 1;
  bool one_vs_rest = false;
  std::vector<int64_t> tree_offsets{0};
  std::vector<int32_t> feature;
  std::vector<float> threshold;
  std::vector<int32_t> left_child;
  std::vector<uint8_t> default_left;
  std::vector<int64_t> n_samples;   // sum of bootstrap multiplicities reaching the node
  std::vector<double> weight;       // weighted sample count reaching the node
  std::vector<float> value;         // n_nodes * n_outputs

  std::size_t n_trees() const { return tree_offsets.size() - 1; }
  std::size_t n_nodes() const { return feature.size(); }
  int32_t values_per_node() const { return one_vs_rest ? 1 : n_outputs; }
};

}  // namespace canopy
