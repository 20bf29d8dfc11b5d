#include "io/inspect.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace canopy {
namespace {

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// HyperLogLog with 2^14 registers (standard error about 0.8%).
class HyperLogLog {
 public:
  void add(uint64_t hash) {
    const uint64_t idx = hash >> (64 - kP);
    const uint64_t rest = (hash << kP) | (uint64_t(1) << (kP - 1));  // guard bit bounds the rank
    const uint8_t rank = static_cast<uint8_t>(__builtin_clzll(rest) + 1);
    regs_[idx] = std::max(regs_[idx], rank);
  }
  int64_t estimate() const {
    constexpr double m = double(kM);
    double sum = 0;
    int zeros = 0;
    for (uint8_t r : regs_) {
      sum += std::ldexp(1.0, -r);
      zeros += r == 0;
    }
    double e = (0.7213 / (1 + 1.079 / m)) * m * m / sum;
    if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / zeros);  // small-range correction
    return static_cast<int64_t>(std::llround(e));
  }

 private:
  static constexpr int kP = 14;
  static constexpr size_t kM = size_t(1) << kP;
  std::array<uint8_t, kM> regs_{};
};

// Bit pattern of a non-NaN value with -0 folded onto +0.
template <class T>
uint64_t value_key(T v) {
  if (v == 0) v = 0;
  if constexpr (sizeof(T) == 4) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return b;
  } else {
    uint64_t b;
    std::memcpy(&b, &v, 8);
    return b;
  }
}

// The double with the same shortest decimal form as `v` (a float32 42.2 becomes
// the double 42.2, not 42.200000762939453), so reports show what the file had.
template <class T>
double shortest_double(T v) {
  if (!std::isfinite(v)) return static_cast<double>(v);
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  double out = static_cast<double>(v);
  std::from_chars(buf, r.ptr, out);
  return out;
}

// Min, max, mean, population std, missing and distinct counts of a numeric column.
template <class T>
void numeric_stats(const std::vector<T>& v, ColumnSummary& c) {
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  int64_t n = 0;
  for (T x : v) {
    if (std::isnan(x)) continue;
    ++n;
    lo = std::min(lo, double(x));
    hi = std::max(hi, double(x));
    sum += x;
  }
  c.missing = static_cast<int64_t>(v.size()) - n;
  if (n > 0) {
    c.min = shortest_double(static_cast<T>(lo));
    c.max = shortest_double(static_cast<T>(hi));
    c.mean = sum / n;
    double ss = 0;
    for (T x : v) {
      if (!std::isnan(x)) ss += (x - c.mean) * (x - c.mean);
    }
    c.std = std::sqrt(ss / n);
  }
  std::unordered_set<uint64_t> seen;
  seen.reserve(std::min<size_t>(v.size(), 1024));
  for (T x : v) {
    if (std::isnan(x)) continue;
    seen.insert(value_key(x));
    if (static_cast<int64_t>(seen.size()) > kExactDistinctLimit) break;
  }
  if (static_cast<int64_t>(seen.size()) <= kExactDistinctLimit) {
    c.distinct = static_cast<int64_t>(seen.size());
    return;
  }
  seen = {};
  HyperLogLog hll;
  for (T x : v) {
    if (!std::isnan(x)) hll.add(mix64(value_key(x)));
  }
  c.distinct = std::max<int64_t>(hll.estimate(), kExactDistinctLimit + 1);
  c.distinct_exact = false;
}

