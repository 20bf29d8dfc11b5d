#pragma once
// A trained forest plus everything needed to use and audit it.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/forest_nodes.h"

namespace canopy {

enum class Task { kClassification, kRegression };

inline const char* task_name(Task t) {
  return t == Task::kClassification ? "classification" : "regression";
}

struct Model {
  Task task = Task::kClassification;
  std::vector<std::string> feature_names;
  std::vector<std::string> class_labels;    // classification only, index = class id
  std::string label_name;
  ForestNodes forest;
  std::vector<double> feature_importances;  // impurity-based, sums to 1 (or all 0)
  std::string params_json;                  // every parameter, defaults included
  std::string data_fingerprint;             // hex content hash of the training data
  std::string canopy_version;
  int64_t n_train_rows = 0;
};

}  // namespace canopy
