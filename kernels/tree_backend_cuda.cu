// CUDA tree backend (kernels/tree_backend.h). It returns exactly what the CPU
// backend (tree_backend_cpu.cc) returns: statistics are integers accumulated
// with integer atomics (order-free), the split scan is the shared
// scan_feature (split_scan.h) compiled with --fmad=false, the feature sample
// is the shared Philox sample_features, and the arg-max follows
// SplitChoice::better_than, a strict total order on valid candidates.
//
// This file holds the host side: what stays on the device, how a level's
// frontier becomes work items, and the order of the launches. The kernels
// live beside their CPU twins (kernels/tree_kernels.cuh lists them).
//
// Device-resident data:
//   - the binned matrix, uploaded once and kept across begin() calls while the
//     same matrix comes again (a sweep or the batches of a forest upload once),
//     and its feature-major copy for the partition where memory allows;
//   - class ids, fixed-point targets and row quanta (per begin);
//   - every job's in-bag entries (row, multiplicity), back to back, partitioned
//     by frontier node; the host keeps each node's [begin, end). Jobs given as
//     a RowSample are sampled on the device (row_sample.cu), and root
//     statistics are summed there (histogram.cu).
// Per level, for a chunk of frontier nodes sized to the workspace budget:
//   feature_sampling.cu  one thread per node: the node's feature sample;
//   histogram.cu         block -> (node, feature group, entry chunk); threads
//                        take entries (row-words: a row's words at once;
//                        rotated and swizzled rows: each lane in its own
//                        byte order) or (entry, feature) elements
//                        (CudaTuning); shared-memory privatised histograms
//                        (32-bit counters for unweighted classification, else
//                        int64, optionally added in 32-bit halves) flushed
//                        with global atomics, or global atomics
//                        when a feature's bins x channels do not fit shared
//                        memory (hundreds of classes);
//   split_scan.cu        one thread per (node, sampled feature): scan_feature
//                        over the histogram, or for small nodes over the rows
//                        sorted by bin (the CPU's sparse path; results are
//                        identical); one thread per node: arg-max under
//                        better_than; one block per node: the left child's
//                        statistics.
// apply_splits (partition.cu, over a partition_plan.h plan): go-left bits, a
// scan over the work items' counts and a placing pass (the default,
// CudaTuning::partition_two_pass; else a flag kernel, one CUB exclusive scan
// over all entries and a stable scatter), left counts copied back for the
// host's slots.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/cuda_util.cuh"
#include "kernels/histogram_walk.h"
#include "kernels/level_plan.h"
#include "kernels/parallel_for.h"
#include "kernels/partition_plan.h"
#include "kernels/phase_profile.h"
#include "kernels/row_sample.h"
#include "kernels/tree_backend.h"
#include "kernels/tree_kernels.cuh"

namespace canopy {
namespace {

using cuda_tree::DevJob;
using cuda_tree::DevTargets;
using cuda_tree::HistCombine;
using cuda_tree::HistItem;
using cuda_tree::HistogramPolicy;
using cuda_tree::NodeDesc;
using cuda_tree::PartItem;
using cuda_tree::PartitionPolicy;
using cuda_tree::PartSeg;
using cuda_tree::SplitPolicy;

struct MemoryPolicy {
  // The per-level workspace (histograms, scratch) may use this fraction of the
  // device memory left free after the batch's resident data; frontiers that
  // need more are processed in several chunks.
  static constexpr double kWorkspaceFraction = 0.5;
  static constexpr std::size_t kMinWorkspace = std::size_t(64) << 20;
  static constexpr std::size_t kMaxWorkspace = std::size_t(16) << 30;
  // Trees per batch at most (host-side per-level bookkeeping grows with it).
  static constexpr std::size_t kMaxBatchJobs = 512;
  // Per-row targets a batch uploads at most: a class id (4 bytes) or a
  // fixed-point target (8), and an integer row weight (8).
  static constexpr double kTargetBytesPerRow = 16.0;
  // CudaTuning::partition_columns keeps its feature-major copy of the bins
  // only where the copy takes at most this fraction of the device memory
  // free after the batch's entries (made after them, so it never decides
  // whether the batch that makes it fits); otherwise the partition reads the
  // rows (the same result).
  static constexpr double kColumnsFraction = 0.25;
};

// ---------------------------------------------------------------------------
// Host side.

template <typename T>
void upload_to(DeviceArray<T>& d, const std::vector<T>& h, const char* what) {
  cuda_util::ensure_capacity(d, std::max<std::size_t>(1, h.size()), what);
  if (!h.empty()) d.upload(h.data(), h.size());
}

class CudaTreeBackend final : public TreeBackend {
 public:
  CudaTreeBackend(int device, const CudaTuning& tuning) : device_(device), tuning_(tuning) {
    cuda_util::ScopedDevice scoped(device_);
    CANOPY_CUDA_CHECK(cudaFree(nullptr));  // create the context now, so errors surface here
    CANOPY_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device_));
    int block_optin = 0;
    CANOPY_CUDA_CHECK(cudaDeviceGetAttribute(&block_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_));
    hist_shared_bytes_ = std::clamp<std::size_t>(
        tuning_.histogram_shared_bytes, 1024,
        std::max<std::size_t>(1024, static_cast<std::size_t>(block_optin) - HistogramPolicy::kStaticSharedBytes));
    if (tuning_.time_histograms) histogram_timer_ = std::make_unique<cuda_util::DeviceTimer>();
  }

