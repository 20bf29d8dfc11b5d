// CUDA row partitioning (kernels/partition.h): the split nodes' entries are
// reordered stably, left child first, as partition_rows_cpu orders them,
// over a plan of segments and work items (partition_plan.h). By flags: a flag
// per entry (goes left?), one exclusive scan over all entries, a scatter. In
// two passes: go-left bits and a left count per item, one exclusive scan over
// the items' counts, then each item places its entries from its bits.
#include <algorithm>
#include <cstdint>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_scan.cuh>
#include <stdexcept>
#include <string>

#include "kernels/tree_kernels.cuh"

namespace canopy {
namespace cuda_tree {
namespace {

// Whether the entry of row `row` goes left under segment s's split.
__device__ __forceinline__ bool entry_goes_left(const SplitBins& bins, const PartSeg& s, uint32_t row) {
  const uint8_t b = bins.base[static_cast<int64_t>(s.feature) * bins.feature_step + static_cast<int64_t>(row) * bins.row_step];
  return goes_left(b, s.bin, s.missing_left != 0);
}

__global__ void partition_flags_kernel(const PartItem* __restrict__ items, const PartSeg* __restrict__ segs,
                                       SplitBins bins, const RowEntry* __restrict__ entries,
                                       uint32_t* __restrict__ flags) {
  const PartItem it = items[blockIdx.x];
  const PartSeg s = segs[it.seg];
  for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += blockDim.x)
    flags[e] = entry_goes_left(bins, s, entries[e].row) ? 1u : 0u;
}

// Two passes, the first: warp by warp, 32 consecutive entries of the item to
// one go-left word (bit i: entry 32 w + i of the item) at words[word0 + w];
// item_left[item] = the item's left entries.
__global__ void __launch_bounds__(PartitionPolicy::kBlockThreads)
    partition_mark_kernel(const PartItem* __restrict__ items, const PartSeg* __restrict__ segs, SplitBins bins,
                          const RowEntry* __restrict__ entries, uint32_t* __restrict__ words,
                          uint32_t* __restrict__ item_left) {
  __shared__ uint32_t block_left;
  const PartItem it = items[blockIdx.x];
  const PartSeg s = segs[it.seg];
  const int64_t n = it.e1 - it.e0;
  const int32_t lane = static_cast<int32_t>(threadIdx.x % 32);
  if (threadIdx.x == 0) block_left = 0;
  __syncthreads();
  uint32_t left = 0;  // lane 0: its warp's words' left entries
  // `base` is the same for the whole warp, so every lane reaches the ballot.
  for (int64_t base = threadIdx.x - lane; base < n; base += blockDim.x) {
    const int64_t local = base + lane;
    const bool goes = local < n && entry_goes_left(bins, s, entries[it.e0 + local].row);
    const uint32_t word = __ballot_sync(0xffffffffu, goes);
    if (lane == 0) {
      words[item_word(it, base)] = word;
      left += static_cast<uint32_t>(__popc(word));
    }
  }
  if (lane == 0 && left != 0) atomicAdd(&block_left, left);
  __syncthreads();
  if (threadIdx.x == 0) item_left[blockIdx.x] = block_left;
}

// Two passes, the second: each entry of the item to partition_destination,
// its left entries before it counted from item_prefix (the exclusive scan of
// item_left; mod 2^32, differences inside a segment are exact), the item's
// words before its own, and its word's lower bits. Items hold at most
// PartitionPolicy::kEntriesPerBlock entries (apply_splits plans them so).
__global__ void __launch_bounds__(PartitionPolicy::kBlockThreads)
    partition_place_kernel(const PartItem* __restrict__ items, const PartSeg* __restrict__ segs,
                           const RowEntry* __restrict__ entries, const uint32_t* __restrict__ words,
                           const uint32_t* __restrict__ item_prefix, const int64_t* __restrict__ n_left,
                           RowEntry* __restrict__ out) {
  constexpr int kThreads = PartitionPolicy::kBlockThreads;
  constexpr int kWords = static_cast<int>(PartitionPolicy::kEntriesPerBlock / 32);
  static_assert(PartitionPolicy::kEntriesPerBlock % 32 == 0 && kWords <= kThreads,
                "a partition item's go-left words are scanned one a thread");
  using WordScan = cub::BlockScan<uint32_t, kThreads>;
  __shared__ typename WordScan::TempStorage scan_storage;
  __shared__ uint32_t word_of[kWords], left_before_word[kWords];
  const PartItem it = items[blockIdx.x];
  const PartSeg s = segs[it.seg];
  const int64_t n = it.e1 - it.e0;
  const int32_t n_words = static_cast<int32_t>(partition_words(n));
  const int32_t t = static_cast<int32_t>(threadIdx.x);
  const uint32_t word = t < n_words ? words[item_word(it, 32 * static_cast<int64_t>(t))] : 0u;
  uint32_t before = 0;
  WordScan(scan_storage).ExclusiveSum(static_cast<uint32_t>(__popc(word)), before);
  if (t < n_words) {
    word_of[t] = word;
    left_before_word[t] = before;
  }
  __syncthreads();
  const int64_t item_before = left_before_item(item_prefix, static_cast<int32_t>(blockIdx.x), s);
  const int64_t seg_left = n_left[it.seg];
  for (int64_t local = t; local < n; local += kThreads) {
    const int32_t w = static_cast<int32_t>(item_word(it, local) - it.word0), bit = word_bit(local);
    const int64_t e = it.e0 + local;
    const int64_t before_e = left_before_bit(item_before + left_before_word[w], word_of[w], bit);
    out[partition_destination(s.begin, seg_left, e, before_e, (word_of[w] >> bit & 1u) != 0)] = entries[e];
  }
}

// n_left[i] = segment i's left entries: the difference of item_prefix over its items.
__global__ void partition_item_count_kernel(int32_t n_segs, const PartSeg* __restrict__ segs,
                                            const uint32_t* __restrict__ item_prefix, int64_t* __restrict__ n_left) {
  const int32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_segs) return;
  n_left[i] = segment_left(item_prefix, segs[i]);
}

// One thread a row: columns[f * n_rows + r] = bins[r * bin_stride + f].
__global__ void __launch_bounds__(PartitionPolicy::kBlockThreads)
    transpose_kernel(const uint8_t* __restrict__ bins, int64_t bin_stride, int64_t n_rows, int64_t n_features,
                     uint8_t* __restrict__ columns) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= n_rows) return;
  for (int64_t f = 0; f < n_features; ++f) columns[f * n_rows + r] = bins[r * bin_stride + f];
}

