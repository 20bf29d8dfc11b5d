// CUDA row sampling (kernels/row_sample.h): a job's RowSample materialised
// on the device as the CPU's sample_multiplicity gives it (the same Philox
// draws), then compacted to in-bag entries in ascending row order.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/row_sample.h"
#include "kernels/tree_kernels.cuh"

namespace canopy {
namespace cuda_tree {
namespace {

// Thread q counts bootstrap draws 4q .. 4q+3 (those below `draws`) into mult.
__global__ void bootstrap_kernel(uint64_t seed, uint32_t tree, int64_t draws, const uint32_t* __restrict__ rows,
                                 uint32_t n, uint32_t* __restrict__ mult) {
  const int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (4 * q >= draws) return;
  const Philox4 w = bootstrap_block(seed, tree, q);
  for (int i = 0; i < 4 && 4 * q + i < draws; ++i) atomicAdd(&mult[rows[bounded(w.v[i], n)]], 1u);
}

// Every listed row once.
__global__ void once_kernel(const uint32_t* __restrict__ rows, int64_t n, uint32_t* __restrict__ mult) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) mult[rows[i]] = 1u;
}

__global__ void in_sample_kernel(const uint32_t* __restrict__ mult, int64_t n_rows, uint32_t* __restrict__ flags) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r <= n_rows) flags[r] = r < n_rows && mult[r] > 0 ? 1u : 0u;
}

// Rows in ascending order, as the host builds them: entry scan[r] = (r, mult[r]).
__global__ void compact_kernel(const uint32_t* __restrict__ mult, const uint32_t* __restrict__ scan, int64_t n_rows,
                               RowEntry* __restrict__ out) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r < n_rows && mult[r] > 0) out[scan[r]] = RowEntry{static_cast<uint32_t>(r), mult[r]};
}

}  // namespace

int64_t sample_entries(uint64_t seed, uint32_t tree, int64_t draws, const uint32_t* rows, int64_t n,
                       int64_t n_rows, uint32_t* mult, uint32_t* flags, uint32_t* scan,
                       DeviceArray<uint8_t>& cub_temp, RowEntry* out) {
  if (n <= 0 || n_rows <= 0) return 0;
  constexpr int kThreads = SamplePolicy::kBlockThreads;
  CANOPY_CUDA_CHECK(cudaMemset(mult, 0, static_cast<std::size_t>(n_rows) * sizeof(uint32_t)));
  if (draws > 0)
    bootstrap_kernel<<<cuda_util::blocks_for((draws + 3) / 4, kThreads), kThreads>>>(seed, tree, draws, rows,
                                                                                     static_cast<uint32_t>(n), mult);
  else
    once_kernel<<<cuda_util::blocks_for(n, kThreads), kThreads>>>(rows, n, mult);
  CANOPY_CUDA_CHECK_LAUNCH();
  in_sample_kernel<<<cuda_util::blocks_for(n_rows + 1, kThreads), kThreads>>>(mult, n_rows, flags);
  CANOPY_CUDA_CHECK_LAUNCH();
  exclusive_sum(flags, scan, n_rows + 1, cub_temp);
  compact_kernel<<<cuda_util::blocks_for(n_rows, kThreads), kThreads>>>(mult, scan, n_rows, out);
  CANOPY_CUDA_CHECK_LAUNCH();
  uint32_t count = 0;
  CANOPY_CUDA_CHECK(cudaMemcpy(&count, scan + n_rows, sizeof(uint32_t), cudaMemcpyDeviceToHost));
  return static_cast<int64_t>(count);
}

}  // namespace cuda_tree
}  // namespace canopy