std::string shortest(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string fmt_g(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Sorts (count desc, then key) and caps to kLabelDistributionCap + "(other)".
template <class K, class ToString>
std::vector<std::pair<std::string, int64_t>> distribution(const std::unordered_map<K, int64_t>& counts,
                                                          ToString to_string) {
  std::vector<std::pair<K, int64_t>> items(counts.begin(), counts.end());
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::pair<std::string, int64_t>> out;
  int64_t other = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i < kLabelDistributionCap) {
      out.emplace_back(to_string(items[i].first), items[i].second);
    } else {
      other += items[i].second;
    }
  }
  if (items.size() > kLabelDistributionCap) out.emplace_back("(other)", other);
  return out;
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace

DataSummary summarize(const Dataset& d) {
  DataSummary s;
  s.path = d.source;
  s.rows = static_cast<int64_t>(d.n_rows());
  s.label_name = d.label_name;
  s.columns.resize(d.n_features());
  const long long nf = static_cast<long long>(d.n_features());
#pragma omp parallel for schedule(dynamic, 1)
  for (long long j = 0; j < nf; ++j) {
    ColumnSummary& c = s.columns[j];
    c.name = d.feature_names[j];
    c.dtype = "float32";
    numeric_stats(d.columns[j], c);
  }
  if (!d.sample_weight.empty()) {
    ColumnSummary c;
    c.name = "sample_weight";
    c.dtype = "float64";
    c.is_weight = true;
    numeric_stats(d.sample_weight, c);
    s.columns.push_back(c);
  }
  if (!d.has_label()) return s;

  ColumnSummary c;
  c.name = d.label_name;
  c.is_label = true;
  if (d.label_is_text()) {
    c.dtype = "string";
    std::unordered_map<std::string, int64_t> counts;
    for (const auto& v : d.label_text) ++counts[v];
    c.distinct = static_cast<int64_t>(counts.size());
    s.label_distribution = distribution(counts, [](const std::string& v) { return v; });
  } else {
    c.dtype = "float64";
    numeric_stats(d.label_numeric, c);
    if (c.distinct <= static_cast<int64_t>(kLabelDistributionCap)) {
      std::unordered_map<double, int64_t> counts;
      for (double v : d.label_numeric) ++counts[v == 0 ? 0.0 : v];
      s.label_distribution = distribution(counts, shortest);
    } else {
      s.has_label_stats = true;
      s.label_stats = LabelStats{c.mean, c.std, c.min, c.max};
    }
  }
  s.columns.push_back(c);
  return s;
}

std::string summary_text(const DataSummary& s) {
  int64_t n_features = 0;
  for (const auto& c : s.columns) n_features += !c.is_label && !c.is_weight;
  std::string out = "file: " + s.path + "\n";
  out += "rows: " + std::to_string(s.rows) + ", features: " + std::to_string(n_features) +
         ", label: " + (s.label_name.empty() ? std::string("(none)") : s.label_name) + "\n\n";

  const std::vector<std::string> head = {"column", "dtype", "missing", "distinct", "min", "max", "mean", "std", ""};
  std::vector<std::vector<std::string>> rows = {head};
  for (const auto& c : s.columns) {
    rows.push_back({c.name, c.dtype, std::to_string(c.missing),
                    (c.distinct_exact ? "" : "~") + std::to_string(c.distinct), fmt_g(c.min), fmt_g(c.max),
                    fmt_g(c.mean), fmt_g(c.std), c.is_label ? "(label)" : c.is_weight ? "(weight)" : ""});
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const size_t pad = width[i] - r[i].size();
      if (i > 0) line += "  ";
      if (i < 2 || i + 1 == r.size()) {
        line += r[i] + std::string(pad, ' ');  // text: left-aligned
      } else {
        line += std::string(pad, ' ') + r[i];  // numbers: right-aligned
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }

  if (s.has_label_stats) {
    out += "\nlabel " + s.label_name + ": mean " + fmt_g(s.label_stats.mean) + ", std " +
           fmt_g(s.label_stats.std) + ", min " + fmt_g(s.label_stats.min) + ", max " +
           fmt_g(s.label_stats.max) + "\n";
  } else if (!s.label_distribution.empty()) {
    out += "\nlabel " + s.label_name + ":\n";
    size_t w = 0, wc = 0;
    for (const auto& [v, n] : s.label_distribution) {
      w = std::max(w, v.size());
      wc = std::max(wc, std::to_string(n).size());
    }
    for (const auto& [v, n] : s.label_distribution) {
      char pct[32];
      std::snprintf(pct, sizeof pct, "%6.2f%%", s.rows > 0 ? 100.0 * n / s.rows : 0.0);
      std::string count = std::to_string(n);
      out += "  " + v + std::string(w - v.size(), ' ') + "  " + std::string(wc - count.size(), ' ') +
             count + "  " + pct + "\n";
    }
  }
  return out;
}

nlohmann::json summary_json(const DataSummary& s) {
  nlohmann::json j;
  j["path"] = s.path;
  j["rows"] = s.rows;
  int64_t n_features = 0;
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : s.columns) {
    n_features += !c.is_label && !c.is_weight;
    cols.push_back({{"name", c.name},
                    {"dtype", c.dtype},
                    {"role", c.is_label ? "label" : c.is_weight ? "weight" : "feature"},
                    {"missing", c.missing},
                    {"distinct", c.distinct},
                    {"distinct_exact", c.distinct_exact},
                    {"min", number_or_null(c.min)},
                    {"max", number_or_null(c.max)},
                    {"mean", number_or_null(c.mean)},
                    {"std", number_or_null(c.std)}});
  }
  j["n_features"] = n_features;
  j["label"] = s.label_name.empty() ? nlohmann::json() : nlohmann::json(s.label_name);
  j["columns"] = std::move(cols);
  if (s.has_label_stats) {
    j["label_stats"] = {{"mean", number_or_null(s.label_stats.mean)},
                        {"std", number_or_null(s.label_stats.std)},
                        {"min", number_or_null(s.label_stats.min)},
                        {"max", number_or_null(s.label_stats.max)}};
  } else if (!s.label_name.empty()) {
    nlohmann::json dist = nlohmann::json::array();
    for (const auto& [v, n] : s.label_distribution) dist.push_back({{"value", v}, {"count", n}});
    j["label_distribution"] = std::move(dist);
  }
  return j;
}

}  // namespace canopy
