// The CUDA backend's level plans (kernels/level_plan.h) replayed on the CPU
// over whole trees: each chunk's work items are histogrammed with plain
// loops as histogram.cu's kernels would (a work item: entries [e0, e1) of one
// node, features j0 .. j0 + nj - 1 of its histogram's feature list), its
// combines are applied between host pools as combine_kernel applies them,
// and every dense node's histogram is compared with one computed straight
// from its rows, for its sampled features (where the split scan reads them,
// sample_histogram_offset) and, when it holds every feature, for all of them.
// Nodes split by a fixed rule, so several levels of kept parents, derived
// siblings, lone children, chunk boundaries and a full pool all occur. The
// device launches themselves run in the GPU tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/histogram.h"
#include "kernels/level_plan.h"

namespace canopy {
namespace {

using cuda_tree::HistCombine;
using cuda_tree::HistItem;
using cuda_tree::NodeDesc;

constexpr int32_t kFeatures = 10, kBins = 12, kClasses = 3;

struct Data {
  std::vector<uint8_t> bins;  // row-major, kFeatures a row
  std::vector<int32_t> cls;
  uint8_t bin(uint32_t row, int32_t f) const { return bins[row * kFeatures + f]; }
};

Data make_data(std::size_t rows, std::mt19937& rng) {
  Data d;
  d.bins.resize(rows * kFeatures);
  for (auto& b : d.bins) b = static_cast<uint8_t>(rng() % kBins);
  d.cls.resize(rows);
  for (auto& c : d.cls) c = static_cast<int32_t>(rng() % kClasses);
  return d;
}

// hist[(feature position) * kBins * k + bin * k + class] over entries [b, e).
void add_rows(const Data& d, const std::vector<RowEntry>& entries, int64_t b, int64_t e, const int32_t* feats,
              int32_t n, int64_t* hist) {
  for (int64_t i = b; i < e; ++i)
    for (int32_t j = 0; j < n; ++j)
      hist[(static_cast<int64_t>(j) * kBins + d.bin(entries[i].row, feats[j])) * kClasses + d.cls[entries[i].row]] +=
          entries[i].mult;
}

struct Totals {
  int64_t levels = 0, chunks = 0, histogrammed = 0, derived = 0, kept = 0, lone_children = 0;
};

// Grows `depth` levels of the jobs (kf and subtract per job) under `shape`
// and a chunk budget, checking every histogram; `totals`: what happened.
void replay(LevelShape shape, std::size_t budget, int depth, Totals& totals) {
  std::mt19937 rng(5);
  const std::size_t rows = 3000;
  const Data d = make_data(rows, rng);
  const std::size_t n_jobs = shape.kf.size();
  std::vector<RowEntry> entries;
  std::vector<LevelSlot> slots;
  for (std::size_t j = 0; j < n_jobs; ++j) {  // about 63% of the rows, multiplicities 1 to 3
    LevelSlot s;
    s.job = static_cast<int32_t>(j);
    s.begin = static_cast<int64_t>(entries.size());
    for (uint32_t r = 0; r < rows; ++r)
      if (rng() % 100 < 63) entries.push_back({r, 1 + static_cast<uint32_t>(rng() % 3)});
    s.end = static_cast<int64_t>(entries.size());
    slots.push_back(s);
  }
  LevelPlanner planner(shape);
  const int64_t all_len = planner.all_features_len();
  std::vector<int64_t> parents(static_cast<std::size_t>(shape.max_kept * all_len), -1);
  std::vector<int64_t> kept(parents.size(), -1);
  std::vector<int32_t> identity(kFeatures);
  for (int32_t f = 0; f < kFeatures; ++f) identity[f] = f;
  for (int level = 0; level < depth && !slots.empty(); ++level) {
    ++totals.levels;
    planner.start_level(slots);
    for (std::size_t i0 = 0; i0 < slots.size();) {
      const std::size_t i1 = planner.chunk_end(slots, i0, budget);
      EXPECT_GT(i1, i0);
      if (i1 < slots.size()) EXPECT_FALSE(planner.siblings(slots, i1 - 1, i1)) << "siblings split across chunks";
      ++totals.chunks;
      const LevelPlan plan = planner.plan(slots, i0, i1);
      ASSERT_EQ(plan.nodes.size(), i1 - i0);
      // The features: each node's sample (distinct, varying by node), then the identity list.
      const int32_t n_pairs = static_cast<int32_t>(plan.pair_node.size());
      std::vector<int32_t> feats(n_pairs + kFeatures);
      for (const NodeDesc& nd : plan.nodes)
        for (int32_t j = 0; j < nd.kf; ++j) feats[nd.feat_off + j] = (nd.node + 3 * level + 7 * j) % kFeatures;
      std::copy(identity.begin(), identity.end(), feats.begin() + n_pairs);
      // Histogram work items, then the combines.
      std::vector<int64_t> hist(static_cast<std::size_t>(plan.hist_len), 0);
      std::vector<int32_t> items_of(plan.nodes.size(), 0);
      // A node's chunks of one group are consecutive (a cluster's blocks of
      // one group sum their histograms), in whole clusters.
      EXPECT_EQ(plan.items.size() % static_cast<std::size_t>(shape.cluster_blocks), 0u);
      for (std::size_t a = 0; a < plan.items.size(); ++a)
        for (std::size_t b = a + 2; b < plan.items.size(); ++b)
          if (plan.items[a].node == plan.items[b].node && plan.items[a].j0 == plan.items[b].j0)
            ASSERT_TRUE(plan.items[b - 1].node == plan.items[a].node && plan.items[b - 1].j0 == plan.items[a].j0)
                << "the chunks of node " << plan.items[a].node << ", group " << plan.items[a].j0 << " are apart";
      for (const HistItem& it : plan.items) {
        const NodeDesc& nd = plan.nodes[it.node];
        ASSERT_TRUE(nd.dense);
        ASSERT_LE(it.nj, std::max(plan.max_group, 1));
        ASSERT_LE(it.j0 + it.nj, nd.all_features ? kFeatures : nd.kf);
        ++items_of[it.node];
        add_rows(d, entries, it.e0, it.e1, feats.data() + nd.hist_feat_off + it.j0, it.nj,
                 hist.data() + nd.hist_off + static_cast<int64_t>(it.j0) * kBins * kClasses);
      }
      for (std::size_t c = 0; c < plan.combines.size(); ++c) {
        const HistCombine& hc = plan.combines[c];
        for (int64_t x = 0; x < all_len; ++x) {
          if (c < plan.n_derived) {
            ASSERT_GE(parents[hc.from + x], 0) << "a derived sibling reads a parent histogram never kept";
            hist[hc.out + x] = parents[hc.from + x] - hist[hc.minus + x];
          } else {
            kept[hc.out + x] = hist[hc.from + x];
          }
        }
      }
      totals.derived += static_cast<int64_t>(plan.n_derived);
      totals.kept += static_cast<int64_t>(plan.combines.size() - plan.n_derived);
      // Every dense node's histogram against its rows.
      for (std::size_t i = 0; i < plan.nodes.size(); ++i) {
        const NodeDesc& nd = plan.nodes[i];
        if (!nd.dense) {
          EXPECT_EQ(items_of[i], 0);
          continue;
        }
        totals.histogrammed += items_of[i] > 0;
        std::vector<int64_t> expected(static_cast<std::size_t>(kBins) * kClasses);
        for (int32_t j = 0; j < nd.kf; ++j) {
          std::fill(expected.begin(), expected.end(), 0);
          add_rows(d, entries, nd.begin, nd.end, feats.data() + nd.feat_off + j, 1, expected.data());
          const int64_t off = cuda_tree::sample_histogram_offset(nd, feats.data(), j, kBins, kClasses);
          ASSERT_TRUE(std::equal(expected.begin(), expected.end(), hist.begin() + off))
              << "level " << level << ", node " << nd.node << " of job " << nd.job << ", sample position " << j;
        }
        if (nd.all_features) {
          std::vector<int64_t> all(static_cast<std::size_t>(all_len), 0);
          add_rows(d, entries, nd.begin, nd.end, identity.data(), kFeatures, all.data());
          ASSERT_TRUE(std::equal(all.begin(), all.end(), hist.begin() + nd.hist_off))
              << "level " << level << ", node " << nd.node << ": an unsampled feature's histogram is wrong";
        }
      }
      i0 = i1;
    }
    // Split every node by a fixed rule (stable, as partition.cu), children
    // inheriting the kept histogram; every fifth node loses its right child.
    std::vector<LevelSlot> next;
    std::vector<RowEntry> left, right;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const LevelSlot& s = slots[i];
      left.clear();
      right.clear();
      for (int64_t e = s.begin; e < s.end; ++e)
        (d.bin(entries[e].row, (level + s.node) % kFeatures) < 5 ? left : right).push_back(entries[e]);
      std::copy(left.begin(), left.end(), entries.begin() + s.begin);
      std::copy(right.begin(), right.end(), entries.begin() + s.begin + static_cast<int64_t>(left.size()));
      const int64_t mid = s.begin + static_cast<int64_t>(left.size());
      if (mid > s.begin) next.push_back(LevelSlot{s.job, 2 * s.node + 1, s.begin, mid, s.kept});
      if (mid < s.end && i % 5 != 4) next.push_back(LevelSlot{s.job, 2 * s.node + 2, mid, s.end, s.kept});
      if (i % 5 == 4 && s.kept >= 0) ++totals.lone_children;
    }
    slots.swap(next);
    std::swap(parents, kept);
    std::fill(kept.begin(), kept.end(), -1);
  }
}

LevelShape shape_of(std::vector<int32_t> kf, std::vector<uint8_t> subtract, int32_t max_kept) {
  LevelShape s;
  s.n_features = kFeatures;
  s.max_bins = kBins;
  s.n_channels = kClasses;
  s.shared_group = 4;            // groups of 4, 4 and 2 features
  s.resident_blocks = 2;
  s.min_entries_per_block = 97;  // several items a node
  s.sparse_max_rows = 16;
  s.local_channels = 2;          // 3 classes: scan scratch per pair
  s.kf = std::move(kf);
  s.subtract = std::move(subtract);
  s.max_kept = max_kept;
  return s;
}

TEST(LevelPlan, SubtractionPlansGiveEveryNodesHistogram) {
  // Jobs of 10 and 7 sampled features subtract, beside jobs of 3 and 5 that do not.
  Totals t;
  replay(shape_of({10, 7, 3, 5}, {1, 1, 0, 0}, 1000), 12 << 10, 8, t);
  EXPECT_EQ(t.levels, 8);
  EXPECT_GT(t.chunks, 2 * t.levels);  // a 12 KiB workspace cuts every level
  EXPECT_GT(t.derived, 20);
  EXPECT_GT(t.kept, t.derived);
  EXPECT_GT(t.lone_children, 0);
}

TEST(LevelPlan, AFullPoolKeepsFewAndTheRestAreBuilt) {
  Totals t;
  replay(shape_of({10, 8, 9}, {1, 1, 1}, 3), 1 << 20, 7, t);
  EXPECT_GT(t.derived, 0);
  EXPECT_LE(t.kept, 3 * t.levels);
  EXPECT_GT(t.histogrammed, t.derived);
}

// Clusters of 4 blocks: every chunk's items padded to whole clusters with
// empty chunks (which add nothing), the histograms unchanged.
TEST(LevelPlan, ClusterPlansComeInWholeClusters) {
  LevelShape shape = shape_of({10, 7, 3, 5}, {1, 1, 0, 0}, 1000);
  shape.cluster_blocks = 4;
  Totals t;
  replay(shape, 12 << 10, 8, t);
  EXPECT_GT(t.derived, 20);
  shape.resident_blocks = 1000;  // chunks of min_entries_per_block (97)
  LevelPlanner planner(shape);
  std::vector<LevelSlot> root{LevelSlot{0, 0, 0, 1000}};  // 1000 entries of 97 a chunk: 11 chunks
  planner.start_level(root);
  const LevelPlan plan = planner.plan(root, 0, 1);
  ASSERT_EQ(plan.items.size(), 36u);  // 3 groups (4, 4, 2 features) x 11 chunks, then 3 empty ones
  for (std::size_t i = 33; i < 36; ++i) {
    EXPECT_EQ(plan.items[i].e0, plan.items[i].e1);
    EXPECT_EQ(plan.items[i].node, plan.items[32].node);
    EXPECT_EQ(plan.items[i].j0, plan.items[32].j0);
  }
}

TEST(LevelPlan, ResidentBlocksAreTheFitClampedByThePolicyAndTheCap) {
  EXPECT_EQ(cuda_tree::resident_histogram_blocks(132, 3, 4, 0), 396);  // as many as fit
  EXPECT_EQ(cuda_tree::resident_histogram_blocks(132, 6, 4, 0), 528);  // at most the policy's
  EXPECT_EQ(cuda_tree::resident_histogram_blocks(132, 0, 4, 0), 132);  // at least one
  EXPECT_EQ(cuda_tree::resident_histogram_blocks(132, 3, 4, 1), 132);  // the tuning's cap
  EXPECT_EQ(cuda_tree::resident_histogram_blocks(132, 3, 4, 2), 264);
  EXPECT_EQ(cuda_tree::resident_histogram_blocks(132, 2, 4, 3), 264);  // a cap above the fit changes nothing
  EXPECT_EQ(cuda_tree::resident_histogram_blocks(132, 6, 4, 8), 528);
}

// Fewer resident blocks (CudaTuning::histogram_blocks_per_sm) cut a large
// root into fewer, longer chunks, each group's chunks still covering its
// entries once.
TEST(LevelPlan, FewerResidentBlocksGiveLongerChunks) {
  auto items_of = [](int64_t cap) {
    LevelShape shape = shape_of({10}, {1}, 1000);  // every feature: groups of 4, 4 and 2
    shape.resident_blocks = cuda_tree::resident_histogram_blocks(5, 3, 4, cap);
    LevelPlanner planner(shape);
    std::vector<LevelSlot> root{LevelSlot{0, 0, 0, 1000}};
    planner.start_level(root);
    return planner.plan(root, 0, 1).items;
  };
  const auto fit = items_of(0), capped = items_of(1);
  EXPECT_EQ(fit.size(), 15u);    // 3000 entries x groups over 15 blocks: 201 a chunk, 5 a group
  EXPECT_EQ(capped.size(), 6u);  // over 5 blocks: 601 a chunk, 2 a group
  for (const auto* items : {&fit, &capped})
    for (int32_t j0 : {0, 4, 8}) {
      int64_t next = 0;
      for (const auto& it : *items)
        if (it.j0 == j0) {
          EXPECT_EQ(it.e0, next);
          next = it.e1;
        }
      EXPECT_EQ(next, 1000);
    }
}

// A root of every row once (LevelSlot::identity) is planned as an identity
// node, its items and histograms as any root's; other nodes are not.
TEST(LevelPlan, IdentityRootsAreMarkedInTheirNodes) {
  LevelPlanner planner(shape_of({10, 7}, {1, 0}, 1000));
  std::vector<LevelSlot> roots{LevelSlot{0, 0, 0, 1000}, LevelSlot{1, 0, 1000, 1800}};
  roots[0].identity = true;
  planner.start_level(roots);
  const LevelPlan plan = planner.plan(roots, 0, 2);
  ASSERT_EQ(plan.nodes.size(), 2u);
  EXPECT_EQ(plan.nodes[0].identity, 1);
  EXPECT_EQ(plan.nodes[0].begin, 0);
  EXPECT_EQ(plan.nodes[1].identity, 0);
  EXPECT_FALSE(plan.items.empty());
}

TEST(LevelPlan, WithoutSubtractionEveryDenseNodeIsBuiltFromItsSample) {
  Totals t;
  replay(shape_of({10, 3, 6}, {0, 0, 0}, 0), 1 << 20, 6, t);
  EXPECT_EQ(t.derived, 0);
  EXPECT_EQ(t.kept, 0);
  EXPECT_GT(t.histogrammed, 0);
}

}  // namespace
}  // namespace canopy
