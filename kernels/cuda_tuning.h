#pragma once
// The CUDA backend's launch choices (CudaTuning). Their text form, as
// CANOPY_CUDA_TUNING takes it, is host/cuda_tuning_text.h.
#include <cstddef>

namespace canopy {

// Launch choices of the CUDA backend. None of them changes a result; they
// exist so bench/gpu_bench can measure them against each other on a GPU, and
// a run can take them from CANOPY_CUDA_TUNING (host/cli_common.h).
struct CudaTuning {
  // How a histogram block's threads walk a node's rows. kRowPerThread: one
  // row per thread, looping over the features with a byte load each (each
  // warp load touches 32 rows). kElementPerThread: one (row, feature) element
  // per thread, consecutive threads on consecutive features of a row (each
  // warp load touches 32 / features rows). kRowWords: one row per thread,
  // the row's 4-byte words that hold the group's
  // features loaded at once (device rows rounded up to whole words; rows
  // wider than 64 bytes take kRowPerThread). kRotatedRows: one row per
  // thread as kRowWords, each lane starting its rows at its own feature, so
  // a warp's atomic adds fall in distinct columns (banks) of a histogram one
  // column a feature (kernels/rotated_rows.h); for rows of at most 32 bytes, where 32 columns
  // fit histogram_shared_bytes, and in a launch whose every group covers more
  // than half the row (all features a node: the root, the subtraction
  // trick); else kRowWords. kSwizzledRows: one row per thread, each lane
  // taking its row's bytes in its own order (lane ^ step) from registers
  // swizzled once a row, into a histogram one column a feature, so a warp's
  // atomic adds fall in distinct banks with the fewest instructions a step
  // (kernels/swizzled_rows.h); device rows padded to 4, 8, 16 or 32 bytes,
  // or whole 32-byte slices past 32 features, 32-bit counters (unweighted
  // classification), where 32 columns fit histogram_shared_bytes, in launches
  // whose every group covers more than half the row (past 32 features: the
  // every-feature histograms of the subtraction trick, a slice a group);
  // else kRowWords. (Past 32 features it pads rows to whole slices and keeps
  // groups of 32 features also where it falls back.) Binary classification
  // takes its fewest instructions a step (swizzled_rows.h's two-channel
  // offsets). Histograms too wide for shared memory (the global-atomic
  // fallback) always take kRowPerThread with single loads.
  // kSwizzledRows is the default: against kRowWords on an H200, 1.12x the
  // histogram kernel's speed on the root pass over 10M x 28 of 256 bins (226
  // against 253 us), 1.55-3.37x at 64 to 4 bins, 1.17x on 1M x 28 trees with
  // every feature a node (0.083 against 0.096 s), the same on the reference
  // training, whose sqrt(28) sampled features take kRowWords below the root
  // (0.476 s both, medians of 4); on an H100, 0.91x on the 256-bin root pass
  // (278 against 253 us: its rows are padded from 28 to 32 bytes),
  // 1.12-2.34x at 64 to 4 bins, 1.04x on the reference training.
  enum class HistogramMapping { kRowPerThread, kElementPerThread, kRowWords, kRotatedRows, kSwizzledRows };
  HistogramMapping histogram_mapping = HistogramMapping::kSwizzledRows;
  // Shared memory of one histogram block (a feature group's privatised
  // histogram); above 48 KiB it is opted into, up to the device's limit.
  std::size_t histogram_shared_bytes = std::size_t(96) << 10;
  // Bins a histogram thread loads before adding any of them (1 or 4), so
  // more loads are in flight: with the row mapping, one feature's bins of that
  // many rows; with the element mapping, that many elements.
  int histogram_load_batch = 1;
  // Threads of one histogram block (256 or 512): more threads share one
  // privatised histogram, so the same shared memory keeps more warps resident.
  int histogram_block_threads = 512;
  // The device copy of the bins pads each row to padded_stride(n_features,
  // 32) (histogram.h), so a scattered row is read in the fewest 32-byte
  // sectors; otherwise rows are packed.
  bool pad_rows = false;
  // The subtraction trick: a job that samples more than half the features a
  // node histograms every feature, keeps the histograms of nodes with at
  // least one row a histogram bin (as many as the level workspace's pools
  // hold), and derives the larger child of such a node from its histogram
  // minus the smaller child's, as the CPU backend does; jobs that sample
  // fewer histogram their sampled features only. On by default (1M x 28, all
  // features a node, on an H200: 0.113 s against 0.122 s a fit, histogram
  // kernels 0.013 s against 0.030 s). Off: every node histograms its sampled
  // features.
  bool histogram_subtraction = true;
  // How a histogram block adds to 64-bit shared counters (weighted
  // classification, regression, a count channel): the 64-bit atomic, which
  // sm_90 runs as a compare-and-swap loop in shared memory, or two 32-bit
  // atomic adds, the low word's carry added to the high word, and the high
  // add skipped where it adds 0 (kernels/atomic_halves.h; exact). On by
  // default: on an H200 the 64-bit root pass over 10M x 28 took 641 against
  // 2207 us of kernel time (gpu_bench HistogramPass64), and 1M x 28
  // regression trees 0.091 against 0.140 s a fit (TrainRegression1M).
  bool histogram_atomics_in_halves = true;
  // Blocks of a thread-block cluster (sm_90; 1: none) a shared-memory
  // histogram launch runs in. The blocks of a cluster that histogram the
  // same node and feature group (chunks of one node's entries) sum their
  // shared histograms through distributed shared memory, each adding its
  // share of the counters to the global histogram, so a launch makes that
  // many times fewer global atomics (the root pass: 396 blocks, each
  // flushing 14,336 counters at 256 bins). The level plans pad a launch's
  // work items to whole clusters with empty chunks. Opt-in until measured
  // (gpu_bench HistogramPassCluster); where a device cannot run the
  // clusters, the launch runs without them.
  int histogram_cluster_blocks = 1;
  // At most this many histogram blocks a multiprocessor when a level's
  // entries are cut into blocks' chunks (0: as many as the kernel's
  // registers and shared memory let run at once, at most
  // HistogramPolicy::kBlocksPerSM). A launch of one wave ends with every
  // block flushing its whole shared histogram: the root pass over 10M x 28
  // of 256 bins runs 396 blocks (3 a multiprocessor), each flushing 14,336
  // counters, and its kernel grew 105 us from 4 to 256 bins a feature on
  // both an H100 and an H200, the rows' part unchanged. One block a
  // multiprocessor flushes a third as many counters, from 16 warps instead of
  // 48 a multiprocessor; a swizzled-walk lane has one 32-byte row in flight,
  // so 16 KiB of loads a multiprocessor at 1, 32 KiB at 2, 48 KiB as many as
  // fit. Opt-in until measured (gpu_bench HistogramPassBlocks,
  // Train10MBlocks).
  int histogram_blocks_per_sm = 0;
  // Each block flushes its shared histogram from its own offset, so the
  // blocks of a launch, which end together, add to different global
  // counters at a time instead of all to the same ones (the root pass: 396
  // blocks on each of 14,336 counters). Opt-in until measured (gpu_bench
  // HistogramPassLean).
  bool histogram_staggered_flush = false;
  // The rotated- and swizzled-rows walks' flush takes each position's
  // bin-channels four at a time from four consecutive threads, so a warp's
  // 32 global atomics fall in 8 sectors (4 counters a sector, where a
  // feature's histogram is a multiple of 4 counters, as at 256 bins) instead
  // of 32 (one feature a thread), at the cost of 4-way bank conflicts on its shared
  // reads (kernels/flush_order.h). From 64 to 256 bins a feature the root
  // pass's kernel grew 18 us under the row-words walk, whose flush's global
  // atomics are consecutive, against 74 us under the swizzled walk on an
  // H200 (23 against 73 us on an H100; gpu_bench HistogramPass and
  // HistogramPassFewBins). Opt-in until measured (gpu_bench
  // HistogramPassLean).
  bool histogram_sector_flush = false;
  // Unweighted classification of at most 256 classes, no more than the bins
  // of the widest feature: each device row's last byte, padding past its
  // features, holds the row's class id (written at each batch's start), so the
  // swizzled-rows and row-words walks take an entry's class from the row they
  // load instead of loading it from the class ids (4 bytes a row, a 32-byte
  // sector where the rows are scattered). Rows without padding load the class
  // ids as before. Opt-in until measured (gpu_bench HistogramPassLean).
  bool histogram_row_classes = false;
  // A root whose entries are every row once (a job without bootstrap or row
  // sampling) is histogrammed over rows 0 .. n - 1 with multiplicity 1,
  // without reading its entries (8 bytes a row). Opt-in until measured
  // (gpu_bench HistogramPassLean).
  bool histogram_identity_root = false;
  // The partition reads the split feature's bins from a feature-major device
  // copy of the matrix (as the CPU backend's partition does): a node's rows
  // are in ascending order, so its entries read nearby bytes of one column
  // instead of a 32-byte sector of a row each. Costs a second copy of the
  // bins, kept only where it takes at most a quarter of the free device
  // memory (else the rows are read). On by default (10M x 28 on an H200:
  // 0.538 s against 0.627 s a training, with the flag partition).
  bool partition_columns = true;
  // The partition in two passes (kernels/partition_plan.h): go-left bits and
  // a left count per work item, a scan over the items' counts, then each item
  // places its entries; instead of a flag per entry, a scan over every entry
  // and a scatter. Reads each entry twice and writes no per-entry flag or
  // scan. On by default (10M x 28 on an H200: 0.531 s against 0.538 s with
  // the feature-major bins, 0.578 s against 0.627 s without).
  bool partition_two_pass = true;
  // Device memory for a level's workspace (histograms, scan scratch, and the
  // kept histograms' pools); a frontier that needs more is processed in
  // chunks. 0: half the device memory left free after the batch's resident data.
  std::size_t workspace_bytes = 0;
  // How split candidates are scanned: one thread per (node, sampled feature)
  // pair running the sequential scan, or one warp per pair, each lane
  // scanning a run of the feature's bins from the integer state the runs
  // before it leave (gini on nodes lighter than 2^30, and regression, with at
  // most 24 channels; other pairs fall back to one lane).
  enum class SplitMapping { kThreadPerPair, kWarpPerPair };
  SplitMapping split_mapping = SplitMapping::kThreadPerPair;
  // Times each chunk's histogram launches (the histogram kernel and the
  // sibling subtractions) with CUDA events, for cuda_histogram_seconds; costs
  // one event wait a chunk, just before the chunk's results are copied back.
  bool time_histograms = false;
};

}  // namespace canopy
