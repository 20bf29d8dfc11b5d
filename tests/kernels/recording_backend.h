#pragma once
// A TreeBackend that forwards to another and records each level of a batch as
// the level loop (grow_batch) drives it: the frontier nodes' entries (the
// sampled rows after begin, the partitioned rows after every apply_splits),
// the splits found and the splits applied. Two backends' records compare the
// row sampling, the split search and the partition one level at a time.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/tree_backend.h"

namespace canopy::test {

struct RecordedLevel {
  std::vector<std::vector<RowEntry>> entries;  // per frontier node
  std::vector<SplitChoice> found;              // find_splits' answers
  std::vector<int64_t> left_stats;             // find_splits' left statistics
  std::vector<SplitChoice> applied;            // what the level loop applied (some turned down)
  std::vector<uint8_t> keep_children;
};

class RecordingBackend final : public TreeBackend {
 public:
  explicit RecordingBackend(TreeBackend& inner) : inner_(inner) {}

  // Levels of the last batch; levels.back() has no splits (the loop ended).
  std::vector<RecordedLevel> levels;

  const char* name() const override { return inner_.name(); }
  std::size_t batch_jobs(const BinnedMatrix& bins) const override { return inner_.batch_jobs(bins); }
  void begin(const BatchData& data, std::vector<JobSpec>& jobs, std::vector<int64_t>& root_stats) override {
    levels.clear();
    inner_.begin(data, jobs, root_stats);
  }
  void restrict_frontier(const std::vector<uint8_t>& keep) override {
    inner_.restrict_frontier(keep);
    record_entries();
  }
  void find_splits(const std::vector<FrontierNode>& frontier, const std::vector<int64_t>& node_stats,
                   std::vector<SplitChoice>& best, std::vector<int64_t>& left_stats) override {
    inner_.find_splits(frontier, node_stats, best, left_stats);
    levels.back().found = best;
    levels.back().left_stats = left_stats;
  }
  void apply_splits(const std::vector<SplitChoice>& split, const std::vector<uint8_t>& keep_children) override {
    levels.back().applied = split;
    levels.back().keep_children = keep_children;
    inner_.apply_splits(split, keep_children);
    record_entries();
  }
  void frontier_entries(std::vector<std::vector<RowEntry>>& out) const override { inner_.frontier_entries(out); }
  void end() override { inner_.end(); }
  void assign_bins(const BinCuts& cuts, const std::vector<std::vector<float>>& columns,
                   BinnedMatrix& out) const override {
    inner_.assign_bins(cuts, columns, out);
  }
  void predict(const ForestNodes& forest, const ColumnsView& x, std::size_t tree_begin, std::size_t tree_end,
               double* out) const override {
    inner_.predict(forest, x, tree_begin, tree_end, out);
  }

 private:
  void record_entries() {
    levels.emplace_back();
    inner_.frontier_entries(levels.back().entries);
  }

  TreeBackend& inner_;
};

inline bool same_split(const SplitChoice& a, const SplitChoice& b) {
  return a.gain == b.gain && a.feature == b.feature && a.bin == b.bin && a.missing_left == b.missing_left &&
         a.default_left == b.default_left;
}

// Expects two recordings of the same jobs to agree exactly, level by level,
// and names the first level, node and entry that differ.
inline void expect_same_levels(const std::vector<RecordedLevel>& a, const std::vector<RecordedLevel>& b) {
  ASSERT_EQ(a.size(), b.size()) << "levels";
  for (std::size_t l = 0; l < a.size(); ++l) {
    SCOPED_TRACE("level " + std::to_string(l));
    ASSERT_EQ(a[l].entries.size(), b[l].entries.size()) << "frontier nodes";
    for (std::size_t i = 0; i < a[l].entries.size(); ++i) {
      const std::vector<RowEntry>& x = a[l].entries[i];
      const std::vector<RowEntry>& y = b[l].entries[i];
      ASSERT_EQ(x.size(), y.size()) << "entries of frontier node " << i;
      for (std::size_t e = 0; e < x.size(); ++e) {
        ASSERT_EQ(x[e].row, y[e].row) << "frontier node " << i << ", entry " << e;
        ASSERT_EQ(x[e].mult, y[e].mult) << "frontier node " << i << ", entry " << e << " (row " << x[e].row << ")";
      }
    }
    // Splits and left statistics of the nodes that have one (a node without a
    // valid split has no defined left statistics).
    const std::vector<SplitChoice>& fa = a[l].found;
    const std::vector<SplitChoice>& fb = b[l].found;
    ASSERT_EQ(fa.size(), fb.size());
    ASSERT_EQ(a[l].left_stats.size(), b[l].left_stats.size());
    const std::size_t k = fa.empty() ? 0 : a[l].left_stats.size() / fa.size();
    for (std::size_t i = 0; i < fa.size(); ++i) {
      ASSERT_EQ(fa[i].valid(), fb[i].valid()) << "frontier node " << i;
      if (!fa[i].valid()) continue;
      EXPECT_TRUE(same_split(fa[i], fb[i])) << "split of frontier node " << i;
      for (std::size_t c = 0; c < k; ++c)
        EXPECT_EQ(a[l].left_stats[i * k + c], b[l].left_stats[i * k + c]) << "frontier node " << i << ", channel " << c;
    }
    EXPECT_EQ(a[l].keep_children, b[l].keep_children);
  }
}

}  // namespace canopy::test