  // CudaTuning::time_histograms: the histogram launches' device seconds so far.
  double histogram_seconds() const { return histogram_timer_ ? histogram_timer_->total_seconds() : 0.0; }
  int64_t cluster_launches() const { return cluster_launches_; }

  const char* name() const override { return "cuda"; }

  void assign_bins(const BinCuts& cuts, const std::vector<std::vector<float>>& columns,
                   BinnedMatrix& out) const override {
    assign_bins_cuda(cuts, columns, out, device_);
  }

  // Cross-validation and sweeps call this from several host threads at once
  // (parallel_evaluations). predict_cuda sizes its buffers from the device's
  // free memory, so the calls take the device one at a time: two that read the
  // same free memory would otherwise both claim most of it.
  void predict(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin, std::size_t tree_end,
               double* out) const override {
    const std::lock_guard<std::mutex> one_at_a_time(predict_mutex_);
    predict_cuda(forest, x, tree_begin, tree_end, out, device_);
  }

  // A level of every job of a batch is one launch per kernel, so bigger batches
  // fill the device better. From the free memory go the data a batch keeps
  // resident (the binned matrix unless it is cached already, the targets) and
  // the smallest level workspace; each job keeps up to n_rows entries resident
  // (entries, their scatter copy, flags and, but for the two-pass partition,
  // scan: 24 or 20 bytes), and the level workspace takes up to
  // kWorkspaceFraction of what is left. An estimate: a batch that still meets
  // DeviceMemoryError is split by the trainer.
  std::size_t batch_jobs(const BinnedMatrix& bins) const override {
    cuda_util::ScopedDevice scoped(device_);
    const double n_rows = static_cast<double>(std::max<std::size_t>(1, bins.n_rows));
    const bool cached = bins_key_ == BinnedMatrixKey::of(bins) && !bins_.empty();
    const std::size_t workspace =
        tuning_.workspace_bytes > 0 ? tuning_.workspace_bytes : MemoryPolicy::kMinWorkspace;  // at least
    const double resident = (cached ? 0.0 : n_rows * static_cast<double>(device_row_stride(tuning_, bins.n_features))) +
                            n_rows * MemoryPolicy::kTargetBytesPerRow + static_cast<double>(workspace);
    const double free_bytes = std::max(0.0, static_cast<double>(cuda_util::free_device_memory()) - resident);
    const double per_entry = tuning_.partition_two_pass ? 20.0 : 24.0;
    const double fit = (1.0 - MemoryPolicy::kWorkspaceFraction) * free_bytes / (per_entry * n_rows);
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
    std::vector<uint8_t> identity(n_jobs, 0);  // entries of every row once, ascending (LevelSlot::identity)
    const int32_t nc = lay.n_classes;
    parallel_for(n_jobs, std::thread::hardware_concurrency(), [&](std::size_t j) {
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
        identity[j] = e.size() == nr && draws[j] == nr;  // every multiplicity >= 1, so each is 1
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
    // (unweighted classification), so a block's sum is at most the job's
    // draws; and no count channel, so their kernels add one channel an entry
    // (histogram.cu's kPlainClasses).
    hist32_ = !lay.regression() && lay.count_channel < 0 && !data.row_quantum && !has_cq &&
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
    // scan_: the flag partition's scan over every entry, and device sampling's
    // in-sample flags (n_rows + 1) before it.
    plan((tuning_.partition_two_pass ? (any_sampled ? nr + 1 : 1) : slots) * sizeof(uint32_t), scan_.bytes());
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
      else if (!specs_[j].sample.empty()) {
        n = sample_on_device(specs_[j], nr, entries_.data() + offsets[j]);
        // Each row at most once (draws == 0: each listed row once), ascending.
        identity[j] = specs_[j].sample.draws == 0 && n == static_cast<int64_t>(nr);
      }
      offsets[j + 1] = offsets[j] + n;
    }
    total_entries_ = offsets[n_jobs];
    std::vector<std::vector<RowEntry>>().swap(host_entries);
    release_sampling();
    const std::size_t used = static_cast<std::size_t>(total_entries_ + 1);
    cuda_util::ensure_capacity(entries_tmp_, used, "row entries");
    cuda_util::ensure_capacity(flags_, used, "partition flags");
    if (tuning_.partition_two_pass)
      scan_ = {};  // done with the sampling flags
    else
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
    targets_.class_byte = -1;  // until the walks are chosen

    root_statistics(offsets, root_stats);
    keep_columns();

    slots_.clear();
    for (std::size_t j = 0; j < n_jobs; ++j) {
      LevelSlot s;
      s.job = static_cast<int32_t>(j);
      s.begin = offsets[j];
      s.end = offsets[j + 1];
      s.identity = tuning_.histogram_identity_root && identity[j];
      slots_.push_back(s);
    }

    const double free_now = static_cast<double>(cuda_util::free_device_memory());
    workspace_budget_ = tuning_.workspace_bytes > 0
                            ? tuning_.workspace_bytes
                            : std::min(MemoryPolicy::kMaxWorkspace,
                                       std::max(MemoryPolicy::kMinWorkspace,
                                                static_cast<std::size_t>(MemoryPolicy::kWorkspaceFraction * free_now)));
    LevelShape shape;
    shape.n_features = nf_;
    shape.max_bins = max_bins_;
    shape.n_channels = lay.n_channels;
    walks_ = HistogramWalks(
        tuning_, HistogramBatchShape{nf_, bin_stride_, max_bins_, lay.n_channels, hist32_, hist_shared_bytes_});
    shape.shared_group = walks_.shared_group();
    if (data.class_id) {
      targets_.class_byte = walks_.row_class_byte();
      if (targets_.class_byte >= 0)  // rewritten each batch: the cached rows may have met other class ids
        cuda_tree::write_row_classes(class_id_.data(), static_cast<int64_t>(nr), bin_stride_, targets_.class_byte,
                                     bins_.data());
    }
    shape.min_entries_per_block = HistogramPolicy::kEntriesPerBlock;
    shape.sparse_max_rows = SplitPolicy::kSparseMaxRows;
    shape.local_channels = SplitPolicy::kLocalChannels;
    shape.kf.resize(n_jobs);
    shape.subtract.assign(n_jobs, 0);
    for (std::size_t j = 0; j < n_jobs; ++j) {
      shape.kf[j] = jobs_host_[j].kf;
      shape.subtract[j] = tuning_.histogram_subtraction && 2 * static_cast<int64_t>(jobs_host_[j].kf) > nf_;
    }
    reserve_kept_histograms(shape, offsets);  // may turn the subtraction off
    // Histogram blocks resident per multiprocessor for the widest group of
    // the batch, under the walk its launches take (the kernel variant's
    // registers and shared memory decide), at most kBlocksPerSM and
    // CudaTuning::histogram_blocks_per_sm; the subtraction trick's jobs
    // histogram every feature.
    int32_t widest = 1;
    for (std::size_t j = 0; j < n_jobs; ++j) widest = std::max(widest, shape.hist_features(static_cast<int32_t>(j)));
    widest = std::min(walks_.shared_group(), widest);
    const bool any_subtract = std::any_of(shape.subtract.begin(), shape.subtract.end(), [](uint8_t s) { return s; });
    const CudaTuning widest_launch = walks_.launch(walks_.dense(widest, any_subtract));
    shape.resident_blocks = cuda_tree::resident_histogram_blocks(
        sm_count_,
        cuda_tree::histogram_blocks_per_sm(walks_.counters(), widest_launch, bin_stride_,
                                           walks_.shared_bytes(widest_launch, widest)),
        HistogramPolicy::kBlocksPerSM, tuning_.histogram_blocks_per_sm);
    // Only the swizzled walk's launches run in clusters (histogram.cu's
    // clustered): the other walks' items are not padded.
    shape.cluster_blocks =
        tuning_.histogram_mapping == CudaTuning::HistogramMapping::kSwizzledRows && walks_.needs_dense_groups()
            ? tuning_.histogram_cluster_blocks
            : 1;
    planner_ = LevelPlanner(std::move(shape));
    all_features_.resize(static_cast<std::size_t>(nf_));
    std::iota(all_features_.begin(), all_features_.end(), 0);
    profile_.add("begin: rest", t);
  }

  void restrict_frontier(const std::vector<uint8_t>& keep) override {
    std::vector<LevelSlot> next;
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
    captured_.assign(capture_ ? n : 0, {});
    for (std::size_t i = 0; i < n; ++i) slots_[i].node = frontier[i].node;
    planner_.start_level(slots_);
    std::size_t i0 = 0;
    while (i0 < n) {
      const std::size_t i1 = planner_.chunk_end(slots_, i0, workspace_budget_);
      process_chunk(i0, i1, node_stats, best, left_stats);
      i0 = i1;
    }
  }

  void apply_splits(const std::vector<SplitChoice>& split, const std::vector<uint8_t>& keep) override {
    if (split.size() != slots_.size()) throw std::logic_error("cuda backend: split count mismatch");
    cuda_util::ScopedDevice scoped(device_);
    const PartitionPlan plan = plan_partition(slots_, split, keep, PartitionPolicy::kEntriesPerBlock);
    const std::vector<PartSeg>& segs = plan.segs;
    const std::vector<PartItem>& items = plan.items;
    std::vector<int64_t> n_left(segs.size(), 0);
    auto t = profile_.now();
    if (!segs.empty()) {
      upload_to(segs_, segs, "partition segments");
      upload_to(part_items_, items, "partition work items");
      cuda_util::ensure_capacity(seg_left_, segs.size(), "partition counts");
      const cuda_tree::SplitBins bins =
          cuda_tree::split_bins(bins_.data(), bin_stride_, columns_.empty() ? nullptr : columns_.data(),
                                static_cast<int64_t>(data_.bins->n_rows));
      const auto n_items = static_cast<unsigned>(items.size());
      if (tuning_.partition_two_pass) {
        // The go-left words take flags_ (an item of n entries has at most n words).
        cuda_util::ensure_capacity(item_left_, items.size() + 1, "partition counts");
        cuda_util::ensure_capacity(item_prefix_, items.size() + 1, "partition counts");
        cuda_tree::partition_segments_two_pass(part_items_.data(), n_items, segs_.data(),
                                               static_cast<int32_t>(segs.size()), bins, entries_.data(), flags_.data(),
                                               item_left_.data(), item_prefix_.data(), cub_temp_, seg_left_.data(),
                                               entries_tmp_.data());
      } else {
        cuda_tree::partition_segments(part_items_.data(), n_items, segs_.data(), static_cast<int32_t>(segs.size()),
                                      bins, entries_.data(), total_entries_, flags_.data(), scan_.data(), cub_temp_,
                                      seg_left_.data(), entries_tmp_.data());
      }
      seg_left_.download(n_left.data(), segs.size());
      // Only the entries of split nodes that keep a child were scattered; the
      // next frontier holds nothing else, so the scratch array simply becomes
      // the entries.
      std::swap(entries_, entries_tmp_);
    }
    profile_.add("partition", t);
    std::vector<LevelSlot> next;
    for (std::size_t g = 0; g < segs.size(); ++g) {
      const std::size_t i = plan.seg_slot[g];
      const LevelSlot& s = slots_[i];
      const int64_t mid = s.begin + n_left[g];
      if (keep[2 * i]) next.push_back(LevelSlot{s.job, 0, s.begin, mid, s.kept});
      if (keep[2 * i + 1]) next.push_back(LevelSlot{s.job, 0, mid, s.end, s.kept});
    }
    slots_.swap(next);
    // This level's kept histograms are the next level's parents.
    std::swap(parent_hists_, kept_hists_);
  }

  void capture_histograms(bool on) override { capture_ = on; }
  void level_histograms(std::vector<NodeHistograms>& out) const override { out = captured_; }

  void frontier_entries(std::vector<std::vector<RowEntry>>& out) const override {
    cuda_util::ScopedDevice scoped(device_);
    std::vector<RowEntry> all(static_cast<std::size_t>(total_entries_));
    if (!all.empty()) entries_.download(all.data(), all.size());
    out.clear();
    for (const LevelSlot& s : slots_)
      out.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(s.begin),
                       all.begin() + static_cast<std::ptrdiff_t>(s.end));
  }

