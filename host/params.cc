#include "host/params.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace canopy {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string snake(std::string s) {
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

[[noreturn]] void bad(const std::string& name, const std::string& value, const std::string& expected) {
  throw ParamError("invalid value \"" + value + "\" for parameter " + name + ": expected " + expected);
}

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0') return false;
  out = v;
  return true;
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return false;
  out = v;
  return true;
}

// A number written with a decimal point or an exponent ("0.5", "1e-3"), as
// opposed to a count ("5") or a keyword ("onethird", "none").
bool is_fraction_text(const std::string& s) {
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.' || s[0] == '+' || s[0] == '-'))
    return false;
  return s.find_first_of(".eE") != std::string::npos;
}

int64_t int_in(const std::string& name, const std::string& v, int64_t lo, int64_t hi) {
  int64_t x;
  if (!parse_int(v, x) || x < lo || x > hi)
    bad(name, v, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

bool parse_bool(const std::string& name, const std::string& v) {
  std::string l = lower(v);
  if (l == "true" || l == "1" || l == "yes") return true;
  if (l == "false" || l == "0" || l == "no") return false;
  bad(name, v, "true or false");
}

// Count-or-fraction parameters (min_samples_split, min_samples_leaf, max_samples).
void check_count_or_fraction(const std::string& name, const std::string& v, int64_t min_count,
                             bool fraction_closed_at_one) {
  if (is_fraction_text(v)) {
    double f;
    if (!parse_double(v, f) || f <= 0.0 || f > 1.0 || (!fraction_closed_at_one && f >= 1.0))
      bad(name, v, std::string("an integer >= ") + std::to_string(min_count) + " or a fraction in (0, 1" +
                       (fraction_closed_at_one ? "]" : ")"));
    return;
  }
  int64_t x;
  if (!parse_int(v, x) || x < min_count)
    bad(name, v, "an integer >= " + std::to_string(min_count) + " or a fraction in (0, 1)");
}

int64_t count_or_fraction(const std::string& v, int64_t n) {
  if (is_fraction_text(v)) return static_cast<int64_t>(std::ceil(std::strtod(v.c_str(), nullptr) * n));
  return std::strtoll(v.c_str(), nullptr, 10);
}

}  // namespace

const std::vector<ParamSpec>& param_table() {
  static const std::vector<ParamSpec> table = {
      {"n_estimators", "numTrees", "100", "number of trees in the forest"},
      {"criterion", "impurity", "auto",
       "split quality: gini or entropy (classification), squared_error (regression); auto picks gini / "
       "squared_error"},
      {"max_depth", "maxDepth", "none", "maximum tree depth (root = depth 0); none = unlimited"},
      {"max_features", "featureSubsetStrategy", "auto",
       "features tried per node: sqrt, log2, onethird, all, a fraction in (0, 1], or a count; auto = sqrt "
       "(classification) or all (regression), as scikit-learn"},
      {"min_samples_split", "", "2", "minimum samples to split a node: a count >= 2 or a fraction"},
      {"min_samples_leaf", "minInstancesPerNode", "1", "minimum samples in each leaf: a count >= 1 or a fraction"},
      {"min_impurity_decrease", "minInfoGain", "0",
       "split only when the weighted impurity decrease is at least this (scikit-learn definition)"},
      {"bootstrap", "", "true", "draw each tree's rows with replacement"},
      {"max_samples", "subsamplingRate", "none",
       "rows drawn per tree when bootstrapping: none (all), a count, or a fraction in (0, 1]"},
      {"max_bins", "maxBins", "256", "histogram bins per feature including the missing-value bin, 3..256"},
      {"class_weight", "", "none", "none, balanced or balanced_subsample (classification)"},
      {"multi_class", "", "joint",
       "classification with 3+ classes: joint (each tree predicts every class, as scikit-learn, Spark and cuML) "
       "or ovr (one-vs-rest: each forest member grows one tree per class, that class against the rest, as "
       "XGBoost and LightGBM random forests do); 2 classes always train joint"},
      {"oob_score", "", "false", "compute the out-of-bag score and predictions (needs bootstrap)"},
      {"seed", "seed", "0", "random seed (always recorded)"},
      {"threads", "", "0", "CPU threads; 0 = every core"},
  };
  return table;
}

const ParamSpec* find_param(const std::string& name) {
  const std::string s = snake(name);
  for (const ParamSpec& p : param_table())
    if (s == p.name || (*p.spark_alias && name == p.spark_alias)) return &p;
  if (s == "random_state") return find_param("seed");
  if (s == "n_jobs") return find_param("threads");
  return nullptr;
}

int32_t ForestParams::features_per_node(Task task, int32_t nf) const {
  const std::string v = lower(max_features);
  double f = 0;
  int64_t k = 0;
  if (v == "auto") return task == Task::kClassification ? std::max(1, static_cast<int32_t>(std::sqrt(nf))) : nf;
  if (v == "sqrt") return std::max(1, static_cast<int32_t>(std::sqrt(static_cast<double>(nf))));
  if (v == "log2") return std::max(1, static_cast<int32_t>(std::log2(static_cast<double>(nf))));
  if (v == "onethird") return std::max(1, nf / 3);
  if (v == "all" || v == "none") return nf;
  if (is_fraction_text(v) && parse_double(v, f)) return std::max(1, static_cast<int32_t>(f * nf));
  if (parse_int(v, k)) {
    if (k > nf)
      throw ParamError("invalid value \"" + max_features + "\" for parameter max_features: the data has only " +
                       std::to_string(nf) + " features");
    return static_cast<int32_t>(k);
  }
  bad("max_features", max_features, "sqrt, log2, onethird, all, a fraction in (0, 1] or a count >= 1");
}

int64_t ForestParams::min_samples_split_count(int64_t n) const {
  return std::max<int64_t>(2, count_or_fraction(min_samples_split, n));
}

int64_t ForestParams::min_samples_leaf_count(int64_t n) const {
  return std::max<int64_t>(1, count_or_fraction(min_samples_leaf, n));
}

int64_t ForestParams::draws(int64_t n) const {
  if (lower(max_samples) == "none") return n;
  if (is_fraction_text(max_samples))
    return std::max<int64_t>(1, std::llround(std::strtod(max_samples.c_str(), nullptr) * n));
  int64_t c = std::strtoll(max_samples.c_str(), nullptr, 10);
  if (c > n)
    throw ParamError("invalid value \"" + max_samples + "\" for parameter max_samples: only " + std::to_string(n) +
                     " training rows");
  return c;
}

ForestParams resolve_params(const ParamValues& values, Task task) {
  for (const auto& [name, v] : values)
    if (!find_param(name) || find_param(name)->name != name)
      throw ParamError("unknown parameter \"" + name + "\"");
  auto get = [&](const char* name) {
    auto it = values.find(name);
    if (it != values.end()) return it->second;
    return std::string(find_param(name)->default_value);
  };
  ForestParams p;
  p.n_estimators = int_in("n_estimators", get("n_estimators"), 1, 1000000);
  const std::string crit = lower(get("criterion"));
  if (task == Task::kClassification) {
    if (crit == "auto" || crit == "gini") p.criterion = Criterion::kGini;
    else if (crit == "entropy" || crit == "log_loss") p.criterion = Criterion::kEntropy;
    else bad("criterion", get("criterion"), "gini or entropy for classification");
  } else {
    if (crit == "auto" || crit == "squared_error" || crit == "variance") p.criterion = Criterion::kSquaredError;
    else bad("criterion", get("criterion"), "squared_error for regression");
  }
  const std::string depth = lower(get("max_depth"));
  p.max_depth = (depth == "none" || depth == "-1") ? -1 : static_cast<int32_t>(int_in("max_depth", depth, 0, 1000000));
  p.max_features = get("max_features");
  (void)p.features_per_node(task, 1000000);  // validates the spelling
  {
    const std::string v = lower(p.max_features);
    double f;
    if (is_fraction_text(v) && (!parse_double(v, f) || f <= 0.0 || f > 1.0))
      bad("max_features", p.max_features, "a fraction in (0, 1]");
    int64_t k;
    if (parse_int(v, k) && k < 1) bad("max_features", p.max_features, "a count >= 1");
  }
  p.min_samples_split = get("min_samples_split");
  check_count_or_fraction("min_samples_split", p.min_samples_split, 2, true);
  p.min_samples_leaf = get("min_samples_leaf");
  check_count_or_fraction("min_samples_leaf", p.min_samples_leaf, 1, false);
  if (!parse_double(get("min_impurity_decrease"), p.min_impurity_decrease) || p.min_impurity_decrease < 0)
    bad("min_impurity_decrease", get("min_impurity_decrease"), "a number >= 0");
  p.bootstrap = parse_bool("bootstrap", get("bootstrap"));
  p.max_samples = get("max_samples");
  if (lower(p.max_samples) != "none") {
    check_count_or_fraction("max_samples", p.max_samples, 1, true);
    if (!p.bootstrap) throw ParamError("parameter max_samples needs bootstrap=true");
  }
  p.max_bins = static_cast<int32_t>(int_in("max_bins", get("max_bins"), 3, 256));
  p.class_weight = lower(get("class_weight"));
  if (p.class_weight != "none" && p.class_weight != "balanced" && p.class_weight != "balanced_subsample")
    bad("class_weight", get("class_weight"), "none, balanced or balanced_subsample");
  if (p.class_weight != "none" && task == Task::kRegression)
    throw ParamError("parameter class_weight applies to classification only");
  const std::string multi = lower(get("multi_class"));
  if (multi != "joint" && multi != "ovr") bad("multi_class", get("multi_class"), "joint or ovr");
  if (multi == "ovr" && task == Task::kRegression)
    throw ParamError("parameter multi_class=ovr applies to classification only");
  p.one_vs_rest = multi == "ovr";
  p.oob_score = parse_bool("oob_score", get("oob_score"));
  if (p.oob_score && !p.bootstrap) throw ParamError("parameter oob_score needs bootstrap=true");
  int64_t seed;
  if (!parse_int(get("seed"), seed) || seed < 0) bad("seed", get("seed"), "an integer >= 0");
  p.seed = static_cast<uint64_t>(seed);
  p.threads = static_cast<int32_t>(int_in("threads", get("threads"), 0, 4096));
  return p;
}

std::map<std::string, std::string> effective_params(const ParamValues& values, Task task) {
  resolve_params(values, task);
  std::map<std::string, std::string> out;
  for (const ParamSpec& p : param_table()) {
    auto it = values.find(p.name);
    std::string v = it != values.end() ? it->second : p.default_value;
    if (std::string(p.name) == "criterion" && lower(v) == "auto")
      v = task == Task::kClassification ? "gini" : "squared_error";
    out[p.name] = v;
  }
  return out;
}

}  // namespace canopy
