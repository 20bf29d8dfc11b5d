#include "io/csv.h"

#include <omp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <type_traits>

namespace canopy {
namespace {

// One field of a record: [begin, end) is the trimmed content (for a quoted
// field, the text between the quotes, with "" pairs still doubled).
struct Field {
  const char* begin;
  const char* end;
  bool escaped;  // quoted field containing "" pairs
};

inline bool is_blank(char c, char delim) { return (c == ' ' || c == '\t') && c != delim; }

// Drops spaces (and tabs, unless tab is the delimiter) at both ends.
inline void trim(Field& f, char delim) {
  while (f.begin < f.end && is_blank(*f.begin, delim)) ++f.begin;
  while (f.end > f.begin && is_blank(f.end[-1], delim)) --f.end;
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The field's text with "" unescaped.
std::string field_text(const Field& f) {
  if (!f.escaped) return std::string(f.begin, f.end);
  std::string out;
  out.reserve(f.end - f.begin);
  for (const char* p = f.begin; p < f.end; ++p) {
    out.push_back(*p);
    if (*p == '"') ++p;  // skip the second quote of a pair
  }
  return out;
}

// Counts the candidate delimiters outside quotes on the header line (the first
// non-blank line) and returns the most frequent (ties: ',' then ';' then tab;
// none: ',').
char detect_delimiter(std::string_view text) {
  size_t comma = 0, semi = 0, tab = 0;
  bool in_quotes = false, content = false;
  for (char c : text) {
    content = content || (c != '\n' && c != '\r');
    if (c == '"') {
      in_quotes = !in_quotes;
    } else if (!in_quotes) {
      if (c == '\n' && content) break;
      comma += c == ',';
      semi += c == ';';
      tab += c == '\t';
    }
  }
  if (tab > comma && tab > semi) return '\t';
  if (semi > comma) return ';';
  return ',';
}

// Splits the text into records. Tracks 1-based physical line numbers across
// quoted newlines so errors can name the line a record starts on.
class Scanner {
 public:
  // `first_line`: the physical line number of the first character of `text`.
  Scanner(std::string_view text, char delim, const std::string& name, long first_line = 1)
      : p_(text.data()),
        end_(text.data() + text.size()),
        delim_(delim),
        name_(name),
        line_(first_line),
        record_line_(first_line) {}

  // The text not consumed yet, and the physical line it starts on.
  std::string_view rest() const { return std::string_view(p_, static_cast<size_t>(end_ - p_)); }
  long line() const { return line_; }

  // Reads the next non-blank record into `fields`; false at end of input.
  bool next(std::vector<Field>& fields) {
    while (p_ < end_) {  // skip blank lines
      if (*p_ == '\n') {
        ++p_;
        ++line_;
      } else if (*p_ == '\r' && (p_ + 1 == end_ || p_[1] == '\n')) {
        p_ += 1;
      } else {
        break;
      }
    }
    if (p_ >= end_) return false;
    record_line_ = line_;
    fields.clear();
    for (;;) {
      const char* s = p_;
      while (s < end_ && is_blank(*s, delim_)) ++s;
      const char* t;
      if (s < end_ && *s == '"') {
        Field f = quoted_field(s, fields.size() + 1);
        fields.push_back(f);
        t = f.end + 1;  // just past the closing quote
        while (t < end_ && is_blank(*t, delim_)) ++t;
        if (t < end_ && *t == '\r' && (t + 1 == end_ || t[1] == '\n')) ++t;
        if (t < end_ && *t != delim_ && *t != '\n') {
          throw DataError(where() + ": unexpected character '" + std::string(1, *t) +
                          "' after the closing quote of field " + std::to_string(fields.size()));
        }
      } else {
        t = s;
        const char delim = delim_;
        while (t < end_ && *t != delim && *t != '\n') ++t;
        const char* e = t;
        if ((t == end_ || *t == '\n') && e > s && e[-1] == '\r') --e;
        while (e > s && is_blank(e[-1], delim_)) --e;
        fields.push_back(Field{s, e, false});
      }
      if (t >= end_) {
        p_ = end_;
        return true;
      }
      p_ = t + 1;
      if (*t == '\n') {
        ++line_;
        return true;
      }
    }
  }

  // "<name>: line <n>" for the record last returned.
  std::string where() const { return name_ + ": line " + std::to_string(record_line_); }

 private:
  // Parses a quoted field whose opening quote is at `s`.
  Field quoted_field(const char* s, size_t field_no) {
    bool escaped = false;
    long newlines = 0;
    for (const char* q = s + 1; q < end_; ++q) {
      if (*q == '\n') {
        ++newlines;
      } else if (*q == '"') {
        if (q + 1 < end_ && q[1] == '"') {
          escaped = true;
          ++q;
        } else {
          line_ += newlines;
          return Field{s + 1, q, escaped};
        }
      }
    }
    throw DataError(where() + ": unterminated quoted field " + std::to_string(field_no) +
                    " (no closing '\"' before the end of the file)");
  }

  const char* p_;
  const char* end_;
  char delim_;
  const std::string& name_;
  long line_;
  long record_line_;
};

// True for the missing-value spellings: "", NA, NaN, nan, ?.
inline bool is_missing(const char* b, const char* e) {
  switch (e - b) {
    case 0:
      return true;
    case 1:
      return *b == '?';
    case 2:
      return b[0] == 'N' && b[1] == 'A';
    case 3:
      return std::memcmp(b, "NaN", 3) == 0 || std::memcmp(b, "nan", 3) == 0;
    default:
      return false;
  }
}

// Parses all of [b, e) as a number (optional sign, decimal/exponent, inf).
// Out-of-range values saturate like strtod (to +-inf or towards 0).
template <class T>
bool parse_number(const char* b, const char* e, T& out) {
  if (b < e && *b == '+') {
    ++b;
    if (b < e && (*b == '-' || *b == '+')) return false;
  }
  if (b == e) return false;
  auto r = std::from_chars(b, e, out);
  if (r.ptr != e) return false;
  if (r.ec == std::errc::result_out_of_range) {
    std::string copy(b, e);
    if constexpr (std::is_same_v<T, float>) {
      out = std::strtof(copy.c_str(), nullptr);
    } else {
      out = std::strtod(copy.c_str(), nullptr);
    }
    return true;
  }
  return r.ec == std::errc();
}

// Files at least this large (after the header) are parsed in parallel slices.
constexpr size_t kParallelMinBytes = size_t(4) << 20;

enum class Role : unsigned char { kFeature, kLabel, kWeight, kDropped };

int find_column(const std::vector<std::string>& header, const std::string& name) {
  auto it = std::find(header.begin(), header.end(), name);
  return it == header.end() ? -1 : static_cast<int>(it - header.begin());
}

std::string column_list(const std::vector<std::string>& header) {
  std::string s;
  for (size_t i = 0; i < header.size(); ++i) s += (i ? ", " : "") + header[i];
  return s;
}

std::string read_whole_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw DataError("cannot open " + path + ": " + std::strerror(errno));
  std::string buf;
  struct stat st;
  if (::fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::fclose(f);
    throw DataError("cannot open " + path + ": " + std::strerror(EISDIR));
  }
  if (::fstat(fileno(f), &st) == 0 && st.st_size > 0) buf.reserve(static_cast<size_t>(st.st_size) + 1);
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.append(chunk, n);
  bool failed = std::ferror(f);
  int err = errno;
  std::fclose(f);
  if (failed) throw DataError("cannot read " + path + ": " + std::strerror(err));
  return buf;
}

// What each column of the file becomes.
struct Plan {
  std::string name;
  char delim = ',';
  std::vector<std::string> header;
  std::vector<Role> roles;
  size_t n_features = 0;
  bool has_label = false;
  bool has_weight = false;
};

// The rows parsed from one slice of the file.
struct Part {
  std::vector<std::vector<float>> columns;
  std::vector<double> label_numeric;
  std::vector<Field> label_fields;  // kept in case the labels turn out to be text
  bool label_numeric_ok = true;     // every label so far parsed as a number
  std::string nonfinite_where;      // first NaN/inf numeric label: "<file>: line <n>" ...
  std::string nonfinite_value;      // ... and its text ("" = none)
  std::vector<double> weights;
  std::exception_ptr error;         // first error in this slice
};

// Parses every record of `text` (starting on physical line `first_line`).
// Never throws: the first error is stored in part.error.
void parse_part(const Plan& plan, std::string_view text, long first_line, Part& part) noexcept {
  try {
    const size_t est_rows = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    part.columns.resize(plan.n_features);
    for (auto& c : part.columns) c.reserve(est_rows);
    if (plan.has_label) {
      part.label_fields.reserve(est_rows);
      part.label_numeric.reserve(est_rows);
    }
    if (plan.has_weight) part.weights.reserve(est_rows);
    const size_t n_cols = plan.header.size();
    const char delim = plan.delim;
    Scanner scanner(text, delim, plan.name, first_line);
    std::vector<Field> fields;
    std::string scratch;
    while (scanner.next(fields)) {
      if (fields.size() != n_cols) {
        throw DataError(scanner.where() + ": expected " + std::to_string(n_cols) + " fields, found " +
                        std::to_string(fields.size()));
      }
      size_t feature = 0;
      for (size_t j = 0; j < n_cols; ++j) {
        Field f = fields[j];
        if (f.escaped) {  // rare: quoted text with "" pairs
          scratch = field_text(f);
          f = Field{scratch.data(), scratch.data() + scratch.size(), false};
        }
        trim(f, delim);  // spaces inside quotes
        switch (plan.roles[j]) {
          case Role::kFeature: {
            float v;
            if (is_missing(f.begin, f.end)) {
              v = std::numeric_limits<float>::quiet_NaN();
            } else if (!parse_number(f.begin, f.end, v)) {
              throw DataError(scanner.where() + ", column " + quote(plan.header[j]) + ": cannot parse " +
                              quote(std::string(f.begin, f.end)) + " as a number");
            }
            part.columns[feature++].push_back(v);
            break;
          }
          case Role::kLabel: {
            if (is_missing(f.begin, f.end)) {
              throw DataError(scanner.where() + ": missing label in column " + quote(plan.header[j]));
            }
            double v;
            if (part.label_numeric_ok && parse_number(f.begin, f.end, v)) {
              // An error only if every label is numeric: decided after all slices.
              if (!std::isfinite(v) && part.nonfinite_value.empty()) {
                part.nonfinite_where = scanner.where();
                part.nonfinite_value.assign(f.begin, f.end);
              }
              part.label_numeric.push_back(v);
            } else {
              part.label_numeric_ok = false;
            }
            part.label_fields.push_back(fields[j]);
            break;
          }
          case Role::kWeight: {
            double v;
            if (is_missing(f.begin, f.end) || !parse_number(f.begin, f.end, v)) {
              throw DataError(scanner.where() + ", column " + quote(plan.header[j]) + ": cannot parse " +
                              quote(std::string(f.begin, f.end)) + " as a sample weight");
            }
            if (!std::isfinite(v) || v < 0) {
              throw DataError(scanner.where() + ", column " + quote(plan.header[j]) +
                              ": sample weight must be finite and >= 0, found " +
                              quote(std::string(f.begin, f.end)));
            }
            part.weights.push_back(v);
            break;
          }
          case Role::kDropped:
            break;
        }
      }
    }
  } catch (...) {
    part.error = std::current_exception();
  }
}

// Splits `body` into up to `n` slices that end just after a newline.
std::vector<std::string_view> split_at_newlines(std::string_view body, size_t n) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t k = 1; k <= n && start < body.size(); ++k) {
    size_t end = k == n ? body.size() : std::max(start, body.size() * k / n);
    if (end < body.size()) {
      size_t nl = body.find('\n', end);
      end = nl == std::string_view::npos ? body.size() : nl + 1;
    }
    if (end > start) out.push_back(body.substr(start, end - start));
    start = end;
  }
  return out;
}

}  // namespace

