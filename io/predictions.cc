#include "io/predictions.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "io/dataset.h"
#include "io/hdf5_data.h"

namespace canopy {
namespace {

bool has_hdf5_extension(const std::string& path) {
  auto ends_with = [&](const char* ext) {
    size_t n = std::strlen(ext);
    if (path.size() < n) return false;
    for (size_t i = 0; i < n; ++i) {
      if (std::tolower(static_cast<unsigned char>(path[path.size() - n + i])) != ext[i]) return false;
    }
    return true;
  };
  return ends_with(".h5") || ends_with(".hdf5");
}

// Appends `s` as a CSV field, quoted when needed.
void append_text(std::string& out, const std::string& s) {
  bool needs = s.find_first_of(",\"\r\n") != std::string::npos ||
               (!s.empty() && (s.front() == ' ' || s.back() == ' '));
  if (!needs) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  out.append(buf, r.ptr);
}

void write_csv(const std::string& path, const std::vector<std::string>& names,
               const std::vector<std::vector<double>>& cols, const std::vector<std::string>* label,
               const std::string& label_name, size_t rows) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw DataError("cannot write " + path + ": " + std::strerror(errno));
  std::string buf;
  bool ok = true;
  auto flush = [&] {
    ok = ok && std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
    buf.clear();
  };
  bool first = true;
  auto sep = [&] {
    if (!first) buf += ',';
    first = false;
  };
  if (label) {
    sep();
    append_text(buf, label_name);
  }
  for (const auto& n : names) {
    sep();
    append_text(buf, n);
  }
  buf += '\n';
  for (size_t r = 0; r < rows && ok; ++r) {
    first = true;
    if (label) {
      sep();
      append_text(buf, (*label)[r]);
    }
    for (const auto& c : cols) {
      sep();
      append_number(buf, c[r]);
    }
    buf += '\n';
    if (buf.size() > (1 << 20)) flush();
  }
  flush();
  int err = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    throw DataError("cannot write " + path + ": " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    throw DataError("cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
}

}  // namespace

void write_predictions(const std::string& path, const std::vector<std::string>& column_names,
                       const std::vector<std::vector<double>>& numeric_columns,
                       const std::vector<std::string>* label_column,
                       const std::string& label_column_name) {
  if (column_names.size() != numeric_columns.size()) {
    throw std::invalid_argument("write_predictions: column_names and numeric_columns differ in size");
  }
  size_t rows = label_column ? label_column->size()
                             : (numeric_columns.empty() ? 0 : numeric_columns[0].size());
  for (const auto& c : numeric_columns) {
    if (c.size() != rows) throw std::invalid_argument("write_predictions: columns differ in length");
  }
  if (!has_hdf5_extension(path)) {
    write_csv(path, column_names, numeric_columns, label_column, label_column_name, rows);
    return;
  }
  Hdf5ColumnWriter w(path);
  if (label_column) w.add_strings(label_column_name, *label_column);
  for (size_t i = 0; i < numeric_columns.size(); ++i) {
    w.add_float64(column_names[i], numeric_columns[i].data(), rows);
  }
  w.commit();
}

}  // namespace canopy
