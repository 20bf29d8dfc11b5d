#pragma once
// The CUDA backend's plan of one level, made on the host: the frontier cut
// into chunks that fit the level workspace, and for each chunk the node
// descriptions, the (node, sampled feature) pairs, the histogram work items,
// the siblings derived by the subtraction trick and the histograms kept for
// the next level. Plain C++ (no CUDA): tree_backend_cuda.cu uploads a plan and
// launches the kernels of tree_kernels.cuh on it, and the host test replays
// plans on the CPU over several levels (tests/kernels/level_plan_test.cc).
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/host_device.h"

namespace canopy {
namespace cuda_tree {

struct NodeDesc {
  int64_t begin, end;    // entries of the node
  int64_t hist_off;      // dense: offset (int64 units) of its histogram, max_bins x k statistics a feature
  int64_t scratch_off;   // offset (int64 units) of the scan scratch, -1 when none
  int32_t job, node, kf, dense;
  int32_t feat_off;      // first index of the node's features / (node, feature) pairs
  int32_t pair_scratch;  // int64 scratch per (node, feature) pair
  // 0: the histogram holds the node's kf sampled features in sample order;
  // 1: every feature in feature order (the subtraction trick). hist_feat_off:
  // where in the feature list the histogram's features start (feat_off, or
  // the identity list of every feature after the samples).
  int32_t all_features, hist_feat_off;
  // 1: the node's entries are every row once, entry begin + r = (row r,
  // multiplicity 1) (LevelSlot::identity): the histograms need not read them.
  int32_t identity, pad;
};

// Offset (int64 units) of the histogram of position j of node nd's feature
// sample (feats: the chunk's feature list).
CANOPY_HD int64_t sample_histogram_offset(const NodeDesc& nd, const int32_t* feats, int32_t j, int32_t max_bins,
                                          int32_t k) {
  const int32_t h = nd.all_features ? feats[nd.feat_off + j] : j;
  return nd.hist_off + static_cast<int64_t>(h) * max_bins * k;
}

struct HistItem {
  int32_t node;  // index into the chunk's NodeDesc
  int32_t j0;    // first feature (position in the node's histogram features) of the group
  int32_t nj;    // features in the group
  int32_t pad;
  int64_t e0, e1;
};

// out_base[out + x] = from_base[from + x] - (minus >= 0 ? minus_base[minus + x] : 0)
// for x < the length of an every-feature histogram: a sibling's histogram
// from its parent's, or a histogram kept for the next level.
struct HistCombine {
  int64_t out, from, minus;
};

// Histogram blocks a batch's plans count on running at once
// (LevelShape::resident_blocks): on each of sm_count multiprocessors, the
// blocks the kernel fits (fit_per_sm, its occupancy), at least 1, at most
// max_per_sm (HistogramPolicy::kBlocksPerSM) and, when cap_per_sm > 0
// (CudaTuning::histogram_blocks_per_sm), at most cap_per_sm.
constexpr int64_t resident_histogram_blocks(int64_t sm_count, int64_t fit_per_sm, int64_t max_per_sm,
                                            int64_t cap_per_sm) {
  const int64_t most = cap_per_sm > 0 && cap_per_sm < max_per_sm ? cap_per_sm : max_per_sm;
  return sm_count * (fit_per_sm < 1 ? 1 : fit_per_sm > most ? most : fit_per_sm);
}

// int64 groups of scan scratch per (sparse node of n rows, feature): missing +
// one group per row + the scan's left (split_scan.cu's sparse path).
constexpr int64_t sparse_scratch_groups(int64_t n) { return 1 + n + 1; }

}  // namespace cuda_tree

// A frontier node: job, node id, entries [begin, end) of the batch's entry
// array, and the subtraction trick's pool indices.
struct LevelSlot {
  int32_t job = 0;
  int32_t node = 0;
  int64_t begin = 0, end = 0;
  int32_t parent = -1;  // the parent's histogram in the parents' pool, -1 when none was kept
  int32_t kept = -1;    // this node's histogram in this level's pool, -1 when not kept
  // The root of a job whose entries are every row once (no bootstrap or row
  // sampling) under CudaTuning::histogram_identity_root: entry begin + r is
  // (row r, multiplicity 1). Children are never identity.
  bool identity = false;
  int64_t size() const { return end - begin; }
};

// What a batch's plans depend on besides the frontier.
struct LevelShape {
  int64_t n_features = 0;
  int32_t max_bins = 2;
  int32_t n_channels = 1;
  int32_t shared_group = 0;              // features per shared-memory group; 0: global atomics
  int64_t resident_blocks = 1;           // histogram blocks the device runs at once
  int64_t min_entries_per_block = 8192;  // HistogramPolicy::kEntriesPerBlock
  int64_t sparse_max_rows = 64;          // SplitPolicy::kSparseMaxRows: larger nodes are dense
  int32_t local_channels = 24;           // SplitPolicy::kLocalChannels
  std::vector<int32_t> kf;               // per job: features sampled a node
  std::vector<uint8_t> subtract;         // per job: histograms every feature, subtracts siblings
  int32_t max_kept = 0;                  // histograms a pool holds
  int32_t cluster_blocks = 1;            // CudaTuning::histogram_cluster_blocks: items in whole clusters

