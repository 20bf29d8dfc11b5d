#include "host/search.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "kernels/rng.h"

namespace canopy {
namespace {

// Philox stream of random search (kept apart from the engine's streams).
constexpr uint32_t kStreamSearch = 101;

std::string trim(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool parse_number(const std::string& s, double& out) {
  const std::string t = trim(s);
  if (t.empty()) return false;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return *end == '\0' && std::isfinite(out);
}

std::string unquote(const std::string& s) {
  if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') || (s.front() == '\'' && s.back() == '\'')))
    return s.substr(1, s.size() - 2);
  return s;
}

double unit_from(const Philox4& w) { return unit_double(w.v[0], w.v[1]); }

}  // namespace

std::string ParamDomain::text() const {
  char buf[128];
  switch (kind) {
    case Kind::kUniform:
      std::snprintf(buf, sizeof buf, "uniform(%.17g,%.17g)", lo, hi);
      return buf;
    case Kind::kLogUniform:
      std::snprintf(buf, sizeof buf, "loguniform(%.17g,%.17g)", lo, hi);
      return buf;
    case Kind::kInt:
      std::snprintf(buf, sizeof buf, "int(%lld,%lld)", static_cast<long long>(lo), static_cast<long long>(hi));
      return buf;
    default: {
      std::string s;
      for (std::size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + values[i];
      return s;
    }
  }
}

std::vector<std::string> split_top_level(const std::string& s, char sep) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  char quote = 0;
  for (char c : s) {
    if (quote) {
      if (c == quote) quote = 0;
      cur += c;
      continue;
    }
    if (c == '"' || c == '\'') quote = c;
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == sep && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(trim(cur));
  return out;
}

std::string canonical_grid_name(const std::string& name) {
  const ParamSpec* p = find_param(trim(name));
  if (!p) throw ParamError("unknown parameter \"" + trim(name) + "\" in the grid");
  return p->name;
}

ParamDomain parse_domain(const std::string& name, const std::string& text_in) {
  const std::string text = trim(text_in);
  ParamDomain d;
  const std::string l = lower(text);
  auto dist = [&](const char* fn, ParamDomain::Kind kind) -> bool {
    const std::string prefix = std::string(fn) + "(";
    if (l.rfind(prefix, 0) != 0 || l.back() != ')') return false;
    const auto args = split_top_level(text.substr(prefix.size(), text.size() - prefix.size() - 1), ',');
    double a, b;
    if (args.size() != 2 || !parse_number(args[0], a) || !parse_number(args[1], b))
      throw ParamError("invalid distribution \"" + text + "\" for parameter " + name + ": expected " + fn +
                       "(LOW,HIGH) with two numbers");
    if (!(a <= b) || (kind != ParamDomain::Kind::kInt && !(a < b)))
      throw ParamError("invalid distribution \"" + text + "\" for parameter " + name +
                       ": empty range (LOW must be below HIGH)");
    if (kind == ParamDomain::Kind::kLogUniform && a <= 0)
      throw ParamError("invalid distribution \"" + text + "\" for parameter " + name + ": loguniform needs LOW > 0");
    if (kind == ParamDomain::Kind::kInt && (a != std::floor(a) || b != std::floor(b)))
      throw ParamError("invalid distribution \"" + text + "\" for parameter " + name + ": int needs integer bounds");
    d.kind = kind;
    d.lo = a;
    d.hi = b;
    return true;
  };
  if (dist("uniform", ParamDomain::Kind::kUniform) || dist("loguniform", ParamDomain::Kind::kLogUniform) ||
      dist("int", ParamDomain::Kind::kInt) || dist("randint", ParamDomain::Kind::kInt))
    return d;
  std::string body = text;
  if (body.size() >= 2 && body.front() == '[' && body.back() == ']') body = body.substr(1, body.size() - 2);
  if (trim(body).empty()) throw ParamError("empty list of values for parameter " + name + " in the grid");
  std::set<std::string> seen;
  for (const std::string& v0 : split_top_level(body, ',')) {
    const std::string v = unquote(trim(v0));
    if (v.empty())
      throw ParamError("empty value in the list \"" + text + "\" for parameter " + name + " in the grid");
    if (!seen.insert(v).second)
      throw ParamError("value \"" + v + "\" appears twice in the list for parameter " + name);
    d.values.push_back(v);
  }
  return d;
}

ParamGrid parse_grid_flags(const std::vector<std::string>& flags) {
  ParamGrid g;
  for (const std::string& f : flags) {
    const auto eq = f.find('=');
    if (eq == std::string::npos)
      throw ParamError("invalid --grid \"" + f + "\": expected PARAM=V1,V2,... or PARAM=uniform(a,b)");
    const std::string name = canonical_grid_name(f.substr(0, eq));
    if (g.count(name)) throw ParamError("parameter " + name + " is given twice in the grid");
    g[name] = parse_domain(name, f.substr(eq + 1));
  }
  return g;
}

nlohmann::ordered_json SearchSpace::to_json() const {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const ParamGrid& g : grids) {
    nlohmann::ordered_json o = nlohmann::ordered_json::object();
    for (const auto& [k, d] : g) o[k] = d.text();
    a.push_back(o);
  }
  return a;
}

