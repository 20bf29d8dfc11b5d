// CUDA histograms (kernels/histogram.h): the same integer statistics per
// (feature, bin) as accumulate_histogram_cpu, accumulated with integer
// atomics (order-free), and the root statistics as accumulate_totals_cpu.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/tree_kernels.cuh"

namespace canopy {
namespace cuda_tree {
namespace {

// Where a histogram block accumulates: straight into the global int64
// histogram, or a privatised shared-memory copy of 64-bit or 32-bit counters
// flushed with one global atomic per non-zero counter. 32-bit counters are
// used only when no block sum can exceed 2^32 - 1 (see use_hist32).
template <typename T>
struct SharedHistogram {
  using Counter = T;
};
struct GlobalHistogram {
  using Counter = unsigned long long;
};

__device__ __forceinline__ void shared_add(unsigned long long* p, int64_t v) { atomic_add_i64(p, v); }
__device__ __forceinline__ void shared_add(unsigned int* p, int64_t v) { atomicAdd(p, static_cast<unsigned int>(v)); }

// One block per work item: entries [e0, e1) of one node, features j0 .. j0+nj-1
// of its sample, accumulated as Mode says. kElements: thread q of the block
// takes the (entry, feature) elements q, q + blockDim, ... in entry-major
// order (CudaTuning::HistogramMapping::kElementPerThread), loading kBatch
// elements' bins before adding any; otherwise it takes whole entries, kBatch
// of them at a time (e, e + blockDim, ...), and walks the group's features,
// loading the kBatch entries' bins of a feature before adding any
// (CudaTuning::histogram_load_batch). kThreads: the block size
// (CudaTuning::histogram_block_threads).
template <typename Mode, bool kElements, int kBatch, int kThreads>
__global__ void __launch_bounds__(kThreads)
    histogram_kernel(const HistItem* __restrict__ items, const NodeDesc* __restrict__ nodes,
                     const DevJob* __restrict__ jobs, const int32_t* __restrict__ feats,
                     const uint8_t* __restrict__ bins, int64_t bin_stride, const RowEntry* __restrict__ entries,
                     DevTargets t, int32_t max_bins, unsigned long long* __restrict__ hist) {
  using Counter = typename Mode::Counter;
  constexpr bool kShared = !std::is_same<Mode, GlobalHistogram>::value;
  extern __shared__ unsigned long long smem_raw[];
  Counter* smem = reinterpret_cast<Counter*>(smem_raw);
  const HistItem it = items[blockIdx.x];
  const NodeDesc nd = nodes[it.node];
  const int32_t k = t.layout.n_channels;
  const int64_t* cq = jobs[nd.job].class_quantum;
  const int32_t* f = feats + nd.feat_off + it.j0;
  const int64_t feat_stride = static_cast<int64_t>(max_bins) * k;
  unsigned long long* gh = hist + nd.hist_off + static_cast<int64_t>(it.j0) * feat_stride;
  const int64_t len = static_cast<int64_t>(it.nj) * feat_stride;
  Counter* h = nullptr;
  if constexpr (kShared) {
    h = smem;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) smem[i] = 0;
    __syncthreads();
  } else {
    h = gh;
  }
  const bool regression = t.layout.regression();
  const int32_t cc = t.layout.count_channel;
  // An entry's statistics, then their addition to feature j's histogram (j of
  // this group).
  struct EntryStats {
    uint32_t row, mult;
    int32_t c0;  // classification: the class channel; regression: 0
    int64_t w, wy;
  };
  auto stats_of = [&](const RowEntry& en) {
    EntryStats st{en.row, en.mult, 0, row_weight(t, cq, en.row, en.mult), 0};
    if (regression)
      st.wy = st.w * t.y_fixed[en.row];
    else
      st.c0 = t.class_id[en.row];
    return st;
  };
  auto bin_of = [&](const EntryStats& st, int32_t j) {
    return bins[static_cast<int64_t>(st.row) * bin_stride + f[j]];
  };
  auto add = [&](const EntryStats& st, int32_t j, uint8_t b) {
    Counter* s = h + static_cast<int64_t>(j) * feat_stride + static_cast<int64_t>(b) * k;
    shared_add(s + st.c0, st.w);
    if (regression) shared_add(s + 1, st.wy);
    if (cc >= 0) shared_add(s + cc, static_cast<int64_t>(st.mult));
  };
  if constexpr (kElements) {
    // Element q is (entry q / nj, feature q % nj); the host keeps
    // (e1 - e0) * nj below 2^31. Stepping by blockDim advances the pair by
    // (blockDim / nj, blockDim % nj), so no division inside the loop. Each
    // round loads kBatch elements before adding any.
    const uint32_t nj = static_cast<uint32_t>(it.nj);
    const uint32_t n_elements = static_cast<uint32_t>(it.e1 - it.e0) * nj;
    const uint32_t step_e = blockDim.x / nj, step_j = blockDim.x % nj;
    uint32_t e = threadIdx.x / nj, j = threadIdx.x % nj;
    for (uint32_t q = threadIdx.x; q < n_elements; q += kBatch * blockDim.x) {
      EntryStats st[kBatch];
      int32_t jb[kBatch];
      uint8_t b[kBatch];
#pragma unroll
      for (int u = 0; u < kBatch; ++u) {
        if (q + u * blockDim.x < n_elements) {
          st[u] = stats_of(entries[it.e0 + e]);
          jb[u] = static_cast<int32_t>(j);
          b[u] = bin_of(st[u], jb[u]);
        }
        e += step_e;
        j += step_j;
        if (j >= nj) {
          j -= nj;
          ++e;
        }
      }
#pragma unroll
      for (int u = 0; u < kBatch; ++u)
        if (q + u * blockDim.x < n_elements) add(st[u], jb[u], b[u]);
    }
  } else {
    // Entries e + u * blockDim (u < kBatch) of this thread; a feature's index
    // is loaded once for all of them.
    for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += kBatch * blockDim.x) {
      EntryStats st[kBatch];
      const uint8_t* row[kBatch];
      bool in[kBatch];
#pragma unroll
      for (int u = 0; u < kBatch; ++u) {
        in[u] = e + u * blockDim.x < it.e1;
        if (in[u]) {
          st[u] = stats_of(entries[e + u * blockDim.x]);
          row[u] = bins + static_cast<int64_t>(st[u].row) * bin_stride;
        }
      }
      for (int32_t j = 0; j < it.nj; ++j) {
        const int32_t fj = f[j];
        uint8_t b[kBatch];
#pragma unroll
        for (int u = 0; u < kBatch; ++u)
          if (in[u]) b[u] = row[u][fj];
#pragma unroll
        for (int u = 0; u < kBatch; ++u)
          if (in[u]) add(st[u], j, b[u]);
      }
    }
  }
  if constexpr (kShared) {
    __syncthreads();
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      const unsigned long long v = smem[i];
      if (v != 0ull) atomicAdd(gh + i, v);
    }
  }
}

