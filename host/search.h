#pragma once
// Search spaces of `canopy tune`: parameter domains (value lists and
// distributions), grids, candidate generation for grid and random search, the
// successive-halving schedule, and sweep files (JSON or a YAML subset).
//
//   SearchSpace s;
//   s.grids.push_back(parse_grid_flags({"max_depth=6,10,none", "max_features=sqrt,0.33"}));
//   std::vector<ParamValues> c = expand_grid(s);            // Cartesian product
//   std::vector<ParamValues> r = sample_candidates(s, 20, 7);  // random search
//
// Candidate order of a grid is documented in docs/tuning.md: parameter names
// sorted alphabetically, the last name varying fastest (scikit-learn's
// ParameterGrid); grids of a list follow one another.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "host/params.h"

namespace canopy {

// One parameter's domain: a list of values, or a distribution for random search.
struct ParamDomain {
  enum class Kind { kList, kUniform, kLogUniform, kInt };
  Kind kind = Kind::kList;
  std::vector<std::string> values;  // kList
  double lo = 0, hi = 0;            // distributions: [lo, hi] (int: inclusive)
  std::string text() const;         // "6,10,none" or "uniform(0.1,0.9)"
  bool is_list() const { return kind == Kind::kList; }
};

// Canonical parameter name -> domain (sorted by name).
using ParamGrid = std::map<std::string, ParamDomain>;

struct SearchSpace {
  std::vector<ParamGrid> grids;  // one grid, or several searched as a union
  bool empty() const { return grids.empty(); }
  nlohmann::ordered_json to_json() const;  // [{name: "v1,v2" | "uniform(a,b)"}]
  static SearchSpace from_json(const nlohmann::json& j);
};

// Splits at `sep` outside parentheses/brackets and trims blanks.
std::vector<std::string> split_top_level(const std::string& s, char sep);

// "v1,v2,..." or "uniform(a,b)" / "loguniform(a,b)" / "int(a,b)" for parameter
// `name` (canonical). Throws ParamError naming the parameter (empty list,
// malformed or empty range).
ParamDomain parse_domain(const std::string& name, const std::string& text);

// Canonical name of a parameter given in a grid (snake, kebab or Spark
// alias); ParamError "unknown parameter ... in the grid" otherwise.
std::string canonical_grid_name(const std::string& name);

// --grid PARAM=V1,V2,... flags into one grid (a repeated parameter is an error).
ParamGrid parse_grid_flags(const std::vector<std::string>& flags);

// Every combination of every grid, in the documented order.
std::vector<ParamValues> expand_grid(const SearchSpace& s);
// Number of combinations (0 when a grid holds a distribution).
std::size_t grid_size(const SearchSpace& s);

// n_iter candidates for random search, seeded. When every domain is a list
// and the grid has at most n_iter combinations, this is the whole grid;
// otherwise grids are picked uniformly, then each parameter independently,
// without repeating a candidate (as scikit-learn's ParameterSampler).
std::vector<ParamValues> sample_candidates(const SearchSpace& s, int64_t n_iter, uint64_t seed);

// A value drawn from a distribution as parameter text ("0.25", "1e-05", "7").
// Doubles always carry a '.' or an exponent so that count-or-fraction
// parameters read them as fractions.
std::string format_double_param(double v);

// Canonical key of a candidate: "name=value;name=value" in name order.
std::string candidate_key(const ParamValues& v);

// Successive halving (scikit-learn's HalvingGridSearchCV): round i evaluates
// candidates[i] candidates with resources[i] units of the resource.
struct HalvingSchedule {
  std::vector<int64_t> resources;
  std::vector<int64_t> candidates;
};
// min_resources <= 0: "exhaust" (the last round uses max_resources, as far as
// the factor allows), at least `smallest`.
HalvingSchedule halving_schedule(int64_t n_candidates, double factor, int64_t min_resources, int64_t max_resources,
                                 int64_t smallest);

// A sweep file (.json, or .yaml/.yml in the documented subset of YAML) as JSON.
// Scalars of YAML files become strings.
nlohmann::json read_sweep_file(const std::string& path);
// The YAML subset: block mappings and sequences by indentation, flow
// sequences [a, b] and mappings {a: b}, quoted scalars, # comments.
nlohmann::json parse_yaml_subset(const std::string& text, const std::string& what = "YAML");

// A JSON scalar as parameter text (null -> "none", 1.0 -> "1.0", true -> "true").
std::string json_scalar_text(const nlohmann::json& v, const std::string& what);

}  // namespace canopy
