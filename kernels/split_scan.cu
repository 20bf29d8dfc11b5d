// CUDA split evaluation (kernels/split_scan.h): the shared scan_feature over
// each (node, sampled feature) pair, compiled with --fmad=false, by one thread
// or (integer scan states) by a warp scanning runs of bins; then the arg-max
// under SplitChoice::better_than and the left child's statistics, as the CPU
// backend finds them.
#include <cstdint>

#include "kernels/tree_kernels.cuh"

namespace canopy {
namespace cuda_tree {
namespace {

// The best split of (node, sampled feature) pair p (pair index == feature
// index in feats), scanned by one thread.
__device__ __forceinline__ SplitChoice scan_pair(int32_t p, const int32_t* __restrict__ pair_node,
                                                 const NodeDesc* __restrict__ nodes, const DevJob* __restrict__ jobs,
                                                 const int32_t* __restrict__ feats, const int64_t* __restrict__ totals,
                                                 const int64_t* __restrict__ hist, const int32_t* __restrict__ n_bins,
                                                 int32_t max_bins, const uint8_t* __restrict__ bins, int64_t bin_stride,
                                                 const RowEntry* __restrict__ entries, const DevTargets& t,
                                                 int64_t* __restrict__ scratch) {
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
    const int64_t* h = sample_histogram(hist, nd, feats, j, max_bins, k);
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
  return best;
}

// One thread per (node, sampled feature) pair (CudaTuning::SplitMapping::kThreadPerPair).
__global__ void __launch_bounds__(SplitPolicy::kBlockThreads)
    split_kernel(int32_t n_pairs, const int32_t* __restrict__ pair_node, const NodeDesc* __restrict__ nodes,
                 const DevJob* __restrict__ jobs, const int32_t* __restrict__ feats, const int64_t* __restrict__ totals,
                 const int64_t* __restrict__ hist, const int32_t* __restrict__ n_bins, int32_t max_bins,
                 const uint8_t* __restrict__ bins, int64_t bin_stride, const RowEntry* __restrict__ entries,
                 DevTargets t, int64_t* __restrict__ scratch, SplitChoice* __restrict__ choices) {
  const int32_t p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= n_pairs) return;
  choices[p] = scan_pair(p, pair_node, nodes, jobs, feats, totals, hist, n_bins, max_bins, bins, bin_stride, entries,
                         t, scratch);
}

constexpr unsigned kFullWarp = 0xffffffffu;

// Exclusive prefix sum of v over the warp's lanes (integers: exact in any order).
__device__ __forceinline__ int64_t exclusive_warp_sum(int64_t v, int32_t lane) {
  int64_t x = v;
  for (int32_t d = 1; d < SplitPolicy::kWarpThreads; d *= 2) {
    const int64_t y = __shfl_up_sync(kFullWarp, x, d);
    if (lane >= d) x += y;
  }
  return x - v;
}

// The best of the warp's candidates under better_than, in lane 0.
__device__ __forceinline__ SplitChoice warp_best(SplitChoice c) {
  for (int32_t d = SplitPolicy::kWarpThreads / 2; d > 0; d /= 2) {
    SplitChoice o;
    o.gain = __shfl_down_sync(kFullWarp, c.gain, d);
    o.feature = __shfl_down_sync(kFullWarp, c.feature, d);
    o.bin = __shfl_down_sync(kFullWarp, c.bin, d);
    o.missing_left = __shfl_down_sync(kFullWarp, c.missing_left, d);
    o.default_left = __shfl_down_sync(kFullWarp, c.default_left, d);
    if (o.better_than(c)) c = o;
  }
  return c;
}

// One warp per (node, sampled feature) pair (CudaTuning::SplitMapping::
// kWarpPerPair). For a dense node whose scan state is integer (exact gini,
// regression; scan_kind) and has at most kLocalChannels channels, lane l
// scans the l-th run of the feature's value bins from the state the runs
// before it leave: their sums (run_sums) summed across lanes. Every
// candidate gets the one-pass scan's gain, so the warp's best is the
// thread scan's choice (split_scan.h; tested on the host by
// SplitScan.RunsFromTheirStartsGiveTheOnePassChoice). Other pairs: lane 0
// runs the thread scan. Every branch before a shuffle is uniform over the
// warp (it depends on the pair only).
__global__ void __launch_bounds__(SplitPolicy::kBlockThreads)
    split_warp_kernel(int32_t n_pairs, const int32_t* __restrict__ pair_node, const NodeDesc* __restrict__ nodes,
                      const DevJob* __restrict__ jobs, const int32_t* __restrict__ feats,
                      const int64_t* __restrict__ totals, const int64_t* __restrict__ hist,
                      const int32_t* __restrict__ n_bins, int32_t max_bins, const uint8_t* __restrict__ bins,
                      int64_t bin_stride, const RowEntry* __restrict__ entries, DevTargets t,
                      int64_t* __restrict__ scratch, SplitChoice* __restrict__ choices) {
  const int64_t pair = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / SplitPolicy::kWarpThreads;
  const int32_t lane = static_cast<int32_t>(threadIdx.x % SplitPolicy::kWarpThreads);
  if (pair >= n_pairs) return;
  const int32_t p = static_cast<int32_t>(pair);
  const int32_t i = pair_node[p];
  const NodeDesc nd = nodes[i];
  const DevJob jb = jobs[nd.job];
  const StatsLayout lay = t.layout;
  const int32_t k = lay.n_channels;
  const ScanNode sn =
      make_scan_node(&lay, static_cast<Criterion>(jb.criterion), totals + static_cast<int64_t>(i) * k, jb.min_leaf);
  if (!nd.dense || k > SplitPolicy::kLocalChannels || scan_kind(sn) == ScanKind::kClassTerms) {
    if (lane == 0)
      choices[p] = scan_pair(p, pair_node, nodes, jobs, feats, totals, hist, n_bins, max_bins, bins, bin_stride,
                             entries, t, scratch);
    return;
  }
  const int32_t f = feats[p];
  const int64_t* h = sample_histogram(hist, nd, feats, p - nd.feat_off, max_bins, k);
  const int32_t nb = n_bins[f] - 1;  // value bins, at h + k
  const int32_t per = (nb + SplitPolicy::kWarpThreads - 1) / SplitPolicy::kWarpThreads;
  const int32_t j0 = min(nb, lane * per), j1 = min(nb, j0 + per);
  int64_t left[SplitPolicy::kLocalChannels];
  for (int32_t c = 0; c < k; ++c) left[c] = 0;
  run_sums(sn, h + k, j0, j1, left);
  for (int32_t c = 0; c < k; ++c) left[c] = exclusive_warp_sum(left[c], lane);
  SplitChoice best;
  scan_run(sn, f, h, h + k, j0, j1, left, best);
  best = warp_best(best);
  if (lane == 0) choices[p] = best;
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
                            const int32_t* __restrict__ feats, const int64_t* __restrict__ hist, int32_t max_bins,
                            const uint8_t* __restrict__ bins,
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
    const int64_t* h = sample_histogram(hist, nd, feats, best_j[i], max_bins, k);
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
    if (goes_left(b, c.bin, c.missing_left != 0)) add_row(l, t, cq, en.row, en.mult);
  }
}

}  // namespace