// One block per work item (job = item.seg, entries [e0, e1)): adds the items'
// statistics to root (n_jobs x k). kShared: summed in shared memory first,
// then one global atomic per channel.
template <bool kShared>
__global__ void root_stats_kernel(const PartItem* __restrict__ items, const DevJob* __restrict__ jobs,
                                  const RowEntry* __restrict__ entries, DevTargets t,
                                  unsigned long long* __restrict__ root) {
  extern __shared__ unsigned long long acc_shared[];
  const PartItem it = items[blockIdx.x];
  const int32_t k = t.layout.n_channels;
  unsigned long long* out = root + static_cast<int64_t>(it.seg) * k;
  unsigned long long* acc = kShared ? acc_shared : out;
  if (kShared) {
    for (int32_t c = threadIdx.x; c < k; c += blockDim.x) acc[c] = 0ull;
    __syncthreads();
  }
  const int64_t* cq = jobs[it.seg].class_quantum;
  const bool regression = t.layout.regression();
  const int32_t cc = t.layout.count_channel;
  for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += blockDim.x) {
    const RowEntry en = entries[e];
    const int64_t w = row_weight(t, cq, en.row, en.mult);
    if (regression) {
      atomic_add_i64(acc, w);
      atomic_add_i64(acc + 1, w * t.y_fixed[en.row]);
    } else {
      atomic_add_i64(acc + t.class_id[en.row], w);
    }
    if (cc >= 0) atomic_add_i64(acc + cc, static_cast<int64_t>(en.mult));
  }
  if (kShared) {
    __syncthreads();
    for (int32_t c = threadIdx.x; c < k; c += blockDim.x)
      if (acc[c] != 0ull) atomicAdd(out + c, acc[c]);
  }
}

