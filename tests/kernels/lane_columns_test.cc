// The rotated- and swizzled-rows walks' shared histogram
// (kernels/lane_columns.h): every (column, bin, channel) has its own counter,
// inside the histogram, in the column's shared-memory bank.
#include "kernels/lane_columns.h"

#include <gtest/gtest.h>

#include <set>

namespace canopy {
namespace {

namespace lc = lane_columns;

TEST(LaneColumns, EveryCounterIsItsOwnInItsColumnsBank) {
  EXPECT_EQ(lc::counters(256, 2), 32 * 256 * 2);
  constexpr int32_t kBins = 7, kChannels = 3;
  std::set<int64_t> seen;
  for (int32_t lane = 0; lane < lc::kLanes; ++lane)
    for (int32_t b = 0; b < kBins; ++b)
      for (int32_t c = 0; c < kChannels; ++c) {
        const int64_t i = lc::column_counter(static_cast<int64_t>(b) * kChannels + c, lane);
        EXPECT_EQ(i % lc::kLanes, lane);  // 4-byte counters: bank i % 32
        EXPECT_LT(i, lc::counters(kBins, kChannels));
        EXPECT_TRUE(seen.insert(i).second);
      }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), lc::counters(kBins, kChannels));
}

}  // namespace
}  // namespace canopy
