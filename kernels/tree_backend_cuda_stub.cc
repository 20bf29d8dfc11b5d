// Stand-ins for the CUDA entry points in a build without CUDA, so every call
// site compiles (DESIGN principle 1). With CANOPY_WITH_CUDA the real
// definitions come from tree_backend_cuda.cu, bin.cu and predict.cu and this
// file is empty.
#ifndef CANOPY_WITH_CUDA

#include <stdexcept>

#include "kernels/bin.h"
#include "kernels/predict.h"
#include "kernels/tree_backend.h"

namespace canopy {

std::unique_ptr<TreeBackend> make_cuda_tree_backend(int /*device_index*/, const CudaTuning& /*tuning*/) {
  throw std::runtime_error("built without CUDA");
}

double cuda_histogram_seconds(const TreeBackend& /*backend*/) { return 0; }
int64_t cuda_cluster_launches(const TreeBackend& /*backend*/) { return 0; }

void assign_bins_cuda(const BinCuts&, const std::vector<std::vector<float>>&, BinnedMatrix&, int) {
  throw std::runtime_error("built without CUDA");
}

void predict_cuda(const ForestNodes&, const ColumnsView&, std::size_t, std::size_t, double*, int) {
  throw std::runtime_error("built without CUDA");
}

}  // namespace canopy

#endif  // CANOPY_WITH_CUDA