  void end() override {
    profile_.report();
    slots_.clear();
    specs_.clear();
    total_entries_ = 0;
    // Per-batch memory goes; the binned matrix stays cached for the next batch.
    class_id_ = {};
    y_fixed_ = {};
    row_quantum_ = {};
    entries_ = {};
    entries_tmp_ = {};
    flags_ = {};
    scan_ = {};
    cub_temp_ = {};
    parent_hists_ = {};
    kept_hists_ = {};
    release_sampling();  // left held only by a begin() that threw
    release_workspace();
  }

 private:
  // --- helpers -------------------------------------------------------------

  template <typename T>
  void upload_ptr(DeviceArray<T>& d, const T* host, std::size_t n, const char* what) {
    cuda_util::ensure_capacity(d, std::max<std::size_t>(1, n), what);
    if (n > 0) d.upload(host, n);
  }

  // Row r's bins go to bins_ + r * bin_stride_, bin_stride_ =
  // device_row_stride (cudaMalloc's start is sector-aligned, so padded rows
  // touch the fewest 32-byte sectors). The padding is zeroed (defined for
  // whole-word reads); no result depends on it but the class ids that
  // CudaTuning::histogram_row_classes writes into its last byte at each
  // batch's start (HistogramWalks::row_class_byte).
  void upload_bins(const BinnedMatrix& m) {
    const BinnedMatrixKey key = BinnedMatrixKey::of(m);
    if (bins_key_ == key && !bins_.empty()) return;
    bins_key_ = BinnedMatrixKey{};
    columns_ = {};  // the old matrix's copy; keep_columns() makes the new one
    const std::size_t nf = m.n_features;
    const std::size_t stride = device_row_stride(tuning_, nf);
    cuda_util::ensure_capacity(bins_, std::max<std::size_t>(1, m.n_rows * stride), "the binned matrix");
    bin_stride_ = static_cast<int64_t>(stride);
    if (!m.bins.empty()) {
      if (stride == nf)
        bins_.upload(m.bins.data(), m.bins.size());
      else {
        DeviceArray<uint8_t> packed;
        cuda_util::ensure_capacity(packed, m.bins.size(), "the binned matrix's upload");
        packed.upload(m.bins.data(), m.bins.size());
        cuda_tree::pad_bin_rows(packed.data(), static_cast<int64_t>(m.n_rows), static_cast<int64_t>(nf),
                                static_cast<int64_t>(stride), bins_.data());
      }
    }
    bins_key_ = key;
  }