Dataset read_csv(const std::string& path, const ReadOptions& opt) {
  std::string text = read_whole_file(path);
  return parse_csv(text, path, opt);
}

Dataset parse_csv(std::string_view text, const std::string& name, const ReadOptions& opt) {
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
  Plan plan;
  plan.name = name;
  plan.delim = detect_delimiter(text);
  Scanner scanner(text, plan.delim, name);
  std::vector<Field> fields;
  if (!scanner.next(fields)) throw DataError(name + ": file is empty (no header row)");

  // Header and column roles.
  std::vector<std::string>& header = plan.header;
  for (const Field& f : fields) header.push_back(field_text(f));
  for (size_t i = 0; i < header.size(); ++i) {
    int first = find_column(header, header[i]);
    if (first != static_cast<int>(i)) {
      throw DataError(scanner.where() + ": duplicate column name " + quote(header[i]) + " (columns " +
                      std::to_string(first + 1) + " and " + std::to_string(i + 1) + ")");
    }
  }
  const size_t n_cols = header.size();
  std::vector<Role>& roles = plan.roles;
  roles.assign(n_cols, Role::kFeature);
  int label_col = -1;
  if (!opt.label.empty()) {
    label_col = find_column(header, opt.label);
    if (label_col < 0 && opt.require_label) {
      throw DataError(name + ": label column " + quote(opt.label) + " not found; columns are: " +
                      column_list(header));
    }
  } else if (opt.require_label) {
    label_col = static_cast<int>(n_cols) - 1;
  }
  if (label_col >= 0) roles[label_col] = opt.require_label ? Role::kLabel : Role::kDropped;
  int weight_col = -1;
  if (!opt.weight_column.empty()) {
    weight_col = find_column(header, opt.weight_column);
    if (weight_col < 0) {
      throw DataError(name + ": weight column " + quote(opt.weight_column) +
                      " not found; columns are: " + column_list(header));
    }
    if (weight_col == label_col) {
      throw DataError(name + ": column " + quote(opt.weight_column) +
                      " cannot be both the label and the weight column");
    }
    roles[weight_col] = Role::kWeight;
  }
  Dataset d;
  d.source = name;
  for (size_t j = 0; j < n_cols; ++j) {
    if (roles[j] == Role::kFeature) d.feature_names.push_back(header[j]);
  }
  plan.n_features = d.feature_names.size();
  plan.has_label = label_col >= 0 && roles[label_col] == Role::kLabel;
  plan.has_weight = weight_col >= 0;
  if (plan.n_features == 0) {
    throw DataError(name + ": no feature columns (columns are: " + column_list(header) + ")");
  }

  // Rows: in parallel slices when no quote can hide a newline.
  const std::string_view body = scanner.rest();
  const long body_line = scanner.line();
  size_t n_slices = 1;
  if (body.size() >= kParallelMinBytes && body.find('"') == std::string_view::npos) {
    n_slices = std::min<size_t>(static_cast<size_t>(std::max(1, omp_get_max_threads())),
                                body.size() / (kParallelMinBytes / 4));
  }
  const std::vector<std::string_view> slices = split_at_newlines(body, n_slices);
  std::vector<long> first_line(slices.size() + 1, body_line);
  std::vector<Part> parts(slices.size());
  const long long ns = static_cast<long long>(slices.size());
#pragma omp parallel for schedule(static, 1) if (ns > 1)
  for (long long k = 0; k < ns; ++k) {
    first_line[k + 1] = static_cast<long>(std::count(slices[k].begin(), slices[k].end(), '\n'));
  }
  for (size_t k = 0; k < slices.size(); ++k) first_line[k + 1] += first_line[k];
#pragma omp parallel for schedule(static, 1) if (ns > 1)
  for (long long k = 0; k < ns; ++k) parse_part(plan, slices[k], first_line[k], parts[k]);
  for (const Part& p : parts) {
    if (p.error) std::rethrow_exception(p.error);
  }

  // Concatenate the slices.
  size_t rows = 0;
  bool label_numeric = true;
  for (const Part& p : parts) {
    rows += p.columns[0].size();
    label_numeric = label_numeric && p.label_numeric_ok;
  }
  if (rows == 0) throw DataError(name + ": no data rows");
  auto concat = [&](auto member, auto& out) {
    if (parts.size() == 1) {
      out = std::move(parts[0].*member);
      return;
    }
    out.reserve(rows);
    for (Part& p : parts) out.insert(out.end(), (p.*member).begin(), (p.*member).end());
  };
  d.columns.resize(plan.n_features);
  for (size_t j = 0; j < plan.n_features; ++j) {
    if (parts.size() == 1) {
      d.columns[j] = std::move(parts[0].columns[j]);
    } else {
      d.columns[j].reserve(rows);
      for (Part& p : parts) {
        d.columns[j].insert(d.columns[j].end(), p.columns[j].begin(), p.columns[j].end());
        std::vector<float>().swap(p.columns[j]);
      }
    }
  }
  if (plan.has_weight) concat(&Part::weights, d.sample_weight);
  if (plan.has_label) {
    d.label_name = header[label_col];
    if (label_numeric) {
      for (const Part& p : parts) {
        if (p.nonfinite_value.empty()) continue;
        const std::string& where = p.nonfinite_where;
        const std::string& value = p.nonfinite_value;
        double v = 0;
        parse_number(value.data(), value.data() + value.size(), v);
        if (std::isnan(v)) throw DataError(where + ": missing label in column " + quote(d.label_name));
        throw DataError(where + ", column " + quote(d.label_name) + ": label " + quote(value) +
                        " is not a finite number");
      }
      concat(&Part::label_numeric, d.label_numeric);
    } else {
      d.label_text.reserve(rows);
      for (const Part& p : parts) {
        for (const Field& f : p.label_fields) {
          std::string s = field_text(f);
          Field t{s.data(), s.data() + s.size(), false};
          trim(t, plan.delim);
          d.label_text.emplace_back(t.begin, t.end);
        }
      }
    }
  }
  for (auto& c : d.columns) c.shrink_to_fit();
  return d;
}

}  // namespace canopy
