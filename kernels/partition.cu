// CUDA row partitioning (kernels/partition.h): the split nodes' entries are
// reordered stably, left child first, as partition_rows_cpu orders them: a
// flag per entry (goes left?), one exclusive scan over all entries, a scatter.
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <cstdint>

#include "kernels/tree_kernels.cuh"

namespace canopy {
namespace cuda_tree {
namespace {

// Row r's bin of feature f is bins[r * row_step + f * feature_step]: the
// row-major matrix (row_step = its stride, feature_step = 1) or its
// feature-major copy (1, n_rows).
__global__ void partition_flags_kernel(const PartItem* __restrict__ items, const PartSeg* __restrict__ segs,
                                       const uint8_t* __restrict__ bins, int64_t row_step, int64_t feature_step,
                                       const RowEntry* __restrict__ entries, uint32_t* __restrict__ flags) {
  const PartItem it = items[blockIdx.x];
  const PartSeg s = segs[it.seg];
  const uint8_t* feature = bins + s.feature * feature_step;
  for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += blockDim.x) {
    const uint8_t b = feature[static_cast<int64_t>(entries[e].row) * row_step];
    flags[e] = device_goes_left(b, s.bin, s.missing_left) ? 1u : 0u;
  }
}

// One thread a row: columns[f * n_rows + r] = bins[r * bin_stride + f].
__global__ void __launch_bounds__(PartitionPolicy::kBlockThreads)
    transpose_kernel(const uint8_t* __restrict__ bins, int64_t bin_stride, int64_t n_rows, int64_t n_features,
                     uint8_t* __restrict__ columns) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= n_rows) return;
  for (int64_t f = 0; f < n_features; ++f) columns[f * n_rows + r] = bins[r * bin_stride + f];
}

// Stable scatter: left entries keep their order at the front of the segment,
// right entries keep theirs after them. `scan` is the exclusive prefix sum of
// `flags` (mod 2^32: differences inside a segment are exact).
__global__ void partition_scatter_kernel(const PartItem* __restrict__ items, const PartSeg* __restrict__ segs,
                                         const RowEntry* __restrict__ entries, const uint32_t* __restrict__ flags,
                                         const uint32_t* __restrict__ scan, RowEntry* __restrict__ out) {
  const PartItem it = items[blockIdx.x];
  const PartSeg s = segs[it.seg];
  const uint32_t base = scan[s.begin];
  const int64_t n_left = static_cast<int64_t>(scan[s.end] - base);
  for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += blockDim.x) {
    const int64_t before = static_cast<int64_t>(scan[e] - base);  // left entries before e in the segment
    const int64_t dst = flags[e] ? s.begin + before : s.begin + n_left + (e - s.begin - before);
    out[dst] = entries[e];
  }
}

__global__ void partition_count_kernel(int32_t n_segs, const PartSeg* __restrict__ segs,
                                       const uint32_t* __restrict__ scan, int64_t* __restrict__ n_left) {
  const int32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_segs) return;
  n_left[i] = static_cast<int64_t>(scan[segs[i].end] - scan[segs[i].begin]);
}

}  // namespace

void exclusive_sum(const uint32_t* in, uint32_t* out, int64_t n, DeviceArray<uint8_t>& cub_temp) {
  std::size_t temp = 0;
  CANOPY_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, temp, in, out, n));
  cuda_util::ensure_capacity(cub_temp, std::max<std::size_t>(1, temp), "scan workspace");
  CANOPY_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(cub_temp.data(), temp, in, out, n));
}

void bins_to_columns(const uint8_t* bins, int64_t bin_stride, int64_t n_rows, int64_t n_features, uint8_t* columns) {
  if (n_rows == 0 || n_features == 0) return;
  transpose_kernel<<<cuda_util::blocks_for(static_cast<std::size_t>(n_rows), PartitionPolicy::kBlockThreads),
                     PartitionPolicy::kBlockThreads>>>(bins, bin_stride, n_rows, n_features, columns);
  CANOPY_CUDA_CHECK_LAUNCH();
}

void partition_segments(const PartItem* items, unsigned n_items, const PartSeg* segs, int32_t n_segs,
                        const uint8_t* bins, int64_t bin_stride, const uint8_t* columns, int64_t n_rows,
                        const RowEntry* entries, int64_t n_entries, uint32_t* flags, uint32_t* scan,
                        DeviceArray<uint8_t>& cub_temp, int64_t* n_left, RowEntry* out) {
  if (n_segs <= 0) return;
  if (n_items > 0) {
    partition_flags_kernel<<<n_items, PartitionPolicy::kBlockThreads>>>(
        items, segs, columns ? columns : bins, columns ? 1 : bin_stride, columns ? n_rows : 1, entries, flags);
    CANOPY_CUDA_CHECK_LAUNCH();
  }
  exclusive_sum(flags, scan, n_entries + 1, cub_temp);
  partition_count_kernel<<<cuda_util::blocks_for(n_segs, NodePolicy::kBlockThreads), NodePolicy::kBlockThreads>>>(
      n_segs, segs, scan, n_left);
  CANOPY_CUDA_CHECK_LAUNCH();
  if (n_items > 0) {
    partition_scatter_kernel<<<n_items, PartitionPolicy::kBlockThreads>>>(items, segs, entries, flags, scan, out);
    CANOPY_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace cuda_tree
}  // namespace canopy