  // CudaTuning::partition_columns: makes the feature-major copy of bins_ where
  // none is kept yet and it takes at most kColumnsFraction of the free device
  // memory. Called once the batch's entries are allocated and before the
  // level workspace is sized, so the copy is made from what the entries leave
  // and never decides whether this batch fits (later batches, sized by
  // batch_jobs while it is held, count it). A batch that goes without it
  // tries again; the partition reads the rows meanwhile, with the same result.
  void keep_columns() {
    const BinnedMatrix& m = *data_.bins;
    const std::size_t columns_bytes = m.n_rows * m.n_features;
    if (!tuning_.partition_columns || !columns_.empty() || columns_bytes == 0 ||
        static_cast<double>(columns_bytes) >
            MemoryPolicy::kColumnsFraction * static_cast<double>(cuda_util::free_device_memory()))
      return;
    cuda_util::ensure_capacity(columns_, columns_bytes, "the feature-major bins");
    cuda_tree::bins_to_columns(bins_.data(), bin_stride_, static_cast<int64_t>(m.n_rows),
                               static_cast<int64_t>(m.n_features), columns_.data());
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
    // The in-sample flags go to scan_ (free until the batch's partitions).
    cuda_util::ensure_capacity(scan_, n_rows + 1, "row multiplicities");
    return cuda_tree::sample_entries(spec.seed, spec.tree_index, spec.sample.draws, sample_rows_.data(),
                                     static_cast<int64_t>(rows.size()), static_cast<int64_t>(n_rows),
                                     sample_mult_.data(), scan_.data(), sample_scan_.data(), cub_temp_, out);
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
    cuda_tree::root_statistics(part_items_.data(), static_cast<unsigned>(items.size()), jobs_.data(), entries_.data(),
                               targets_, root);
    left_.download(root_stats.data(), root_stats.size());
  }

