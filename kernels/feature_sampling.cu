// CUDA feature sampling (kernels/feature_sampling.h): each frontier node's
// sample from the shared Philox sample_features, as the CPU backend draws it.
#include <cstdint>

#include "kernels/feature_sampling.h"
#include "kernels/tree_kernels.cuh"

namespace canopy {
namespace cuda_tree {
namespace {

__global__ void sample_kernel(const NodeDesc* __restrict__ nodes, int32_t n_nodes, const DevJob* __restrict__ jobs,
                              int32_t n_features, int32_t* __restrict__ perm, int32_t* __restrict__ feats) {
  const int32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_nodes) return;
  const NodeDesc nd = nodes[i];
  const DevJob jb = jobs[nd.job];
  if (nd.kf <= 0) return;
  sample_features(jb.seed, jb.tree, static_cast<uint32_t>(nd.node), n_features, nd.kf,
                  perm + static_cast<int64_t>(i) * n_features, feats + nd.feat_off);
}

}  // namespace

void sample_node_features(const NodeDesc* nodes, int32_t n_nodes, const DevJob* jobs, int32_t n_features,
                          int32_t* perm, int32_t* feats) {
  if (n_nodes <= 0) return;
  sample_kernel<<<cuda_util::blocks_for(n_nodes, NodePolicy::kBlockThreads), NodePolicy::kBlockThreads>>>(
      nodes, n_nodes, jobs, n_features, perm, feats);
  CANOPY_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda_tree
}  // namespace canopy
