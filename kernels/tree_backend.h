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
#include "kernels/cuda_tuning.h"
#include "kernels/histogram.h"
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

// A frontier node's histograms of its sampled features, as a backend's test
// hook returns them (TreeBackend::level_histograms): the features in sample
// order, and for each its n_bins x n_channels statistics (bin 0: missing),
// back to back. Both empty for a node searched without a histogram (from its
// rows sorted by bin, as small nodes are).
struct NodeHistograms {
  std::vector<int32_t> features;
  std::vector<int64_t> values;
  // Appends feature f's n_values statistics from `first`.
  void add(int32_t f, const int64_t* first, std::size_t n_values) {
    features.push_back(f);
    values.insert(values.end(), first, first + n_values);
  }
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

  // How many tree jobs over the rows of `bins` this backend wants in one batch:
  // enough to keep it busy, within its own memory (device memory for CUDA,
  // after the data a batch keeps resident). The caller may use fewer (host
  // memory, or a batch that met DeviceMemoryError); results never depend on
  // the batch.
  virtual std::size_t batch_jobs(const BinnedMatrix& bins) const = 0;

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

  // The entries of every frontier node, in frontier order: the rows (ascending)
  // and bootstrap multiplicities whose statistics the node's histograms sum.
  // Valid after begin (the sampled rows) and after each apply_splits (the
  // partitioned rows). For tests that compare backends level by level; a
  // training never calls it (the CUDA backend copies its entries back).
  virtual void frontier_entries(std::vector<std::vector<RowEntry>>& out) const = 0;

  // With capture on, find_splits also keeps each frontier node's histograms
  // of its sampled features, which level_histograms then returns in frontier
  // order. For the same tests; off by default, and a training never turns it
  // on (the CUDA backend copies its level's histograms back).
  virtual void capture_histograms(bool on) = 0;
  virtual void level_histograms(std::vector<NodeHistograms>& out) const = 0;

  // Ends the batch and releases its memory. Also called, once, after begin,
  // find_splits or apply_splits threw (grow_batch), so the backend must accept
  // it in any state a failed call left.
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

// The CUDA backend on device `device_index` (kernels/tree_backend_cuda.cu);
// returns the same splits, statistics and partitions as the CPU backend.
// Throws std::runtime_error("built without CUDA") in a build without CUDA.
std::unique_ptr<TreeBackend> make_cuda_tree_backend(int device_index, const CudaTuning& tuning = {});

// Device seconds a CUDA backend made with CudaTuning::time_histograms has spent
// in its histogram launches since it was made; 0 for any other backend.
double cuda_histogram_seconds(const TreeBackend& backend);

// Histogram launches a CUDA backend has run in thread-block clusters
// (CudaTuning::histogram_cluster_blocks) since it was made; 0 for any other
// backend. Tells a measurement or test that the clusters ran rather than the
// plain launch a device without them takes.
int64_t cuda_cluster_launches(const TreeBackend& backend);

}  // namespace canopy
