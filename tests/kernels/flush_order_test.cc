// The order of a histogram block's flush (kernels/flush_order.h), replayed
// thread by thread as histogram.cu's flushes run it: from a block's start to
// the end and then from the first step, every counter is added once,
// staggered or not; staggered blocks start in different windows; and by
// sectors, a warp's lane-columns atomics fall in at most 8 sectors.
#include "kernels/flush_order.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/rotated_rows.h"

namespace canopy {
namespace {

TEST(FlushOrder, EveryCounterOnceFromAnyStart) {
  struct Range {
    int32_t lo, hi;
  };
  // The root pass's 14,336 counters, a cluster partner's share, one short of
  // a window, a single counter, and an empty share.
  for (const Range r : {Range{0, 14336}, Range{3584, 7168}, Range{0, 511}, Range{7, 8}, Range{5, 5}})
    for (int32_t threads : {256, 512})
      for (uint32_t block : {0u, 1u, 27u, 28u, 395u})
        for (bool staggered : {false, true}) {
          SCOPED_TRACE("[" + std::to_string(r.lo) + ", " + std::to_string(r.hi) + "), block " + std::to_string(block) +
                       ", " + std::to_string(threads) + " threads" + (staggered ? ", staggered" : ""));
          const int32_t from = flush_start(r.lo, r.hi, block, threads, staggered);
          EXPECT_GE(from, r.lo);
          EXPECT_LE(from, std::max(r.lo, r.hi));
          EXPECT_EQ((from - r.lo) % threads, 0);
          if (!staggered) EXPECT_EQ(from, r.lo);
          std::vector<int32_t> visits(static_cast<std::size_t>(std::max(r.hi, 0)), 0);
          for (int32_t t = 0; t < threads; ++t) {
            for (int32_t i = from + t; i < r.hi; i += threads) ++visits[i];
            for (int32_t i = r.lo + t; i < from; i += threads) ++visits[i];
          }
          for (int32_t i = 0; i < r.hi; ++i) ASSERT_EQ(visits[i], i >= r.lo ? 1 : 0) << "counter " << i;
        }
}

TEST(FlushOrder, StaggeredBlocksSpreadOverTheWindows) {
  // 396 blocks (the root pass on 132 multiprocessors) over 28 windows of 512
  // counters: every window is some block's start, none more than 15 blocks'.
  std::vector<int32_t> starts(28, 0);
  for (uint32_t block = 0; block < 396; ++block) ++starts[flush_start(0, 14336, block, 512, true) / 512];
  for (int32_t n : starts) {
    EXPECT_GE(n, 14);
    EXPECT_LE(n, 15);
  }
}

// histogram.cu's lane-columns flush of bin-channels [bc0, bc1) at nb
// positions: for each thread, loop (0: from the start, 1: the wrap), round
// of that loop, and (bc, q) it adds.
struct FlushVisit {
  int32_t thread, loop, round, bc, q;
};
std::vector<FlushVisit> replay_lane_columns_flush(int32_t bc0, int32_t bc1, int32_t nb, int32_t threads, uint32_t block,
                                                  FlushOrder order) {
  const int32_t group = flush_group(order.sectors), stride = threads / group;
  const int32_t steps = flush_steps(bc1 - bc0, nb, group);
  const int32_t from = flush_start(0, steps, block, stride, order.staggered);
  std::vector<FlushVisit> visits;
  for (int32_t t = 0; t < threads; ++t)
    for (int32_t loop = 0; loop < 2; ++loop) {
      const int32_t r0 = loop == 0 ? from : 0, r1 = loop == 0 ? steps : from;
      const int32_t first = r0 + t / group;
      rotated_rows::FlushCursor at(first, stride, nb);
      int32_t round = 0;
      for (int32_t r = first; r < r1; r += stride, at.next(nb), ++round) {
        const int32_t bc = bc0 + group * at.bc + t % group;
        if (bc < bc1) visits.push_back({t, loop, round, bc, at.q});
      }
    }
  return visits;
}

TEST(FlushOrder, LaneColumnsFlushAddsEveryCounterOnce) {
  struct Share {
    int32_t bc0, bc1;
  };
  // 256 bins x 2 channels, a cluster share of it (not a multiple of 4 from
  // its start), 3 bins x 2 channels, one bin-channel.
  for (const Share s : {Share{0, 512}, Share{129, 258}, Share{0, 6}, Share{5, 6}})
    for (int32_t nb : {4, 8, 12, 16, 20, 28, 32})  // the rotated walk's widths too: steps of 64 and 128 carry
      for (int32_t threads : {256, 512})
        for (bool sectors : {false, true})
          for (bool staggered : {false, true}) {
            SCOPED_TRACE("[" + std::to_string(s.bc0) + ", " + std::to_string(s.bc1) + ") x " + std::to_string(nb) +
                         ", " + std::to_string(threads) + " threads" + (sectors ? ", sectors" : "") +
                         (staggered ? ", staggered" : ""));
            std::map<std::pair<int32_t, int32_t>, int32_t> seen;
            for (const FlushVisit& v : replay_lane_columns_flush(s.bc0, s.bc1, nb, threads, 7, {staggered, sectors}))
              ++seen[{v.bc, v.q}];
            ASSERT_EQ(static_cast<int32_t>(seen.size()), (s.bc1 - s.bc0) * nb);
            for (const auto& [counter, n] : seen) {
              EXPECT_GE(counter.first, s.bc0);
              EXPECT_LT(counter.first, s.bc1);
              EXPECT_EQ(n, 1) << "bin-channel " << counter.first << ", position " << counter.second;
            }
          }
}

TEST(FlushOrder, ClusterSharesCoverTheBinChannelsFromMultiplesOfFour) {
  for (int32_t n : {3, 6, 510, 512, 1026})
    for (uint32_t count = 1; count <= 8; ++count) {
      SCOPED_TRACE(std::to_string(n) + " bin-channels, " + std::to_string(count) + " shares");
      EXPECT_EQ(flush_share_begin(n, 0, count), 0);
      EXPECT_EQ(flush_share_begin(n, count, count), n);
      for (uint32_t i = 0; i < count; ++i) {
        const int32_t b = flush_share_begin(n, i, count), e = flush_share_begin(n, i + 1, count);
        EXPECT_LE(b, e);  // shares in order, none overlapping: together [0, n)
        EXPECT_EQ(b % kSectorCounters, 0);
        EXPECT_LE(e - b, n / static_cast<int32_t>(count) + kSectorCounters);
      }
    }
}

TEST(FlushOrder, BySectorsAWarpsAtomicsFallInEightSectors) {
  // The root pass: 28 features' positions of 32-byte rows, 256 bins x 2
  // channels, and a cluster partner's share from bin-channel 124 (a multiple
  // of 4: flush_share_begin). A warp's atomics in one round: a sector is (position,
  // bc / 4) (a feature's histogram starts at a multiple of 4 counters); its
  // shared reads: bank = the column (position), 32-bit counters.
  for (const auto& [bc0, bc1] : {std::pair<int32_t, int32_t>{0, 512}, {124, 255}})
    for (bool sectors : {false, true}) {
      SCOPED_TRACE("[" + std::to_string(bc0) + ", " + std::to_string(bc1) + ")" + (sectors ? ", sectors" : ""));
      std::map<std::tuple<int32_t, int32_t, int32_t>, std::set<std::pair<int32_t, int32_t>>> sectors_of;
      std::map<std::tuple<int32_t, int32_t, int32_t>, std::map<int32_t, int32_t>> bank_reads;
      for (const FlushVisit& v : replay_lane_columns_flush(bc0, bc1, 32, 512, 3, {true, sectors})) {
        const auto instruction = std::make_tuple(v.thread / 32, v.loop, v.round);
        sectors_of[instruction].insert({v.q, v.bc / kSectorCounters});
        ++bank_reads[instruction][v.q];
      }
      std::size_t most_sectors = 0;
      int32_t most_per_bank = 0;
      for (const auto& [instruction, s] : sectors_of) most_sectors = std::max(most_sectors, s.size());
      for (const auto& [instruction, banks] : bank_reads)
        for (const auto& [bank, n] : banks) most_per_bank = std::max(most_per_bank, n);
      EXPECT_EQ(most_sectors, sectors ? 8u : 32u);
      EXPECT_EQ(most_per_bank, sectors ? 4 : 1);  // the price: 4 threads read one column
    }
}

}  // namespace
}  // namespace canopy
