#include "io/model_json.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/model_file.h"

namespace canopy {
namespace {

// Shortest round-trip decimal of a float or double; non-finite values become
// the strings "inf", "-inf", "nan". Integral values get a ".0" so that every
// float field reads as a float in JSON parsers that distinguish.
template <typename T>
void append_real(std::string& out, T v) {
  if (std::isnan(v)) {
    out += "\"nan\"";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "\"inf\"" : "\"-inf\"";
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::size_t len = static_cast<std::size_t>(res.ptr - buf);
  out.append(buf, len);
  bool plain_integer = true;
  for (std::size_t i = 0; i < len; ++i)
    if (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E') plain_integer = false;
  if (plain_integer) out += ".0";
}

void append_int(std::string& out, long long v) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_string(std::string& out, const std::string& s) {
  out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_strings(std::string& out, const std::vector<std::string>& v) {
  out += '[';
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    append_string(out, v[i]);
  }
  out += ']';
}

void key(std::string& out, const char* k) {
  out += "  \"";
  out += k;
  out += "\": ";
}

// One top-level member and the ",\n" that follows it.
void string_member(std::string& out, const char* k, const std::string& v) {
  key(out, k);
  append_string(out, v);
  out += ",\n";
}

void int_member(std::string& out, const char* k, long long v) {
  key(out, k);
  append_int(out, v);
  out += ",\n";
}

}  // namespace

std::string model_to_json(const Model& m) {
  try {
    validate_model(m);
  } catch (const ModelError& e) {
    throw ModelError(std::string("cannot export model as JSON: ") + e.what());
  }
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  if (!m.params_json.empty()) {
    try {
      params = nlohmann::ordered_json::parse(m.params_json);
    } catch (const nlohmann::json::exception& e) {
      throw ModelError(std::string("cannot export model as JSON: params_json is not valid JSON (") +
                       e.what() + ")");
    }
  }
  std::string params_text =
      params.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  {  // indent the nested object by one level
    std::string indented;
    indented.reserve(params_text.size() + 64);
    for (char c : params_text) {
      indented += c;
      if (c == '\n') indented += "  ";
    }
    params_text.swap(indented);
  }

  const ForestNodes& f = m.forest;
  const std::size_t k = static_cast<std::size_t>(f.values_per_node());
  std::string out;
  out.reserve(1024 + f.n_nodes() * (120 + 12 * k));
  out += "{\n";
  string_member(out, "format", kModelFormat);
  int_member(out, "format_version", model_format_version(m));
  string_member(out, "canopy_version", m.canopy_version);
  string_member(out, "task", task_name(m.task));
  string_member(out, "label_name", m.label_name);
  int_member(out, "n_features", static_cast<long long>(m.feature_names.size()));
  int_member(out, "n_outputs", f.n_outputs);
  if (model_format_version(m) >= 2) string_member(out, "multi_class", multi_class_name(f));
  int_member(out, "n_trees", static_cast<long long>(f.n_trees()));
  int_member(out, "n_nodes", static_cast<long long>(f.n_nodes()));
  int_member(out, "n_train_rows", m.n_train_rows);
  string_member(out, "data_fingerprint", m.data_fingerprint);
  string_member(out, "checksum", model_checksum(m));
  key(out, "feature_names");
  append_strings(out, m.feature_names);
  out += ",\n";
  key(out, "class_labels");
  append_strings(out, m.class_labels);
  out += ",\n";
  key(out, "feature_importances");
  out += '[';
  for (std::size_t i = 0; i < m.feature_importances.size(); ++i) {
    if (i) out += ", ";
    append_real(out, m.feature_importances[i]);
  }
  out += "],\n";
  key(out, "params");
  out += params_text;
  out += ",\n";
  key(out, "trees");
  out += '[';
  for (std::size_t t = 0; t < f.n_trees(); ++t) {
    out += t ? ",\n    [\n" : "\n    [\n";
    const int64_t begin = f.tree_offsets[t], end = f.tree_offsets[t + 1];
    for (int64_t i = 0; i < end - begin; ++i) {
      const std::size_t g = static_cast<std::size_t>(begin + i);
      out += i ? ",\n      {\"id\": " : "      {\"id\": ";
      append_int(out, i);
      if (f.feature[g] < 0) {
        out += ", \"leaf\": true";
      } else {
        out += ", \"feature\": ";
        append_int(out, f.feature[g]);
        out += ", \"threshold\": ";
        append_real(out, f.threshold[g]);
        out += ", \"left\": ";
        append_int(out, f.left_child[g]);
        out += ", \"right\": ";
        append_int(out, static_cast<long long>(f.left_child[g]) + 1);
        out += ", \"default_left\": ";
        out += f.default_left[g] ? "true" : "false";
      }
      out += ", \"n_samples\": ";
      append_int(out, f.n_samples[g]);
      out += ", \"weight\": ";
      append_real(out, f.weight[g]);
      out += ", \"value\": [";
      for (std::size_t j = 0; j < k; ++j) {
        if (j) out += ", ";
        append_real(out, f.value[g * k + j]);
      }
      out += "]}";
    }
    out += "\n    ]";
  }
  out += f.n_trees() ? "\n  ]\n}\n" : "]\n}\n";
  return out;
}

void export_model_json(const Model& m, const std::string& path) {
  const std::string text = model_to_json(m);
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  auto fail = [&](const std::string& what) {
    int err = errno;
    std::remove(tmp.c_str());
    throw ModelError("cannot write " + path + ": " + what + " (" + std::strerror(err) + ")");
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    throw ModelError("cannot write " + path + ": cannot create " + tmp + " (" +
                     std::strerror(err) + ")");
  }
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      fail("write failed");
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("fsync failed");
  }
  if (::close(fd) != 0) fail("close failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename failed");
}

}  // namespace canopy