  void release_workspace() {
    nodes_ = {};
    pair_node_ = {};
    hist_items_ = {};
    combines_ = {};
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
    item_left_ = {};
    item_prefix_ = {};
    seg_left_ = {};
  }

  // The subtraction trick's two pools of kept histograms (this level's, and
  // the parents'): up to a quarter of the level workspace each, taken out of
  // it, and no more than a level can keep (a kept node has at least
  // n_features x max_bins entries, and a level's nodes share none: at most
  // the subtracting jobs' entries / (n_features x max_bins) kept); sets
  // shape.max_kept. Where not one histogram fits, no job subtracts. offsets:
  // each job's entries, as begin() laid them out.
  void reserve_kept_histograms(LevelShape& shape, const std::vector<int64_t>& offsets) {
    shape.max_kept = 0;
    parent_hists_ = {};
    kept_hists_ = {};
    int64_t subtract_entries = 0;
    for (std::size_t j = 0; j < shape.subtract.size(); ++j)
      if (shape.subtract[j]) subtract_entries += offsets[j + 1] - offsets[j];
    if (subtract_entries == 0) return;
    const std::size_t len = static_cast<std::size_t>(nf_ * max_bins_ * shape.n_channels);
    const std::size_t pool = workspace_budget_ / 4;
    const int64_t level_max = subtract_entries / (nf_ * max_bins_);
    shape.max_kept = static_cast<int32_t>(
        std::min<std::size_t>({pool / (len * sizeof(int64_t)), static_cast<std::size_t>(level_max), INT32_MAX}));
    if (shape.max_kept == 0) {
      std::fill(shape.subtract.begin(), shape.subtract.end(), 0);
      return;
    }
    cuda_util::ensure_capacity(parent_hists_, shape.max_kept * len, "kept histograms");
    cuda_util::ensure_capacity(kept_hists_, shape.max_kept * len, "kept histograms");
    workspace_budget_ -= 2 * shape.max_kept * len * sizeof(int64_t);
  }

