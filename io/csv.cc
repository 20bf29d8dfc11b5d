#include "io/csv.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// Counts the candidate delimiters outside quotes on the header line and
// returns the most frequent (ties: ',' then ';' then tab; none: ',').
char detect_delimiter(std::string_view text) {
  size_t comma = 0, semi = 0, tab = 0;
  bool in_quotes = false;
  for (char c : text) {
    if (c == '"') {
      in_quotes = !in_quotes;
    } else if (!in_quotes) {
      if (c == '\n') break;
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
  Scanner(std::string_view text, char delim, const std::string& name)
      : p_(text.data()), end_(text.data() + text.size()), delim_(delim), name_(name) {}

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
  long line_ = 1;
  long record_line_ = 1;
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

}  // namespace

Dataset read_csv(const std::string& path, const ReadOptions& opt) {
  std::string text = read_whole_file(path);
  return parse_csv(text, path, opt);
}

Dataset parse_csv(std::string_view text, const std::string& name, const ReadOptions& opt) {
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
  const char delim = detect_delimiter(text);
  Scanner scanner(text, delim, name);
  std::vector<Field> fields;
  if (!scanner.next(fields)) throw DataError(name + ": file is empty (no header row)");

  // Header and column roles.
  std::vector<std::string> header;
  for (const Field& f : fields) header.push_back(field_text(f));
  for (size_t i = 0; i < header.size(); ++i) {
    int first = find_column(header, header[i]);
    if (first != static_cast<int>(i)) {
      throw DataError(name + ": line 1: duplicate column name " + quote(header[i]) + " (columns " +
                      std::to_string(first + 1) + " and " + std::to_string(i + 1) + ")");
    }
  }
  const size_t n_cols = header.size();
  std::vector<Role> roles(n_cols, Role::kFeature);
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
  const size_t est_rows = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (size_t j = 0; j < n_cols; ++j) {
    if (roles[j] != Role::kFeature) continue;
    d.feature_names.push_back(header[j]);
    d.columns.emplace_back().reserve(est_rows);
  }
  if (d.columns.empty()) {
    throw DataError(name + ": no feature columns (columns are: " + column_list(header) + ")");
  }
  const bool has_label = label_col >= 0 && roles[label_col] == Role::kLabel;
  std::vector<Field> label_fields;  // kept in case the labels turn out to be text
  bool label_numeric = true;
  if (has_label) {
    d.label_name = header[label_col];
    label_fields.reserve(est_rows);
    d.label_numeric.reserve(est_rows);
  }
  if (weight_col >= 0) d.sample_weight.reserve(est_rows);

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
      switch (roles[j]) {
        case Role::kFeature: {
          float v;
          if (is_missing(f.begin, f.end)) {
            v = std::numeric_limits<float>::quiet_NaN();
          } else if (!parse_number(f.begin, f.end, v)) {
            throw DataError(scanner.where() + ", column " + quote(header[j]) + ": cannot parse " +
                            quote(std::string(f.begin, f.end)) + " as a number");
          }
          d.columns[feature++].push_back(v);
          break;
        }
        case Role::kLabel: {
          if (is_missing(f.begin, f.end)) {
            throw DataError(scanner.where() + ": missing label in column " + quote(header[j]));
          }
          double v;
          if (label_numeric && parse_number(f.begin, f.end, v)) {
            if (std::isnan(v)) {
              throw DataError(scanner.where() + ": missing label in column " + quote(header[j]));
            }
            if (std::isinf(v)) {
              throw DataError(scanner.where() + ", column " + quote(header[j]) + ": label " +
                              quote(std::string(f.begin, f.end)) + " is not a finite number");
            }
            d.label_numeric.push_back(v);
          } else {
            label_numeric = false;
          }
          label_fields.push_back(fields[j]);
          break;
        }
        case Role::kWeight: {
          double v;
          if (is_missing(f.begin, f.end) || !parse_number(f.begin, f.end, v)) {
            throw DataError(scanner.where() + ", column " + quote(header[j]) + ": cannot parse " +
                            quote(std::string(f.begin, f.end)) + " as a sample weight");
          }
          if (!std::isfinite(v) || v < 0) {
            throw DataError(scanner.where() + ", column " + quote(header[j]) +
                            ": sample weight must be finite and >= 0, found " +
                            quote(std::string(f.begin, f.end)));
          }
          d.sample_weight.push_back(v);
          break;
        }
        case Role::kDropped:
          break;
      }
    }
  }
  if (d.columns[0].empty()) throw DataError(name + ": no data rows");

  if (has_label && !label_numeric) {
    d.label_numeric.clear();
    d.label_numeric.shrink_to_fit();
    d.label_text.reserve(label_fields.size());
    for (const Field& f : label_fields) {
      std::string s = field_text(f);
      Field t{s.data(), s.data() + s.size(), false};
      trim(t, delim);
      d.label_text.emplace_back(t.begin, t.end);
    }
  }
  for (auto& c : d.columns) c.shrink_to_fit();
  return d;
}

}  // namespace canopy
