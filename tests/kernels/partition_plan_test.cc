// The CUDA backend's partition plans (kernels/partition_plan.h) replayed on
// the CPU: the two-pass partition as partition.cu's kernels run it (go-left
// words item by item, left counts, an exclusive scan over the items mod 2^32,
// each segment's left count, then every entry to partition_destination from
// its words), and the flag path (a flag per entry, one scan over all
// entries), each checked against partition_rows_cpu on every split node. The
// device launches themselves run in the GPU tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/partition.h"
#include "kernels/partition_plan.h"

namespace canopy {
namespace {

using cuda_tree::PartItem;
using cuda_tree::PartSeg;

constexpr int32_t kFeatures = 3;

struct Level {
  BinnedMatrix bins;
  std::vector<RowEntry> entries;  // the nodes' entries back to back
  std::vector<LevelSlot> slots;
  std::vector<SplitChoice> split;
  std::vector<uint8_t> keep;  // keep_children: two flags a node
};

// Nodes of the given sizes over random rows (ascending in each node, as the
// backend keeps them); every node but each fourth splits on a random feature
// and bin, some with missing values going left; of every five nodes one keeps
// neither child, one only its left and one only its right.
Level make_level(const std::vector<int64_t>& sizes, std::mt19937& rng) {
  Level l;
  l.bins.n_rows = 5000;
  l.bins.n_features = kFeatures;
  l.bins.bins.resize(l.bins.n_rows * kFeatures);
  for (auto& b : l.bins.bins) b = static_cast<uint8_t>(rng() % 9);  // bin 0: missing
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    LevelSlot s;
    s.job = static_cast<int32_t>(i % 3);
    s.begin = static_cast<int64_t>(l.entries.size());
    std::vector<uint32_t> rows(static_cast<std::size_t>(sizes[i]));
    for (auto& r : rows) r = static_cast<uint32_t>(rng() % l.bins.n_rows);
    std::sort(rows.begin(), rows.end());
    for (uint32_t r : rows) l.entries.push_back(RowEntry{r, 1 + static_cast<uint32_t>(rng() % 3)});
    s.end = static_cast<int64_t>(l.entries.size());
    l.slots.push_back(s);
    SplitChoice c;
    if (i % 4 != 3) {
      c.feature = static_cast<int32_t>(rng() % kFeatures);
      c.bin = static_cast<int32_t>(1 + rng() % 7);
      c.missing_left = static_cast<int32_t>(rng() % 2);
    }
    l.split.push_back(c);
    l.keep.push_back(i % 5 != 1 && i % 5 != 3);
    l.keep.push_back(i % 5 != 1 && i % 5 != 2);
  }
  return l;
}

bool entry_goes_left(const Level& l, const PartSeg& s, const RowEntry& e) {
  return goes_left(l.bins.bins[e.row * kFeatures + s.feature], s.bin, s.missing_left != 0);
}

// The plan's structure: segments in frontier order for the split nodes that
// keep a child only,
// items covering each segment's entries in order, none longer than asked,
// each with its own run of words.
void check_plan(const Level& l, const PartitionPlan& plan, int64_t per_item) {
  std::size_t g = 0;
  int64_t words = 0;
  for (std::size_t i = 0; i < l.slots.size(); ++i) {
    if (!l.split[i].valid() || (!l.keep[2 * i] && !l.keep[2 * i + 1])) continue;
    ASSERT_LT(g, plan.segs.size());
    ASSERT_EQ(plan.seg_slot[g], i);
    const PartSeg& s = plan.segs[g];
    EXPECT_EQ(s.begin, l.slots[i].begin);
    EXPECT_EQ(s.end, l.slots[i].end);
    EXPECT_EQ(s.feature, l.split[i].feature);
    int64_t e = s.begin;
    for (int32_t k = s.item_begin; k < s.item_end; ++k) {
      const PartItem& it = plan.items[k];
      EXPECT_EQ(it.seg, static_cast<int32_t>(g));
      EXPECT_EQ(it.e0, e);
      EXPECT_GT(it.e1, it.e0);
      EXPECT_LE(it.e1 - it.e0, per_item);
      EXPECT_EQ(it.word0, words);
      words += cuda_tree::partition_words(it.e1 - it.e0);
      e = it.e1;
    }
    EXPECT_EQ(e, s.end);
    ++g;
  }
  EXPECT_EQ(g, plan.segs.size());
  EXPECT_EQ(plan.items.size(), plan.segs.empty() ? 0u : static_cast<std::size_t>(plan.segs.back().item_end));
  EXPECT_EQ(plan.n_words, words);
  // The words fit where the backend keeps them: flags_, one value an entry.
  EXPECT_LE(plan.n_words, static_cast<int64_t>(l.entries.size()));
}

// partition_rows_cpu on every split node: the expected entries and left counts.
void expected_partition(const Level& l, const PartitionPlan& plan, std::vector<RowEntry>& out,
                        std::vector<int64_t>& n_left) {
  out = l.entries;
  std::vector<RowEntry> scratch(out.size());
  n_left.clear();
  for (const PartSeg& s : plan.segs)
    n_left.push_back(static_cast<int64_t>(partition_rows_cpu(l.bins, s.feature, s.bin, s.missing_left != 0,
                                                             out.data() + s.begin,
                                                             static_cast<std::size_t>(s.end - s.begin),
                                                             scratch.data())));
}

// partition.cu's two passes, item by item.
void two_pass(const Level& l, const PartitionPlan& plan, std::vector<RowEntry>& out, std::vector<int64_t>& n_left) {
  const std::size_t n_items = plan.items.size();
  std::vector<uint32_t> words(static_cast<std::size_t>(plan.n_words), 0xdeadbeefu);
  std::vector<uint32_t> item_left(n_items + 1, 0), item_prefix(n_items + 1, 0);
  for (std::size_t k = 0; k < n_items; ++k) {  // partition_mark_kernel
    const PartItem& it = plan.items[k];
    const PartSeg& s = plan.segs[it.seg];
    for (int64_t base = 0; base < it.e1 - it.e0; base += 32) {
      uint32_t word = 0;
      for (int32_t lane = 0; lane < 32; ++lane)
        if (base + lane < it.e1 - it.e0 && entry_goes_left(l, s, l.entries[it.e0 + base + lane])) word |= 1u << lane;
      words[cuda_tree::item_word(it, base)] = word;
      item_left[k] += static_cast<uint32_t>(__builtin_popcount(word));
    }
  }
  uint32_t sum = 0xfffff000u;  // any start: only differences are read, mod 2^32
  for (std::size_t k = 0; k <= n_items; ++k) {
    item_prefix[k] = sum;
    sum += item_left[k];
  }
  n_left.clear();
  for (const PartSeg& s : plan.segs)  // partition_item_count_kernel
    n_left.push_back(cuda_tree::segment_left(item_prefix.data(), s));
  out = l.entries;
  for (std::size_t k = 0; k < n_items; ++k) {  // partition_place_kernel
    const PartItem& it = plan.items[k];
    const PartSeg& s = plan.segs[it.seg];
    const int64_t n_words = cuda_tree::partition_words(it.e1 - it.e0);
    std::vector<uint32_t> before_word(static_cast<std::size_t>(n_words), 0);  // the block scan over the words
    for (int64_t w = 1; w < n_words; ++w)
      before_word[w] =
          before_word[w - 1] + static_cast<uint32_t>(__builtin_popcount(words[cuda_tree::item_word(it, 32 * (w - 1))]));
    const int64_t item_before = cuda_tree::left_before_item(item_prefix.data(), static_cast<int32_t>(k), s);
    for (int64_t local = 0; local < it.e1 - it.e0; ++local) {
      const int64_t w = cuda_tree::item_word(it, local);
      const uint32_t word = words[w];
      const int32_t bit = cuda_tree::word_bit(local);
      const int64_t e = it.e0 + local;
      const int64_t before = cuda_tree::left_before_bit(item_before + before_word[w - it.word0], word, bit);
      out[cuda_tree::partition_destination(s.begin, n_left[it.seg], e, before, (word >> bit & 1u) != 0)] =
          l.entries[e];
    }
  }
}

// partition.cu's flag path: a flag per entry, one exclusive scan over them all.
void flag_path(const Level& l, const PartitionPlan& plan, std::vector<RowEntry>& out, std::vector<int64_t>& n_left) {
  std::vector<uint32_t> flags(l.entries.size() + 1, 0), scan(l.entries.size() + 1, 0);
  for (const PartItem& it : plan.items)
    for (int64_t e = it.e0; e < it.e1; ++e) flags[e] = entry_goes_left(l, plan.segs[it.seg], l.entries[e]) ? 1 : 0;
  for (std::size_t e = 1; e < scan.size(); ++e) scan[e] = scan[e - 1] + flags[e - 1];
  n_left.clear();
  for (const PartSeg& s : plan.segs) n_left.push_back(static_cast<int64_t>(scan[s.end] - scan[s.begin]));
  out = l.entries;
  for (const PartItem& it : plan.items) {
    const PartSeg& s = plan.segs[it.seg];
    for (int64_t e = it.e0; e < it.e1; ++e)
      out[cuda_tree::partition_destination(s.begin, n_left[it.seg], e, scan[e] - scan[s.begin], flags[e] != 0)] =
          l.entries[e];
  }
}

bool same_entries(const std::vector<RowEntry>& a, const std::vector<RowEntry>& b, const PartitionPlan& plan) {
  for (const PartSeg& s : plan.segs)
    for (int64_t e = s.begin; e < s.end; ++e)
      if (a[e].row != b[e].row || a[e].mult != b[e].mult) return false;
  return true;
}

TEST(PartitionPlan, BothPathsMatchTheCpuPartition) {
  std::mt19937 rng(20261127);
  // Empty nodes, single entries, word and item boundaries either side, and
  // nodes of many items.
  const std::vector<int64_t> sizes = {0,  1,  31, 32, 33,  63,   64,  65,  200,  0,    1,   5000,
                                      95, 96, 97, 7,  300, 1024, 129, 128, 4097, 2000, 513, 40};
  for (int64_t per_item : {32, 64, 96, 512, 8192}) {
    SCOPED_TRACE("entries per item " + std::to_string(per_item));
    std::vector<int64_t> shuffled = sizes;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    const Level l = make_level(shuffled, rng);
    const PartitionPlan plan = plan_partition(l.slots, l.split, l.keep, per_item);
    check_plan(l, plan, per_item);
    std::vector<RowEntry> want, got;
    std::vector<int64_t> want_left, got_left;
    expected_partition(l, plan, want, want_left);
    two_pass(l, plan, got, got_left);
    EXPECT_EQ(got_left, want_left);
    EXPECT_TRUE(same_entries(got, want, plan)) << "two passes";
    flag_path(l, plan, got, got_left);
    EXPECT_EQ(got_left, want_left);
    EXPECT_TRUE(same_entries(got, want, plan)) << "flags";
  }
}

TEST(PartitionPlan, NoSplitNoSegment) {
  std::mt19937 rng(7);
  Level l = make_level({10, 0, 40}, rng);
  std::fill(l.keep.begin(), l.keep.end(), 1);
  for (auto& c : l.split) c = SplitChoice{};
  const PartitionPlan plan = plan_partition(l.slots, l.split, l.keep, 64);
  EXPECT_TRUE(plan.segs.empty());
  EXPECT_TRUE(plan.items.empty());
  EXPECT_EQ(plan.n_words, 0);
  // Splits whose children are both leaves: nothing to partition either.
  Level leaves = make_level({10, 20, 40}, rng);
  std::fill(leaves.keep.begin(), leaves.keep.end(), 0);
  EXPECT_TRUE(plan_partition(leaves.slots, leaves.split, leaves.keep, 64).segs.empty());
  leaves.keep[2] = 1;  // node 1 keeps its left child
  const PartitionPlan one = plan_partition(leaves.slots, leaves.split, leaves.keep, 64);
  ASSERT_EQ(one.segs.size(), 1u);
  EXPECT_EQ(one.seg_slot[0], 1u);
  l.keep.pop_back();
  EXPECT_THROW(plan_partition(l.slots, l.split, l.keep, 64), std::logic_error);
  l.keep.push_back(1);
  l.split.pop_back();
  EXPECT_THROW(plan_partition(l.slots, l.split, l.keep, 64), std::logic_error);
}

}  // namespace
}  // namespace canopy
