#pragma once
// The level loop (DESIGN data flow): grows every tree job of a batch level by
// level through a TreeBackend, applying the stopping rules on the host.
#include <cstdint>
#include <vector>

#include "kernels/tree_backend.h"

namespace canopy {

struct GrowLimits {
  int32_t max_depth = -1;            // -1 = unlimited
  int64_t min_samples_split = 2;     // in samples (sum of multiplicities)
  int64_t min_samples_leaf = 1;
  double min_impurity_decrease = 0;  // scikit-learn's weighted definition
  // Units of a split gain: squared fixed-point scale for regression, 1 for
  // classification. gain / (root weight * gain_unit) is scikit-learn's
  // weighted impurity decrease (the root weight comes from the backend).
  double gain_unit = 1;
};

// A grown tree in level order, before conversion to model nodes.
struct GrownTree {
  std::vector<int64_t> stats;  // n_nodes * n_channels
  std::vector<int32_t> feature, bin, left_child;
  std::vector<uint8_t> default_left;
  std::vector<double> importance;  // per feature: summed weighted impurity decrease
  std::size_t n_nodes() const { return feature.size(); }
};

// Grows jobs[i] under limits[i]; out[i] receives the tree. Ends the backend's
// batch (backend.end()) whether it returns or throws.
void grow_batch(TreeBackend& backend, const BatchData& data, std::vector<JobSpec>& jobs,
                const std::vector<GrowLimits>& limits, std::vector<GrownTree>& out);

}  // namespace canopy