using HistogramKernel = void (*)(const HistItem*, const NodeDesc*, const DevJob*, const int32_t*, const uint8_t*,
                                 int64_t, const RowEntry*, DevTargets, int32_t, unsigned long long*);

// The histogram_kernel variant for a tuning's mapping, load batch and block size.
template <typename Mode, bool kElements, int kBatch>
HistogramKernel histogram_variant(int threads) {
  return threads == HistogramPolicy::kWideBlockThreads ? histogram_kernel<Mode, kElements, kBatch, HistogramPolicy::kWideBlockThreads>
                                                       : histogram_kernel<Mode, kElements, kBatch, HistogramPolicy::kBlockThreads>;
}

template <typename Mode, bool kElements>
HistogramKernel histogram_variant(int batch, int threads) {
  switch (batch) {
    case HistogramPolicy::kLoadBatch:
      return histogram_variant<Mode, kElements, HistogramPolicy::kLoadBatch>(threads);
    case HistogramPolicy::kWideLoadBatch:
      return histogram_variant<Mode, kElements, HistogramPolicy::kWideLoadBatch>(threads);
    default:
      return histogram_variant<Mode, kElements, 1>(threads);
  }
}

template <typename Mode>
HistogramKernel histogram_variant(const CudaTuning& tuning) {
  const int threads = histogram_block_threads(tuning);
  return tuning.histogram_mapping == CudaTuning::HistogramMapping::kElementPerThread
             ? histogram_variant<Mode, true>(tuning.histogram_load_batch, threads)
             : histogram_variant<Mode, false>(tuning.histogram_load_batch, threads);
}

HistogramKernel histogram_variant(HistogramCounters counters, const CudaTuning& tuning) {
  switch (counters) {
    case HistogramCounters::kShared32:
      return histogram_variant<SharedHistogram<unsigned int>>(tuning);
    case HistogramCounters::kShared64:
      return histogram_variant<SharedHistogram<unsigned long long>>(tuning);
    case HistogramCounters::kGlobal:
      break;
  }
  return histogram_variant<GlobalHistogram>(tuning);
}

// Dynamic shared memory above 48 KiB must be opted into, per kernel.
void allow_shared_bytes(HistogramKernel kernel, std::size_t smem) {
  if (smem > HistogramPolicy::kSharedBytes)
    CANOPY_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
}

}  // namespace

void build_histograms(HistogramCounters counters, const CudaTuning& tuning, unsigned grid, std::size_t smem,
                      const HistItem* items, const NodeDesc* nodes, const DevJob* jobs, const int32_t* feats,
                      const uint8_t* bins, int64_t bin_stride, const RowEntry* entries, const DevTargets& t,
                      int32_t max_bins, unsigned long long* hist) {
  if (grid == 0) return;
  if (counters == HistogramCounters::kGlobal) smem = 0;
  const HistogramKernel kernel = histogram_variant(counters, tuning);
  allow_shared_bytes(kernel, smem);
  kernel<<<grid, histogram_block_threads(tuning), smem>>>(items, nodes, jobs, feats, bins, bin_stride, entries, t,
                                                         max_bins, hist);
  CANOPY_CUDA_CHECK_LAUNCH();
}

int histogram_blocks_per_sm(HistogramCounters counters, const CudaTuning& tuning, std::size_t smem) {
  if (counters == HistogramCounters::kGlobal) smem = 0;
  const HistogramKernel kernel = histogram_variant(counters, tuning);
  allow_shared_bytes(kernel, smem);
  int blocks = 0;
  CANOPY_CUDA_CHECK(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, histogram_block_threads(tuning), smem));
  return blocks;
}

void root_statistics(const PartItem* items, unsigned n_items, const DevJob* jobs, const RowEntry* entries,
                     const DevTargets& t, unsigned long long* root) {
  if (n_items == 0) return;
  const std::size_t smem = static_cast<std::size_t>(t.layout.n_channels) * sizeof(int64_t);
  if (smem <= HistogramPolicy::kSharedBytes)
    root_stats_kernel<true><<<n_items, PartitionPolicy::kBlockThreads, smem>>>(items, jobs, entries, t, root);
  else
    root_stats_kernel<false><<<n_items, PartitionPolicy::kBlockThreads>>>(items, jobs, entries, t, root);
  CANOPY_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda_tree
}  // namespace canopy
