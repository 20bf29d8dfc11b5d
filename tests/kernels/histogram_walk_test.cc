// The CUDA backend's choice of histogram walk, counters and shared memory
// (kernels/histogram_walk.h), checked on the host: the device row strides,
// the default tuning's figures, the fallbacks of the opt-in walks, and over
// a grid of shapes that every launch's blocks fit the shared memory given
// them and take only a walk whose kernel handles them.
#include "kernels/histogram_walk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace canopy {
namespace {

using Mapping = CudaTuning::HistogramMapping;

CudaTuning tuning_of(Mapping mapping, bool pad_rows = false) {
  CudaTuning t;
  t.histogram_mapping = mapping;
  t.pad_rows = pad_rows;
  return t;
}

HistogramWalks walks_of(const CudaTuning& t, int64_t n_features, int32_t max_bins, int32_t channels, bool counters32,
                        std::size_t shared_kib = 96) {
  const HistogramBatchShape shape{
      n_features, static_cast<int64_t>(device_row_stride(t, static_cast<std::size_t>(n_features))),
      max_bins,   channels,
      counters32, shared_kib << 10};
  return HistogramWalks(t, shape);
}

TEST(HistogramWalk, DeviceRowStrides) {
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kRowWords), 28), 28u);
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kRowWords), 9), 12u);  // whole words
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kRowWords, true), 28), 32u);
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kRowWords, true), 9), 16u);
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kRowPerThread), 9), 9u);  // packed
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kRotatedRows), 9), 12u);
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kSwizzledRows), 28), 32u);  // a power of two up to 32
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kSwizzledRows), 9), 16u);
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kSwizzledRows), 5), 8u);
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kSwizzledRows), 1), 4u);
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kSwizzledRows), 41), 64u);  // wider: whole 32-byte slices
  EXPECT_EQ(device_row_stride(tuning_of(Mapping::kRowPerThread), 0), 1u);
}

TEST(HistogramWalk, RowWordsOn28BinaryFeatures) {
  const CudaTuning t = tuning_of(Mapping::kRowWords);  // 96 KiB, 512 threads
  const HistogramWalks w = walks_of(t, 28, 256, 2, true);
  EXPECT_EQ(w.shared_group(), 48);  // 96 KiB of 2 KiB histograms
  EXPECT_EQ(w.counters(), HistogramCounters::kShared32);
  EXPECT_FALSE(w.needs_dense_groups());
  EXPECT_EQ(w.launch(true).histogram_mapping, Mapping::kRowWords);
  EXPECT_EQ(w.launch(false).histogram_mapping, Mapping::kRowWords);
  EXPECT_EQ(w.shared_bytes(w.launch(true), 28), 28u * 2048);
  // 64-bit counters (weights, regression): 4 KiB a feature.
  const HistogramWalks w64 = walks_of(t, 28, 256, 2, false);
  EXPECT_EQ(w64.shared_group(), 24);
  EXPECT_EQ(w64.counters(), HistogramCounters::kShared64);
  // 300 classes: one feature's histogram does not fit, global atomics.
  const HistogramWalks wide = walks_of(t, 8, 256, 300, false);
  EXPECT_EQ(wide.shared_group(), 0);
  EXPECT_EQ(wide.counters(), HistogramCounters::kGlobal);
  EXPECT_EQ(wide.shared_bytes(wide.launch(true), 8), 0u);
}

TEST(HistogramWalk, SwizzledRowsTakeDense32BitLaunchesOnly) {
  const CudaTuning t = tuning_of(Mapping::kSwizzledRows);
  const HistogramWalks w = walks_of(t, 28, 256, 2, true);
  EXPECT_TRUE(w.needs_dense_groups());
  EXPECT_EQ(w.shared_group(), 32);
  EXPECT_TRUE(w.dense(17, false));
  EXPECT_FALSE(w.dense(16, true));
  EXPECT_EQ(w.launch(true).histogram_mapping, Mapping::kSwizzledRows);
  EXPECT_EQ(w.launch(false).histogram_mapping, Mapping::kRowWords);
  EXPECT_EQ(w.shared_bytes(w.launch(true), 28), 32u * 256 * 2 * 4 + 128);  // from a 128-byte boundary
  EXPECT_EQ(w.shared_bytes(w.launch(false), 5), 5u * 2048);
  // 64-bit counters or a block too small: row-words.
  for (const HistogramWalks& other : {walks_of(t, 28, 256, 2, false), walks_of(t, 28, 256, 3, true, 48)}) {
    EXPECT_FALSE(other.needs_dense_groups());
    EXPECT_EQ(other.launch(true).histogram_mapping, Mapping::kRowWords);
  }
  // Narrow rows: 6 features in rows of 8 bytes take groups of 5 or more.
  const HistogramWalks narrow = walks_of(t, 6, 16, 2, true);
  EXPECT_TRUE(narrow.needs_dense_groups());
  EXPECT_TRUE(narrow.dense(5, false));
  EXPECT_FALSE(narrow.dense(4, false));
  // Wider rows: the every-feature histogram's 32-feature slices, the last
  // one short; a node's sample falls back.
  const HistogramWalks wide = walks_of(t, 40, 256, 2, true);
  EXPECT_TRUE(wide.needs_dense_groups());
  EXPECT_EQ(wide.shared_group(), 32);  // the planner's groups are the slices
  EXPECT_TRUE(wide.dense(32, true));
  EXPECT_TRUE(wide.dense(8, true));
  EXPECT_FALSE(wide.dense(32, false));
}

