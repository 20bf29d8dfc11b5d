// The CUDA backend's launch choices as text (host/cuda_tuning_text.h): what a
// spec sets, the round trip through describe_cuda_tuning, and errors that
// name the key or value and what was expected.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "host/cuda_tuning_text.h"

namespace canopy {
namespace {

std::string error_of(const std::string& spec) {
  try {
    parse_cuda_tuning(spec);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(CudaTuningText, EmptyIsTheDefaults) {
  const std::string defaults = describe_cuda_tuning(CudaTuning{});
  EXPECT_EQ(describe_cuda_tuning(parse_cuda_tuning("")), defaults);
  EXPECT_EQ(describe_cuda_tuning(parse_cuda_tuning("  ")), defaults);
  EXPECT_EQ(
      defaults,
      "histogram_mapping=swizzled_rows,histogram_shared_kib=96,histogram_load_batch=1,histogram_block_threads=512,"
      "histogram_atomics_in_halves=1,histogram_cluster_blocks=1,histogram_blocks_per_sm=0,histogram_staggered_flush=0,"
      "histogram_sector_flush=0,"
      "histogram_row_classes=0,"
      "histogram_identity_root=0,pad_rows=0,histogram_subtraction=1,partition_columns=1,"
      "partition_two_pass=1,"
      "workspace_mib=0,"
      "split_mapping=thread,time_histograms=0");
}

TEST(CudaTuningText, EveryKeySetsItsField) {
  const CudaTuning t = parse_cuda_tuning(
      "histogram_mapping=rotated_rows, histogram_shared_kib=48,histogram_load_batch=4,histogram_block_threads=256,"
      "histogram_atomics_in_halves=0,histogram_cluster_blocks=4,histogram_blocks_per_sm=1,histogram_staggered_flush=1,"
      "histogram_sector_flush=1,"
      "histogram_row_classes=true,"
      "histogram_identity_root=1,pad_rows=true,histogram_subtraction=0,partition_"
      "columns=false,partition_two_pass="
      "0,workspace_mib=2,"
      "split_mapping=warp,time_histograms=1");
  EXPECT_EQ(t.histogram_mapping, CudaTuning::HistogramMapping::kRotatedRows);
  EXPECT_EQ(t.histogram_shared_bytes, std::size_t(48) << 10);
  EXPECT_EQ(t.histogram_load_batch, 4);
  EXPECT_EQ(t.histogram_block_threads, 256);
  EXPECT_FALSE(t.histogram_atomics_in_halves);
  EXPECT_EQ(t.histogram_cluster_blocks, 4);
  EXPECT_EQ(t.histogram_blocks_per_sm, 1);
  EXPECT_TRUE(t.histogram_staggered_flush);
  EXPECT_TRUE(t.histogram_sector_flush);
  EXPECT_TRUE(t.histogram_row_classes);
  EXPECT_TRUE(t.histogram_identity_root);
  EXPECT_TRUE(t.pad_rows);
  EXPECT_FALSE(t.histogram_subtraction);  // each the opposite of its default
  EXPECT_FALSE(t.partition_columns);
  EXPECT_FALSE(t.partition_two_pass);
  EXPECT_EQ(t.workspace_bytes, std::size_t(2) << 20);
  EXPECT_EQ(t.split_mapping, CudaTuning::SplitMapping::kWarpPerPair);
  EXPECT_TRUE(t.time_histograms);
  // The description parses back to the same tuning.
  EXPECT_EQ(describe_cuda_tuning(parse_cuda_tuning(describe_cuda_tuning(t))), describe_cuda_tuning(t));
  EXPECT_EQ(parse_cuda_tuning("histogram_mapping=row").histogram_mapping, CudaTuning::HistogramMapping::kRowPerThread);
  EXPECT_EQ(parse_cuda_tuning("histogram_mapping=element").histogram_mapping,
            CudaTuning::HistogramMapping::kElementPerThread);
  EXPECT_EQ(parse_cuda_tuning("histogram_mapping=rotated_rows").histogram_mapping,
            CudaTuning::HistogramMapping::kRotatedRows);
  EXPECT_EQ(parse_cuda_tuning("histogram_mapping=swizzled_rows").histogram_mapping,
            CudaTuning::HistogramMapping::kSwizzledRows);
  EXPECT_FALSE(parse_cuda_tuning("pad_rows=false").pad_rows);
}

TEST(CudaTuningText, ErrorsNameTheKeyOrValueAndWhatWasExpected) {
  EXPECT_NE(error_of("histogram_mapping=diagonal")
                .find("invalid value \"diagonal\" for histogram_mapping: expected "
                      "row|element|row_words|rotated_rows|swizzled_rows"),
            std::string::npos);
  EXPECT_NE(error_of("histogram_load_batch=2").find("expected 1|4"), std::string::npos);
  EXPECT_NE(error_of("histogram_block_threads=300").find("expected 256|512"), std::string::npos);
  EXPECT_NE(error_of("histogram_cluster_blocks=3").find("expected 1|2|4|8"), std::string::npos);
  EXPECT_NE(error_of("histogram_blocks_per_sm=5").find("\"5\" for histogram_blocks_per_sm: expected 0..4"),
            std::string::npos);
  EXPECT_NE(error_of("histogram_shared_kib=0").find("for histogram_shared_kib"), std::string::npos);
  EXPECT_NE(error_of("workspace_mib=-1").find("\"-1\" for workspace_mib"), std::string::npos);
  EXPECT_NE(error_of("pad_rows=yes").find("expected 0|1"), std::string::npos);
  const std::string unknown = error_of("partition_three_pass=1");
  EXPECT_NE(unknown.find("unknown key \"partition_three_pass\""), std::string::npos);
  EXPECT_NE(unknown.find("partition_two_pass"), std::string::npos);  // the keys it knows
  EXPECT_NE(error_of("pad_rows").find("\"pad_rows\" has no value"), std::string::npos);
  EXPECT_NE(error_of("pad_rows=1,pad_rows=0").find("given twice"), std::string::npos);
  EXPECT_NE(error_of("pad_rows=1,,split_mapping=warp").find("empty item"), std::string::npos);
}

TEST(CudaTuningText, HelpListsEveryKeyWithItsDefault) {
  const std::string help = cuda_tuning_help();
  EXPECT_NE(help.find("histogram_mapping=row|element|row_words|rotated_rows|swizzled_rows"), std::string::npos);
  EXPECT_NE(help.find("(default swizzled_rows)"), std::string::npos);
  EXPECT_NE(help.find("partition_two_pass=0|1"), std::string::npos);
  EXPECT_NE(help.find("split_mapping=thread|warp"), std::string::npos);
}

}  // namespace
}  // namespace canopy
