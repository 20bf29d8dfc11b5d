#pragma once
// Per-column summary of a Dataset (the `inspect` view): types, ranges, missing
// counts, distinct counts and the label distribution, as text or JSON.
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/dataset.h"

namespace canopy {

// Distinct values are counted exactly up to this many per column; beyond it the
// count is a HyperLogLog estimate (about 1% relative error).
constexpr int64_t kExactDistinctLimit = 100000;
// The label distribution lists at most this many values, then one "(other)" entry.
constexpr std::size_t kLabelDistributionCap = 50;

namespace detail_inspect {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

struct ColumnSummary {
  std::string name;
  std::string dtype;  // in-memory type: "float32" features, "float64" numeric label or weights, "string"
  // Over the non-missing values; NaN when there are none, and for string columns.
  // std: population (divides by n).
  double min = detail_inspect::kNaN, max = detail_inspect::kNaN;
  double mean = detail_inspect::kNaN, std = detail_inspect::kNaN;
  int64_t missing = 0;                         // NaN feature values
  int64_t distinct = 0;                        // distinct non-missing values (-0 == +0)
  bool distinct_exact = true;                  // false: `distinct` is an estimate
  bool is_label = false;
  bool is_weight = false;
};

struct LabelStats {
  double mean = 0, std = 0, min = 0, max = 0;
};

struct DataSummary {
  std::string path;
  int64_t rows = 0;
  std::vector<ColumnSummary> columns;  // features in file order, then sample weights, then the label
  std::string label_name;              // empty: no label
  // Text labels, or numeric labels with at most kLabelDistributionCap distinct
  // values: (value, count) sorted by count descending, then by value (numeric
  // order for numbers); beyond the cap, the rest summed as ("(other)", count).
  std::vector<std::pair<std::string, int64_t>> label_distribution;
  // Numeric labels with more distinct values than the cap: stats instead.
  bool has_label_stats = false;
  LabelStats label_stats;
};

DataSummary summarize(const Dataset& d);

// An aligned, human-readable table plus the label distribution or stats.
std::string summary_text(const DataSummary& s);

// {"path", "rows", "n_features", "label", "columns": [{name, dtype, role,
// missing, distinct, distinct_exact, min, max, mean, std}], and
// "label_distribution": [{"value", "count"}] or "label_stats": {mean, std, min,
// max}}. Undefined numbers (NaN) are null.
nlohmann::json summary_json(const DataSummary& s);

}  // namespace canopy
