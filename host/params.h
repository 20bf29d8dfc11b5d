#pragma once
// Every training parameter in one table (name, Spark alias, default, help,
// validation). The table feeds command-line registration, validation, help and
// the parameters logged with each run.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/model.h"
#include "kernels/split_math.h"

namespace canopy {

// A bad parameter name or value; the message names the parameter and the value.
class ParamError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct ParamSpec {
  const char* name;         // scikit-learn name, snake_case
  const char* spark_alias;  // Spark MLlib name, or "" when none
  const char* default_value;
  const char* help;
};

// The parameter table, in display order.
const std::vector<ParamSpec>& param_table();
const ParamSpec* find_param(const std::string& name_or_alias);  // snake, kebab or Spark name

// Raw values by canonical name; absent = default.
using ParamValues = std::map<std::string, std::string>;

// Typed parameters of one forest, resolved for a task and a number of features.
struct ForestParams {
  int64_t n_estimators = 100;
  Criterion criterion = Criterion::kGini;
  int32_t max_depth = -1;                 // -1 = unlimited
  std::string max_features = "auto";      // as given; see features_per_node()
  std::string min_samples_split = "2";    // int count or fraction
  std::string min_samples_leaf = "1";
  double min_impurity_decrease = 0.0;
  bool bootstrap = true;
  std::string max_samples = "none";       // none, count or fraction
  int32_t max_bins = 256;
  std::string class_weight = "none";      // none, balanced, balanced_subsample
  bool one_vs_rest = false;               // multi_class=ovr (applies with 3+ classes)
  bool oob_score = false;
  uint64_t seed = 0;
  int32_t threads = 0;                    // 0 = every core

  int32_t features_per_node(Task task, int32_t n_features) const;
  // Trees each forest member grows: n_classes for one-vs-rest (classification
  // with 3+ classes), else 1.
  int32_t trees_per_member(Task task, int32_t n_classes) const {
    return one_vs_rest && task == Task::kClassification && n_classes >= 3 ? n_classes : 1;
  }
  int64_t min_samples_split_count(int64_t n_train) const;
  int64_t min_samples_leaf_count(int64_t n_train) const;
  int64_t draws(int64_t n_train) const;  // bootstrap sample size
};

// Validates every value (throws ParamError naming the parameter and value).
ForestParams resolve_params(const ParamValues& values, Task task);

// Every parameter with its effective value (defaults included), for logging
// and the model file. Keys are canonical names.
std::map<std::string, std::string> effective_params(const ParamValues& values, Task task);

}  // namespace canopy
