#pragma once
// The interface between the level loop (host/grower) and a compute backend.
// The host owns the trees (node statistics, structure, stopping rules); the
// backend owns the rows of every tree job and the histograms, and answers two
// questions per level: "what is the best split of each frontier node?" and
// "apply these splits". The CPU backend lives in tree_backend_cpu.cc; a CUDA
// backend implements the same interface with device-resident data.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/bin.h"
#include "kernels/predict.h"
#include "kernels/row_sample.h"
#include "kernels/split_math.h"

namespace canopy {

// Training data shared by every job of a batch. Pointers stay valid for the batch.
struct BatchData {
  const BinnedMatrix* bins = nullptr;
  const BinCuts* cuts = nullptr;
  StatsLayout layout;
  const int32_t* class_id = nullptr;     // classification: class of each row
  const int64_t* y_fixed = nullptr;      // regression: fixed-point target of each row
  const int64_t* row_quantum = nullptr;  // integer sample weight per row; null = all 1
};

// One tree to grow (DESIGN principle 5): its own rows, weights and parameters.
struct JobSpec {
  uint64_t seed = 0;
  uint32_t tree_index = 0;          // RNG key of the tree
  int32_t features_per_node = 1;
  int64_t min_samples_leaf = 1;
  Criterion criterion = Criterion::kGini;
  std::vector<uint32_t> multiplicity;   // per row; 0 = not in this tree's sample; empty = from `sample`
  RowSample sample;                     // the rows, when `multiplicity` is empty
  std::vector<int64_t> class_quantum;   // integer class weights; empty = all 1
};

// A node the backend must search, identified for the feature-sampling RNG.
struct FrontierNode {
  int32_t job;
  int32_t node;  // tree-local, level-order index
};

class TreeBackend {
 public:
  virtual ~TreeBackend() = default;
  virtual const char* name() const = 0;

  // How many tree jobs over n_rows rows this backend wants in one batch: enough
  // to keep it busy, within its own memory (device memory for CUDA). The
  // caller may use fewer (host memory); results never depend on the batch.
  virtual std::size_t batch_jobs(std::size_t n_rows) const = 0;

  // Starts a batch. Takes the jobs (their multiplicity vectors are consumed)
  // and writes each job's root statistics to root_stats (n_jobs x n_channels).
  // The frontier is then every root, in job order.
  virtual void begin(const BatchData& data, std::vector<JobSpec>& jobs,
                     std::vector<int64_t>& root_stats) = 0;

  // Drops the frontier nodes whose keep flag is 0 (used for the roots).
  virtual void restrict_frontier(const std::vector<uint8_t>& keep) = 0;

  // For every frontier node (given in frontier order with its statistics,
  // n_channels each), the best split and the statistics of its left child.
  virtual void find_splits(const std::vector<FrontierNode>& frontier, const std::vector<int64_t>& node_stats,
                           std::vector<SplitChoice>& best, std::vector<int64_t>& left_stats) = 0;

  // Applies the host's decisions: frontier node i splits when split[i].valid().
  // The next frontier is, in order, the children (left then right) of the split
  // nodes whose keep flag (keep_children[2i], keep_children[2i+1]) is set.
  virtual void apply_splits(const std::vector<SplitChoice>& split, const std::vector<uint8_t>& keep_children) = 0;

  // Ends the batch and releases its memory.
  virtual void end() = 0;

  // Bins of feature-major float columns under `cuts`, equal to assign_bins_cpu
  // (the CUDA backend bins on its device).
  virtual void assign_bins(const BinCuts& cuts, const std::vector<std::vector<float>>& columns,
                           BinnedMatrix& out) const = 0;

  // Mean prediction of trees [tree_begin, tree_end) on raw features, equal bit
  // for bit to predict_cpu (the CUDA backend predicts on its device); used to
  // score the forests a backend trains (cross-validation, sweeps).
  virtual void predict(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin, std::size_t tree_end,
                       double* out) const = 0;
};

std::unique_ptr<TreeBackend> make_cpu_tree_backend();

// Launch choices of the CUDA backend. None of them changes a result; they
// exist so bench/gpu_bench can measure them against each other on a GPU.
struct CudaTuning {
  // How a histogram block's threads walk a node's rows. kRowPerThread: one
  // row per thread, looping over the features with a byte load each (each
  // warp load touches 32 rows). kElementPerThread: one (row, feature) element
  // per thread, consecutive threads on consecutive features of a row (each
  // warp load touches 32 / features rows). kRowWords (the fastest on an
  // H200): one row per thread, the row's 4-byte words that hold the group's
  // features loaded at once (device rows rounded up to whole words; rows
  // wider than 64 bytes take kRowPerThread). kFeatureLanes: a warp stages 32
  // rows' words in shared memory, then each lane adds one feature of a row
  // into its own column of the histogram, one shared-memory bank a lane, so
  // a warp's atomic adds never conflict whatever the bins
  // (kernels/feature_lanes.h); at most 32 features a group, and only where
  // 32 columns of the histogram plus the staging fit histogram_shared_bytes,
  // else kRowWords. Histograms too wide for shared memory (the global-atomic
  // fallback) always take kRowPerThread with single loads.
  enum class HistogramMapping { kRowPerThread, kElementPerThread, kRowWords, kFeatureLanes };
  HistogramMapping histogram_mapping = HistogramMapping::kRowWords;
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
  // least one row a histogram bin (as many as a quarter of the level
  // workspace holds, twice over), and derives the larger child of such a
  // node from its histogram minus the smaller child's, as the CPU backend
  // does. Off: every node histograms its sampled features.
  bool histogram_subtraction = false;
  // The partition reads the split feature's bins from a feature-major device
  // copy of the matrix (as the CPU backend's partition does): a node's rows
  // are in ascending order, so its entries read nearby bytes of one column
  // instead of a 32-byte sector of a row each. Costs a second copy of the bins.
  bool partition_columns = false;
  // The partition in two passes (kernels/partition_plan.h): go-left bits and
  // a left count per work item, a scan over the items' counts, then each item
  // places its entries; instead of a flag per entry, a scan over every entry
  // and a scatter. Reads each entry twice and writes no per-entry flag or scan.
  bool partition_two_pass = false;
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

// The CUDA backend on device `device_index` (kernels/tree_backend_cuda.cu);
// returns the same splits, statistics and partitions as the CPU backend.
// Throws std::runtime_error("built without CUDA") in a build without CUDA.
std::unique_ptr<TreeBackend> make_cuda_tree_backend(int device_index, const CudaTuning& tuning = {});

// Device seconds a CUDA backend made with CudaTuning::time_histograms has spent
// in its histogram launches since it was made; 0 for any other backend.
double cuda_histogram_seconds(const TreeBackend& backend);

}  // namespace canopy