__global__ void __launch_bounds__(PartitionPolicy::kBlockThreads)
    pad_rows_kernel(const uint8_t* __restrict__ packed, int64_t n_rows, int64_t n_features, int64_t stride,
                    uint8_t* __restrict__ padded) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= n_rows) return;
  for (int64_t f = 0; f < stride; ++f) padded[r * stride + f] = f < n_features ? packed[r * n_features + f] : 0;
}

__global__ void __launch_bounds__(PartitionPolicy::kBlockThreads)
    row_classes_kernel(const int32_t* __restrict__ class_id, int64_t n_rows, int64_t stride, int32_t class_byte,
                       uint8_t* __restrict__ bins) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r < n_rows) bins[r * stride + class_byte] = static_cast<uint8_t>(class_id[r]);
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
    out[partition_destination(s.begin, n_left, e, before, flags[e] != 0)] = entries[e];
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
#if CUB_VERSION < 300000
  // CUB took int item counts until CCCL 2.x added 64-bit ones; only CCCL 3
  // (CUDA 13) is known here to scan more. Only the flag partition's scan over
  // every entry can get this long.
  if (n > INT32_MAX)
    throw std::runtime_error(
        "cuda: a scan of " + std::to_string(n) + " items needs CUB 3 (CUDA 13) or later; this build has CUB " +
        std::to_string(CUB_VERSION) + " (use the default two-pass partition: partition_two_pass=1)");
#endif
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

void pad_bin_rows(const uint8_t* packed, int64_t n_rows, int64_t n_features, int64_t stride, uint8_t* padded) {
  if (n_rows == 0) return;
  pad_rows_kernel<<<cuda_util::blocks_for(static_cast<std::size_t>(n_rows), PartitionPolicy::kBlockThreads),
                    PartitionPolicy::kBlockThreads>>>(packed, n_rows, n_features, stride, padded);
  CANOPY_CUDA_CHECK_LAUNCH();
}

void write_row_classes(const int32_t* class_id, int64_t n_rows, int64_t stride, int32_t class_byte, uint8_t* bins) {
  if (n_rows == 0) return;
  row_classes_kernel<<<cuda_util::blocks_for(static_cast<std::size_t>(n_rows), PartitionPolicy::kBlockThreads),
                       PartitionPolicy::kBlockThreads>>>(class_id, n_rows, stride, class_byte, bins);
  CANOPY_CUDA_CHECK_LAUNCH();
}

void partition_segments(const PartItem* items, unsigned n_items, const PartSeg* segs, int32_t n_segs, SplitBins bins,
                        const RowEntry* entries, int64_t n_entries, uint32_t* flags, uint32_t* scan,
                        DeviceArray<uint8_t>& cub_temp, int64_t* n_left, RowEntry* out) {
  if (n_segs <= 0) return;
  if (n_items > 0) {
    partition_flags_kernel<<<n_items, PartitionPolicy::kBlockThreads>>>(items, segs, bins, entries, flags);
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

void partition_segments_two_pass(const PartItem* items, unsigned n_items, const PartSeg* segs, int32_t n_segs,
                                 SplitBins bins, const RowEntry* entries, uint32_t* words, uint32_t* item_left,
                                 uint32_t* item_prefix, DeviceArray<uint8_t>& cub_temp, int64_t* n_left,
                                 RowEntry* out) {
  if (n_segs <= 0) return;
  if (n_items > 0) {
    partition_mark_kernel<<<n_items, PartitionPolicy::kBlockThreads>>>(items, segs, bins, entries, words, item_left);
    CANOPY_CUDA_CHECK_LAUNCH();
  }
  CANOPY_CUDA_CHECK(cudaMemset(item_left + n_items, 0, sizeof(uint32_t)));  // the scan's total
  exclusive_sum(item_left, item_prefix, static_cast<int64_t>(n_items) + 1, cub_temp);
  partition_item_count_kernel<<<cuda_util::blocks_for(n_segs, NodePolicy::kBlockThreads), NodePolicy::kBlockThreads>>>(
      n_segs, segs, item_prefix, n_left);
  CANOPY_CUDA_CHECK_LAUNCH();
  if (n_items > 0) {
    partition_place_kernel<<<n_items, PartitionPolicy::kBlockThreads>>>(items, segs, entries, words, item_prefix,
                                                                        n_left, out);
    CANOPY_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace cuda_tree
}  // namespace canopy