  void process_chunk(std::size_t i0, std::size_t i1, const std::vector<int64_t>& node_stats,
                     std::vector<SplitChoice>& best, std::vector<int64_t>& left_stats) {
    auto t = profile_.now();
    const int32_t k = data_.layout.n_channels;
    const int32_t m = static_cast<int32_t>(i1 - i0);
    const LevelPlan plan = planner_.plan(slots_, i0, i1);
    const std::vector<int32_t>& pair_node = plan.pair_node;
    const std::vector<HistItem>& items = plan.items;
    const int32_t n_pairs = static_cast<int32_t>(pair_node.size());
    const int64_t all_len = planner_.all_features_len();
    t = profile_.add("level: host prep", t);
    if (pair_node.size() > static_cast<std::size_t>(INT32_MAX) || items.size() > static_cast<std::size_t>(INT32_MAX))
      throw std::runtime_error("cuda backend: too many frontier nodes in one chunk");

    upload_to(nodes_, plan.nodes, "frontier nodes");
    upload_to(pair_node_, pair_node, "(node, feature) pairs");
    upload_to(hist_items_, items, "histogram work items");
    upload_ptr(totals_, node_stats.data() + i0 * k, static_cast<std::size_t>(m) * k, "node statistics");
    cuda_util::ensure_capacity(perm_, std::max<std::size_t>(1, static_cast<std::size_t>(m) * nf_), "feature sampling");
    cuda_util::ensure_capacity(feats_, std::max<std::size_t>(1, pair_node.size() + nf_), "sampled features");
    if (plan.any_all_features)
      CANOPY_CUDA_CHECK(cudaMemcpy(feats_.data() + n_pairs, all_features_.data(), all_features_.size() * sizeof(int32_t),
                                   cudaMemcpyHostToDevice));
    upload_to(combines_, plan.combines, "histogram subtractions");
    cuda_util::ensure_capacity(choices_, std::max<std::size_t>(1, pair_node.size()), "split candidates");
    cuda_util::ensure_capacity(hist_, std::max<std::size_t>(1, plan.hist_len), "histograms");
    cuda_util::ensure_capacity(scratch_, std::max<std::size_t>(1, plan.scratch_len), "split scratch");
    cuda_util::ensure_capacity(best_, static_cast<std::size_t>(m), "best splits");
    cuda_util::ensure_capacity(best_j_, static_cast<std::size_t>(m), "best splits");
    cuda_util::ensure_capacity(left_, static_cast<std::size_t>(m) * k, "left statistics");
    if (plan.hist_len > 0)
      CANOPY_CUDA_CHECK(cudaMemset(hist_.data(), 0, static_cast<std::size_t>(plan.hist_len) * sizeof(int64_t)));
    t = profile_phase("level: setup", t);

    cuda_tree::sample_node_features(nodes_.data(), m, jobs_.data(), static_cast<int32_t>(nf_), perm_.data(),
                                    feats_.data());
    if (histogram_timer_) histogram_timer_->start();
    // Whether every group is dense, which only the rotated- and swizzled-rows
    // walks ask.
    const bool dense = !walks_.needs_dense_groups() || std::all_of(items.begin(), items.end(), [&](const HistItem& it) {
      return walks_.dense(it.nj, plan.nodes[it.node].all_features != 0);
    });
    const CudaTuning launch = walks_.launch(dense);
    cluster_launches_ += cuda_tree::build_histograms(
        walks_.counters(), launch, static_cast<unsigned>(items.size()), walks_.shared_bytes(launch, plan.max_group),
        hist_items_.data(), nodes_.data(), jobs_.data(), feats_.data(), bins_.data(), bin_stride_, entries_.data(),
        targets_, max_bins_, reinterpret_cast<unsigned long long*>(hist_.data()));
    cuda_tree::combine_histograms(combines_.data(), static_cast<int32_t>(plan.n_derived), all_len, hist_.data(),
                                  parent_hists_.data(), hist_.data());
    cuda_tree::combine_histograms(combines_.data() + plan.n_derived,
                                  static_cast<int32_t>(plan.combines.size() - plan.n_derived), all_len,
                                  kept_hists_.data(), hist_.data(), nullptr);
    if (histogram_timer_) histogram_timer_->stop();
    if (capture_) capture_chunk(i0, plan, n_pairs);
    t = profile_phase("level: sample+histogram", t);
    cuda_tree::scan_splits(tuning_, n_pairs, pair_node_.data(), nodes_.data(), jobs_.data(), feats_.data(), totals_.data(),
                           hist_.data(), n_bins_.data(), max_bins_, bins_.data(), bin_stride_, entries_.data(), targets_,
                           scratch_.data(), choices_.data());
    cuda_tree::reduce_splits(m, nodes_.data(), choices_.data(), best_.data(), best_j_.data());
    cuda_tree::left_statistics(m, nodes_.data(), jobs_.data(), best_.data(), best_j_.data(), feats_.data(), hist_.data(), max_bins_,
                               bins_.data(), bin_stride_, entries_.data(), targets_, left_.data());
    best_.download(best.data() + i0, static_cast<std::size_t>(m));
    left_.download(left_stats.data() + i0 * k, static_cast<std::size_t>(m) * k);
    if (histogram_timer_) histogram_timer_->collect();
    profile_phase("level: split+reduce+left", t);
  }