SearchSpace SearchSpace::from_json(const nlohmann::json& j) {
  SearchSpace s;
  const nlohmann::json list = j.is_array() ? j : nlohmann::json::array({j});
  for (const auto& gj : list) {
    if (!gj.is_object()) throw ParamError("a grid must be a mapping of parameter names to values");
    ParamGrid g;
    for (auto it = gj.begin(); it != gj.end(); ++it) {
      const std::string name = canonical_grid_name(it.key());
      if (g.count(name)) throw ParamError("parameter " + name + " is given twice in the grid");
      const nlohmann::json& v = it.value();
      if (v.is_array()) {
        if (v.empty()) throw ParamError("empty list of values for parameter " + name + " in the grid");
        std::string text;
        for (std::size_t i = 0; i < v.size(); ++i) {
          std::string t = json_scalar_text(v[i], "a value of parameter " + name);
          if (t.find(',') != std::string::npos)
            throw ParamError("invalid value \"" + t + "\" for parameter " + name + ": values cannot hold commas");
          text += (i ? "," : "") + t;
        }
        g[name] = parse_domain(name, text);
      } else {
        g[name] = parse_domain(name, json_scalar_text(v, "the values of parameter " + name));
      }
    }
    if (g.empty()) throw ParamError("empty grid: name at least one parameter");
    s.grids.push_back(std::move(g));
  }
  return s;
}

std::string json_scalar_text(const nlohmann::json& v, const std::string& what) {
  if (v.is_null()) return "none";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) return format_double_param(v.get<double>());
  throw ParamError("invalid " + what + ": expected a number, a string or null, got " + v.dump());
}