void scan_splits(const CudaTuning& tuning, int32_t n_pairs, const int32_t* pair_node, const NodeDesc* nodes,
                 const DevJob* jobs, const int32_t* feats, const int64_t* totals, const int64_t* hist,
                 const int32_t* n_bins, int32_t max_bins, const uint8_t* bins, int64_t bin_stride,
                 const RowEntry* entries, const DevTargets& t, int64_t* scratch, SplitChoice* choices) {
  if (n_pairs <= 0) return;
  constexpr int kThreads = SplitPolicy::kBlockThreads;
  if (tuning.split_mapping == CudaTuning::SplitMapping::kWarpPerPair)
    split_warp_kernel<<<cuda_util::blocks_for(static_cast<std::size_t>(n_pairs) * SplitPolicy::kWarpThreads, kThreads),
                        kThreads>>>(n_pairs, pair_node, nodes, jobs, feats, totals, hist, n_bins, max_bins, bins,
                                    bin_stride, entries, t, scratch, choices);
  else
    split_kernel<<<cuda_util::blocks_for(n_pairs, kThreads), kThreads>>>(
        n_pairs, pair_node, nodes, jobs, feats, totals, hist, n_bins, max_bins, bins, bin_stride, entries, t, scratch,
        choices);
  CANOPY_CUDA_CHECK_LAUNCH();
}

void reduce_splits(int32_t n_nodes, const NodeDesc* nodes, const SplitChoice* choices, SplitChoice* best,
                   int32_t* best_j) {
  if (n_nodes <= 0) return;
  reduce_kernel<<<cuda_util::blocks_for(n_nodes, NodePolicy::kBlockThreads), NodePolicy::kBlockThreads>>>(
      n_nodes, nodes, choices, best, best_j);
  CANOPY_CUDA_CHECK_LAUNCH();
}

void left_statistics(int32_t n_nodes, const NodeDesc* nodes, const DevJob* jobs, const SplitChoice* best,
                     const int32_t* best_j, const int32_t* feats, const int64_t* hist, int32_t max_bins,
                     const uint8_t* bins, int64_t bin_stride, const RowEntry* entries, const DevTargets& t,
                     int64_t* left) {
  if (n_nodes <= 0) return;
  left_kernel<<<static_cast<unsigned>(n_nodes), NodePolicy::kLeftBlockThreads>>>(
      nodes, jobs, best, best_j, feats, hist, max_bins, bins, bin_stride, entries, t, left);
  CANOPY_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda_tree
}  // namespace canopy
