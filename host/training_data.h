#pragma once
// A dataset prepared for training: task and targets encoded, weights
// quantised to integers, features binned once (DESIGN principle 4).
#include <cstdint>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "io/model.h"
#include "kernels/bin.h"
#include "kernels/split_math.h"
#include "kernels/tree_backend.h"

namespace canopy {

enum class TaskChoice { kAuto, kClassification, kRegression };

// classification when the label is text, or integer-valued with at most 50
// distinct values; regression otherwise.
Task infer_task(const Dataset& d);

struct TrainingData {
  const Dataset* dataset = nullptr;
  Task task = Task::kClassification;
  int32_t n_classes = 0;                  // 0 for regression
  std::vector<std::string> class_labels;  // classification: label text of each class id
  std::vector<int32_t> class_id;          // classification
  std::vector<double> y;                  // regression targets
  // Regression targets in fixed point: y ~= y_center + y_fixed / y_scale, with
  // y_scale a power of two chosen so that any node's weighted sum stays below
  // 2^53 (exact in a double).
  std::vector<int64_t> y_fixed;
  double y_center = 0.0, y_scale = 1.0;
  // Integer sample weights: row_quantum ~= sample_weight * weight_scale
  // (empty when every weight is 1); rows with weight 0 never train.
  std::vector<int64_t> row_quantum;
  double weight_scale = 1.0;
  BinCuts cuts;
  BinnedMatrix bins;
  int32_t max_bins = 256;
  std::string fingerprint;  // content hash of features, labels and weights

  std::size_t n_rows() const { return bins.n_rows; }
  std::size_t n_features() const { return bins.n_features; }
  int32_t n_outputs() const { return task == Task::kClassification ? n_classes : 1; }
};

// Scale of integer class and sample weights.
constexpr double kWeightQuantum = 65536.0;

// Rows a training set may have: row indices are 32-bit (RowEntry, the
// bootstrap's bounded draws) on both backends.
constexpr std::size_t kMaxTrainingRows = UINT32_MAX;

// Throws DataError naming `source` where a dataset of this shape cannot
// train: no rows, no feature columns, or more than kMaxTrainingRows rows.
void require_trainable_shape(const std::string& source, std::size_t n_rows, std::size_t n_features);

// Labels, weights, cuts (on the CPU) and bins (by `binner`'s assign_bins, the
// CPU when null: the bins are the same either way).
// Throws DataError for unusable labels (a single class, non-finite targets)
// and as require_trainable_shape.
TrainingData prepare_training_data(const Dataset& d, TaskChoice task, int32_t max_bins,
                                   const TreeBackend* binner = nullptr);

// Encodes labels of `d` with an existing class list (evaluate / cv on new
// data). Unknown labels throw DataError naming the row and label.
std::vector<int32_t> encode_classes(const Dataset& d, const std::vector<std::string>& class_labels);

// Text of a numeric label as stored in class lists ("0", "1", "2.5").
std::string numeric_label_text(double v);

}  // namespace canopy