  // capture_histograms: copies the chunk's histograms back and keeps, for each
  // of its dense nodes, those of its sampled features (sample_histogram_offset,
  // as the split scan reads them; max_bins_ x k statistics a feature, of which
  // the feature's n_bins x k are its).
  void capture_chunk(std::size_t i0, const LevelPlan& plan, int32_t n_pairs) {
    const int32_t k = data_.layout.n_channels;
    std::vector<int64_t> hist(static_cast<std::size_t>(plan.hist_len));
    std::vector<int32_t> feats(static_cast<std::size_t>(n_pairs));
    if (!hist.empty()) hist_.download(hist.data(), hist.size());
    if (!feats.empty()) feats_.download(feats.data(), feats.size());
    for (std::size_t q = 0; q < plan.nodes.size(); ++q) {
      const NodeDesc& nd = plan.nodes[q];
      if (!nd.dense) continue;
      NodeHistograms& out = captured_[i0 + q];
      for (int32_t j = 0; j < nd.kf; ++j) {
        const int32_t f = feats[static_cast<std::size_t>(nd.feat_off + j)];
        out.add(f, hist.data() + sample_histogram_offset(nd, feats.data(), j, max_bins_, k),
                static_cast<std::size_t>(data_.cuts->n_bins(f)) * k);
      }
    }
  }