  // Features a dense node of job j histograms: every feature for a job that
  // subtracts, else its sample.
  int32_t hist_features(int32_t job) const {
    return subtract[job] ? static_cast<int32_t>(n_features) : (kf[job] > 0 ? kf[job] : 0);
  }
};

// One chunk's plan: [nodes] and [pair_node] as the kernels read them; the
// feature list is the nodes' samples (pair_node.size() of them, written on the
// device) followed, when any_all_features, by the identity list of every
// feature; combines: the n_derived derived siblings, then the kept histograms.
// items: a node's chunks of one feature group are consecutive; with clusters
// (LevelShape::cluster_blocks > 1) their count is a whole number of clusters,
// the last item repeated with no entries (e0 == e1) to fill the last one.
struct LevelPlan {
  std::vector<cuda_tree::NodeDesc> nodes;
  std::vector<int32_t> pair_node;
  std::vector<cuda_tree::HistItem> items;
  std::vector<cuda_tree::HistCombine> combines;
  std::size_t n_derived = 0;
  int64_t hist_len = 0, scratch_len = 0;
  int32_t max_group = 0;  // the widest histogram group
  bool any_all_features = false;
};

class LevelPlanner {
 public:
  explicit LevelPlanner(LevelShape shape = {}) : shape_(std::move(shape)) {}

  bool dense(const LevelSlot& s) const { return s.size() > shape_.sparse_max_rows; }
  int32_t hist_features(int32_t job) const { return shape_.hist_features(job); }
  // Values of an every-feature histogram.
  int64_t all_features_len() const { return shape_.n_features * shape_.max_bins * shape_.n_channels; }
  // Slots a and b are the two children of one kept histogram, both dense: the
  // smaller is histogrammed, the larger is the parent minus the smaller.
  bool siblings(const std::vector<LevelSlot>& slots, std::size_t a, std::size_t b) const;
  // Device workspace of one slot in a chunk (bytes).
  std::size_t workspace_bytes(const LevelSlot& s) const;

  // A new level: nothing kept yet (every slot's kept = -1).
  void start_level(std::vector<LevelSlot>& slots);
  // The end of the chunk that starts at i0: slots while their workspace fits
  // `budget` (at least one), never ending between siblings.
  std::size_t chunk_end(const std::vector<LevelSlot>& slots, std::size_t i0, std::size_t budget) const;
  // The plan of slots [i0, i1); sets kept on the slots whose histograms it keeps.
  LevelPlan plan(std::vector<LevelSlot>& slots, std::size_t i0, std::size_t i1);

 private:
  // A subtracting job's dense node with at least one row a histogram bin (a
  // smaller node's children cost less to histogram than to subtract), while
  // the pool has room.
  bool keeps_histogram(const LevelSlot& s) const;

  LevelShape shape_;
  int32_t n_kept_ = 0;  // this level's
};

}  // namespace canopy
