// CUDA bin assignment (kernels/bin.h): the same contract and the same search
// (bin_search) as assign_bins_cpu, so the matrices are identical.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/bin.h"
#include "kernels/cuda_util.cuh"

namespace canopy {
namespace {

struct BinPolicy {
  static constexpr int kBlockThreads = 256;
  // Rows per upload chunk at most; fewer when device memory is short.
  static constexpr std::size_t kMaxChunkRows = std::size_t(1) << 24;
  static constexpr std::size_t kMinChunkRows = std::size_t(1) << 12;
  // Fraction of free device memory the chunk buffers may use.
  static constexpr double kMemoryFraction = 0.5;
  static constexpr unsigned kMaxGridY = 65535;
};

// Thread x: one row of the chunk; block y strides over features. Reads are
// coalesced (feature-major input); each thread writes one byte of a row.
__global__ void assign_bins_kernel(const float* __restrict__ columns, std::size_t chunk_rows,
                                   std::size_t n_features, const float* __restrict__ cuts,
                                   const uint32_t* __restrict__ offsets, uint8_t* __restrict__ out) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= chunk_rows) return;
  for (std::size_t f = blockIdx.y; f < n_features; f += gridDim.y) {
    const uint32_t o0 = offsets[f], o1 = offsets[f + 1];
    out[r * n_features + f] = bin_search(cuts + o0, o1 - o0, columns[f * chunk_rows + r]);
  }
}

}  // namespace

void assign_bins_cuda(const BinCuts& cuts, const std::vector<std::vector<float>>& columns, BinnedMatrix& out,
                      int device) {
  const std::size_t nf = columns.size();
  const std::size_t nr = nf ? columns[0].size() : 0;
  out.n_rows = nr;
  out.n_features = nf;
  out.bins.assign(nr * nf, 0);
  if (nr == 0 || nf == 0) return;
  if (cuts.n_features() != nf) throw std::invalid_argument("assign_bins_cuda: cuts and columns disagree");
  cuda_util::ScopedDevice scoped(device);

  DeviceArray<float> d_cuts(std::max<std::size_t>(1, cuts.values.size()));
  if (!cuts.values.empty()) d_cuts.upload(cuts.values.data(), cuts.values.size());
  DeviceArray<uint32_t> d_offsets(cuts.offsets);

  const std::size_t per_row = nf * (sizeof(float) + sizeof(uint8_t));
  const std::size_t budget =
      static_cast<std::size_t>(BinPolicy::kMemoryFraction * static_cast<double>(cuda_util::free_device_memory()));
  std::size_t chunk = std::min(nr, std::min(BinPolicy::kMaxChunkRows, std::max(BinPolicy::kMinChunkRows,
                                                                                budget / per_row)));
  cuda_util::require_device_memory(chunk * per_row, 0, "bin assignment");
  DeviceArray<float> d_cols(chunk * nf);
  DeviceArray<uint8_t> d_out(chunk * nf);
  for (std::size_t r0 = 0; r0 < nr; r0 += chunk) {
    const std::size_t n = std::min(chunk, nr - r0);
    for (std::size_t f = 0; f < nf; ++f)
      CANOPY_CUDA_CHECK(cudaMemcpy(d_cols.data() + f * n, columns[f].data() + r0, n * sizeof(float),
                                   cudaMemcpyHostToDevice));
    dim3 grid(cuda_util::blocks_for(n, BinPolicy::kBlockThreads),
              static_cast<unsigned>(std::min<std::size_t>(nf, BinPolicy::kMaxGridY)));
    assign_bins_kernel<<<grid, BinPolicy::kBlockThreads>>>(d_cols.data(), n, nf, d_cuts.data(), d_offsets.data(),
                                                           d_out.data());
    CANOPY_CUDA_CHECK_LAUNCH();
    d_out.download(out.bins.data() + r0 * nf, n * nf);
  }
}

}  // namespace canopy
