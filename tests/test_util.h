#pragma once
// Helpers shared by the test binaries.
#include <gtest/gtest.h>

#include <string>

#include "host/training_data.h"
#include "kernels/forest_nodes.h"

namespace canopy::test {

// `canopy synth` classification data (3 classes, `missing` of the values
// NaN), binned into at most max_bins bins a feature.
TrainingData synthetic_classification(int64_t rows, int features, double missing, uint64_t seed, int32_t max_bins);

// Expects two forests to be the same node for node (structure, thresholds,
// sample counts and leaf values, exactly).
void expect_same_forest(const ForestNodes& a, const ForestNodes& b);

// Folder holding the example CSVs made by scripts/make_example_data.py
// (diabetes.csv, breast_cancer.csv, iris.csv, wine.csv).
std::string data_dir();
std::string data_file(const std::string& name);

// A fresh empty temporary directory, unique per call.
std::string temp_dir();

// Writes `text` to `path` (overwrites).
void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

// Runs `canopy` with the given argument string through /bin/sh; returns the exit
// code and captures stdout and stderr.
struct CommandResult {
  int exit_code = 0;
  std::string out;
  std::string err;
};
CommandResult run_canopy(const std::string& args);

// The message of the E thrown by f ("" and a test failure if none is thrown).
template <class E, class F>
std::string error_message(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

}  // namespace canopy::test