std::string format_double_param(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  std::string s = buf;
  if (std::strtod(s.c_str(), nullptr) != v) {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    s = buf;
  }
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string candidate_key(const ParamValues& v) {
  std::string s;
  for (const auto& [k, x] : v) s += (s.empty() ? "" : ";") + k + "=" + x;
  return s;
}

std::size_t grid_size(const SearchSpace& s) {
  std::size_t total = 0;
  for (const ParamGrid& g : s.grids) {
    std::size_t n = 1;
    for (const auto& [k, d] : g) {
      if (!d.is_list()) return 0;
      n *= d.values.size();
    }
    total += n;
  }
  return total;
}

namespace {

// The idx-th combination of the grids (mixed radix, last name fastest).
ParamValues combination(const SearchSpace& s, std::size_t idx) {
  for (const ParamGrid& g : s.grids) {
    std::size_t n = 1;
    for (const auto& [k, d] : g) n *= d.values.size();
    if (idx >= n) {
      idx -= n;
      continue;
    }
    ParamValues v;
    for (auto it = g.rbegin(); it != g.rend(); ++it) {
      const std::size_t m = it->second.values.size();
      v[it->first] = it->second.values[idx % m];
      idx /= m;
    }
    return v;
  }
  return {};
}

}  // namespace

std::vector<ParamValues> expand_grid(const SearchSpace& s) {
  for (const ParamGrid& g : s.grids)
    for (const auto& [k, d] : g)
      if (!d.is_list())
        throw ParamError("parameter " + k + " has the distribution \"" + d.text() +
                         "\": distributions need --strategy random");
  std::vector<ParamValues> out;
  const std::size_t n = grid_size(s);
  for (std::size_t i = 0; i < n; ++i) out.push_back(combination(s, i));
  return out;
}

std::vector<ParamValues> sample_candidates(const SearchSpace& s, int64_t n_iter, uint64_t seed) {
  if (n_iter < 1) throw ParamError("invalid value \"" + std::to_string(n_iter) + "\" for --n-iter: expected >= 1");
  const std::size_t total = grid_size(s);
  if (total > 0 && total <= static_cast<std::size_t>(n_iter)) return expand_grid(s);
  std::vector<ParamValues> out;
  std::set<std::string> seen;
  const uint32_t n_grids = static_cast<uint32_t>(s.grids.size());
  for (uint64_t draw = 0; static_cast<int64_t>(out.size()) < n_iter && draw < 100 * static_cast<uint64_t>(n_iter) + 1000;
       ++draw) {
    ParamValues v;
    if (total > 0) {
      // Uniform over the whole grid: 64-bit index from two words.
      const Philox4 w = philox(seed, kStreamSearch, static_cast<uint32_t>(draw), static_cast<uint32_t>(draw >> 32), 0);
      const uint64_t word = (static_cast<uint64_t>(w.v[0]) << 32) | w.v[1];
      v = combination(s, static_cast<std::size_t>(word % total));
    } else {
      const Philox4 gw = philox(seed, kStreamSearch, static_cast<uint32_t>(draw), static_cast<uint32_t>(draw >> 32), 1);
      const ParamGrid& g = s.grids[bounded(gw.v[0], n_grids)];
      uint32_t pi = 0;
      for (const auto& [k, d] : g) {
        const Philox4 w = philox(seed, kStreamSearch, static_cast<uint32_t>(draw), static_cast<uint32_t>(draw >> 32),
                                 2 + pi++);
        const double u = unit_from(w);
        switch (d.kind) {
          case ParamDomain::Kind::kList:
            v[k] = d.values[bounded(w.v[2], static_cast<uint32_t>(d.values.size()))];
            break;
          case ParamDomain::Kind::kUniform:
            v[k] = format_double_param(d.lo + u * (d.hi - d.lo));
            break;
          case ParamDomain::Kind::kLogUniform:
            v[k] = format_double_param(std::exp(std::log(d.lo) + u * (std::log(d.hi) - std::log(d.lo))));
            break;
          case ParamDomain::Kind::kInt: {
            const uint64_t span = static_cast<uint64_t>(d.hi - d.lo) + 1;
            const uint64_t word = (static_cast<uint64_t>(w.v[2]) << 32) | w.v[3];
            v[k] = std::to_string(static_cast<long long>(d.lo) + static_cast<long long>(word % span));
            break;
          }
        }
      }
    }
    if (seen.insert(candidate_key(v)).second) out.push_back(std::move(v));
  }
  return out;
}

HalvingSchedule halving_schedule(int64_t n_candidates, double factor, int64_t min_resources, int64_t max_resources,
                                 int64_t smallest) {
  if (!(factor > 1)) throw ParamError("invalid value for --halving-factor: expected a number > 1");
  if (max_resources < 1) throw ParamError("successive halving needs at least one unit of the resource");
  auto ilog = [&](double x) {  // floor(log_factor(x)) for x >= 1
    int64_t k = 0;
    double p = factor;
    while (p <= x * (1 + 1e-12)) {
      ++k;
      p *= factor;
    }
    return k;
  };
  const int64_t n_required = 1 + ilog(static_cast<double>(std::max<int64_t>(1, n_candidates)));
  if (min_resources <= 0) {
    min_resources = static_cast<int64_t>(static_cast<double>(max_resources) / std::pow(factor, n_required - 1));
    min_resources = std::max(min_resources, smallest);
  }
  if (min_resources > max_resources)
    throw ParamError("--min-resources " + std::to_string(min_resources) + " exceeds the maximum resource " +
                     std::to_string(max_resources));
  const int64_t n_possible = 1 + ilog(static_cast<double>(max_resources / min_resources));
  const int64_t n_iter = std::max<int64_t>(1, std::min(n_required, n_possible));
  HalvingSchedule s;
  double left = static_cast<double>(n_candidates);
  for (int64_t i = 0; i < n_iter; ++i) {
    s.resources.push_back(std::min<int64_t>(
        max_resources, static_cast<int64_t>(std::pow(factor, static_cast<double>(i)) * min_resources)));
    s.candidates.push_back(static_cast<int64_t>(left));
    left = std::ceil(left / factor);
  }
  return s;
}

// ---------------------------------------------------------------------------
// Sweep files

namespace {

struct YamlLine {
  int indent;
  std::string text;
  int number;
};

class YamlParser {
 public:
  YamlParser(const std::string& text, std::string what) : what_(std::move(what)) {
    std::istringstream in(text);
    std::string raw;
    int n = 0;
    while (std::getline(in, raw)) {
      ++n;
      if (!raw.empty() && raw.back() == '\r') raw.pop_back();
      const std::string s = strip_comment(raw);
      if (trim(s).empty() || trim(s) == "---") continue;
      int ind = 0;
      while (ind < static_cast<int>(s.size()) && s[ind] == ' ') ++ind;
      if (ind < static_cast<int>(s.size()) && s[ind] == '\t') fail(n, "tabs are not allowed for indentation");
      std::string t = s.substr(ind);
      while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
      lines_.push_back({ind, t, n});
    }
  }

  nlohmann::json parse() {
    if (lines_.empty()) return nlohmann::json::object();
    nlohmann::json v = block(lines_[0].indent);
    if (pos_ < lines_.size()) fail(lines_[pos_].number, "unexpected indentation");
    return v;
  }

 private:
  [[noreturn]] void fail(int line, const std::string& msg) {
    throw ParamError(what_ + " line " + std::to_string(line) + ": " + msg);
  }

  static std::string strip_comment(const std::string& s) {
    char quote = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
        return s.substr(0, i);
      }
    }
    return s;
  }

  static bool is_seq_item(const std::string& t) { return t == "-" || t.rfind("- ", 0) == 0; }

  // Position of the ':' ending a mapping key, or npos.
  static std::size_t key_colon(const std::string& t) {
    char quote = 0;
    int depth = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
      const char c = t[i];
      if (quote) {
        if (c == quote) quote = 0;
        continue;
      }
      if (c == '"' || c == '\'') quote = c;
      else if (c == '[' || c == '{' || c == '(') ++depth;
      else if (c == ']' || c == '}' || c == ')') --depth;
      else if (c == ':' && depth == 0 && (i + 1 == t.size() || t[i + 1] == ' ')) return i;
    }
    return std::string::npos;
  }

  nlohmann::json block(int indent) {
    if (is_seq_item(lines_[pos_].text)) return sequence(indent);
    return mapping(indent);
  }

  nlohmann::json mapping(int indent) {
    nlohmann::json m = nlohmann::json::object();
    while (pos_ < lines_.size() && lines_[pos_].indent == indent && !is_seq_item(lines_[pos_].text)) {
      const YamlLine& l = lines_[pos_];
      const std::size_t c = key_colon(l.text);
      if (c == std::string::npos) fail(l.number, "expected \"key: value\", got \"" + l.text + "\"");
      const std::string key = unquote(trim(l.text.substr(0, c)));
      const std::string rest = trim(l.text.substr(c + 1));
      const int number = l.number;
      ++pos_;
      if (m.contains(key)) fail(number, "duplicate key \"" + key + "\"");
      if (!rest.empty()) {
        m[key] = scalar_or_flow(rest, number);
      } else if (pos_ < lines_.size() &&
                 (lines_[pos_].indent > indent || (lines_[pos_].indent == indent && is_seq_item(lines_[pos_].text)))) {
        m[key] = block(lines_[pos_].indent);
      } else {
        m[key] = nullptr;
      }
    }
    if (pos_ < lines_.size() && lines_[pos_].indent > indent) fail(lines_[pos_].number, "unexpected indentation");
    return m;
  }

  nlohmann::json sequence(int indent) {
    nlohmann::json a = nlohmann::json::array();
    while (pos_ < lines_.size() && lines_[pos_].indent == indent && is_seq_item(lines_[pos_].text)) {
      YamlLine& l = lines_[pos_];
      const std::string rest = l.text == "-" ? "" : trim(l.text.substr(2));
      if (rest.empty()) {
        ++pos_;
        if (pos_ < lines_.size() && lines_[pos_].indent > indent)
          a.push_back(block(lines_[pos_].indent));
        else
          a.push_back(nullptr);
      } else if (key_colon(rest) != std::string::npos && rest.front() != '[' && rest.front() != '{' &&
                 rest.front() != '"' && rest.front() != '\'') {
        // "- key: value": a mapping whose first line starts after the dash.
        const int inner = indent + static_cast<int>(l.text.size() - rest.size());
        l.indent = inner;
        l.text = rest;
        a.push_back(mapping(inner));
      } else {
        a.push_back(scalar_or_flow(rest, l.number));
        ++pos_;
      }
    }
    return a;
  }

  nlohmann::json scalar_or_flow(const std::string& s, int line) {
    std::size_t i = 0;
    nlohmann::json v = flow(s, i, line, false);
    while (i < s.size() && s[i] == ' ') ++i;
    if (i != s.size()) fail(line, "unexpected text after a value: \"" + s.substr(i) + "\"");
    return v;
  }

  nlohmann::json flow(const std::string& s, std::size_t& i, int line, bool inside) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i < s.size() && s[i] == '[') {
      ++i;
      nlohmann::json a = nlohmann::json::array();
      while (true) {
        while (i < s.size() && s[i] == ' ') ++i;
        if (i >= s.size()) fail(line, "unterminated [ ... ] list (flow lists must fit on one line)");
        if (s[i] == ']') {
          ++i;
          return a;
        }
        a.push_back(flow(s, i, line, true));
        while (i < s.size() && s[i] == ' ') ++i;
        if (i < s.size() && s[i] == ',') ++i;
      }
    }
    if (i < s.size() && s[i] == '{') {
      ++i;
      nlohmann::json m = nlohmann::json::object();
      while (true) {
        while (i < s.size() && s[i] == ' ') ++i;
        if (i >= s.size()) fail(line, "unterminated { ... } mapping");
        if (s[i] == '}') {
          ++i;
          return m;
        }
        const std::size_t c = s.find(':', i);
        if (c == std::string::npos) fail(line, "expected \"key: value\" in { ... }");
        const std::string key = unquote(trim(s.substr(i, c - i)));
        i = c + 1;
        m[key] = flow(s, i, line, true);
        while (i < s.size() && s[i] == ' ') ++i;
        if (i < s.size() && s[i] == ',') ++i;
      }
    }
    if (i < s.size() && (s[i] == '"' || s[i] == '\'')) {
      const char q = s[i];
      const std::size_t end = s.find(q, i + 1);
      if (end == std::string::npos) fail(line, "unterminated quoted string");
      std::string v = s.substr(i + 1, end - i - 1);
      i = end + 1;
      return v;
    }
    // Plain scalar: up to a top-level ',' ']' '}' inside flow collections.
    std::size_t start = i;
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '(') ++depth;
      if (c == ')') --depth;
      if (inside && depth == 0 && (c == ',' || c == ']' || c == '}')) break;
      ++i;
    }
    const std::string v = trim(s.substr(start, i - start));
    if (v == "~" || v == "null") return nullptr;
    return v;
  }

  std::string what_;
  std::vector<YamlLine> lines_;
  std::size_t pos_ = 0;
};

}  // namespace

nlohmann::json parse_yaml_subset(const std::string& text, const std::string& what) {
  return YamlParser(text, what).parse();
}

nlohmann::json read_sweep_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ParamError("cannot read the sweep file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const std::string l = lower(path);
  auto ends = [&](const std::string& suffix) {
    return l.size() >= suffix.size() && l.compare(l.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  nlohmann::json j;
  if (ends(".json")) {
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw ParamError("sweep file " + path + " is not valid JSON: " + e.what());
    }
  } else if (ends(".yaml") || ends(".yml")) {
    j = parse_yaml_subset(text, "sweep file " + path);
  } else {
    throw ParamError("sweep file " + path + ": expected a .json, .yaml or .yml file");
  }
  if (!j.is_object()) throw ParamError("sweep file " + path + ": expected a mapping at the top level");
  return j;
}

}  // namespace canopy
