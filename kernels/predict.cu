// CUDA prediction (kernels/predict.h): one thread per row walks the trees in
// order with the shared find_leaf, add_leaf and finish_row, accumulating in
// double exactly as predict_cpu does, so the outputs are identical bit for bit.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cuda_util.cuh"
#include "kernels/predict.h"

namespace canopy {
namespace {

struct PredictPolicy {
  static constexpr int kBlockThreads = 128;
  static constexpr std::size_t kMaxChunkRows = std::size_t(1) << 22;
  static constexpr std::size_t kMinChunkRows = std::size_t(1) << 10;
  static constexpr double kMemoryFraction = 0.5;
};

struct DeviceRow {
  const float* columns;  // feature-major chunk: columns[f * n_rows + r]
  std::size_t n_rows;
  std::size_t r;
  __device__ float operator()(int32_t f) const { return columns[static_cast<std::size_t>(f) * n_rows + r]; }
};

__global__ void predict_kernel(const int64_t* __restrict__ tree_offsets, const int32_t* __restrict__ feature,
                               const float* __restrict__ threshold, const int32_t* __restrict__ left_child,
                               const uint8_t* __restrict__ default_left, const float* __restrict__ value,
                               int32_t n_outputs, bool one_vs_rest, std::size_t tree_begin, std::size_t tree_end,
                               const float* __restrict__ columns, std::size_t n_rows, double* __restrict__ out) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= n_rows) return;
  double* o = out + r * n_outputs;
  for (int32_t k = 0; k < n_outputs; ++k) o[k] = 0.0;
  const DeviceRow row{columns, n_rows, r};
  const int32_t values_per_node = one_vs_rest ? 1 : n_outputs;
  for (std::size_t t = tree_begin; t < tree_end; ++t) {
    const int64_t base = tree_offsets[t];
    const int64_t leaf = base + find_leaf(feature + base, threshold + base, left_child + base, default_left + base, row);
    add_leaf(o, value + leaf * values_per_node, n_outputs, one_vs_rest, static_cast<int64_t>(t));
  }
  finish_row(o, n_outputs, one_vs_rest, static_cast<int64_t>(tree_begin), static_cast<int64_t>(tree_end));
}

template <typename T>
DeviceArray<T> upload_nonempty(const std::vector<T>& v) {
  DeviceArray<T> d(std::max<std::size_t>(1, v.size()));
  if (!v.empty()) d.upload(v.data(), v.size());
  return d;
}

}  // namespace

void predict_cuda(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin, std::size_t tree_end,
                  double* out, int device) {
  const int32_t no = forest.n_outputs;
  const std::size_t n = x.n_rows, nf = x.n_features;
  if (n == 0) return;
  cuda_util::ScopedDevice scoped(device);

  const std::size_t forest_bytes = forest.tree_offsets.size() * 8 + forest.feature.size() * (4 + 4 + 4 + 1) +
                                   forest.value.size() * 4;
  cuda_util::require_device_memory(forest_bytes, 0, "prediction (forest)");
  DeviceArray<int64_t> d_offsets = upload_nonempty(forest.tree_offsets);
  DeviceArray<int32_t> d_feature = upload_nonempty(forest.feature);
  DeviceArray<float> d_threshold = upload_nonempty(forest.threshold);
  DeviceArray<int32_t> d_left = upload_nonempty(forest.left_child);
  DeviceArray<uint8_t> d_default = upload_nonempty(forest.default_left);
  DeviceArray<float> d_value = upload_nonempty(forest.value);

  const std::size_t per_row = nf * sizeof(float) + static_cast<std::size_t>(no) * sizeof(double);
  const std::size_t budget = static_cast<std::size_t>(PredictPolicy::kMemoryFraction *
                                                      static_cast<double>(cuda_util::free_device_memory()));
  const std::size_t chunk = std::min(
      n, std::min(PredictPolicy::kMaxChunkRows, std::max(PredictPolicy::kMinChunkRows, budget / std::max<std::size_t>(1, per_row))));
  cuda_util::require_device_memory(chunk * per_row, 0, "prediction (rows)");
  DeviceArray<float> d_cols(std::max<std::size_t>(1, chunk * nf));
  DeviceArray<double> d_out(std::max<std::size_t>(1, chunk * static_cast<std::size_t>(no)));
  for (std::size_t r0 = 0; r0 < n; r0 += chunk) {
    const std::size_t m = std::min(chunk, n - r0);
    for (std::size_t f = 0; f < nf; ++f)
      CANOPY_CUDA_CHECK(cudaMemcpy(d_cols.data() + f * m, x.columns[f] + r0, m * sizeof(float),
                                   cudaMemcpyHostToDevice));
    predict_kernel<<<cuda_util::blocks_for(m, PredictPolicy::kBlockThreads), PredictPolicy::kBlockThreads>>>(
        d_offsets.data(), d_feature.data(), d_threshold.data(), d_left.data(), d_default.data(), d_value.data(), no,
        forest.one_vs_rest, tree_begin, tree_end, d_cols.data(), m, d_out.data());
    CANOPY_CUDA_CHECK_LAUNCH();
    d_out.download(out + r0 * no, m * static_cast<std::size_t>(no));
  }
}

}  // namespace canopy
