#pragma once
// Test backends over a real one: ForwardingBackend forwards every call, for
// those that watch or perturb a few calls (tests/kernels/recording_backend.h,
// TightMemoryBackend below) and override only those.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernels/device.h"
#include "kernels/tree_backend.h"

namespace canopy::test {

class ForwardingBackend : public TreeBackend {
 public:
  explicit ForwardingBackend(TreeBackend& inner) : inner_(inner) {}

  const char* name() const override { return inner_.name(); }
  std::size_t batch_jobs(const BinnedMatrix& bins) const override { return inner_.batch_jobs(bins); }
  void begin(const BatchData& data, std::vector<JobSpec>& jobs, std::vector<int64_t>& root_stats) override {
    inner_.begin(data, jobs, root_stats);
  }
  void restrict_frontier(const std::vector<uint8_t>& keep) override { inner_.restrict_frontier(keep); }
  void find_splits(const std::vector<FrontierNode>& frontier, const std::vector<int64_t>& node_stats,
                   std::vector<SplitChoice>& best, std::vector<int64_t>& left_stats) override {
    inner_.find_splits(frontier, node_stats, best, left_stats);
  }
  void apply_splits(const std::vector<SplitChoice>& split, const std::vector<uint8_t>& keep_children) override {
    inner_.apply_splits(split, keep_children);
  }
  void frontier_entries(std::vector<std::vector<RowEntry>>& out) const override { inner_.frontier_entries(out); }
  void capture_histograms(bool on) override { inner_.capture_histograms(on); }
  void level_histograms(std::vector<NodeHistograms>& out) const override { inner_.level_histograms(out); }
  void end() override { inner_.end(); }
  void assign_bins(const BinCuts& cuts, const std::vector<std::vector<float>>& columns,
                   BinnedMatrix& out) const override {
    inner_.assign_bins(cuts, columns, out);
  }
  void predict(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin, std::size_t tree_end,
               double* out) const override {
    inner_.predict(forest, x, tree_begin, tree_end, out);
  }

 protected:
  TreeBackend& inner_;
};

// A backend out of "device memory" in the first find_splits of any batch of
// more than `fits` jobs (after begin, so the failed batch holds state that
// end() must release), as the CUDA backend throws DeviceMemoryError. It asks
// for `wants` jobs a batch. (tests/host/forest_trainer_test.cc over the CPU
// backend; tests/kernels/cuda_backend_test.cc over the CUDA one.)
class TightMemoryBackend final : public ForwardingBackend {
 public:
  TightMemoryBackend(TreeBackend& inner, std::size_t wants, std::size_t fits)
      : ForwardingBackend(inner), wants_(wants), fits_(fits) {}

  const char* name() const override { return "tight"; }
  std::size_t batch_jobs(const BinnedMatrix&) const override { return wants_; }
  void begin(const BatchData& data, std::vector<JobSpec>& jobs, std::vector<int64_t>& root_stats) override {
    ++begun_;
    in_batch_ = true;
    batch_ = jobs.size();
    largest_ = std::max(largest_, batch_);
    inner_.begin(data, jobs, root_stats);
  }
  void find_splits(const std::vector<FrontierNode>& frontier, const std::vector<int64_t>& node_stats,
                   std::vector<SplitChoice>& best, std::vector<int64_t>& left_stats) override {
    if (batch_ > fits_) {
      ++failed_;
      throw DeviceMemoryError("cuda:0: level workspace needs 2 MiB of device memory, 1 MiB available");
    }
    inner_.find_splits(frontier, node_stats, best, left_stats);
  }
  void end() override {
    EXPECT_TRUE(in_batch_) << "end() once per begin()";
    in_batch_ = false;
    ++ended_;
    inner_.end();
  }

  std::size_t wants_, fits_;
  std::size_t batch_ = 0, largest_ = 0;
  int begun_ = 0, ended_ = 0, failed_ = 0;
  bool in_batch_ = false;
};

}  // namespace canopy::test
