#pragma once
// MLflow's run search language, parsed and evaluated in C++:
//   metrics.r2 > 0.4 and params.max_depth = '8' and tags.`my tag` LIKE 'a%'
//   attributes.status = 'FINISHED' and start_time >= 1700000000000
// Identifiers: metrics.X / params.X / tags.X / attributes.X (also metric,
// param, parameter(s), tag, attribute, attr, run as prefixes; a bare name is
// an attribute); keys may be backquoted or double-quoted. Comparators: = != <
// <= > >= (numbers: metrics and start_time/end_time), = != LIKE ILIKE IN
// NOT IN (strings). Clauses are joined by AND (case-insensitive). A run
// without the compared metric, param or tag never matches.
// Order-by: "metrics.r2 DESC", "params.x", "attributes.start_time ASC"; runs
// without the key sort last; ties break on start_time DESC, then run_id.
#include <string>
#include <vector>

#include "tracking/run_store.h"

namespace canopy::tracking {

// Thrown for malformed filters and order-by clauses; the message names the
// offending token and its 0-based position:
//   invalid filter "metrics.r2 >> 0.4": unexpected token ">" at position 12
class FilterError : public TrackingError {
 public:
  using TrackingError::TrackingError;
};

enum class EntityType { kMetric, kParam, kTag, kAttribute };

struct Comparison {
  EntityType type = EntityType::kAttribute;
  std::string key;  // attribute keys are canonical: status, run_name, run_id, start_time, ...
  std::string op;   // "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN"
  bool numeric = false;
  double number = 0;
  std::string text;
  std::vector<std::string> list;  // IN, NOT IN
};

class Filter {
 public:
  Filter() = default;
  static Filter parse(const std::string& filter);  // empty or blank: matches everything
  bool matches(const Run& run) const;
  const std::vector<Comparison>& clauses() const { return clauses_; }

 private:
  std::vector<Comparison> clauses_;
};

struct OrderKey {
  EntityType type = EntityType::kAttribute;
  std::string key;
  bool ascending = true;
};
std::vector<OrderKey> parse_order_by(const std::vector<std::string>& clauses);  // FilterError
// Stable sort by the keys, then start_time DESC, then run_id ASC.
void sort_runs(std::vector<Run>& runs, const std::vector<OrderKey>& keys);

// SQL LIKE: % any run, _ one character; case-insensitive when `fold_case`.
bool like_match(const std::string& text, const std::string& pattern, bool fold_case);

// "metrics.r2", "params.x", "tags.`a b`", "attributes.status".
std::string display_name(EntityType type, const std::string& key);

}  // namespace canopy::tracking
