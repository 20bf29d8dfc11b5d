// The swizzled-rows histogram walk (kernels/swizzled_rows.h) replayed on the
// host lane by lane, in the order histogram.cu's kernel runs it: half loads,
// word exchanges, byte selectors, one column a position and the flush must
// give accumulate_histogram_cpu's histogram, each lane must read the byte it
// adds, and a step's atomic adds must fall in distinct banks. The CUDA
// kernel itself runs in the GPU tests (CudaBackend.HistogramTuningsMatchCpu).
#include "kernels/swizzled_rows.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "histogram_replay.h"

namespace canopy {
namespace {

namespace sr = swizzled_rows;

// The lane's slots of a row of nb bytes, as histogram.cu's swizzled_walk
// fills them: 32-byte rows in two halves, the lane's first half first; and
// the class the walk takes from the loaded words' last byte under
// CudaTuning::histogram_row_classes (before the words are swizzled).
template <int kWords>
void load_slots(const uint8_t* row, int32_t lane, uint32_t (&w)[kWords], int32_t& row_class) {
  if (kWords == 8) {
    const int32_t first = sr::first_half(lane);
    std::memcpy(w, row + 16 * first, 16);
    std::memcpy(w + 4, row + 16 * (first ^ 1), 16);
  } else {
    std::memcpy(w, row, 4 * kWords);
  }
  row_class = sr::class_of_last_word(sr::loaded_last_word(w, lane));
  sr::swizzle_words(w, lane);
}

std::vector<uint32_t> slots_of(const uint8_t* row, int32_t lane, int32_t nb, int32_t& row_class) {
  uint32_t w8[8], w4[4], w2[2], w1[1];
  switch (nb) {
    case 32:
      load_slots(row, lane, w8, row_class);
      return {w8, w8 + 8};
    case 16:
      load_slots(row, lane, w4, row_class);
      return {w4, w4 + 4};
    case 8:
      load_slots(row, lane, w2, row_class);
      return {w2, w2 + 2};
    default:
      load_slots(row, lane, w1, row_class);
      return {w1, w1 + 1};
  }
}
std::vector<uint32_t> slots_of(const uint8_t* row, int32_t lane, int32_t nb) {
  int32_t row_class = 0;
  return slots_of(row, lane, nb, row_class);
}

// The kernel's walk over entries for the group f with `warps` warps a block
// and the histogram at shared byte address `start`: returns the flushed
// histogram, (j * max_bins + bin) * k + class. row_classes: each entry's
// class is read from its row's last byte (which must hold it), not cls.
std::vector<int64_t> replay(const test::ReplayMatrix& m, const std::vector<int32_t>& cls, int32_t k,
                            const std::vector<RowEntry>& entries, const std::vector<int32_t>& f, int32_t warps,
                            uint32_t start, bool row_classes = false) {
  const int32_t nb = sr::walk_bytes(static_cast<int64_t>(m.stride)), slice = sr::slice_start(f[0]);
  std::vector<int64_t> columns(static_cast<std::size_t>(sr::counters(m.max_bins, k)), 0);
  const int64_t n = static_cast<int64_t>(entries.size()), threads = static_cast<int64_t>(warps) * sr::kLanes;
  for (int64_t round = 0; round < n; round += threads)
    for (int32_t warp = 0; warp < warps; ++warp) {
      std::vector<std::vector<uint32_t>> slots(sr::kLanes);
      std::vector<uint32_t> counter(sr::kLanes);
      std::vector<int32_t> lane_class(sr::kLanes);
      for (int32_t lane = 0; lane < sr::kLanes; ++lane) {
        const int64_t e = round + static_cast<int64_t>(warp) * sr::kLanes + lane;
        if (e >= n) continue;
        int32_t row_class = 0;
        slots[lane] = slots_of(m.bins.data() + entries[e].row * m.stride + slice, lane, nb, row_class);
        lane_class[lane] = row_classes ? row_class : cls[entries[e].row];
        counter[lane] = sr::lane_counter(start, lane_class[lane], lane);
      }
      for (int32_t p = 0; p < nb; ++p) {
        std::set<uint32_t> banks;
        int32_t adds = 0;
        for (int32_t lane = 0; lane < sr::kLanes; ++lane) {
          if (slots[lane].empty()) continue;  // every position, the group's or not
          const RowEntry& en = entries[round + static_cast<int64_t>(warp) * sr::kLanes + lane];
          const uint32_t b = sr::byte_of(slots[lane][p / 4], sr::selector(lane, p % 4));
          EXPECT_EQ(b, m.bins[en.row * m.stride + slice + sr::position(lane, nb, p)])
              << "lane " << lane << " step " << p << " read another byte";
          // Two channels: the kernel's shifted select and logic op instead.
          const uint32_t address = k == sr::kTwoChannels
                                       ? start + sr::two_channel_step_offset(
                                                     sr::byte_of(slots[lane][p / 4], sr::shifted_selector(lane, p % 4)),
                                                     sr::lane_offset(lane_class[lane], lane), p)
                                       : sr::step_counter(counter[lane], p, b, k);
          EXPECT_EQ(address % 4, 0u);
          const uint32_t c = (address - start) / 4;
          EXPECT_EQ(c, sr::column_counter(static_cast<int64_t>(b) * k + lane_class[lane], lane ^ p));
          EXPECT_EQ(lane ^ p, lane / nb * nb + sr::position(lane, nb, p));  // the lane's copy
          columns.at(c) += en.mult;
          banks.insert(c % sr::kLanes);
          ++adds;
        }
        EXPECT_EQ(static_cast<int32_t>(banks.size()), adds) << "step " << p << ": two lanes in one bank";
      }
    }
  // Flush: column c holds position c % nb (copy c / nb), the group's only.
  std::vector<int32_t> feature_of(nb, -1);
  for (std::size_t j = 0; j < f.size(); ++j) feature_of[f[j] - slice] = static_cast<int32_t>(j);
  const int64_t feat_stride = static_cast<int64_t>(m.max_bins) * k;
  std::vector<int64_t> hist(f.size() * static_cast<std::size_t>(feat_stride), 0);
  for (int64_t i = 0; i < static_cast<int64_t>(columns.size()); ++i) {
    const int64_t bc = i / sr::kLanes;
    const int32_t j = feature_of[(i - bc * sr::kLanes) % nb];
    if (j >= 0) hist[j * feat_stride + bc] += columns[i];
  }
  return hist;
}

TEST(SwizzledRows, LayoutAndSelectors) {
  EXPECT_EQ(sr::counters(256, 2), 32 * 256 * 2);
  EXPECT_EQ(sr::row_bytes(1), 4);
  EXPECT_EQ(sr::row_bytes(5), 8);
  EXPECT_EQ(sr::row_bytes(9), 16);
  EXPECT_EQ(sr::row_bytes(28), 32);
  EXPECT_EQ(sr::row_bytes(32), 32);
  EXPECT_EQ(sr::row_bytes(33), 64);  // wider rows: whole 32-byte slices
  EXPECT_EQ(sr::row_bytes(400), 416);
  EXPECT_EQ(sr::walk_bytes(8), 8);
  EXPECT_EQ(sr::walk_bytes(416), 32);
  EXPECT_EQ(sr::slice_start(17), 0);
  EXPECT_EQ(sr::slice_start(64), 64);
  EXPECT_TRUE(sr::takes(28, 32, false));
  EXPECT_TRUE(sr::takes(17, 32, false));
  EXPECT_FALSE(sr::takes(16, 32, true));  // a group of half the row or less: the row-words walk
  EXPECT_TRUE(sr::takes(5, 8, false));
  EXPECT_TRUE(sr::takes(3, 4, false));
  EXPECT_FALSE(sr::takes(28, 28, true));   // rows not padded to a power of two
  EXPECT_TRUE(sr::takes(8, 64, true));     // a wide row's last slice of an every-feature histogram
  EXPECT_FALSE(sr::takes(32, 64, false));  // a node's sample: its features need not share a slice
  for (int32_t nb : {4, 8, 16, 32}) {
    std::vector<uint8_t> row(nb);
    std::iota(row.begin(), row.end(), 0);
    for (int32_t lane = 0; lane < sr::kLanes; ++lane) {
      const std::vector<uint32_t> w = slots_of(row.data(), lane, nb);
      for (int32_t s = 0; s < nb / 4; ++s) {
        uint32_t word = 0;
        std::memcpy(&word, row.data() + 4 * sr::slot_word(s, lane, nb), 4);
        EXPECT_EQ(w[s], word) << nb << " bytes, lane " << lane << " slot " << s;
        for (int32_t i = 0; i < 4; ++i) {
          EXPECT_EQ(sr::byte_of(w[s], sr::selector(lane, i)), static_cast<uint32_t>((4 * s + i) ^ (lane % nb)));
          EXPECT_EQ(sr::byte_of(w[s], sr::shifted_selector(lane, i)), static_cast<uint32_t>((4 * s + i) ^ (lane % nb))
                                                                          << 8);
        }
      }
    }
    // A step's lanes take 32 distinct columns, nb positions in each copy;
    // over the steps each lane takes every position once.
    std::vector<std::set<int32_t>> seen(sr::kLanes);
    for (int32_t p = 0; p < nb; ++p) {
      std::set<int32_t> columns;
      for (int32_t lane = 0; lane < sr::kLanes; ++lane) {
        columns.insert(lane ^ p);
        seen[lane].insert(sr::position(lane, nb, p));
      }
      EXPECT_EQ(static_cast<int32_t>(columns.size()), sr::kLanes);
    }
    for (const auto& s : seen) EXPECT_EQ(static_cast<int32_t>(s.size()), nb);
  }
  // The histogram starts at a multiple of kCounterRowBytes within the bytes
  // the host adds, wherever the dynamic shared memory starts (8-byte aligned).
  for (uint32_t base = 0; base < 4096; base += 8) {
    const uint32_t start = sr::histogram_start(base);
    EXPECT_EQ(start % sr::kCounterRowBytes, 0u);
    EXPECT_GE(start, base);
    EXPECT_LT(start - base, sr::kCounterRowBytes);
    EXPECT_EQ((start - base) % 4, 0u);
  }
}

TEST(SwizzledRows, ReplayedWalkGivesTheCpuHistogram) {
  std::mt19937 rng(23);
  struct Case {
    std::size_t features;
    int32_t max_bins, classes, n_group, warps;
    uint32_t start;      // the histogram's shared byte address, a multiple of kCounterRowBytes
    int32_t slice = -1;  // >= 0: the every-feature histogram's group from this feature on, in order
  };
  const std::vector<Case> cases = {
      {28, 256, 2, 28, 16, 0},      // every feature; positions 28-31 are padding
      {28, 256, 3, 20, 8, 128},     // 20 of 28: the others' columns are skipped
      {32, 16, 2, 32, 8, 1024},     // every byte a feature
      {17, 4, 2, 17, 16, 0},        // the fewest features the walk takes; 4 bins a feature
      {30, 64, 5, 24, 4, 256},      // five classes
      {12, 256, 3, 12, 8, 0},       // rows of 16 bytes: two copies
      {9, 32, 2, 9, 16, 128},       // the fewest features of 16-byte rows
      {6, 16, 2, 5, 8, 0},          // rows of 8 bytes: four copies, a feature outside the group
      {3, 8, 4, 3, 4, 0},           // rows of 4 bytes: eight copies, a padding byte
      {4, 16, 2, 3, 8, 128},        // and two classes, a feature outside the group
      {50, 256, 2, 32, 16, 0, 0},   // rows of 64 bytes: the first slice
      {50, 64, 3, 18, 8, 128, 32},  // and the last, 18 features and padding
      {100, 16, 2, 4, 4, 0, 96},    // rows of 128 bytes: a last slice of 4 features
  };
  for (const Case& c : cases) {
    std::vector<int32_t> group = test::random_group(c.features, c.n_group, rng);
    if (c.slice >= 0)
      for (int32_t j = 0; j < c.n_group; ++j) group[j] = c.slice + j;
    SCOPED_TRACE(std::to_string(c.features) + " features, group of " + std::to_string(group.size()));
    const std::size_t n_rows = 3000;
    const test::ReplayMatrix m =
        test::random_replay_matrix(n_rows, c.features, c.max_bins, rng, sr::row_bytes(c.features));
    ASSERT_TRUE(sr::takes(c.n_group, static_cast<int64_t>(m.stride), c.slice >= 0));
    const std::vector<int32_t> cls = test::random_classes(n_rows, c.classes, rng);
    const std::vector<RowEntry> entries = test::scattered_entries(n_rows, rng);
    const auto expected = test::cpu_histogram(m, cls, c.classes, entries, group);
    EXPECT_EQ(replay(m, cls, c.classes, entries, group, c.warps, c.start), expected);
    EXPECT_GT(std::accumulate(expected.begin(), expected.end(), int64_t{0}), 0);
    // CudaTuning::histogram_row_classes (HistogramWalks::row_class_byte): in
    // rows of one slice with padding, and classes below max_bins, each row's
    // last byte holds its class; the walk reads it from the row (a wrong
    // byte gives another histogram) and adds it as a bin of a column the
    // flush skips (replay's columns.at throws past the histogram).
    if (m.stride <= static_cast<std::size_t>(sr::kSliceBytes) && m.stride > c.features && c.classes <= c.max_bins) {
      test::ReplayMatrix with_classes = m;
      for (std::size_t r = 0; r < n_rows; ++r)
        with_classes.bins[r * m.stride + m.stride - 1] = static_cast<uint8_t>(cls[r]);
      EXPECT_EQ(replay(with_classes, cls, c.classes, entries, group, c.warps, c.start, true), expected)
          << "classes read from the rows";
    }
  }
}

}  // namespace
}  // namespace canopy
