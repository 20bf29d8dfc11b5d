// train_forests answers a backend that runs out of device memory by growing
// the same trees in smaller batches. The backend here is the CPU one behind a
// wrapper that throws DeviceMemoryError, as the CUDA backend does, whenever a
// batch has more trees than it "fits": the forest must come out identical to
// the one grown without the wrapper, and the wrapper must see every failed
// batch ended.
#include "host/forest_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "forwarding_backend.h"
#include "host/params.h"
#include "host/training_data.h"
#include "kernels/device.h"
#include "test_util.h"

namespace canopy {
namespace {

TrainingData prepared() { return test::synthetic_classification(2000, 8, 0.05, 11, 32); }

ForestParams params() {
  return resolve_params({{"n_estimators", "23"}, {"max_depth", "6"}, {"seed", "3"}}, Task::kClassification);
}

TEST(ForestTrainer, OutOfDeviceMemoryGrowsTheSameTreesInSmallerBatches) {
  const TrainingData td = prepared();
  auto cpu = make_cpu_tree_backend();
  const ForestNodes expected = train_forests(td, {ForestRequest{params(), {}}}, *cpu)[0].nodes;

  // 23 trees asked as one batch, 5 fit: 23 fails, then 11, then 5 fits (and
  // the later batches stay at 5: 5 5 5 5 3).
  auto inner = make_cpu_tree_backend();
  test::TightMemoryBackend tight(*inner, 23, 5);
  std::vector<std::pair<int64_t, int64_t>> progress;
  const ForestNodes got = train_forests(td, {ForestRequest{params(), {}}}, tight,
                                        [&](int64_t done, int64_t total) { progress.emplace_back(done, total); })[0]
                              .nodes;
  test::expect_same_forest(got, expected);
  EXPECT_EQ(tight.failed_, 2);
  EXPECT_EQ(tight.begun_, 2 + 5);
  EXPECT_EQ(tight.ended_, tight.begun_);
  EXPECT_FALSE(tight.in_batch_);
  EXPECT_EQ(tight.largest_, 23u);
  const std::vector<std::pair<int64_t, int64_t>> expected_progress{{5, 23}, {10, 23}, {15, 23}, {20, 23}, {23, 23}};
  EXPECT_EQ(progress, expected_progress) << "progress counts only grown trees";
}

TEST(ForestTrainer, OneTreeThatDoesNotFitEndsTheRunWithTheBytes) {
  const TrainingData td = prepared();
  auto inner = make_cpu_tree_backend();
  test::TightMemoryBackend tight(*inner, 8, 0);
  try {
    (void)train_forests(td, {ForestRequest{params(), {}}}, tight);
    FAIL() << "expected DeviceMemoryError";
  } catch (const DeviceMemoryError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("needs 2 MiB of device memory, 1 MiB available"), std::string::npos) << what;
    EXPECT_NE(what.find("one tree at a time"), std::string::npos) << what;
  }
  EXPECT_EQ(tight.failed_, 4);  // 8, 4, 2, 1
  EXPECT_EQ(tight.ended_, tight.begun_);
  EXPECT_FALSE(tight.in_batch_);
}

}  // namespace
}  // namespace canopy
