// The CPU backend through the level loop, recorded level by level
// (recording_backend.h): its frontier entries are the jobs' sampled rows, then
// at every level exactly the parent's entries split by the applied split
// (goes_left, stable), so the recorder that the GPU tests compare with is
// itself checked against the rule.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "host/grower.h"
#include "host/training_data.h"
#include "kernels/histogram.h"
#include "kernels/partition.h"
#include "recording_backend.h"
#include "test_util.h"

namespace canopy {
namespace {

TEST(CpuBackend, FrontierEntriesFollowTheSampleAndTheSplits) {
  const TrainingData td = test::synthetic_classification(1500, 6, 0.1, 4, 32);
  BatchData batch;
  batch.bins = &td.bins;
  batch.cuts = &td.cuts;
  batch.layout = StatsLayout::make(td.n_classes, false);
  batch.class_id = td.class_id.data();

  // Four jobs: bootstrap multiplicities, every row once, a sparse sample whose
  // root may not split (max_depth 0), and bootstrap again with 5 of the 6
  // features a node (the subtraction trick: histograms of every feature).
  const std::size_t n = td.n_rows();
  std::mt19937_64 rng(9);
  std::vector<JobSpec> jobs(4);
  std::vector<GrowLimits> limits(4);
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    jobs[j].seed = 2;
    jobs[j].tree_index = static_cast<uint32_t>(j);
    jobs[j].features_per_node = j == 3 ? 5 : 3;
    jobs[j].multiplicity.assign(n, j == 1 ? 1 : 0);
    if (j == 0 || j == 3)
      for (std::size_t d = 0; d < n; ++d) ++jobs[j].multiplicity[rng() % n];
    if (j == 2)
      for (std::size_t r = 0; r < n; r += 5) jobs[j].multiplicity[r] = 3;
  }
  limits[0].max_depth = 6;
  limits[1].max_depth = 4;
  limits[2].max_depth = 0;
  limits[3].max_depth = 5;
  std::vector<std::vector<uint32_t>> sampled;
  for (const JobSpec& j : jobs) sampled.push_back(j.multiplicity);  // begin consumes them

  auto cpu = make_cpu_tree_backend();
  test::RecordingBackend rec(*cpu);
  std::vector<GrownTree> out;
  grow_batch(rec, batch, jobs, limits, out);

  // The roots: every job's rows with a multiplicity, ascending (job 2's root
  // cannot split, so restrict_frontier drops it).
  ASSERT_GE(rec.levels.size(), 3u);
  ASSERT_EQ(rec.levels[0].entries.size(), 3u);
  for (std::size_t j : {0, 1, 3}) {
    std::vector<uint32_t> rows, mults;
    for (const RowEntry& e : rec.levels[0].entries[j == 3 ? 2 : j]) rows.push_back(e.row), mults.push_back(e.mult);
    std::vector<uint32_t> want_rows, want_mults;
    for (std::size_t r = 0; r < n; ++r)
      if (sampled[j][r] > 0) want_rows.push_back(static_cast<uint32_t>(r)), want_mults.push_back(sampled[j][r]);
    EXPECT_EQ(rows, want_rows) << "job " << j;
    EXPECT_EQ(mults, want_mults) << "job " << j;
  }

  // Every later level: the kept children of each split node, left then right.
  std::size_t splits = 0;
  for (std::size_t l = 0; l + 1 < rec.levels.size(); ++l) {
    const test::RecordedLevel& at = rec.levels[l];
    ASSERT_EQ(at.applied.size(), at.entries.size());
    std::vector<std::vector<RowEntry>> want;
    for (std::size_t i = 0; i < at.entries.size(); ++i) {
      const SplitChoice& s = at.applied[i];
      if (!s.valid()) continue;
      ++splits;
      std::vector<RowEntry> side[2];
      for (const RowEntry& e : at.entries[i]) {
        const uint8_t b = td.bins.bins[static_cast<std::size_t>(e.row) * td.n_features() + s.feature];
        side[goes_left(b, s.bin, s.missing_left != 0) ? 0 : 1].push_back(e);
      }
      for (int c = 0; c < 2; ++c)
        if (at.keep_children[2 * i + c]) want.push_back(side[c]);
    }
    const std::vector<std::vector<RowEntry>>& got = rec.levels[l + 1].entries;
    ASSERT_EQ(got.size(), want.size()) << "level " << l + 1;
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].size(), want[i].size()) << "level " << l + 1 << ", node " << i;
      for (std::size_t e = 0; e < got[i].size(); ++e) {
        EXPECT_EQ(got[i][e].row, want[i][e].row) << "level " << l + 1 << ", node " << i << ", entry " << e;
        EXPECT_EQ(got[i][e].mult, want[i][e].mult);
      }
    }
  }
  EXPECT_GT(splits, 20u);

  // The captured histograms: each node's sampled features, each summed
  // directly over the node's recorded entries.
  const RowTargets targets{&batch.layout, batch.class_id, nullptr, nullptr, nullptr};
  const int32_t k = batch.layout.n_channels;
  std::size_t with_histograms = 0;
  for (std::size_t l = 0; l + 1 < rec.levels.size(); ++l) {
    const test::RecordedLevel& at = rec.levels[l];
    ASSERT_EQ(at.histograms.size(), at.entries.size()) << "level " << l;
    for (std::size_t i = 0; i < at.entries.size(); ++i) {
      const NodeHistograms& h = at.histograms[i];
      if (h.features.empty()) continue;  // searched from its sorted rows
      ++with_histograms;
      EXPECT_TRUE(h.features.size() == 3 || h.features.size() == 5) << h.features.size();
      std::vector<int64_t> want;
      for (int32_t f : h.features) {
        const uint32_t offsets[2] = {0, td.cuts.n_bins(f)};
        std::vector<int64_t> one(static_cast<std::size_t>(offsets[1]) * k, 0);
        accumulate_histogram_cpu(rows_of(td.bins), targets, at.entries[i].data(), at.entries[i].size(),
                                 FeatureSet{&f, offsets, 1}, one.data());
        want.insert(want.end(), one.begin(), one.end());
      }
      EXPECT_EQ(h.values, want) << "level " << l << ", node " << i;
    }
  }
  EXPECT_GT(with_histograms, 10u);
  EXPECT_TRUE(rec.levels.back().entries.empty()) << "the loop ends with an empty frontier";

  // The same jobs recorded twice agree with themselves (the comparison the
  // GPU tests make against this backend).
  std::vector<JobSpec> again(4);
  for (std::size_t j = 0; j < again.size(); ++j) {
    again[j].seed = 2;
    again[j].tree_index = static_cast<uint32_t>(j);
    again[j].features_per_node = j == 3 ? 5 : 3;
    again[j].multiplicity = sampled[j];
  }
  auto cpu2 = make_cpu_tree_backend();
  test::RecordingBackend rec2(*cpu2);
  grow_batch(rec2, batch, again, limits, out);
  test::expect_same_levels(rec.levels, rec2.levels);
}

}  // namespace
}  // namespace canopy
