#pragma once
// A TreeBackend that forwards every call to another, for test backends that
// watch or perturb a few calls of a real one (tests/kernels/recording_backend.h,
// tests/host/forest_trainer_test.cc) and override only those.
#include <cstddef>
#include <vector>

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

}  // namespace canopy::test
