#pragma once
// A TreeBackend that forwards to another and records each level of a batch as
// the level loop (grow_batch) drives it: the frontier nodes' entries (the
// sampled rows after begin, the partitioned rows after every apply_splits),
// their histograms of their sampled features, the splits found and the splits
// applied. Two backends' records compare the row sampling, the histograms,
// the split search and the partition one level at a time.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "forwarding_backend.h"
#include "kernels/tree_backend.h"

namespace canopy::test {

struct RecordedLevel {
  std::vector<std::vector<RowEntry>> entries;  // per frontier node
  std::vector<NodeHistograms> histograms;      // per frontier node (capture_histograms)
  std::vector<SplitChoice> found;              // find_splits' answers
  std::vector<int64_t> left_stats;             // find_splits' left statistics
  std::vector<SplitChoice> applied;            // what the level loop applied (some turned down)
  std::vector<uint8_t> keep_children;
};

class RecordingBackend final : public ForwardingBackend {
 public:
  explicit RecordingBackend(TreeBackend& inner) : ForwardingBackend(inner) {}

  // Levels of the last batch; levels.back() has no splits (the loop ended).
  std::vector<RecordedLevel> levels;

  void begin(const BatchData& data, std::vector<JobSpec>& jobs, std::vector<int64_t>& root_stats) override {
    levels.clear();
    inner_.capture_histograms(true);
    inner_.begin(data, jobs, root_stats);
  }
  void restrict_frontier(const std::vector<uint8_t>& keep) override {
    inner_.restrict_frontier(keep);
    record_entries();
  }
  void find_splits(const std::vector<FrontierNode>& frontier, const std::vector<int64_t>& node_stats,
                   std::vector<SplitChoice>& best, std::vector<int64_t>& left_stats) override {
    inner_.find_splits(frontier, node_stats, best, left_stats);
    inner_.level_histograms(levels.back().histograms);
    levels.back().found = best;
    levels.back().left_stats = left_stats;
  }
  void apply_splits(const std::vector<SplitChoice>& split, const std::vector<uint8_t>& keep_children) override {
    levels.back().applied = split;
    levels.back().keep_children = keep_children;
    inner_.apply_splits(split, keep_children);
    record_entries();
  }
  void end() override {
    inner_.capture_histograms(false);
    inner_.end();
  }

 private:
  void record_entries() {
    levels.emplace_back();
    inner_.frontier_entries(levels.back().entries);
  }
};

inline bool same_split(const SplitChoice& a, const SplitChoice& b) {
  return a.gain == b.gain && a.feature == b.feature && a.bin == b.bin && a.missing_left == b.missing_left &&
         a.default_left == b.default_left;
}

// Expects two levels' histograms to agree on every node that has them in both
// (a node may be searched from its sorted rows, without one, in either) and
// returns how many nodes were compared; names the first feature, bin and
// channel that differ.
inline std::size_t expect_same_histograms(const std::vector<NodeHistograms>& a, const std::vector<NodeHistograms>& b,
                                          int32_t k) {
  EXPECT_EQ(a.size(), b.size()) << "frontier nodes with histograms";
  std::size_t compared = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].features.empty() || b[i].features.empty()) continue;
    ++compared;
    EXPECT_EQ(a[i].features, b[i].features) << "sampled features of frontier node " << i;
    if (a[i].features != b[i].features || a[i].values.size() != b[i].values.size()) {
      ADD_FAILURE() << "frontier node " << i << ": " << a[i].values.size() << " against " << b[i].values.size()
                    << " statistics";
      continue;
    }
    for (std::size_t v = 0; v < a[i].values.size(); ++v)
      if (a[i].values[v] != b[i].values[v]) {
        ADD_FAILURE() << "frontier node " << i << ", statistic " << v << " (channel " << v % k
                      << "; each sampled feature's n_bins x " << k << " in sample order): " << a[i].values[v]
                      << " against " << b[i].values[v];
        break;
      }
  }
  return compared;
}

// Expects two recordings of the same jobs to agree exactly, level by level,
// and names the first level, node and entry that differ.
inline void expect_same_levels(const std::vector<RecordedLevel>& a, const std::vector<RecordedLevel>& b) {
  ASSERT_EQ(a.size(), b.size()) << "levels";
  std::size_t histograms_compared = 0;
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
    if (k > 0) histograms_compared += expect_same_histograms(a[l].histograms, b[l].histograms, static_cast<int32_t>(k));
  }
  EXPECT_GT(histograms_compared, 0u) << "no node had histograms in both recordings";
}

}  // namespace canopy::test
