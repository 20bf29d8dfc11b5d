// CUDA tree backend (kernels/tree_backend.h). It returns exactly what the CPU
// backend (tree_backend_cpu.cc) returns: statistics are integers accumulated
// with integer atomics (order-free), the split scan is the shared
// scan_feature (split_scan.h) compiled with --fmad=false, the feature sample
// is the shared Philox sample_features, and the arg-max follows
// SplitChoice::better_than, a strict total order on valid candidates.
//
// Device-resident data:
//   - the binned matrix, uploaded once and kept across begin() calls while the
//     same matrix comes again (a sweep or the batches of a forest upload once);
//   - class ids, fixed-point targets and row quanta (per begin);
//   - every job's in-bag entries (row, multiplicity), back to back, partitioned
//     by frontier node; the host keeps each node's [begin, end). Jobs given as
//     a RowSample are sampled here (bootstrap_kernel, CUB compaction), and
//     root statistics are summed here (root_stats_kernel).
// Per level, for a chunk of frontier nodes sized to the workspace budget:
//   sample_kernel     one thread per node: the node's feature sample;
//   histogram_kernel  block -> (node, feature group, entry chunk); threads take
//                     entries or (entry, feature) elements (CudaTuning);
//                     shared-memory privatised histograms (32-bit counters for
//                     unweighted classification, else int64) flushed with
//                     global atomics, or global atomics when a feature's
//                     bins x channels do not fit shared memory (hundreds of
//                     classes);
//   split_kernel      one thread per (node, sampled feature): scan_feature over
//                     the histogram, or for small nodes over the rows sorted by
//                     bin (the CPU's sparse path; results are identical);
//   reduce_kernel     one thread per node: arg-max under better_than;
//   left_kernel       one block per node: the left child's statistics.
// apply_splits: flag kernel (goes left?), one CUB exclusive scan over all
// entries, stable scatter, left counts copied back for the host's slots.
#include <cub/device/device_scan.cuh>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cuda_util.cuh"
#include "kernels/feature_sampling.h"
#include "kernels/histogram.h"
#include "kernels/phase_profile.h"
#include "kernels/row_sample.h"
#include "kernels/split_scan.h"
#include "kernels/tree_backend.h"

