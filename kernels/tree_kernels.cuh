#pragma once
// The CUDA tree backend's kernels, as tree_backend_cuda.cu drives them: their
// launch policies, the plain descriptions the host fills for them, the row
// statistics they share, and one host launcher per primitive (each checks its
// launches). The kernels live beside their CPU twins:
//   feature_sampling.cu  each frontier node's feature sample
//   row_sample.cu        a job's RowSample, materialised as in-bag entries
//   histogram.cu         node histograms and root statistics
//   split_scan.cu        split scan, per-node arg-max, left-child statistics
//   partition.cu         stable partition of the split nodes' entries
// All launches go to the current device's default stream. CUDA-only header.
#include <cstddef>
#include <cstdint>

#include "kernels/cuda_util.cuh"
#include "kernels/histogram.h"
#include "kernels/histogram_walk.h"
#include "kernels/level_plan.h"
#include "kernels/partition.h"
#include "kernels/partition_plan.h"
#include "kernels/split_scan.h"
#include "kernels/tree_backend.h"

namespace canopy {
namespace cuda_tree {

// ---------------------------------------------------------------------------
// Launch policies (tuning knobs; none of them changes a result).

struct HistogramPolicy {
  static constexpr int kBlockThreads = 256;
  // The other block size CudaTuning::histogram_block_threads may ask for.
  static constexpr int kWideBlockThreads = 512;
  // Entries of one node handled by one block (the row chunk of a work item):
  // at least this many ...
  static constexpr int64_t kEntriesPerBlock = 8192;
  // ... and more when a level has enough work to give each resident block slot
  // (kBlocksPerSM per multiprocessor) several such chunks: every block ends by
  // flushing its whole shared histogram with global atomics, so fewer, longer
  // blocks flush less.
  static constexpr int64_t kBlocksPerSM = 4;
  // The load batch CudaTuning::histogram_load_batch may ask for besides 1
  // (any other value means 1; 8 measured slower than 4 and 1 on an H200).
  static constexpr int kLoadBatch = 4;
  // The row-words walk holds a row's 4-byte words in registers: rows of at
  // most this many words (64 features).
  static constexpr int kMaxRowWords = 16;
  // Static shared memory a histogram kernel may hold besides its dynamic
  // histogram (the row-words walk's byte-order tables), kept out of the
  // device's per-block limit when the histogram's size is chosen.
  static constexpr std::size_t kStaticSharedBytes = 1024;
  // Shared memory a block may use without opting in (the root statistics'
  // channels; the histogram blocks' size is CudaTuning::histogram_shared_bytes).
  static constexpr std::size_t kSharedBytes = 48 * 1024;
  // Blocks of 512 threads of the rotated- and swizzled-rows walks
  // (lane_columns: one column a lane) a multiprocessor must hold at once (the
  // kernel's __launch_bounds__): their 64 KiB histogram (28 binary features
  // of 256 bins) leaves room for 3, and unbounded their unrolled steps may
  // take up to 64 registers a thread, room for 2 (with the bound, 40: the
  // rotated walk with 32 bytes of spills, the swizzled walk, with its selects
  // for identity roots and row classes, with 4 bytes spilled outside its
  // loops).
  // 256 threads stay unbounded. Other walks: 0 (no bound; the row-words walk
  // takes 40 registers at 512 threads).
  static constexpr int kLaneColumnsBlocksPerSM = 3;
  static constexpr int min_blocks(bool lane_columns, int threads) {
    return lane_columns && threads == kWideBlockThreads ? kLaneColumnsBlocksPerSM : 0;
  }
};

// The histogram block size of a tuning: kWideBlockThreads when it asks for
// that many, otherwise kBlockThreads.
inline int histogram_block_threads(const CudaTuning& tuning) {
  return tuning.histogram_block_threads == HistogramPolicy::kWideBlockThreads ? HistogramPolicy::kWideBlockThreads
                                                                               : HistogramPolicy::kBlockThreads;
}

// Whether device rows of `bin_stride` bytes suit the row-words walk (whole
// words, at most kMaxRowWords); CudaTuning::HistogramMapping::kRowWords falls
// back to the row walk where they do not.
inline bool row_words_fit(int64_t bin_stride) {
  return bin_stride % 4 == 0 && bin_stride <= 4 * HistogramPolicy::kMaxRowWords;
}

struct SplitPolicy {
  static constexpr int kBlockThreads = 128;  // a multiple of the warp
  static constexpr int kWarpThreads = 32;
  // Up to this many channels the scan's scratch (left: one int64 per channel)
  // lives in registers/local memory; above it, in a global scratch buffer.
  static constexpr int32_t kLocalChannels = 24;
  // Nodes with at most this many entries are scanned over their rows sorted by
  // bin instead of a histogram (as the CPU backend's sparse path).
  // (Measure on a GPU: the per-thread sort costs O(rows^2), a histogram costs
  // O(bins x channels) to clear, flush and scan.)
  static constexpr int32_t kSparseMaxRows = 64;
  // (Scratch of a sparse node: level_plan.h's sparse_scratch_groups.)
};

struct CombinePolicy {
  static constexpr int kBlockThreads = 256;
  static constexpr int64_t kValuesPerBlock = 16384;  // of one histogram
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

// ---------------------------------------------------------------------------
// Device-side data descriptions (plain structs passed by value or in arrays).

struct DevTargets {
  StatsLayout layout;
  const int32_t* class_id;     // classification
  const int64_t* y_fixed;      // regression
  const int64_t* row_quantum;  // null = 1
  // The byte of each device row that holds its class id
  // (CudaTuning::histogram_row_classes, HistogramWalks::row_class_byte), or
  // -1: the class ids are read from class_id.
  int32_t class_byte;
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

// NodeDesc, HistItem and HistCombine: kernels/level_plan.h (the host plans them).

// The histogram of position j of node nd's feature sample.
__device__ __forceinline__ const int64_t* sample_histogram(const int64_t* hist, const NodeDesc& nd,
                                                           const int32_t* feats, int32_t j, int32_t max_bins,
                                                           int32_t k) {
  return hist + sample_histogram_offset(nd, feats, j, max_bins, k);
}

// ---------------------------------------------------------------------------
// Row statistics: histogram.h's row_weight and add_row_statistics over the
// batch's targets and a job's class weights (cq, null = 1).

__device__ __forceinline__ int64_t row_weight(const DevTargets& t, const int64_t* cq, uint32_t row, uint32_t mult) {
  return canopy::row_weight(row, mult, t.row_quantum, cq, t.class_id);
}

__device__ __forceinline__ void add_row(int64_t* s, const DevTargets& t, const int64_t* cq, uint32_t row,
                                        uint32_t mult) {
  add_row_statistics(t.layout, row, mult, row_weight(t, cq, row, mult), t.class_id, t.y_fixed,
                     [s](int32_t c, int64_t v) { s[c] += v; });
}

__device__ __forceinline__ void atomic_add_i64(unsigned long long* p, int64_t v) {
  atomicAdd(p, static_cast<unsigned long long>(v));  // two's complement: exact for negative values too
}

// ---------------------------------------------------------------------------
// Launchers. Pointers are device pointers; sizes are element counts.

// feature_sampling.cu: feats[nodes[i].feat_off ...] = node i's feature sample
// (sample_features); perm holds n_nodes x n_features scratch.
void sample_node_features(const NodeDesc* nodes, int32_t n_nodes, const DevJob* jobs, int32_t n_features,
                          int32_t* perm, int32_t* feats);

// row_sample.cu: the in-bag entries of one job's RowSample (rows: its n
// training rows on the device), in ascending row order, written to `out`;
// returns their count. mult and scan hold n_rows + 1 values, flags n_rows + 1;
// cub_temp grows as the scan needs.
int64_t sample_entries(uint64_t seed, uint32_t tree, int64_t draws, const uint32_t* rows, int64_t n,
                       int64_t n_rows, uint32_t* mult, uint32_t* flags, uint32_t* scan,
                       DeviceArray<uint8_t>& cub_temp, RowEntry* out);

// partition.cu: out[0, n) = exclusive prefix sums of in[0, n).
void exclusive_sum(const uint32_t* in, uint32_t* out, int64_t n, DeviceArray<uint8_t>& cub_temp);

// histogram.cu: where a histogram block accumulates: HistogramCounters
// (histogram_walk.h).

// One block per work item; `smem` bytes of dynamic shared memory (opted into
// above 48 KiB), the kernel variant chosen by `counters` and `tuning`; in
// clusters of tuning.histogram_cluster_blocks where the items come in whole
// clusters (level_plan.h) and the device runs them, else block by block
// (same histograms either way); returns whether it ran in clusters.
bool build_histograms(HistogramCounters counters, const CudaTuning& tuning, unsigned grid, std::size_t smem,
                      const HistItem* items, const NodeDesc* nodes, const DevJob* jobs, const int32_t* feats,
                      const uint8_t* bins, int64_t bin_stride, const RowEntry* entries, const DevTargets& t,
                      int32_t max_bins, unsigned long long* hist);

// histogram.cu: how many blocks of the build_histograms variant (rows of
// `bin_stride` bytes) with `smem` bytes of dynamic shared memory fit one
// multiprocessor (registers and shared memory both count; 0 when none fits).
int histogram_blocks_per_sm(HistogramCounters counters, const CudaTuning& tuning, int64_t bin_stride, std::size_t smem);

// histogram.cu: every task of tasks[0, n_tasks) over histograms of `len`
// values (HistCombine; minus_base may be null when no task subtracts).
void combine_histograms(const HistCombine* tasks, int32_t n_tasks, int64_t len, int64_t* out_base,
                        const int64_t* from_base, const int64_t* minus_base);

// histogram.cu: root (n_jobs x n_channels, zeroed by the caller) += the
// statistics of every item's entries (item.seg = job).
void root_statistics(const PartItem* items, unsigned n_items, const DevJob* jobs, const RowEntry* entries,
                     const DevTargets& t, unsigned long long* root);

// split_scan.cu: choices[p] = the best split of (node, feature) pair p, by
// a thread or a warp per pair (tuning.split_mapping).
void scan_splits(const CudaTuning& tuning, int32_t n_pairs, const int32_t* pair_node, const NodeDesc* nodes,
                 const DevJob* jobs, const int32_t* feats, const int64_t* totals, const int64_t* hist,
                 const int32_t* n_bins, int32_t max_bins, const uint8_t* bins, int64_t bin_stride,
                 const RowEntry* entries, const DevTargets& t, int64_t* scratch, SplitChoice* choices);

// split_scan.cu: best[i], best_j[i] = node i's best choice and its position
// in the node's sample (-1: none).
void reduce_splits(int32_t n_nodes, const NodeDesc* nodes, const SplitChoice* choices, SplitChoice* best,
                   int32_t* best_j);

// split_scan.cu: left[i x n_channels ...] = statistics of node i's left child
// under best[i] (zeros when it has no split).
void left_statistics(int32_t n_nodes, const NodeDesc* nodes, const DevJob* jobs, const SplitChoice* best,
                     const int32_t* best_j, const int32_t* feats, const int64_t* hist, int32_t max_bins,
                     const uint8_t* bins, int64_t bin_stride, const RowEntry* entries, const DevTargets& t,
                     int64_t* left);

// partition.cu: columns[f * n_rows + r] = bins[r * bin_stride + f] (the
// feature-major copy of the matrix, n_rows x n_features bytes).
void bins_to_columns(const uint8_t* bins, int64_t bin_stride, int64_t n_rows, int64_t n_features, uint8_t* columns);

// partition.cu: padded[r * stride + f] = packed[r * n_features + f] for f <
// n_features, 0 past them (stride >= n_features): the device's padded rows
// (device_row_stride) from the packed matrix, uploaded as one block, since a
// host-to-device copy of many short rows is slow.
void pad_bin_rows(const uint8_t* packed, int64_t n_rows, int64_t n_features, int64_t stride, uint8_t* padded);

// partition.cu: bins[r * stride + class_byte] = class_id[r] (< 256) for every
// row: the class ids in the device rows' padding
// (CudaTuning::histogram_row_classes).
void write_row_classes(const int32_t* class_id, int64_t n_rows, int64_t stride, int32_t class_byte, uint8_t* bins);

// Where the partition reads the split feature's bins: row r's bin of feature
// f is base[r * row_step + f * feature_step], from the feature-major copy
// (bins_to_columns, n_rows a column) when there is one, else from the
// row-major bins.
struct SplitBins {
  const uint8_t* base;
  int64_t row_step, feature_step;
};
inline SplitBins split_bins(const uint8_t* bins, int64_t bin_stride, const uint8_t* columns, int64_t n_rows) {
  return columns ? SplitBins{columns, 1, n_rows} : SplitBins{bins, bin_stride, 1};
}

// partition.cu: every segment's entries (the plan's segs and items,
// partition_plan.h) reordered stably into `out`, left child first; n_left[s]
// = entries of segment s that went left. flags and scan hold n_entries + 1
// values (the entries' total over all jobs).
void partition_segments(const PartItem* items, unsigned n_items, const PartSeg* segs, int32_t n_segs, SplitBins bins,
                        const RowEntry* entries, int64_t n_entries, uint32_t* flags, uint32_t* scan,
                        DeviceArray<uint8_t>& cub_temp, int64_t* n_left, RowEntry* out);

// partition.cu: the same result in two passes (CudaTuning::partition_two_pass,
// partition_plan.h): words holds the plan's n_words, item_left and
// item_prefix n_items + 1 values each.
void partition_segments_two_pass(const PartItem* items, unsigned n_items, const PartSeg* segs, int32_t n_segs,
                                 SplitBins bins, const RowEntry* entries, uint32_t* words, uint32_t* item_left,
                                 uint32_t* item_prefix, DeviceArray<uint8_t>& cub_temp, int64_t* n_left,
                                 RowEntry* out);

}  // namespace cuda_tree
}  // namespace canopy