// CudaTuning::histogram_row_classes: the class id in the last byte of rows
// padded within one sector, for 32-bit counters and classes below max_bins.
TEST(HistogramWalk, RowClassesTakeTheLastPaddingByte) {
  CudaTuning t = tuning_of(Mapping::kSwizzledRows);
  EXPECT_EQ(walks_of(t, 28, 256, 2, true).row_class_byte(), -1);  // opt-in
  t.histogram_row_classes = true;
  EXPECT_EQ(walks_of(t, 28, 256, 2, true).row_class_byte(), 31);  // rows of 32 bytes
  EXPECT_EQ(walks_of(t, 12, 256, 5, true).row_class_byte(), 15);
  EXPECT_EQ(walks_of(t, 3, 4, 4, true).row_class_byte(), 3);         // 4 classes, 4 bins
  EXPECT_EQ(walks_of(t, 3, 4, 5, true).row_class_byte(), -1);        // a class past max_bins
  EXPECT_EQ(walks_of(t, 28, 256, 2, false).row_class_byte(), -1);    // 64-bit counters (weights, a count channel)
  EXPECT_EQ(walks_of(t, 32, 256, 2, true).row_class_byte(), -1);     // no padding
  EXPECT_EQ(walks_of(t, 40, 256, 2, true).row_class_byte(), -1);     // rows of two slices
  EXPECT_EQ(walks_of(t, 16, 1024, 300, true).row_class_byte(), -1);  // classes past a byte
  // Row-words rows: padded only with pad_rows (28 -> 32) or to whole words (7 -> 8).
  CudaTuning words = tuning_of(Mapping::kRowWords);
  words.histogram_row_classes = true;
  EXPECT_EQ(walks_of(words, 28, 256, 2, true).row_class_byte(), -1);
  EXPECT_EQ(walks_of(words, 7, 256, 3, true).row_class_byte(), 7);
  words.pad_rows = true;
  EXPECT_EQ(walks_of(words, 28, 256, 2, true).row_class_byte(), 31);
}

TEST(HistogramWalk, EveryLaunchFitsItsBlockAndItsKernel) {
  int checked = 0;
  for (Mapping mapping : {Mapping::kRowPerThread, Mapping::kElementPerThread, Mapping::kRowWords, Mapping::kRotatedRows,
                          Mapping::kSwizzledRows})
    for (bool pad : {false, true})
      for (std::size_t kib : {48, 96})
        for (int64_t nf : {1, 3, 5, 9, 12, 17, 28, 32, 40, 70})
          for (int32_t bins : {4, 64, 256})
            for (int32_t channels : {2, 3, 5, 300})
              for (bool counters32 : {true, false}) {
                const CudaTuning t = tuning_of(mapping, pad);
                const HistogramWalks w = walks_of(t, nf, bins, channels, counters32, kib);
                const int64_t stride = static_cast<int64_t>(device_row_stride(t, static_cast<std::size_t>(nf)));
                const int32_t g = w.shared_group();
                SCOPED_TRACE("mapping " + std::to_string(static_cast<int>(mapping)) + ", " + std::to_string(nf) +
                             " features, " + std::to_string(bins) + " bins, " + std::to_string(channels) +
                             " channels, " + (counters32 ? "32" : "64") + "-bit, " + std::to_string(kib) + " KiB");
                EXPECT_EQ(w.counters() == HistogramCounters::kGlobal, g == 0);
                for (bool dense : {true, false}) {
                  const CudaTuning launch = w.launch(dense);
                  for (int32_t group = 1; group <= std::max(1, g); ++group) {
                    const std::size_t smem = w.shared_bytes(launch, group);
                    EXPECT_LE(smem, kib << 10);
                    if (g == 0) EXPECT_EQ(smem, 0u);
                  }
                  if (launch.histogram_mapping == Mapping::kSwizzledRows) {
                    EXPECT_TRUE(dense);
                    EXPECT_EQ(w.counters(), HistogramCounters::kShared32);  // the walk's only kernel
                    EXPECT_TRUE(stride == 4 || stride == 8 || stride == 16 || stride % 32 == 0);
                  }
                  if (launch.histogram_mapping == Mapping::kRotatedRows) {
                    EXPECT_TRUE(dense);
                    EXPECT_TRUE(stride % 4 == 0 && stride <= 32);
                  }
                  if (launch.histogram_mapping != mapping) EXPECT_EQ(launch.histogram_mapping, Mapping::kRowWords);
                  ++checked;
                }
              }
  EXPECT_EQ(checked, 5 * 2 * 2 * 10 * 3 * 4 * 2 * 2);
}

}  // namespace
}  // namespace canopy