namespace canopy {
namespace {

// ---------------------------------------------------------------------------
// Launch policies (tuning knobs; none of them changes a result).

struct HistogramPolicy {
  static constexpr int kBlockThreads = 256;
  // Entries of one node handled by one block (the row chunk of a work item):
  // at least this many ...
  static constexpr int64_t kEntriesPerBlock = 8192;
  // ... and more when a level has enough work to give each resident block slot
  // (kBlocksPerSM per multiprocessor) several such chunks: every block ends by
  // flushing its whole shared histogram with global atomics, so fewer, longer
  // blocks flush less.
  static constexpr int64_t kBlocksPerSM = 4;
  // Bins a thread loads before adding them when CudaTuning batches loads.
  static constexpr int kLoadBatch = 8;
  // Shared memory a block may use without opting in (the root statistics'
  // channels; the histogram blocks' size is CudaTuning::histogram_shared_bytes).
  static constexpr std::size_t kSharedBytes = 48 * 1024;
};

struct SplitPolicy {
  static constexpr int kBlockThreads = 128;
  // Up to this many channels the scan's scratch (left: one int64 per channel)
  // lives in registers/local memory; above it, in a global scratch buffer.
  static constexpr int32_t kLocalChannels = 24;
  // Nodes with at most this many entries are scanned over their rows sorted by
  // bin instead of a histogram (as the CPU backend's sparse path).
  // (Measure on a GPU: the per-thread sort costs O(rows^2), a histogram costs
  // O(bins x channels) to clear, flush and scan.)
  static constexpr int32_t kSparseMaxRows = 64;
  // int64 groups of scratch per (sparse node of n rows, feature): missing +
  // one group per row + the scan's left.
  static constexpr int64_t sparse_groups(int64_t n) { return 1 + n + 1; }
};

struct NodePolicy {
  static constexpr int kBlockThreads = 128;  // sample / reduce kernels: one thread per node
  static constexpr int kLeftBlockThreads = 64;  // left kernel: one block per node, threads over channels
};

struct PartitionPolicy {
  static constexpr int kBlockThreads = 256;
  static constexpr int64_t kEntriesPerBlock = 8192;
};

struct SamplePolicy {
  static constexpr int kBlockThreads = 256;  // bootstrap, flag and compaction kernels
};

struct MemoryPolicy {
  // The per-level workspace (histograms, scratch) may use this fraction of the
  // device memory left free after the batch's resident data; frontiers that
  // need more are processed in several chunks.
  static constexpr double kWorkspaceFraction = 0.5;
  static constexpr std::size_t kMinWorkspace = std::size_t(64) << 20;
  static constexpr std::size_t kMaxWorkspace = std::size_t(16) << 30;
  // Trees per batch at most (host-side per-level bookkeeping grows with it).
  static constexpr std::size_t kMaxBatchJobs = 512;
};

// ---------------------------------------------------------------------------
// Device-side data descriptions (plain structs passed by value or in arrays).

struct DevTargets {
  StatsLayout layout;
  const int32_t* class_id;     // classification
  const int64_t* y_fixed;      // regression
  const int64_t* row_quantum;  // null = 1
};

struct DevJob {
  uint64_t seed;
  const int64_t* class_quantum;  // n_classes values on the device, or null
  int64_t min_leaf;
  uint32_t tree;
  int32_t kf;  // features sampled per node: min(features_per_node, n_features)
  int32_t criterion;
  int32_t pad;
};

struct NodeDesc {
  int64_t begin, end;    // entries of the node
  int64_t hist_off;      // dense: offset (int64 units) of kf x max_bins x k statistics
  int64_t scratch_off;   // offset (int64 units) of the scan scratch, -1 when none
  int32_t job, node, kf, dense;
  int32_t feat_off;      // first index of the node's features / (node, feature) pairs
  int32_t pair_scratch;  // int64 scratch per (node, feature) pair
};

struct HistItem {
  int32_t node;  // index into the chunk's NodeDesc
  int32_t j0;    // first feature (position in the node's sample) of the group
  int32_t nj;    // features in the group
  int32_t pad;
  int64_t e0, e1;
};

struct PartSeg {
  int64_t begin, end;
  int32_t feature, bin, missing_left, pad;
};

struct PartItem {
  int32_t seg;
  int32_t pad;
  int64_t e0, e1;
};

// ---------------------------------------------------------------------------
// Row statistics, mirroring RowTargets::weight / add (histogram.h).

__device__ __forceinline__ int64_t row_weight(const DevTargets& t, const int64_t* cq, uint32_t row, uint32_t mult) {
  int64_t w = mult;
  if (t.row_quantum) w *= t.row_quantum[row];
  if (cq) w *= cq[t.class_id[row]];
  return w;
}

__device__ __forceinline__ void add_row(int64_t* s, const DevTargets& t, const int64_t* cq, uint32_t row,
                                        uint32_t mult) {
  const int64_t w = row_weight(t, cq, row, mult);
  if (t.layout.regression()) {
    s[0] += w;
    s[1] += w * t.y_fixed[row];
  } else {
    s[t.class_id[row]] += w;
  }
  if (t.layout.count_channel >= 0) s[t.layout.count_channel] += mult;
}

__device__ __forceinline__ bool device_goes_left(uint8_t b, int32_t bin, int32_t missing_left) {
  return b == 0 ? missing_left != 0 : static_cast<int32_t>(b) <= bin;
}

__device__ __forceinline__ void atomic_add_i64(unsigned long long* p, int64_t v) {
  atomicAdd(p, static_cast<unsigned long long>(v));  // two's complement: exact for negative values too
}

// ---------------------------------------------------------------------------
// Kernels.

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
// order (CudaTuning::HistogramMapping::kElementPerThread); otherwise it takes
// whole entries and loops over the features. kBatch: bins loaded per thread
// before their additions (CudaTuning::histogram_batch_loads).
template <typename Mode, bool kElements, int kBatch>
__global__ void __launch_bounds__(HistogramPolicy::kBlockThreads)
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
    // Each thread takes whole entries; kBatch of an entry's features are
    // loaded before any is added.
    for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += blockDim.x) {
      const EntryStats st = stats_of(entries[e]);
      for (int32_t j0 = 0; j0 < it.nj; j0 += kBatch) {
        uint8_t b[kBatch];
#pragma unroll
        for (int u = 0; u < kBatch; ++u)
          if (j0 + u < it.nj) b[u] = bin_of(st, j0 + u);
#pragma unroll
        for (int u = 0; u < kBatch; ++u)
          if (j0 + u < it.nj) add(st, j0 + u, b[u]);
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

// --- Row sampling (RowSample materialised on the device) ---------------------

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

// One thread per (node, sampled feature) pair; pair index == feature index in feats.
__global__ void __launch_bounds__(SplitPolicy::kBlockThreads)
    split_kernel(int32_t n_pairs, const int32_t* __restrict__ pair_node, const NodeDesc* __restrict__ nodes,
                 const DevJob* __restrict__ jobs, const int32_t* __restrict__ feats, const int64_t* __restrict__ totals,
                 const int64_t* __restrict__ hist, const int32_t* __restrict__ n_bins, int32_t max_bins,
                 const uint8_t* __restrict__ bins, int64_t bin_stride, const RowEntry* __restrict__ entries,
                 DevTargets t, int64_t* __restrict__ scratch, SplitChoice* __restrict__ choices) {
  const int32_t p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= n_pairs) return;
  const int32_t i = pair_node[p];
  const NodeDesc nd = nodes[i];
  const DevJob jb = jobs[nd.job];
  const int32_t j = p - nd.feat_off;
  const int32_t f = feats[p];
  const StatsLayout lay = t.layout;
  const int32_t k = lay.n_channels;
  const ScanNode sn =
      make_scan_node(&lay, static_cast<Criterion>(jb.criterion), totals + static_cast<int64_t>(i) * k, jb.min_leaf);
  SplitChoice best;
  if (nd.dense) {
    const int64_t* h = hist + nd.hist_off + static_cast<int64_t>(j) * max_bins * k;
    int64_t local[SplitPolicy::kLocalChannels];
    int64_t* sc = k <= SplitPolicy::kLocalChannels ? local : scratch + nd.scratch_off + static_cast<int64_t>(j) * nd.pair_scratch;
    scan_feature(sn, f, h, h + k, nullptr, n_bins[f] - 1, sc, best);
  } else {
    // Sparse path: the node's rows sorted by bin (stable insertion sort), one
    // statistics group per non-empty value bin, as the CPU's scan_sparse.
    const int32_t n = static_cast<int32_t>(nd.end - nd.begin);
    uint8_t key[SplitPolicy::kSparseMaxRows];
    uint8_t idx[SplitPolicy::kSparseMaxRows];
    int32_t group_bins[SplitPolicy::kSparseMaxRows];
    for (int32_t q = 0; q < n; ++q) {
      const uint8_t b = bins[static_cast<int64_t>(entries[nd.begin + q].row) * bin_stride + f];
      int32_t pos = q;
      while (pos > 0 && key[pos - 1] > b) {
        key[pos] = key[pos - 1];
        idx[pos] = idx[pos - 1];
        --pos;
      }
      key[pos] = b;
      idx[pos] = static_cast<uint8_t>(q);
    }
    int64_t* s = scratch + nd.scratch_off + static_cast<int64_t>(j) * nd.pair_scratch;
    int64_t* missing = s;
    int64_t* groups = s + k;
    int64_t* left = s + static_cast<int64_t>(1 + n) * k;
    for (int32_t c = 0; c < k; ++c) missing[c] = 0;
    int32_t n_groups = 0;
    const int64_t* cq = jb.class_quantum;
    for (int32_t q = 0; q < n; ++q) {
      const uint8_t b = key[q];
      const RowEntry en = entries[nd.begin + idx[q]];
      int64_t* g;
      if (b == 0) {
        g = missing;
      } else {
        if (n_groups == 0 || group_bins[n_groups - 1] != b) {
          group_bins[n_groups] = b;
          int64_t* ng = groups + static_cast<int64_t>(n_groups) * k;
          for (int32_t c = 0; c < k; ++c) ng[c] = 0;
          ++n_groups;
        }
        g = groups + static_cast<int64_t>(n_groups - 1) * k;
      }
      add_row(g, t, cq, en.row, en.mult);
    }
    scan_feature(sn, f, missing, groups, group_bins, n_groups, left, best);
  }
  choices[p] = best;
}

// One thread per node: the best of its features' choices.
__global__ void reduce_kernel(int32_t n_nodes, const NodeDesc* __restrict__ nodes,
                              const SplitChoice* __restrict__ choices, SplitChoice* __restrict__ best_out,
                              int32_t* __restrict__ best_j) {
  const int32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_nodes) return;
  const NodeDesc nd = nodes[i];
  SplitChoice best;
  int32_t bj = -1;
  for (int32_t j = 0; j < nd.kf; ++j) {
    const SplitChoice c = choices[nd.feat_off + j];
    if (c.better_than(best)) {
      best = c;
      bj = j;
    }
  }
  best_out[i] = best;
  best_j[i] = bj;
}

// One block per node: statistics of the chosen split's left child.
__global__ void left_kernel(const NodeDesc* __restrict__ nodes, const DevJob* __restrict__ jobs,
                            const SplitChoice* __restrict__ best, const int32_t* __restrict__ best_j,
                            const int64_t* __restrict__ hist, int32_t max_bins, const uint8_t* __restrict__ bins,
                            int64_t bin_stride, const RowEntry* __restrict__ entries, DevTargets t,
                            int64_t* __restrict__ left) {
  const int32_t i = blockIdx.x;
  const NodeDesc nd = nodes[i];
  const SplitChoice c = best[i];
  const int32_t k = t.layout.n_channels;
  int64_t* l = left + static_cast<int64_t>(i) * k;
  if (!c.valid() || !nd.dense) {
    for (int32_t ch = threadIdx.x; ch < k; ch += blockDim.x) l[ch] = 0;
  }
  if (!c.valid()) return;
  if (nd.dense) {
    const int64_t* h = hist + nd.hist_off + static_cast<int64_t>(best_j[i]) * max_bins * k;
    for (int32_t ch = threadIdx.x; ch < k; ch += blockDim.x) {
      int64_t sum = 0;
      for (int32_t b = c.missing_left ? 0 : 1; b <= c.bin; ++b) sum += h[static_cast<int64_t>(b) * k + ch];
      l[ch] = sum;
    }
    return;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  const int64_t* cq = jobs[nd.job].class_quantum;
  for (int64_t e = nd.begin; e < nd.end; ++e) {
    const RowEntry en = entries[e];
    const uint8_t b = bins[static_cast<int64_t>(en.row) * bin_stride + c.feature];
    if (device_goes_left(b, c.bin, c.missing_left)) add_row(l, t, cq, en.row, en.mult);
  }
}

__global__ void partition_flags_kernel(const PartItem* __restrict__ items, const PartSeg* __restrict__ segs,
                                       const uint8_t* __restrict__ bins, int64_t bin_stride,
                                       const RowEntry* __restrict__ entries, uint32_t* __restrict__ flags) {
  const PartItem it = items[blockIdx.x];
  const PartSeg s = segs[it.seg];
  for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += blockDim.x) {
    const uint8_t b = bins[static_cast<int64_t>(entries[e].row) * bin_stride + s.feature];
    flags[e] = device_goes_left(b, s.bin, s.missing_left) ? 1u : 0u;
  }
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

// ---------------------------------------------------------------------------
// Host side.

// Runs fn(i) for i in [0, n) on up to hardware_concurrency threads.
template <typename Fn>
void parallel_for(std::size_t n, Fn fn) {
  const std::size_t threads =
      std::min<std::size_t>(n, std::max<unsigned>(1u, std::thread::hardware_concurrency()));
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (std::size_t i = next++; i < n; i = next++) fn(i);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

template <typename T>
void upload_to(DeviceArray<T>& d, const std::vector<T>& h, const char* what) {
  cuda_util::ensure_capacity(d, std::max<std::size_t>(1, h.size()), what);
  if (!h.empty()) d.upload(h.data(), h.size());
}

struct HostSlot {
  int32_t job = 0;
  int32_t node = 0;
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

class CudaTreeBackend final : public TreeBackend {
 public:
  CudaTreeBackend(int device, const CudaTuning& tuning) : device_(device), tuning_(tuning) {
    cuda_util::ScopedDevice scoped(device_);
    CANOPY_CUDA_CHECK(cudaFree(nullptr));  // create the context now, so errors surface here
    CANOPY_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device_));
    int block_optin = 0, per_sm = 0;
    CANOPY_CUDA_CHECK(cudaDeviceGetAttribute(&block_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_));
    CANOPY_CUDA_CHECK(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device_));
    hist_shared_bytes_ = std::clamp<std::size_t>(tuning_.histogram_shared_bytes, 1024, static_cast<std::size_t>(block_optin));
    // Histogram blocks resident per multiprocessor (each also takes the
    // driver's reserved 1 KiB), at most kBlocksPerSM.
    hist_blocks_per_sm_ = static_cast<int64_t>(std::clamp<std::size_t>(
        static_cast<std::size_t>(per_sm) / (hist_shared_bytes_ + 1024), 1, HistogramPolicy::kBlocksPerSM));
  }

  const char* name() const override { return "cuda"; }

  void assign_bins(const BinCuts& cuts, const std::vector<std::vector<float>>& columns,
                   BinnedMatrix& out) const override {
    assign_bins_cuda(cuts, columns, out, device_);
  }

  void predict(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin, std::size_t tree_end,
               double* out) const override {
    predict_cuda(forest, x, tree_begin, tree_end, out, device_);
  }

  // A level of every job of a batch is one launch per kernel, so bigger batches
  // fill the device better; each job keeps up to n_rows entries resident
  // (entries, their scatter copy, flags and scan: 24 bytes), and the level
  // workspace takes up to kWorkspaceFraction of what is left.
  std::size_t batch_jobs(std::size_t n_rows) const override {
    cuda_util::ScopedDevice scoped(device_);
    const double free_bytes = static_cast<double>(cuda_util::free_device_memory());
    const double per_job = 24.0 * static_cast<double>(std::max<std::size_t>(1, n_rows));
    const double fit = (1.0 - MemoryPolicy::kWorkspaceFraction) * free_bytes / per_job;
    return static_cast<std::size_t>(std::clamp(fit, 1.0, static_cast<double>(MemoryPolicy::kMaxBatchJobs)));
  }

  void begin(const BatchData& data, std::vector<JobSpec>& specs, std::vector<int64_t>& root_stats) override {
    cuda_util::ScopedDevice scoped(device_);
    auto t = profile_.now();
    data_ = data;
    const StatsLayout& lay = data_.layout;
    const std::size_t nr = data.bins->n_rows;
    nf_ = static_cast<int64_t>(data.bins->n_features);
    upload_bins(*data.bins);
    t = profile_.add("begin: bins upload", t);

    // Bins per feature.
    std::vector<int32_t> nb(static_cast<std::size_t>(std::max<int64_t>(nf_, 1)), 2);
    max_bins_ = 2;
    for (int64_t f = 0; f < nf_; ++f) {
      nb[f] = static_cast<int32_t>(data.cuts->n_bins(f));
      max_bins_ = std::max(max_bins_, nb[f]);
    }
    upload_to(n_bins_, nb, "bins per feature");

    // Jobs. Entries of job j occupy [offsets[j], offsets[j + 1]). A job that
    // brings a multiplicity vector gets its entries built on the host and
    // uploaded; a job that brings only a RowSample is sampled on the device
    // (sample_on_device), so the host never touches its rows.
    const std::size_t n_jobs = specs.size();
    specs_.clear();
    specs_.resize(n_jobs);
    std::vector<std::vector<RowEntry>> host_entries(n_jobs);
    std::vector<int64_t> reserve(n_jobs, 0);  // entries at most (exact for host jobs)
    std::vector<uint64_t> draws(n_jobs, 0);   // sum of multiplicities
    const int32_t nc = lay.n_classes;
    parallel_for(n_jobs, [&](std::size_t j) {
      JobSpec& spec = specs[j];
      if (spec.multiplicity.empty()) {
        const int64_t n = spec.sample.empty() ? 0 : static_cast<int64_t>(spec.sample.rows->size());
        reserve[j] = spec.sample.draws > 0 ? std::min(n, spec.sample.draws) : n;
        draws[j] = static_cast<uint64_t>(spec.sample.draws > 0 ? spec.sample.draws : n);
      } else {
        const auto& mult = spec.multiplicity;
        std::vector<RowEntry>& e = host_entries[j];
        e.reserve(static_cast<std::size_t>(std::count_if(mult.begin(), mult.end(), [](uint32_t m) { return m > 0; })));
        for (std::size_t r = 0; r < mult.size(); ++r)
          if (mult[r] > 0) {
            e.push_back({static_cast<uint32_t>(r), mult[r]});
            draws[j] += mult[r];
          }
        std::vector<uint32_t>().swap(spec.multiplicity);
        reserve[j] = static_cast<int64_t>(e.size());
      }
      specs_[j] = std::move(spec);
    });
    int64_t reserved = 0;
    for (int64_t r : reserve) reserved += r;
    t = profile_.add("begin: host entries", t);

    // Resident batch memory, checked before anything is allocated.
    const bool has_cq =
        nc > 0 && std::any_of(specs_.begin(), specs_.end(), [](const JobSpec& s) { return !s.class_quantum.empty(); });
    // 32-bit shared counters: every per-row weight is its multiplicity
    // (unweighted classification), so a block's sum is at most the job's draws.
    hist32_ = !lay.regression() && !data.row_quantum && !has_cq &&
              std::all_of(draws.begin(), draws.end(), [](uint64_t d) { return d <= UINT32_MAX; });
    const bool any_sampled =
        std::any_of(specs_.begin(), specs_.end(), [](const JobSpec& s) { return !s.sample.empty(); });
    std::size_t need = 0, reusable = 0;
    auto plan = [&](std::size_t bytes, std::size_t have) {
      if (bytes > have) need += bytes, reusable += have;
    };
    const std::size_t slots = static_cast<std::size_t>(reserved + 1);
    plan((data.class_id ? nr : 1) * sizeof(int32_t), class_id_.bytes());
    plan((data.y_fixed ? nr : 1) * sizeof(int64_t), y_fixed_.bytes());
    plan((data.row_quantum ? nr : 1) * sizeof(int64_t), row_quantum_.bytes());
    plan(slots * sizeof(RowEntry), entries_.bytes());
    plan(slots * sizeof(RowEntry), entries_tmp_.bytes());
    plan(slots * sizeof(uint32_t), flags_.bytes());
    plan(slots * sizeof(uint32_t), scan_.bytes());
    if (any_sampled) plan(3 * (nr + 1) * sizeof(uint32_t), 0);  // sampling scratch (rows, multiplicity, scan)
    cuda_util::require_device_memory(need, reusable,
                                     "a batch of " + std::to_string(n_jobs) + " trees (up to " +
                                         std::to_string(reserved) + " in-bag entries over " + std::to_string(nr) +
                                         " rows)");

    if (data.class_id) upload_ptr(class_id_, data.class_id, nr, "class ids");
    if (data.y_fixed) upload_ptr(y_fixed_, data.y_fixed, nr, "targets");
    if (data.row_quantum) upload_ptr(row_quantum_, data.row_quantum, nr, "row weights");
    cuda_util::ensure_capacity(entries_, slots, "row entries");
    std::vector<int64_t> offsets(n_jobs + 1, 0);
    for (std::size_t j = 0; j < n_jobs; ++j) {
      int64_t n = reserve[j];
      if (!host_entries[j].empty())
        CANOPY_CUDA_CHECK(cudaMemcpy(entries_.data() + offsets[j], host_entries[j].data(),
                                     host_entries[j].size() * sizeof(RowEntry), cudaMemcpyHostToDevice));
      else if (!specs_[j].sample.empty())
        n = sample_on_device(specs_[j], nr, entries_.data() + offsets[j]);
      offsets[j + 1] = offsets[j] + n;
    }
    total_entries_ = offsets[n_jobs];
    std::vector<std::vector<RowEntry>>().swap(host_entries);
    release_sampling();
    const std::size_t used = static_cast<std::size_t>(total_entries_ + 1);
    cuda_util::ensure_capacity(entries_tmp_, used, "row entries");
    cuda_util::ensure_capacity(flags_, used, "partition flags");
    cuda_util::ensure_capacity(scan_, used, "partition scan");
    flags_.fill_bytes(0);
    t = profile_.add("begin: entries", t);

    // Class weights and job descriptions.
    std::vector<int64_t> cq(has_cq ? n_jobs * nc : 1, 0);
    if (has_cq)
      for (std::size_t j = 0; j < n_jobs; ++j)
        if (!specs_[j].class_quantum.empty())
          std::copy(specs_[j].class_quantum.begin(), specs_[j].class_quantum.begin() + nc, cq.begin() + j * nc);
    upload_to(class_quantum_, cq, "class weights");
    std::vector<DevJob> jobs(std::max<std::size_t>(1, n_jobs));
    for (std::size_t j = 0; j < n_jobs; ++j) {
      const JobSpec& s = specs_[j];
      DevJob d{};
      d.seed = s.seed;
      d.tree = s.tree_index;
      d.kf = static_cast<int32_t>(std::min<int64_t>(s.features_per_node, nf_));
      d.min_leaf = s.min_samples_leaf;
      d.criterion = static_cast<int32_t>(s.criterion);
      d.class_quantum = s.class_quantum.empty() ? nullptr : class_quantum_.data() + j * nc;
      jobs[j] = d;
    }
    jobs_host_ = jobs;
    upload_to(jobs_, jobs, "job descriptions");

    targets_.layout = data_.layout;
    targets_.class_id = data.class_id ? class_id_.data() : nullptr;
    targets_.y_fixed = data.y_fixed ? y_fixed_.data() : nullptr;
    targets_.row_quantum = data.row_quantum ? row_quantum_.data() : nullptr;

    root_statistics(offsets, root_stats);

    slots_.clear();
    for (std::size_t j = 0; j < n_jobs; ++j) {
      HostSlot s;
      s.job = static_cast<int32_t>(j);
      s.begin = offsets[j];
      s.end = offsets[j + 1];
      slots_.push_back(s);
    }

    const double free_now = static_cast<double>(cuda_util::free_device_memory());
    workspace_budget_ = std::min(MemoryPolicy::kMaxWorkspace,
                                 std::max(MemoryPolicy::kMinWorkspace,
                                          static_cast<std::size_t>(MemoryPolicy::kWorkspaceFraction * free_now)));
    profile_.add("begin: rest", t);
  }

  void restrict_frontier(const std::vector<uint8_t>& keep) override {
    std::vector<HostSlot> next;
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (keep[i]) next.push_back(slots_[i]);
    slots_.swap(next);
  }

  void find_splits(const std::vector<FrontierNode>& frontier, const std::vector<int64_t>& node_stats,
                   std::vector<SplitChoice>& best, std::vector<int64_t>& left_stats) override {
    if (frontier.size() != slots_.size()) throw std::logic_error("cuda backend: frontier size mismatch");
    cuda_util::ScopedDevice scoped(device_);
    const int32_t k = data_.layout.n_channels;
    const std::size_t n = slots_.size();
    best.assign(n, SplitChoice{});
    left_stats.assign(n * k, 0);
    for (std::size_t i = 0; i < n; ++i) slots_[i].node = frontier[i].node;
    std::size_t i0 = 0;
    while (i0 < n) {
      std::size_t i1 = i0, bytes = 0;
      while (i1 < n) {
        const std::size_t b = node_workspace_bytes(slots_[i1]);
        if (i1 > i0 && bytes + b > workspace_budget_) break;
        bytes += b;
        ++i1;
      }
      process_chunk(i0, i1, node_stats, best, left_stats);
      i0 = i1;
    }
  }

  void apply_splits(const std::vector<SplitChoice>& split, const std::vector<uint8_t>& keep) override {
    if (split.size() != slots_.size()) throw std::logic_error("cuda backend: split count mismatch");
    cuda_util::ScopedDevice scoped(device_);
    std::vector<PartSeg> segs;
    std::vector<std::size_t> seg_slot;
    std::vector<PartItem> items;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (!split[i].valid()) continue;
      const HostSlot& s = slots_[i];
      PartSeg g{};
      g.begin = s.begin;
      g.end = s.end;
      g.feature = split[i].feature;
      g.bin = split[i].bin;
      g.missing_left = split[i].missing_left != 0 ? 1 : 0;
      const int32_t si = static_cast<int32_t>(segs.size());
      segs.push_back(g);
      seg_slot.push_back(i);
      for (int64_t e0 = s.begin; e0 < s.end; e0 += PartitionPolicy::kEntriesPerBlock)
        items.push_back(PartItem{si, 0, e0, std::min(s.end, e0 + PartitionPolicy::kEntriesPerBlock)});
    }
    std::vector<int64_t> n_left(segs.size(), 0);
    auto t = profile_.now();
    if (!segs.empty()) {
      upload_to(segs_, segs, "partition segments");
      upload_to(part_items_, items, "partition work items");
      if (!items.empty()) {
        partition_flags_kernel<<<static_cast<unsigned>(items.size()), PartitionPolicy::kBlockThreads>>>(
            part_items_.data(), segs_.data(), bins_.data(), bin_stride_, entries_.data(), flags_.data());
        CANOPY_CUDA_CHECK_LAUNCH();
      }
      exclusive_scan(total_entries_ + 1);
      cuda_util::ensure_capacity(seg_left_, segs.size(), "partition counts");
      partition_count_kernel<<<cuda_util::blocks_for(segs.size(), NodePolicy::kBlockThreads),
                               NodePolicy::kBlockThreads>>>(static_cast<int32_t>(segs.size()), segs_.data(),
                                                            scan_.data(), seg_left_.data());
      CANOPY_CUDA_CHECK_LAUNCH();
      if (!items.empty()) {
        partition_scatter_kernel<<<static_cast<unsigned>(items.size()), PartitionPolicy::kBlockThreads>>>(
            part_items_.data(), segs_.data(), entries_.data(), flags_.data(), scan_.data(), entries_tmp_.data());
        CANOPY_CUDA_CHECK_LAUNCH();
      }
      seg_left_.download(n_left.data(), segs.size());
      // Only the split nodes' entries were scattered; the next frontier holds
      // nothing else, so the scratch array simply becomes the entries.
      std::swap(entries_, entries_tmp_);
    }
    profile_.add("partition", t);
    std::vector<HostSlot> next;
    for (std::size_t g = 0; g < segs.size(); ++g) {
      const std::size_t i = seg_slot[g];
      const HostSlot& s = slots_[i];
      const int64_t mid = s.begin + n_left[g];
      if (keep[2 * i]) next.push_back(HostSlot{s.job, 0, s.begin, mid});
      if (keep[2 * i + 1]) next.push_back(HostSlot{s.job, 0, mid, s.end});
    }
    slots_.swap(next);
  }

