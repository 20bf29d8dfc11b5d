#pragma once
// The CUDA backend's partition of a level, planned on the host: one segment a
// split frontier node, cut into work items of at most entries_per_item
// entries. Plain C++ (no CUDA): partition.cu runs its kernels on a plan, and
// the host test replays plans on the CPU (tests/kernels/partition_plan_test.cc).
//
// Two ways to place the entries (CudaTuning::partition_two_pass):
//   - flags: a flag per entry, one exclusive scan over every entry, a scatter;
//   - two passes: each item writes its entries' go-left bits, 32 to a word
//     (its own words from word0 on), and its count of left entries; one
//     exclusive scan over the items' counts; then each item places its
//     entries from the bits. Reads each entry twice and its bin once, and
//     writes no per-entry flag or scan.
// Either way an entry goes to partition_destination: left entries first,
// each child in the entries' order (stable, as partition_rows_cpu).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/host_device.h"
#include "kernels/level_plan.h"
#include "kernels/split_math.h"

namespace canopy {
namespace cuda_tree {

// A split node's entries [begin, end) and its split; items [item_begin,
// item_end) of the plan cover its entries in order.
struct PartSeg {
  int64_t begin, end;
  int32_t feature, bin, missing_left;
  int32_t item_begin, item_end, pad;
};

// Entries [e0, e1) of segment seg (or, for the root statistics, of job seg);
// word0: the two-pass partition's first go-left word of the item.
struct PartItem {
  int32_t seg;
  int32_t pad;
  int64_t e0, e1;
  int64_t word0;
};

// Go-left words of n entries (32 a word).
CANOPY_HD int64_t partition_words(int64_t n) { return (n + 31) / 32; }

// The go-left word of entry e0 + local of an item, and the entry's bit in it.
CANOPY_HD int64_t item_word(const PartItem& it, int64_t local) { return it.word0 + local / 32; }
CANOPY_HD int32_t word_bit(int64_t local) { return static_cast<int32_t>(local % 32); }

// item_prefix: the exclusive scan of the items' left counts, mod 2^32 (a
// difference inside one segment is exact). The left entries of segment s
// before its item `item`, and all of s's left entries.
CANOPY_HD int64_t left_before_item(const uint32_t* item_prefix, int32_t item, const PartSeg& s) {
  return static_cast<int64_t>(item_prefix[item] - item_prefix[s.item_begin]);
}
CANOPY_HD int64_t segment_left(const uint32_t* item_prefix, const PartSeg& s) {
  return static_cast<int64_t>(item_prefix[s.item_end] - item_prefix[s.item_begin]);
}

// Left entries of a segment before bit `bit` of a word: the segment's before
// the word (left_before_word) and the word's lower bits.
CANOPY_HD int64_t left_before_bit(int64_t left_before_word, uint32_t word, int32_t bit) {
#if defined(__CUDA_ARCH__)
  return left_before_word + __popc(word & ((1u << bit) - 1u));
#else
  return left_before_word + __builtin_popcount(word & ((1u << bit) - 1u));
#endif
}

// Where entry e of the segment starting at `begin` (n_left of its entries go
// left) goes, given the left entries before it in the segment: left entries
// in order from begin, right entries in order after them.
CANOPY_HD int64_t partition_destination(int64_t begin, int64_t n_left, int64_t e, int64_t left_before, bool left) {
  return left ? begin + left_before : begin + n_left + (e - begin - left_before);
}

}  // namespace cuda_tree

struct PartitionPlan {
  std::vector<cuda_tree::PartSeg> segs;
  std::vector<cuda_tree::PartItem> items;
  std::vector<std::size_t> seg_slot;  // the frontier index of each segment
  int64_t n_words = 0;                // go-left words of every item
};

// The segments of the frontier nodes `slots` whose rows are partitioned
// (partitions_rows, partition.h: they split and keep a child), in frontier
// order, each cut into items of entries_per_item entries (the last one
// shorter), word0 laid out item after item.
PartitionPlan plan_partition(const std::vector<LevelSlot>& slots, const std::vector<SplitChoice>& split,
                             const std::vector<uint8_t>& keep_children, int64_t entries_per_item);

}  // namespace canopy
