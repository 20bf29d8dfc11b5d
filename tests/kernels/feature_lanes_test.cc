// The feature-lanes histogram walk (kernels/feature_lanes.h) replayed on the
// host lane by lane, in the order histogram.cu's kernel runs it: slot tables,
// staged rows, one column a lane and the flush over the copies must give
// accumulate_histogram_cpu's histogram, and a step's atomic adds must fall in
// distinct banks at distinct addresses. The CUDA kernel itself runs in the GPU
// tests (CudaBackend.HistogramTuningsMatchCpu).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "histogram_replay.h"
#include "kernels/feature_lanes.h"
#include "kernels/histogram.h"

namespace canopy {
namespace {

namespace fl = feature_lanes;

using Matrix = test::ReplayMatrix;

// The kernel's walk over entries for the group f[0, nj): returns the flushed
// histogram, (j * max_bins + bin) * k + class.
std::vector<int64_t> replay(const Matrix& m, const std::vector<int32_t>& cls, int32_t k,
                            const std::vector<RowEntry>& entries, const std::vector<int32_t>& f) {
  const int32_t nj = static_cast<int32_t>(f.size());
  // Slot tables: pass 1 (thread j), barrier, pass 2 (thread p).
  int32_t sorted[fl::kLanes], feat_rank[fl::kLanes], rank_slot[fl::kLanes], slot_word[fl::kLanes], n_slots = 0;
  for (int32_t j = 0; j < nj; ++j) {
    feat_rank[j] = fl::feature_rank(f.data(), nj, j);
    sorted[feat_rank[j]] = f[j];
  }
  for (int32_t p = 0; p < nj; ++p) {
    rank_slot[p] = fl::sorted_slot(sorted, p);
    if (fl::starts_slot(sorted, p)) slot_word[rank_slot[p]] = sorted[p] >> 2;
    if (p == nj - 1) n_slots = rank_slot[p] + 1;
  }
  const int32_t stride = fl::stage_stride(n_slots);
  EXPECT_LE(fl::stage_words(n_slots), fl::stage_words(fl::max_slots(static_cast<int64_t>(m.stride))))
      << "staging beyond what the host sizes for these rows";
  EXPECT_EQ(stride % 2, 1);

  std::vector<int64_t> columns(static_cast<std::size_t>(fl::counters(m.max_bins, k)), 0);
  const int32_t per_step = fl::rows_per_step(nj);
  std::vector<uint32_t> stage(static_cast<std::size_t>(fl::kLanes) * stride);
  const auto* stage_bytes = reinterpret_cast<const uint8_t*>(stage.data());
  const int64_t n = static_cast<int64_t>(entries.size());
  for (int64_t base = 0; base < n; base += fl::kLanes) {  // one warp's rows
    std::fill(stage.begin(), stage.end(), 0xdeadbeefu);
    for (int32_t lane = 0; lane < fl::kLanes; ++lane) {
      if (base + lane >= n) continue;
      const uint8_t* row = m.bins.data() + entries[base + lane].row * m.stride;
      for (int32_t s = 0; s < n_slots; ++s)
        std::memcpy(&stage[lane * stride + s], row + 4 * slot_word[s], sizeof(uint32_t));
    }
    const int32_t n_rows = static_cast<int32_t>(std::min<int64_t>(fl::kLanes, n - base));
    for (int32_t i0 = 0; i0 < n_rows; i0 += per_step) {
      std::set<int64_t> addresses, banks;
      int32_t adds = 0;
      for (int32_t lane = 0; lane < fl::active_lanes(nj); ++lane) {
        const int32_t i = i0 + fl::lane_row(lane, nj), j = fl::lane_feature(lane, nj);
        if (i >= n_rows) continue;
        const RowEntry& en = entries[base + i];
        const int32_t b = stage_bytes[fl::staged_offset(i, stride, fl::staged_byte(rank_slot[feat_rank[j]], f[j]))];
        EXPECT_EQ(b, m.bins[en.row * m.stride + f[j]]) << "lane " << lane << " read another byte of the row";
        const int64_t c = fl::counter(lane, b, cls[en.row], k);
        columns[c] += en.mult;
        addresses.insert(c);
        banks.insert(c % fl::kLanes);
        ++adds;
      }
      EXPECT_EQ(static_cast<int32_t>(addresses.size()), adds);
      EXPECT_EQ(static_cast<int32_t>(banks.size()), adds);
    }
  }
  // Flush: q = bc * nj + j, the copies of feature j summed.
  const int64_t feat_stride = static_cast<int64_t>(m.max_bins) * k;
  std::vector<int64_t> hist(static_cast<std::size_t>(nj * feat_stride), 0);
  for (int64_t q = 0; q < nj * feat_stride; ++q) {
    const int64_t bc = q / nj;
    const int32_t j = static_cast<int32_t>(q - bc * nj);
    for (int32_t r = 0; r < per_step; ++r) hist[j * feat_stride + bc] += columns[fl::column_counter(bc, fl::copy_lane(r, nj, j))];
  }
  return hist;
}

TEST(FeatureLanes, LayoutPutsLanesInTheirBanksAndCopiesApart) {
  EXPECT_EQ(fl::rows_per_step(28), 1);
  EXPECT_EQ(fl::rows_per_step(5), 6);
  EXPECT_EQ(fl::active_lanes(5), 30);
  EXPECT_EQ(fl::rows_per_step(32), 1);
  EXPECT_EQ(fl::rows_per_step(1), 32);
  EXPECT_EQ(fl::counters(256, 2), 32 * 256 * 2);
  EXPECT_EQ(fl::max_slots(28), 7);
  EXPECT_EQ(fl::max_slots(12), 3);
  EXPECT_EQ(fl::max_slots(400), 32);
  EXPECT_EQ(fl::stage_stride(7), 7);
  EXPECT_EQ(fl::stage_stride(4), 5);
  EXPECT_EQ(fl::stage_words(7), 9);  // and the row's (class, weight) pair
  // Every (lane, bin, channel) has its own counter, inside the histogram.
  std::set<int64_t> seen;
  for (int32_t lane = 0; lane < fl::kLanes; ++lane)
    for (int32_t b = 0; b < 7; ++b)
      for (int32_t c = 0; c < 3; ++c) {
        const int64_t i = fl::counter(lane, b, c, 3);
        EXPECT_EQ(i % fl::kLanes, lane);
        EXPECT_LT(i, fl::counters(7, 3));
        EXPECT_TRUE(seen.insert(i).second);
      }
}

TEST(FeatureLanes, SlotsAreTheGroupsWordsInOrder) {
  const std::vector<int32_t> f = {13, 2, 12, 27, 3, 0};  // words 3, 0, 3, 6, 0, 0
  const int32_t nj = static_cast<int32_t>(f.size());
  int32_t sorted[fl::kLanes];
  for (int32_t j = 0; j < nj; ++j) sorted[fl::feature_rank(f.data(), nj, j)] = f[j];
  EXPECT_EQ(std::vector<int32_t>(sorted, sorted + nj), (std::vector<int32_t>{0, 2, 3, 12, 13, 27}));
  std::vector<int32_t> slots, starts;
  for (int32_t p = 0; p < nj; ++p) {
    slots.push_back(fl::sorted_slot(sorted, p));
    starts.push_back(fl::starts_slot(sorted, p));
  }
  EXPECT_EQ(slots, (std::vector<int32_t>{0, 0, 0, 1, 1, 2}));
  EXPECT_EQ(starts, (std::vector<int32_t>{1, 0, 0, 1, 0, 1}));
  EXPECT_EQ(fl::staged_byte(1, 13), 5);  // slot 1 holds word 3: feature 13 is its byte 1
}

TEST(FeatureLanes, ReplayedWalkGivesTheCpuHistogram) {
  std::mt19937 rng(11);
  struct Case {
    std::size_t features;
    int32_t max_bins, classes;
    std::vector<int32_t> group;
  };
  std::vector<Case> cases = {
      {28, 256, 2, {}},                        // every feature: one row a step
      {28, 256, 2, {17, 3, 26, 8, 9}},         // a sample of 5: six rows a step, two lanes idle
      {28, 64, 3, {5}},                        // one feature: 32 rows a step
      {9, 40, 4, {8, 0, 1, 2, 3, 4, 5, 6}},    // rows of 12 bytes, last word partly padding
      {400, 4, 2, {}},                         // 32 of 400 features, one word each
      {400, 4, 2, {399, 0, 200, 201, 202}},    // far apart, three in one word
      {16, 8, 2, {}},                          // 16 features: two rows a step, no lane idle
  };
  for (auto& c : cases)  // {}: every feature, or 32 spread over a wide row (13 is prime to 400)
    if (c.group.empty())
      for (std::size_t j = 0; j < std::min<std::size_t>(c.features, fl::kLanes); ++j)
        c.group.push_back(static_cast<int32_t>(c.features <= fl::kLanes ? j : j * 13 % c.features));
  for (const Case& c : cases) {
    // Distinct features, as a node's sample.
    std::vector<int32_t> group = c.group;
    std::sort(group.begin(), group.end());
    group.erase(std::unique(group.begin(), group.end()), group.end());
    std::shuffle(group.begin(), group.end(), rng);
    SCOPED_TRACE(std::to_string(c.features) + " features, group of " + std::to_string(group.size()));
    const std::size_t n_rows = 1500;
    const Matrix m = test::random_replay_matrix(n_rows, c.features, c.max_bins, rng);
    const std::vector<int32_t> cls = test::random_classes(n_rows, c.classes, rng);
    const std::vector<RowEntry> entries = test::scattered_entries(n_rows, rng);  // and a partial last warp
    ASSERT_NE(entries.size() % fl::kLanes, 0u);
    const auto expected = test::cpu_histogram(m, cls, c.classes, entries, group);
    EXPECT_EQ(replay(m, cls, c.classes, entries, group), expected);
    EXPECT_GT(std::accumulate(expected.begin(), expected.end(), int64_t{0}), 0);
  }
}

}  // namespace
}  // namespace canopy