  void end() override {
    profile_.report();
    slots_.clear();
    specs_.clear();
    // Per-batch memory goes; the binned matrix stays cached for the next batch.
    class_id_ = {};
    y_fixed_ = {};
    row_quantum_ = {};
    entries_ = {};
    entries_tmp_ = {};
    flags_ = {};
    scan_ = {};
    cub_temp_ = {};
    release_workspace();
  }

 private:
  // --- helpers -------------------------------------------------------------

  template <typename T>
  void upload_ptr(DeviceArray<T>& d, const T* host, std::size_t n, const char* what) {
    cuda_util::ensure_capacity(d, std::max<std::size_t>(1, n), what);
    if (n > 0) d.upload(host, n);
  }

  // Row r's bins go to bins_ + r * bin_stride_: n_features, or with
  // CudaTuning::pad_rows padded_stride(n_features, 32) (cudaMalloc's start is
  // sector-aligned), so a scattered row touches the fewest 32-byte sectors.
  // The padding is never read.
  void upload_bins(const BinnedMatrix& m) {
    const BinnedMatrixKey key = BinnedMatrixKey::of(m);
    if (bins_key_ == key && !bins_.empty()) return;
    bins_key_ = BinnedMatrixKey{};
    constexpr std::size_t kSector = 32;
    const std::size_t nf = m.n_features;
    const std::size_t stride = std::max<std::size_t>(1, tuning_.pad_rows ? padded_stride(nf, kSector) : nf);
    cuda_util::ensure_capacity(bins_, std::max<std::size_t>(1, m.n_rows * stride), "the binned matrix");
    bin_stride_ = static_cast<int64_t>(stride);
    if (!m.bins.empty()) {
      if (stride == nf)
        bins_.upload(m.bins.data(), m.bins.size());
      else
        CANOPY_CUDA_CHECK(cudaMemcpy2D(bins_.data(), stride, m.bins.data(), nf, nf, m.n_rows, cudaMemcpyHostToDevice));
    }
    bins_key_ = key;
  }

