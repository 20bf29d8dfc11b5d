// Where a histogram block starts its flush (kernels/flush_order.h): from
// that start to the end and then from the range's start, a block's threads
// visit every counter of its range once, as histogram.cu's two flush loops
// do; staggered blocks start in different windows.
#include "kernels/flush_order.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace canopy