  // Profiling only: waits for the device so the phase's kernels are counted in it.
  PhaseProfile::Clock::time_point profile_phase(const char* phase, PhaseProfile::Clock::time_point since) {
    if (!profile_.enabled()) return since;
    CANOPY_CUDA_CHECK(cudaDeviceSynchronize());
    return profile_.add(phase, since);
  }

  int device_;
  CudaTuning tuning_;
  mutable std::mutex predict_mutex_;   // predict: one call on the device at a time
  bool capture_ = false;               // capture_histograms
  std::vector<NodeHistograms> captured_;  // this level's, per frontier node
  std::size_t hist_shared_bytes_ = 0;  // tuning_'s, within the device's limit
  HistogramWalks walks_;               // this batch's histogram walks (begin)
  int sm_count_ = 1;
  PhaseProfile profile_{"cuda backend"};
  std::unique_ptr<cuda_util::DeviceTimer> histogram_timer_;  // CudaTuning::time_histograms
  int64_t cluster_launches_ = 0;                             // histogram launches run in clusters
  BatchData data_;
  int64_t nf_ = 0;
  int64_t bin_stride_ = 1;  // bytes from one row's bins to the next on the device
  int32_t max_bins_ = 2;
  bool hist32_ = false;  // shared histograms with 32-bit counters (this batch)
  int64_t total_entries_ = 0;
  std::size_t workspace_budget_ = MemoryPolicy::kMinWorkspace;
  std::vector<JobSpec> specs_;
  std::vector<DevJob> jobs_host_;
  std::vector<LevelSlot> slots_;
  DevTargets targets_{};
  LevelPlanner planner_;  // this batch's
  // The subtraction trick: the identity feature list, and the pools of kept
  // histograms (planner_'s all_features_len() values each, max_kept of them).
  std::vector<int32_t> all_features_;
  DeviceArray<int64_t> parent_hists_, kept_hists_;

  // Resident across batches.
  BinnedMatrixKey bins_key_;
  DeviceArray<uint8_t> bins_;
  DeviceArray<uint8_t> columns_;  // CudaTuning::partition_columns: bins_ feature-major (empty: not kept)
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
  DeviceArray<HistCombine> combines_;
  DeviceArray<int64_t> totals_, hist_, scratch_, left_, seg_left_;
  DeviceArray<SplitChoice> choices_, best_;
  DeviceArray<PartSeg> segs_;
  DeviceArray<PartItem> part_items_;
  DeviceArray<uint32_t> item_left_, item_prefix_;  // CudaTuning::partition_two_pass
};

}  // namespace

std::unique_ptr<TreeBackend> make_cuda_tree_backend(int device_index, const CudaTuning& tuning) {
  return std::make_unique<CudaTreeBackend>(device_index, tuning);
}

double cuda_histogram_seconds(const TreeBackend& backend) {
  const auto* cuda = dynamic_cast<const CudaTreeBackend*>(&backend);
  return cuda ? cuda->histogram_seconds() : 0.0;
}

int64_t cuda_cluster_launches(const TreeBackend& backend) {
  const auto* cuda = dynamic_cast<const CudaTreeBackend*>(&backend);
  return cuda ? cuda->cluster_launches() : 0;
}

}  // namespace canopy
