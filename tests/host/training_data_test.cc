// prepare_training_data's shape checks: what cannot train is refused with
// the source named, before anything is binned.
#include "host/training_data.h"

#include <gtest/gtest.h>

#include <string>

namespace canopy {
namespace {

std::string shape_error(std::size_t n_rows, std::size_t n_features) {
  try {
    require_trainable_shape("data.h5", n_rows, n_features);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(TrainingData, RefusesShapesThatCannotTrain) {
  EXPECT_EQ(shape_error(0, 3), "data.h5: no data rows");
  EXPECT_EQ(shape_error(10, 0), "data.h5: no feature columns");
  // Row indices are 32-bit on both backends: one row more is refused, not wrapped.
  EXPECT_EQ(shape_error(kMaxTrainingRows + 1, 2),
            "data.h5: 4294967296 data rows; canopy trains on at most 4294967295 (32-bit row indices)");
  EXPECT_EQ(shape_error(kMaxTrainingRows, 2), "");
  EXPECT_EQ(shape_error(1, 1), "");
}

TEST(TrainingData, PrepareRefusesADatasetWithoutRows) {
  Dataset d;
  d.source = "empty.csv";
  d.label_name = "y";
  d.feature_names = {"a"};
  d.columns.assign(1, {});
  try {
    prepare_training_data(d, TaskChoice::kAuto, 256);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "empty.csv: no data rows");
  }
}

}  // namespace
}  // namespace canopy
