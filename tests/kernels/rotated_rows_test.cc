// The rotated-rows histogram walk (kernels/rotated_rows.h) replayed on the
// host lane by lane, in the order histogram.cu's kernel runs it: rotated word
// loads, byte shifts, one column a position and the flush over the copies
// must give accumulate_histogram_cpu's histogram, each lane must read the
// byte it adds, and a step's atomic adds must fall in distinct banks. The
// CUDA kernel itself runs in the GPU tests (CudaBackend.HistogramTuningsMatchCpu).
#include "kernels/rotated_rows.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "histogram_replay.h"

namespace canopy {
namespace {

namespace rr = rotated_rows;

// The kernel's walk over entries for the group f[0, nj) with `warps` warps a
// block: returns the flushed histogram, (j * max_bins + bin) * k + class.
std::vector<int64_t> replay(const test::ReplayMatrix& m, const std::vector<int32_t>& cls, int32_t k,
                            const std::vector<RowEntry>& entries, const std::vector<int32_t>& f, int32_t warps) {
  const int32_t nb = static_cast<int32_t>(m.stride), n_words = nb / 4, nj = static_cast<int32_t>(f.size());
  std::vector<int64_t> columns(static_cast<std::size_t>(rr::counters(m.max_bins, k)), 0);
  const int32_t active = rr::active_lanes(nb);
  const int64_t n = static_cast<int64_t>(entries.size()), rows_a_round = static_cast<int64_t>(warps) * active;
  for (int64_t round = 0; round < n; round += rows_a_round)
    for (int32_t warp = 0; warp < warps; ++warp) {
      // Each lane's rotated row, then the warp's steps in lockstep.
      std::vector<std::vector<uint32_t>> v(rr::kLanes);
      for (int32_t lane = 0; lane < active; ++lane) {
        const int64_t e = round + static_cast<int64_t>(warp) * active + lane;
        if (e >= n) continue;
        const int32_t r = rr::rotation(lane, nb);
        const uint8_t* row = m.bins.data() + entries[e].row * m.stride;
        std::vector<uint32_t> w(n_words);
        for (int32_t u = 0, word = rr::first_word(r); u < n_words; ++u, word = rr::next_position(word, n_words))
          std::memcpy(&w[u], row + 4 * word, 4);
        for (int32_t u = 0; u < n_words; ++u)
          v[lane].push_back(rr::rotated_word(w[u], u + 1 < n_words ? w[u + 1] : w[0], r));
      }
      std::vector<int32_t> q(rr::kLanes);  // each lane's position in the step
      for (int32_t lane = 0; lane < active; ++lane) q[lane] = rr::rotation(lane, nb);
      for (int32_t p = 0; p < nb; ++p) {
        std::set<int64_t> banks;
        int32_t adds = 0;
        for (int32_t lane = 0; lane < active; ++lane) {
          const int32_t ql = q[lane];
          q[lane] = rr::next_position(ql, nb);
          if (v[lane].empty()) continue;  // every position, the group's or not
          const RowEntry& en = entries[round + static_cast<int64_t>(warp) * active + lane];
          const int32_t b = static_cast<int32_t>((v[lane][p / 4] >> (8 * (p % 4))) & 0xffu);
          EXPECT_EQ(b, m.bins[en.row * m.stride + ql]) << "lane " << lane << " step " << p << " read another byte";
          const int64_t c =
              rr::column_counter(static_cast<int64_t>(b) * k + cls[en.row], rr::column(rr::copy(lane, nb), nb, ql));
          columns[c] += en.mult;
          banks.insert(c % rr::kLanes);
          ++adds;
        }
        EXPECT_EQ(static_cast<int32_t>(banks.size()), adds) << "step " << p << ": two lanes in one bank";
      }
    }
  // Flush: i = bc * nb + q, the copies of position q summed into its feature.
  std::vector<int32_t> feature_of(rr::kLanes, -1);
  for (int32_t j = 0; j < nj; ++j) feature_of[f[j]] = j;
  const int64_t feat_stride = static_cast<int64_t>(m.max_bins) * k;
  std::vector<int64_t> hist(static_cast<std::size_t>(nj * feat_stride), 0);
  for (int64_t i = 0; i < nb * feat_stride; ++i) {
    const int64_t bc = i / nb;
    const int32_t q = static_cast<int32_t>(i - bc * nb), j = feature_of[q];
    if (j >= 0)
      hist[j * feat_stride + bc] += static_cast<int64_t>(rr::sum_copies(columns.data(), bc, nb, q, rr::copies(nb)));
  }
  return hist;
}

TEST(RotatedRows, LayoutAndRotation) {
  EXPECT_EQ(rr::copies(28), 1);
  EXPECT_EQ(rr::active_lanes(28), 28);
  EXPECT_EQ(rr::copies(12), 2);
  EXPECT_EQ(rr::active_lanes(12), 24);
  EXPECT_EQ(rr::copies(8), 4);
  EXPECT_EQ(rr::active_lanes(32), 32);
  EXPECT_EQ(rr::counters(256, 2), 32 * 256 * 2);
  EXPECT_EQ(rr::next_position(26, 28), 27);
  EXPECT_EQ(rr::next_position(27, 28), 0);
  EXPECT_TRUE(rr::dense_group(15, 28));
  EXPECT_FALSE(rr::dense_group(14, 28));
  EXPECT_FALSE(rr::dense_group(5, 28));  // max_features sqrt of 28: the row-words walk
  // Word u of a rotated row holds the row's bytes 4u + r .. 4u + r + 3 (a ring).
  const uint8_t row[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  for (int32_t r = 0; r < 12; ++r)
    for (int32_t u = 0; u < 3; ++u) {
      int32_t word = rr::first_word(r);
      for (int32_t i = 0; i < u; ++i) word = rr::next_position(word, 3);
      uint32_t w0 = 0, w1 = 0;
      std::memcpy(&w0, row + 4 * word, 4);
      std::memcpy(&w1, row + 4 * rr::next_position(word, 3), 4);
      const uint32_t v = rr::rotated_word(w0, w1, r);
      for (int32_t i = 0; i < 4; ++i) EXPECT_EQ((v >> (8 * i)) & 0xffu, static_cast<uint32_t>((4 * u + i + r) % 12));
    }
  // In every step, a copy's lanes take distinct positions, so distinct
  // columns; over the nb steps each lane takes every position once.
  for (int32_t nb : {4, 8, 12, 16, 20, 28, 32}) {
    std::vector<int32_t> q(rr::kLanes);
    std::vector<std::set<int32_t>> seen(rr::kLanes);
    for (int32_t lane = 0; lane < rr::active_lanes(nb); ++lane) q[lane] = rr::rotation(lane, nb);
    for (int32_t p = 0; p < nb; ++p) {
      std::set<int32_t> cols;
      for (int32_t lane = 0; lane < rr::active_lanes(nb); ++lane) {
        cols.insert(rr::column(rr::copy(lane, nb), nb, q[lane]));
        seen[lane].insert(q[lane]);
        q[lane] = rr::next_position(q[lane], nb);
      }
      EXPECT_EQ(static_cast<int32_t>(cols.size()), rr::active_lanes(nb));
      EXPECT_LT(*cols.rbegin(), rr::kLanes);
    }
    for (int32_t lane = 0; lane < rr::active_lanes(nb); ++lane) EXPECT_EQ(static_cast<int32_t>(seen[lane].size()), nb);
  }
}

// The flush's cursor gives every thread of a block the (bc, q) of each i it
// visits, and the block's threads together visit every i once, for the row
// widths of both walks and both block sizes (nb not dividing the block too).
TEST(RotatedRows, FlushCursorVisitsEveryPositionOnce) {
  for (int32_t nb : {4, 8, 12, 16, 20, 28, 32})
    for (int32_t threads : {256, 512}) {
      SCOPED_TRACE("nb " + std::to_string(nb) + ", " + std::to_string(threads) + " threads");
      const int32_t n = nb * 256 * 3 + 5;  // 256 bins x 3 channels, and a part of a round
      // The whole range, and a cluster partner's share of it: from bin-channel
      // 301 (histogram.cu's bc0 * nb + thread) to the end.
      for (int32_t start : {0, 301 * nb}) {
        std::vector<int32_t> visits(static_cast<std::size_t>(n), 0);
        for (int32_t t = 0; t < threads; ++t) {
          rr::FlushCursor at(start + t, threads, nb);
          for (int32_t i = start + t; i < n; i += threads, at.next(nb)) {
            ASSERT_EQ(at.bc, i / nb);
            ASSERT_EQ(at.q, i % nb);
            ++visits[i];
          }
        }
        EXPECT_EQ(std::count(visits.begin(), visits.end(), 1), n - start);
      }
    }
  // The copies of a position are summed: column c * nb + q at each bc.
  std::vector<uint32_t> h(static_cast<std::size_t>(rr::counters(2, 1)));
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint32_t>(i);
  EXPECT_EQ(rr::sum_copies(h.data(), 1, 8, 3, rr::copies(8)), 32u * 4 + 3 + 11 + 19 + 27);  // four copies at bc 1
  EXPECT_EQ(rr::sum_copies(h.data(), 0, 28, 27, rr::copies(28)), 27u);                      // one copy
}

TEST(RotatedRows, ReplayedWalkGivesTheCpuHistogram) {
  std::mt19937 rng(19);
  struct Case {
    std::size_t features;
    int32_t max_bins, classes, n_group, warps;
  };
  const std::vector<Case> cases = {
      {28, 256, 2, 28, 16},  // every feature: 28 lanes, four idle
      {28, 256, 3, 20, 8},   // 20 of 28: lanes skip the others' positions
      {27, 64, 2, 27, 16},   // a padding byte: position 27 is never added
      {32, 16, 2, 32, 8},    // every lane
      {16, 32, 2, 16, 16},   // two copies
      {9, 40, 4, 8, 8},      // rows of 12 bytes: two copies, 8 lanes idle
      {8, 8, 2, 6, 16},      // four copies
      {4, 4, 2, 3, 4},       // eight copies
  };
  for (const Case& c : cases) {
    const std::vector<int32_t> group = test::random_group(c.features, c.n_group, rng);
    SCOPED_TRACE(std::to_string(c.features) + " features, group of " + std::to_string(group.size()));
    const std::size_t n_rows = 3000;
    const test::ReplayMatrix m = test::random_replay_matrix(n_rows, c.features, c.max_bins, rng);
    ASSERT_TRUE(rr::dense_group(c.n_group, static_cast<int32_t>(m.stride)));
    const std::vector<int32_t> cls = test::random_classes(n_rows, c.classes, rng);
    const std::vector<RowEntry> entries = test::scattered_entries(n_rows, rng);
    const auto expected = test::cpu_histogram(m, cls, c.classes, entries, group);
    EXPECT_EQ(replay(m, cls, c.classes, entries, group, c.warps), expected);
    EXPECT_GT(std::accumulate(expected.begin(), expected.end(), int64_t{0}), 0);
  }
}

}  // namespace
}  // namespace canopy