  // Materialises spec.sample into entries starting at `out` (ascending rows,
  // as the host would); returns the number of entries.
  int64_t sample_on_device(const JobSpec& spec, std::size_t n_rows, RowEntry* out) {
    const std::vector<uint32_t>& rows = *spec.sample.rows;
    if (rows.empty() || n_rows == 0) return 0;
    if (sample_rows_key_ != &rows) {  // jobs of one request share their rows: upload once
      upload_to(sample_rows_, rows, "training rows");
      sample_rows_key_ = &rows;
    }
    cuda_util::ensure_capacity(sample_mult_, n_rows + 1, "row multiplicities");
    cuda_util::ensure_capacity(sample_scan_, n_rows + 1, "row multiplicities");
    CANOPY_CUDA_CHECK(cudaMemset(sample_mult_.data(), 0, n_rows * sizeof(uint32_t)));
    constexpr int kThreads = SamplePolicy::kBlockThreads;
    const int64_t n = static_cast<int64_t>(rows.size());
    if (spec.sample.draws > 0) {
      bootstrap_kernel<<<cuda_util::blocks_for((spec.sample.draws + 3) / 4, kThreads), kThreads>>>(spec.seed, spec.tree_index, spec.sample.draws,
                                                                    sample_rows_.data(), static_cast<uint32_t>(n),
                                                                    sample_mult_.data());
    } else {
      once_kernel<<<cuda_util::blocks_for(n, kThreads), kThreads>>>(sample_rows_.data(), n, sample_mult_.data());
    }
    CANOPY_CUDA_CHECK_LAUNCH();
    // Flags go to scan_ (free until the batch's partitions), their prefix sums to sample_scan_.
    cuda_util::ensure_capacity(scan_, n_rows + 1, "row multiplicities");
    const int64_t nr = static_cast<int64_t>(n_rows);
    in_sample_kernel<<<cuda_util::blocks_for(nr + 1, kThreads), kThreads>>>(sample_mult_.data(), nr, scan_.data());
    CANOPY_CUDA_CHECK_LAUNCH();
    std::size_t temp = 0;
    CANOPY_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, temp, scan_.data(), sample_scan_.data(), nr + 1));
    cuda_util::ensure_capacity(cub_temp_, std::max<std::size_t>(1, temp), "scan workspace");
    CANOPY_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(cub_temp_.data(), temp, scan_.data(), sample_scan_.data(), nr + 1));
    compact_kernel<<<cuda_util::blocks_for(nr, kThreads), kThreads>>>(sample_mult_.data(), sample_scan_.data(), nr, out);
    CANOPY_CUDA_CHECK_LAUNCH();
    uint32_t count = 0;
    CANOPY_CUDA_CHECK(cudaMemcpy(&count, sample_scan_.data() + nr, sizeof(uint32_t), cudaMemcpyDeviceToHost));
    return static_cast<int64_t>(count);
  }

  void release_sampling() {
    sample_rows_ = {};
    sample_rows_key_ = nullptr;
    sample_mult_ = {};
    sample_scan_ = {};
  }

  // Root statistics of every job, summed on the device (integers: any order
  // gives the CPU's accumulate_totals_cpu result).
  void root_statistics(const std::vector<int64_t>& offsets, std::vector<int64_t>& root_stats) {
    const int32_t k = data_.layout.n_channels;
    const std::size_t n_jobs = offsets.size() - 1;
    root_stats.assign(n_jobs * k, 0);
    std::vector<PartItem> items;
    for (std::size_t j = 0; j < n_jobs; ++j)
      for (int64_t e0 = offsets[j]; e0 < offsets[j + 1]; e0 += PartitionPolicy::kEntriesPerBlock)
        items.push_back(PartItem{static_cast<int32_t>(j), 0, e0, std::min(offsets[j + 1], e0 + PartitionPolicy::kEntriesPerBlock)});
    if (items.empty()) return;
    upload_to(part_items_, items, "root statistics work items");
    cuda_util::ensure_capacity(left_, std::max<std::size_t>(1, root_stats.size()), "root statistics");
    CANOPY_CUDA_CHECK(cudaMemset(left_.data(), 0, root_stats.size() * sizeof(int64_t)));
    unsigned long long* root = reinterpret_cast<unsigned long long*>(left_.data());
    const std::size_t smem = static_cast<std::size_t>(k) * sizeof(int64_t);
    const unsigned grid = static_cast<unsigned>(items.size());
    if (smem <= HistogramPolicy::kSharedBytes)
      root_stats_kernel<true><<<grid, PartitionPolicy::kBlockThreads, smem>>>(part_items_.data(), jobs_.data(),
                                                                             entries_.data(), targets_, root);
    else
      root_stats_kernel<false><<<grid, PartitionPolicy::kBlockThreads>>>(part_items_.data(), jobs_.data(),
                                                                        entries_.data(), targets_, root);
    CANOPY_CUDA_CHECK_LAUNCH();
    left_.download(root_stats.data(), root_stats.size());
  }

  void release_workspace() {
    nodes_ = {};
    pair_node_ = {};
    hist_items_ = {};
    totals_ = {};
    perm_ = {};
    feats_ = {};
    choices_ = {};
    hist_ = {};
    scratch_ = {};
    best_ = {};
    best_j_ = {};
    left_ = {};
    segs_ = {};
    part_items_ = {};
    seg_left_ = {};
  }

  int32_t node_kf(const HostSlot& s) const { return jobs_host_[s.job].kf; }
  bool dense(const HostSlot& s) const { return s.size() > SplitPolicy::kSparseMaxRows; }

  // Shared-memory bytes of one feature's privatised histogram.
  std::size_t feature_hist_bytes() const {
    return static_cast<std::size_t>(max_bins_) * data_.layout.n_channels * (hist32_ ? sizeof(uint32_t) : sizeof(int64_t));
  }

  // Features per shared-memory group; 0 = global-atomic fallback.
  int32_t shared_group() const { return static_cast<int32_t>(hist_shared_bytes_ / feature_hist_bytes()); }

  std::size_t node_workspace_bytes(const HostSlot& s) const {
    const int64_t k = data_.layout.n_channels;
    const int64_t kf = std::max(0, node_kf(s));
    std::size_t b = sizeof(NodeDesc) + 2 * k * sizeof(int64_t) + static_cast<std::size_t>(nf_) * sizeof(int32_t) +
                    kf * (2 * sizeof(int32_t) + sizeof(SplitChoice)) + sizeof(SplitChoice) + sizeof(int32_t);
    if (dense(s)) {
      b += static_cast<std::size_t>(kf * max_bins_ * k) * sizeof(int64_t);
      if (k > SplitPolicy::kLocalChannels) b += static_cast<std::size_t>(kf * k) * sizeof(int64_t);
      const int32_t g = shared_group();
      const int64_t groups = g > 0 ? (kf + g - 1) / g : 1;
      b += static_cast<std::size_t>(groups * ((s.size() + HistogramPolicy::kEntriesPerBlock - 1) /
                                              HistogramPolicy::kEntriesPerBlock)) *
           sizeof(HistItem);
    } else {
      b += static_cast<std::size_t>(kf * SplitPolicy::sparse_groups(s.size()) * k) * sizeof(int64_t);
    }
    return b;
  }

  void exclusive_scan(int64_t n) {
    std::size_t temp = 0;
    CANOPY_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, temp, flags_.data(), scan_.data(), n));
    cuda_util::ensure_capacity(cub_temp_, std::max<std::size_t>(1, temp), "scan workspace");
    CANOPY_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(cub_temp_.data(), temp, flags_.data(), scan_.data(), n));
  }

  void process_chunk(std::size_t i0, std::size_t i1, const std::vector<int64_t>& node_stats,
                     std::vector<SplitChoice>& best, std::vector<int64_t>& left_stats) {
    auto t = profile_.now();
    const int32_t k = data_.layout.n_channels;
    const int32_t m = static_cast<int32_t>(i1 - i0);
    const int32_t g = shared_group();
    std::vector<NodeDesc> nodes(m);
    std::vector<int32_t> pair_node;
    std::vector<HistItem> items;
    int64_t hist_len = 0, scratch_len = 0;
    int32_t max_group = 0;
    int64_t dense_work = 0;  // entries x feature groups of the dense nodes
    for (int32_t i = 0; i < m; ++i) {
      const HostSlot& s = slots_[i0 + i];
      if (dense(s)) dense_work += s.size() * (g > 0 ? (std::max(0, node_kf(s)) + g - 1) / g : 1);
    }
    // Entries per histogram block; the element mapping needs entries x group
    // features below 2^31 (at least one entry a block: a group is at most
    // shared memory / one bin's counters, far below 2^31).
    int64_t per_block =
        std::max(HistogramPolicy::kEntriesPerBlock, dense_work / std::max<int64_t>(1, sm_count_ * hist_blocks_per_sm_) + 1);
    int32_t widest = 1;
    for (int32_t i = 0; i < m; ++i)
      widest = std::max(widest, g > 0 ? std::min(g, node_kf(slots_[i0 + i])) : node_kf(slots_[i0 + i]));
    per_block = std::max<int64_t>(1, std::min(per_block, int64_t{INT32_MAX} / widest));
    for (int32_t i = 0; i < m; ++i) {
      const HostSlot& s = slots_[i0 + i];
      NodeDesc& nd = nodes[i];
      nd.begin = s.begin;
      nd.end = s.end;
      nd.job = s.job;
      nd.node = s.node;
      nd.kf = std::max(0, node_kf(s));
      nd.dense = dense(s) ? 1 : 0;
      nd.feat_off = static_cast<int32_t>(pair_node.size());
      nd.hist_off = 0;
      nd.scratch_off = 0;
      nd.pair_scratch = 0;
      for (int32_t j = 0; j < nd.kf; ++j) pair_node.push_back(i);
      if (nd.dense) {
        nd.hist_off = hist_len;
        hist_len += static_cast<int64_t>(nd.kf) * max_bins_ * k;
        if (k > SplitPolicy::kLocalChannels) {
          nd.scratch_off = scratch_len;
          nd.pair_scratch = k;
          scratch_len += static_cast<int64_t>(nd.kf) * nd.pair_scratch;
        }
        const int32_t group = g > 0 ? g : std::max(1, nd.kf);
        for (int32_t j0 = 0; j0 < nd.kf; j0 += group) {
          const int32_t nj = std::min(group, nd.kf - j0);
          max_group = std::max(max_group, nj);
          for (int64_t e0 = s.begin; e0 < s.end; e0 += per_block)
            items.push_back(HistItem{i, j0, nj, 0, e0, std::min(s.end, e0 + per_block)});
        }
      } else {
        nd.scratch_off = scratch_len;
        nd.pair_scratch = static_cast<int32_t>(SplitPolicy::sparse_groups(s.size()) * k);
        scratch_len += static_cast<int64_t>(nd.kf) * nd.pair_scratch;
      }
    }
    t = profile_.add("level: host prep", t);
    const int32_t n_pairs = static_cast<int32_t>(pair_node.size());
    if (pair_node.size() > static_cast<std::size_t>(INT32_MAX) || items.size() > static_cast<std::size_t>(INT32_MAX))
      throw std::runtime_error("cuda backend: too many frontier nodes in one chunk");

    upload_to(nodes_, nodes, "frontier nodes");
    upload_to(pair_node_, pair_node, "(node, feature) pairs");
    upload_to(hist_items_, items, "histogram work items");
    upload_ptr(totals_, node_stats.data() + i0 * k, static_cast<std::size_t>(m) * k, "node statistics");
    cuda_util::ensure_capacity(perm_, std::max<std::size_t>(1, static_cast<std::size_t>(m) * nf_), "feature sampling");
    cuda_util::ensure_capacity(feats_, std::max<std::size_t>(1, pair_node.size()), "sampled features");
    cuda_util::ensure_capacity(choices_, std::max<std::size_t>(1, pair_node.size()), "split candidates");
    cuda_util::ensure_capacity(hist_, std::max<std::size_t>(1, hist_len), "histograms");
    cuda_util::ensure_capacity(scratch_, std::max<std::size_t>(1, scratch_len), "split scratch");
    cuda_util::ensure_capacity(best_, static_cast<std::size_t>(m), "best splits");
    cuda_util::ensure_capacity(best_j_, static_cast<std::size_t>(m), "best splits");
    cuda_util::ensure_capacity(left_, static_cast<std::size_t>(m) * k, "left statistics");
    if (hist_len > 0) CANOPY_CUDA_CHECK(cudaMemset(hist_.data(), 0, static_cast<std::size_t>(hist_len) * sizeof(int64_t)));
    t = profile_phase("level: setup", t);

    sample_kernel<<<cuda_util::blocks_for(m, NodePolicy::kBlockThreads), NodePolicy::kBlockThreads>>>(
        nodes_.data(), m, jobs_.data(), static_cast<int32_t>(nf_), perm_.data(), feats_.data());
    CANOPY_CUDA_CHECK_LAUNCH();

    unsigned long long* hist = reinterpret_cast<unsigned long long*>(hist_.data());
    if (!items.empty()) {
      const unsigned grid = static_cast<unsigned>(items.size());
      if (g > 0) {
        const std::size_t smem = static_cast<std::size_t>(max_group) * feature_hist_bytes();
        if (hist32_)
          launch_histogram<SharedHistogram<unsigned int>>(grid, smem, hist);
        else
          launch_histogram<SharedHistogram<unsigned long long>>(grid, smem, hist);
      } else {
        launch_histogram<GlobalHistogram>(grid, 0, hist);
      }
      CANOPY_CUDA_CHECK_LAUNCH();
    }
    t = profile_phase("level: sample+histogram", t);
    if (n_pairs > 0) {
      split_kernel<<<cuda_util::blocks_for(n_pairs, SplitPolicy::kBlockThreads), SplitPolicy::kBlockThreads>>>(
          n_pairs, pair_node_.data(), nodes_.data(), jobs_.data(), feats_.data(), totals_.data(), hist_.data(),
          n_bins_.data(), max_bins_, bins_.data(), bin_stride_, entries_.data(), targets_, scratch_.data(),
          choices_.data());
      CANOPY_CUDA_CHECK_LAUNCH();
    }
    reduce_kernel<<<cuda_util::blocks_for(m, NodePolicy::kBlockThreads), NodePolicy::kBlockThreads>>>(
        m, nodes_.data(), choices_.data(), best_.data(), best_j_.data());
    CANOPY_CUDA_CHECK_LAUNCH();
    left_kernel<<<static_cast<unsigned>(m), NodePolicy::kLeftBlockThreads>>>(
        nodes_.data(), jobs_.data(), best_.data(), best_j_.data(), hist_.data(), max_bins_, bins_.data(), bin_stride_,
        entries_.data(), targets_, left_.data());
    CANOPY_CUDA_CHECK_LAUNCH();
    best_.download(best.data() + i0, static_cast<std::size_t>(m));
    left_.download(left_stats.data() + i0 * k, static_cast<std::size_t>(m) * k);
    profile_phase("level: split+reduce+left", t);
  }

  // histogram_kernel<Mode, mapping, batch> over `grid` work items with `smem` bytes
  // of dynamic shared memory (opted into above 48 KiB).
  template <typename Mode>
  void launch_histogram(unsigned grid, std::size_t smem, unsigned long long* hist) {
    const bool elements = tuning_.histogram_mapping == CudaTuning::HistogramMapping::kElementPerThread;
    const bool batched = tuning_.histogram_batch_loads;
    auto* kernel = elements ? (batched ? histogram_kernel<Mode, true, HistogramPolicy::kLoadBatch>
                                       : histogram_kernel<Mode, true, 1>)
                            : (batched ? histogram_kernel<Mode, false, HistogramPolicy::kLoadBatch>
                                       : histogram_kernel<Mode, false, 1>);
    if (smem > (std::size_t(48) << 10))
      CANOPY_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    kernel<<<grid, HistogramPolicy::kBlockThreads, smem>>>(hist_items_.data(), nodes_.data(), jobs_.data(),
                                                           feats_.data(), bins_.data(), bin_stride_, entries_.data(), targets_,
                                                           max_bins_, hist);
  }

  // Profiling only: waits for the device so the phase's kernels are counted in it.
  PhaseProfile::Clock::time_point profile_phase(const char* phase, PhaseProfile::Clock::time_point since) {
    if (!profile_.enabled()) return since;
    CANOPY_CUDA_CHECK(cudaDeviceSynchronize());
    return profile_.add(phase, since);
  }

  int device_;
  CudaTuning tuning_;
  std::size_t hist_shared_bytes_ = 0;  // tuning_'s, within the device's limit
  int64_t hist_blocks_per_sm_ = 1;
  int sm_count_ = 1;
  PhaseProfile profile_{"cuda backend"};
  BatchData data_;
  int64_t nf_ = 0;
  int64_t bin_stride_ = 1;  // bytes from one row's bins to the next on the device
  int32_t max_bins_ = 2;
  bool hist32_ = false;  // shared histograms with 32-bit counters (this batch)
  int64_t total_entries_ = 0;
  std::size_t workspace_budget_ = MemoryPolicy::kMinWorkspace;
  std::vector<JobSpec> specs_;
  std::vector<DevJob> jobs_host_;
  std::vector<HostSlot> slots_;
  DevTargets targets_{};

  // Resident across batches.
  BinnedMatrixKey bins_key_;
  DeviceArray<uint8_t> bins_;
  DeviceArray<int32_t> n_bins_;
  // Per batch.
  DeviceArray<int32_t> class_id_;
  DeviceArray<int64_t> y_fixed_, row_quantum_, class_quantum_;
  DeviceArray<DevJob> jobs_;
  DeviceArray<RowEntry> entries_, entries_tmp_;
  DeviceArray<uint32_t> flags_, scan_;
  // Row sampling (begin only).
  DeviceArray<uint32_t> sample_rows_, sample_mult_, sample_scan_;
  const std::vector<uint32_t>* sample_rows_key_ = nullptr;
  DeviceArray<uint8_t> cub_temp_;
  // Per level (grow-only workspace).
  DeviceArray<NodeDesc> nodes_;
  DeviceArray<int32_t> pair_node_, perm_, feats_, best_j_;
  DeviceArray<HistItem> hist_items_;
  DeviceArray<int64_t> totals_, hist_, scratch_, left_, seg_left_;
  DeviceArray<SplitChoice> choices_, best_;
  DeviceArray<PartSeg> segs_;
  DeviceArray<PartItem> part_items_;
};

}  // namespace

std::unique_ptr<TreeBackend> make_cuda_tree_backend(int device_index, const CudaTuning& tuning) {
  return std::make_unique<CudaTreeBackend>(device_index, tuning);
}

}  // namespace canopy
