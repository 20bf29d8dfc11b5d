// Model files (io/model_file.h) and the JSON export (io/model_json.h).
#include "io/model_file.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/model_json.h"
#include "test_util.h"

namespace canopy {
namespace {

namespace fs = std::filesystem;

// Appends one node to `f` (tree-local left child index; -1 for a leaf).
void add_node(ForestNodes& f, int32_t feature, float threshold, int32_t left, uint8_t default_left,
              int64_t n_samples, double weight, std::vector<float> value) {
  f.feature.push_back(feature);
  f.threshold.push_back(threshold);
  f.left_child.push_back(left);
  f.default_left.push_back(default_left);
  f.n_samples.push_back(n_samples);
  f.weight.push_back(weight);
  f.value.insert(f.value.end(), value.begin(), value.end());
}

// 4 features, 3 classes, 2 trees (5 and 3 nodes); tree 1 splits at +inf.
Model small_classifier() {
  Model m;
  m.task = Task::kClassification;
  m.feature_names = {"sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                     "p\xc3\xa9tale \"width\""};
  m.class_labels = {"setosa", "versicolor", "virginica"};
  m.label_name = "species";
  m.feature_importances = {0.1, 0.0, 0.55, 0.35};
  m.params_json = R"({"n_estimators":2,"max_depth":3,"criterion":"gini","max_features":"sqrt"})";
  m.data_fingerprint = "9f86d081884c7d65";
  m.canopy_version = "0.1.0";
  m.n_train_rows = 150;
  ForestNodes& f = m.forest;
  f.n_outputs = 3;
  f.tree_offsets = {0};
  add_node(f, 2, 2.45f, 1, 1, 150, 150.0, {1.f / 3, 1.f / 3, 1.f / 3});
  add_node(f, -1, 0.f, -1, 0, 50, 50.0, {1.f, 0.f, 0.f});
  add_node(f, 3, 1.75f, 3, 0, 100, 100.0, {0.f, 0.5f, 0.5f});
  add_node(f, -1, 0.f, -1, 0, 54, 54.0, {0.f, 0.9074074f, 0.0925926f});
  add_node(f, -1, 0.f, -1, 0, 46, 46.0, {0.f, 0.0217391f, 0.9782609f});
  f.tree_offsets.push_back(5);
  add_node(f, 0, std::numeric_limits<float>::infinity(), 1, 0, 150, 149.5, {0.3f, 0.3f, 0.4f});
  add_node(f, -1, 0.f, -1, 0, 140, 140.25, {0.25f, 0.35f, 0.4f});
  add_node(f, -1, 0.f, -1, 0, 10, 9.25, {1e-7f, 0.5f, 0.4999999f});
  f.tree_offsets.push_back(8);
  return m;
}

// One tree of 2,400,001 nodes, 3 outputs: node arrays of several HDF5 chunks
// (2^20 elements), with a partial last chunk. A caterpillar: node 2k splits
// into leaf 2k+1 and node 2k+2.
Model long_forest() {
  Model m = small_classifier();
  ForestNodes& f = m.forest;
  f = ForestNodes{};
  f.n_outputs = 3;
  f.tree_offsets = {0};
  const int32_t internal = 1200000;
  for (int32_t k = 0; k < internal; ++k) {
    const int64_t n = internal - k + 1;
    add_node(f, k % 4, static_cast<float>(k) * 0.25f, 1 + 2 * k, static_cast<uint8_t>(k % 2), n,
             static_cast<double>(n) + 0.5, {0.25f, 0.25f, 0.5f});
    add_node(f, -1, 0.f, -1, 0, 1, 1.0, {k % 3 == 0 ? 1.f : 0.f, k % 3 == 1 ? 1.f : 0.f, k % 3 == 2 ? 1.f : 0.f});
  }
  add_node(f, -1, 0.f, -1, 0, 1, 1.0, {0.f, 0.f, 1.f});
  f.tree_offsets.push_back(static_cast<int64_t>(f.feature.size()));
  return m;
}

// 3 features, one tree of 7 nodes, no class labels, no importances.
Model small_regressor() {
  Model m;
  m.task = Task::kRegression;
  m.feature_names = {"age", "bmi", "bp"};
  m.label_name = "progression";
  m.params_json = R"({"n_estimators":1,"criterion":"squared_error"})";
  m.data_fingerprint = "abc";
  m.canopy_version = "0.1.0-dev";
  m.n_train_rows = 442;
  ForestNodes& f = m.forest;
  f.n_outputs = 1;
  f.tree_offsets = {0};
  add_node(f, 1, 0.0056f, 1, 1, 442, 442.0, {152.13348f});
  add_node(f, 2, -0.0172f, 3, 0, 263, 263.0, {118.7f});
  add_node(f, 0, 0.0090f, 5, 1, 179, 179.0, {200.1f});
  add_node(f, -1, 0.f, -1, 0, 150, 150.0, {100.5f});
  add_node(f, -1, 0.f, -1, 0, 113, 113.0, {143.0f});
  add_node(f, -1, 0.f, -1, 0, 90, 90.0, {180.25f});
  add_node(f, -1, 0.f, -1, 0, 89, 89.0, {220.0f});
  f.tree_offsets.push_back(7);
  return m;
}

// One-vs-rest: 4 features, 3 classes, 2 members of 3 trees; tree t scores
// class t % 3 with one value per node.
Model small_ovr_classifier() {
  Model m = small_classifier();
  m.params_json = R"({"n_estimators":2,"multi_class":"ovr"})";
  ForestNodes& f = m.forest;
  f = ForestNodes{};
  f.n_outputs = 3;
  f.one_vs_rest = true;
  f.tree_offsets = {0};
  for (int t = 0; t < 6; ++t) {
    const float p = 0.1f * static_cast<float>(t + 1);
    add_node(f, t % 4, 1.5f + static_cast<float>(t), 1, static_cast<uint8_t>(t % 2), 150, 150.0, {p});
    add_node(f, -1, 0.f, -1, 0, 60, 60.0, {p / 2});
    add_node(f, -1, 0.f, -1, 0, 90, 90.0, {t == 5 ? 0.f : 1.f - p / 3});
    f.tree_offsets.push_back(f.tree_offsets.back() + 3);
  }
  return m;
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

void expect_same_model(const Model& a, const Model& b) {
  EXPECT_EQ(a.task, b.task);
  EXPECT_EQ(a.feature_names, b.feature_names);
  EXPECT_EQ(a.class_labels, b.class_labels);
  EXPECT_EQ(a.label_name, b.label_name);
  EXPECT_TRUE(same_bits(a.feature_importances, b.feature_importances));
  EXPECT_EQ(a.params_json, b.params_json);
  EXPECT_EQ(a.data_fingerprint, b.data_fingerprint);
  EXPECT_EQ(a.canopy_version, b.canopy_version);
  EXPECT_EQ(a.n_train_rows, b.n_train_rows);
  EXPECT_EQ(a.forest.n_outputs, b.forest.n_outputs);
  EXPECT_EQ(a.forest.one_vs_rest, b.forest.one_vs_rest);
  EXPECT_EQ(a.forest.tree_offsets, b.forest.tree_offsets);
  EXPECT_EQ(a.forest.feature, b.forest.feature);
  EXPECT_TRUE(same_bits(a.forest.threshold, b.forest.threshold));
  EXPECT_EQ(a.forest.left_child, b.forest.left_child);
  EXPECT_EQ(a.forest.default_left, b.forest.default_left);
  EXPECT_EQ(a.forest.n_samples, b.forest.n_samples);
  EXPECT_TRUE(same_bits(a.forest.weight, b.forest.weight));
  EXPECT_TRUE(same_bits(a.forest.value, b.forest.value));
}

// The message of the ModelError thrown by load_model(path) ("" if none).
std::string load_error(const std::string& path) {
  try {
    load_model(path);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// --- patching saved files with the HDF5 API --------------------------------

struct File {
  hid_t id;
  explicit File(const std::string& path) : id(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {
    EXPECT_GE(id, 0) << path;
  }
  ~File() { H5Fclose(id); }
};

void patch_int_attr(const std::string& path, const char* name, int64_t v) {
  File f(path);
  hid_t a = H5Aopen(f.id, name, H5P_DEFAULT);
  ASSERT_GE(a, 0);
  EXPECT_GE(H5Awrite(a, H5T_NATIVE_INT64, &v), 0);
  H5Aclose(a);
}

// A string type as canopy writes it (fixed-length UTF-8) or as older canopy
// builds wrote it (variable-length UTF-8).
hid_t string_type(bool variable, std::size_t size) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, variable ? H5T_VARIABLE : std::max<std::size_t>(size, 1));
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

// Replaces a root string attribute (the new value may be longer).
void write_string_attr(hid_t file, const char* name, const std::string& v, bool variable) {
  if (H5Aexists(file, name) > 0) EXPECT_GE(H5Adelete(file, name), 0);
  hid_t t = string_type(variable, v.size());
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(file, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(a, 0);
  const char* p = v.c_str();
  EXPECT_GE(H5Awrite(a, t, variable ? static_cast<const void*>(&p) : p), 0);
  H5Aclose(a);
  H5Sclose(space);
  H5Tclose(t);
}

void patch_string_attr(const std::string& path, const char* name, const std::string& v) {
  File f(path);
  write_string_attr(f.id, name, v, false);
}

// Rewrites every string attribute and string dataset of a saved model as
// variable-length strings, the way format-version-1 files were first written.
void rewrite_strings_as_variable_length(const std::string& path, const Model& m) {
  File f(path);
  const std::pair<const char*, std::string> attrs[] = {
      {"format", kModelFormat},
      {"canopy_version", m.canopy_version},
      {"task", task_name(m.task)},
      {"label_name", m.label_name},
      {"data_fingerprint", m.data_fingerprint},
      {"params", m.params_json},
      {"checksum", model_checksum(m)}};
  for (const auto& [name, value] : attrs) write_string_attr(f.id, name, value, true);
  for (const auto& [name, values] : {std::make_pair("feature_names", m.feature_names),
                                     std::make_pair("class_labels", m.class_labels)}) {
    EXPECT_GE(H5Ldelete(f.id, name, H5P_DEFAULT), 0);
    hid_t t = string_type(true, 0);
    hsize_t dims[1] = {values.size()};
    hid_t space = H5Screate_simple(1, dims, nullptr);
    hid_t d = H5Dcreate2(f.id, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    if (!ptrs.empty()) EXPECT_GE(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(t);
  }
}

// Whether `name` (an attribute of the root, or a dataset) is stored as a
// variable-length string; fails the test if it is not a UTF-8 string.
bool stored_as_variable_length(const std::string& path, const char* name, bool is_attr) {
  File f(path);
  hid_t obj = is_attr ? H5Aopen(f.id, name, H5P_DEFAULT) : H5Dopen2(f.id, name, H5P_DEFAULT);
  EXPECT_GE(obj, 0) << name;
  hid_t t = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
  EXPECT_EQ(H5Tget_class(t), H5T_STRING) << name;
  EXPECT_EQ(H5Tget_cset(t), H5T_CSET_UTF8) << name;
  bool variable = H5Tis_variable_str(t) > 0;
  if (!variable) {
    EXPECT_GE(H5Tget_size(t), 1u) << name;
    EXPECT_EQ(H5Tget_strpad(t), H5T_STR_NULLPAD) << name;
  }
  H5Tclose(t);
  is_attr ? H5Aclose(obj) : H5Dclose(obj);
  return variable;
}

void patch_int32_dataset(const std::string& path, const char* name,
                         const std::vector<int32_t>& v) {
  File f(path);
  hid_t d = H5Dopen2(f.id, name, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  EXPECT_GE(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
  H5Dclose(d);
}

void flip_bytes(const std::string& path, std::size_t offset, std::size_t count) {
  std::string bytes = test::read_file(path);
  ASSERT_LE(offset + count, bytes.size());
  for (std::size_t i = 0; i < count; ++i) bytes[offset + i] = static_cast<char>(~bytes[offset + i]);
  test::write_file(path, bytes);
}

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Row x → averaged leaf values (the reference semantics of the node arrays);
// one-vs-rest: each class's mean over its trees, scaled to sum 1.
std::vector<double> predict_row(const Model& m, const std::vector<float>& x) {
  const ForestNodes& f = m.forest;
  std::vector<double> out(f.n_outputs, 0.0), trees(f.n_outputs, 0.0);
  for (std::size_t t = 0; t < f.n_trees(); ++t) {
    int64_t b = f.tree_offsets[t], i = 0;
    while (f.feature[b + i] >= 0) {
      float v = x[f.feature[b + i]];
      bool left = std::isnan(v) ? f.default_left[b + i] != 0 : v <= f.threshold[b + i];
      i = f.left_child[b + i] + (left ? 0 : 1);
    }
    if (f.one_vs_rest) {
      out[t % f.n_outputs] += f.value[b + i];
      trees[t % f.n_outputs] += 1;
    } else {
      for (int j = 0; j < f.n_outputs; ++j) out[j] += f.value[(b + i) * f.n_outputs + j];
    }
  }
  if (!f.one_vs_rest) {
    for (auto& v : out) v /= static_cast<double>(f.n_trees());
    return out;
  }
  double total = 0;
  for (int j = 0; j < f.n_outputs; ++j) total += out[j] /= trees[j];
  for (auto& v : out) v = total > 0 ? v / total : 1.0 / f.n_outputs;
  return out;
}

bool have_h5py() {
  return std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") == 0;
}

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir(); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

// --- round trips -------------------------------------------------------------

TEST_F(ModelFileTest, ClassificationRoundTrip) {
  Model m = small_classifier();
  save_model(m, path("m.h5"));
  Model back = load_model(path("m.h5"));
  expect_same_model(m, back);
  EXPECT_TRUE(std::isinf(back.forest.threshold[5]));
}

// One-vs-rest forests are format version 2 with multi_class "ovr"; joint
// forests stay version 1 without the attribute, so older builds read them.
TEST_F(ModelFileTest, OneVsRestRoundTripAndVersions) {
  Model m = small_ovr_classifier();
  save_model(m, path("ovr.h5"));
  expect_same_model(m, load_model(path("ovr.h5")));
  save_model(small_classifier(), path("joint.h5"));
  File ovr(path("ovr.h5")), joint(path("joint.h5"));
  auto version = [](const File& f) {
    int64_t v = 0;
    hid_t a = H5Aopen(f.id, "format_version", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    return v;
  };
  EXPECT_EQ(version(ovr), 2);
  EXPECT_EQ(version(joint), 1);
  EXPECT_GT(H5Aexists(ovr.id, "multi_class"), 0);
  EXPECT_EQ(H5Aexists(joint.id, "multi_class"), 0);
  auto doc = nlohmann::ordered_json::parse(model_to_json(m));
  EXPECT_EQ(doc["format_version"], 2);
  EXPECT_EQ(doc["multi_class"], "ovr");
  EXPECT_EQ(doc["trees"][0][0]["value"].size(), 1u);
  EXPECT_FALSE(nlohmann::ordered_json::parse(model_to_json(small_classifier())).contains("multi_class"));
}

TEST_F(ModelFileTest, RegressionRoundTrip) {
  Model m = small_regressor();
  save_model(m, path("r.h5"));
  expect_same_model(m, load_model(path("r.h5")));
}

TEST_F(ModelFileTest, EmptyForestAndEmptyStringsRoundTrip) {
  Model m;
  m.task = Task::kRegression;
  m.forest.n_outputs = 2;
  save_model(m, path("e.h5"));
  Model back = load_model(path("e.h5"));
  expect_same_model(m, back);
  EXPECT_EQ(back.forest.n_trees(), 0u);
}

TEST_F(ModelFileTest, StringsAreStoredAsFixedLengthUtf8) {
  Model m = small_classifier();
  m.label_name = "";  // an empty value still gets a 1-byte slot
  std::string p = path("m.h5");
  save_model(m, p);
  for (const char* a : {"format", "canopy_version", "task", "label_name", "data_fingerprint",
                        "params", "checksum"})
    EXPECT_FALSE(stored_as_variable_length(p, a, true)) << a;
  for (const char* d : {"feature_names", "class_labels"})
    EXPECT_FALSE(stored_as_variable_length(p, d, false)) << d;
  expect_same_model(m, load_model(p));
}

TEST_F(ModelFileTest, LongStringsRoundTrip) {
  // An attribute over 64 KiB no longer fits HDF5's compact storage; a long
  // feature name widens every slot of /feature_names.
  Model m = small_classifier();
  std::string big = "{\"note\":\"";
  while (big.size() < 200000) big += "abcdefghij\xc3\xa9";
  big += "\"}";
  m.params_json = big;
  m.feature_names[1] = std::string(5000, 'x');
  m.class_labels[0] = "";
  std::string p = path("m.h5");
  save_model(m, p);
  expect_same_model(m, load_model(p));
  save_model(m, path("again.h5"));
  EXPECT_TRUE(test::read_file(p) == test::read_file(path("again.h5")));
}

TEST_F(ModelFileTest, OlderFilesWithVariableLengthStringsStillLoad) {
  for (const Model& m : {small_classifier(), small_regressor()}) {
    std::string p = path("old.h5");
    save_model(m, p);
    rewrite_strings_as_variable_length(p, m);
    ASSERT_TRUE(stored_as_variable_length(p, "params", true));
    ASSERT_TRUE(stored_as_variable_length(p, "feature_names", false));
    // Same values, so the same checksum: it covers the values, not the encoding.
    expect_same_model(m, load_model(p));
  }
}

TEST_F(ModelFileTest, SaveReplacesExistingFileAndLeavesNoTemporary) {
  save_model(small_regressor(), path("m.h5"));
  save_model(small_classifier(), path("m.h5"));
  expect_same_model(small_classifier(), load_model(path("m.h5")));
  EXPECT_EQ(dir_entries(dir_), std::vector<std::string>{"m.h5"});
}

// Node arrays longer than one HDF5 chunk (2^20 elements) are filtered in
// parallel and written chunk by chunk; they must read back whole, edge
// chunks included (1-D arrays and the 2-D value array of 3 outputs).
TEST_F(ModelFileTest, ForestsLongerThanOneChunkRoundTrip) {
  const Model m = long_forest();
  save_model(m, path("long.h5"));
  expect_same_model(m, load_model(path("long.h5")));
  save_model(m, path("again.h5"));
  EXPECT_TRUE(test::read_file(path("long.h5")) == test::read_file(path("again.h5")));
}

TEST_F(ModelFileTest, SameModelGivesByteIdenticalFiles) {
  Model m = small_classifier();
  save_model(m, path("a.h5"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a timestamp would differ
  save_model(m, path("b.h5"));
  std::string a = test::read_file(path("a.h5")), b = test::read_file(path("b.h5"));
  EXPECT_GT(a.size(), 0u);
  EXPECT_TRUE(a == b) << "files differ";
  save_model(m, path("a.h5"));  // overwriting gives the same bytes too
  EXPECT_TRUE(test::read_file(path("a.h5")) == a);
}

TEST_F(ModelFileTest, ChecksumDependsOnEveryPart) {
  Model m = small_classifier();
  const std::string c = model_checksum(m);
  EXPECT_EQ(c.size(), 16u);
  EXPECT_EQ(c, model_checksum(small_classifier()));
  Model a = m;
  a.forest.value[7] = std::nextafter(a.forest.value[7], 2.f);
  EXPECT_NE(model_checksum(a), c);
  Model b = m;
  b.feature_names[0] += "x";
  EXPECT_NE(model_checksum(b), c);
  Model d = m;
  d.params_json += " ";
  EXPECT_NE(model_checksum(d), c);
  Model e = m;
  e.forest.default_left[0] = 0;
  EXPECT_NE(model_checksum(e), c);
}

// --- JSON ----------------------------------------------------------------------

TEST_F(ModelFileTest, JsonIsCanonicalAndComplete) {
  Model m = small_classifier();
  std::string j1 = model_to_json(m), j2 = model_to_json(small_classifier());
  EXPECT_EQ(j1, j2);
  export_model_json(m, path("m.json"));
  EXPECT_EQ(test::read_file(path("m.json")), j1);
  EXPECT_EQ(dir_entries(dir_), std::vector<std::string>{"m.json"});

  auto doc = nlohmann::ordered_json::parse(j1);
  std::vector<std::string> keys;
  for (auto it = doc.begin(); it != doc.end(); ++it) keys.push_back(it.key());
  std::vector<std::string> expected = {
      "format",        "format_version", "canopy_version",   "task",          "label_name",
      "n_features",    "n_outputs",      "n_trees",          "n_nodes",       "n_train_rows",
      "data_fingerprint", "checksum",    "feature_names",    "class_labels",
      "feature_importances", "params",   "trees"};
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(doc["format"], "canopy-forest");
  EXPECT_EQ(doc["format_version"], 1);
  EXPECT_EQ(doc["task"], "classification");
  EXPECT_EQ(doc["feature_names"][3], "p\xc3\xa9tale \"width\"");
  EXPECT_EQ(doc["class_labels"].size(), 3u);
  EXPECT_EQ(doc["params"]["max_features"], "sqrt");
  EXPECT_EQ(doc["params"].begin().key(), "n_estimators");  // params keep their order
  EXPECT_EQ(doc["checksum"], model_checksum(m));
  ASSERT_EQ(doc["trees"].size(), 2u);
  ASSERT_EQ(doc["trees"][0].size(), 5u);
  const auto& root = doc["trees"][0][0];
  EXPECT_EQ(root["id"], 0);
  EXPECT_EQ(root["feature"], 2);
  EXPECT_EQ(root["left"], 1);
  EXPECT_EQ(root["right"], 2);
  EXPECT_EQ(root["default_left"], true);
  EXPECT_EQ(root["n_samples"], 150);
  EXPECT_EQ(root["value"].size(), 3u);
  const auto& leaf = doc["trees"][0][1];
  EXPECT_EQ(leaf["leaf"], true);
  EXPECT_FALSE(leaf.contains("feature"));
  EXPECT_EQ(doc["trees"][1][0]["threshold"], "inf");
  EXPECT_TRUE(doc["trees"][1][0]["weight"].is_number_float());
  EXPECT_TRUE(contains(j1, "\"threshold\": 2.45,")) << "float32 printed in shortest form";
  EXPECT_TRUE(contains(j1, "\"weight\": 150.0,"));

  // Every float32 reads back exactly (parsed as double, rounded to float).
  const ForestNodes& f = m.forest;
  for (std::size_t t = 0; t < f.n_trees(); ++t)
    for (int64_t i = 0; i < f.tree_offsets[t + 1] - f.tree_offsets[t]; ++i) {
      const auto& node = doc["trees"][t][i];
      std::size_t g = f.tree_offsets[t] + i;
      for (int k = 0; k < f.n_outputs; ++k)
        EXPECT_EQ(static_cast<float>(node["value"][k].get<double>()), f.value[g * 3 + k]);
      if (node.contains("threshold") && node["threshold"].is_number()) {
        EXPECT_EQ(static_cast<float>(node["threshold"].get<double>()), f.threshold[g]);
      }
    }
}

TEST_F(ModelFileTest, JsonFloatsRoundTripExactly) {
  Model m;
  m.task = Task::kRegression;
  m.forest.n_outputs = 1;
  m.forest.tree_offsets = {0};
  uint32_t state = 12345;
  std::vector<float> values;
  for (int i = 0; i < 20000; ++i) {
    state = state * 1664525u + 1013904223u;
    uint32_t bits = state;
    float v;
    std::memcpy(&v, &bits, 4);
    if (!std::isfinite(v)) v = 1.0f;
    values.push_back(v);
    add_node(m.forest, -1, 0.f, -1, 0, 1, 1.0 / (i + 1), {v});
    m.forest.tree_offsets.push_back(m.forest.n_nodes());
  }
  values.push_back(16777216.f);
  add_node(m.forest, -1, 0.f, -1, 0, 1, 1e300, {16777216.f});
  m.forest.tree_offsets.push_back(m.forest.n_nodes());
  auto doc = nlohmann::json::parse(model_to_json(m));
  for (std::size_t t = 0; t < values.size(); ++t) {
    const auto& node = doc["trees"][t][0];
    ASSERT_EQ(static_cast<float>(node["value"][0].get<double>()), values[t]) << t;
    ASSERT_EQ(node["weight"].get<double>(), m.forest.weight[t]) << t;
  }
}

TEST_F(ModelFileTest, JsonRejectsBadParams) {
  Model m = small_regressor();
  m.params_json = "{not json";
  EXPECT_THROW(model_to_json(m), ModelError);
}

// --- refusing bad files ---------------------------------------------------------

TEST_F(ModelFileTest, MissingFile) {
  std::string p = path("x.h5");
  EXPECT_EQ(load_error(p), "cannot open model " + p + ": No such file or directory");
}

TEST_F(ModelFileTest, PlainTextFile) {
  std::string p = path("x.h5");
  test::write_file(p, "feature,label\n1,2\n");
  EXPECT_EQ(load_error(p), p + " is not a canopy model file (not HDF5)");
  test::write_file(p, "");
  EXPECT_EQ(load_error(p), p + " is not a canopy model file (not HDF5)");
}

TEST_F(ModelFileTest, HDF5FileThatIsNotAModel) {
  std::string p = path("data.h5");
  hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Fclose(f);
  EXPECT_EQ(load_error(p), p + " is not a canopy model file (no 'format' attribute)");
}

TEST_F(ModelFileTest, TruncatedFile) {
  std::string p = path("m.h5");
  save_model(small_classifier(), p);
  std::string bytes = test::read_file(p);
  test::write_file(p, bytes.substr(0, bytes.size() / 2));
  std::string err = load_error(p);
  EXPECT_TRUE(contains(err, p + ": corrupt model file")) << err;
}

// A forest big enough that the middle of the file is compressed node data.
Model medium_forest(int n_trees, int nodes_per_tree, int n_outputs) {
  Model m;
  m.task = Task::kClassification;
  m.forest.n_outputs = n_outputs;
  for (int j = 0; j < 16; ++j) m.feature_names.push_back("f" + std::to_string(j));
  m.feature_importances.assign(16, 1.0 / 16);
  for (int k = 0; k < n_outputs; ++k) m.class_labels.push_back("c" + std::to_string(k));
  m.canopy_version = "0.1.0";
  m.params_json = "{}";
  m.n_train_rows = 1000000;
  ForestNodes& f = m.forest;
  const std::size_t n = static_cast<std::size_t>(n_trees) * nodes_per_tree;
  f.feature.reserve(n);
  f.threshold.reserve(n);
  f.left_child.reserve(n);
  f.default_left.reserve(n);
  f.n_samples.reserve(n);
  f.weight.reserve(n);
  f.value.reserve(n * n_outputs);
  uint64_t state = 42;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  };
  f.tree_offsets = {0};
  for (int t = 0; t < n_trees; ++t) {
    const int internal = (nodes_per_tree - 1) / 2;  // complete binary tree, level order
    for (int i = 0; i < nodes_per_tree; ++i) {
      const bool is_internal = i < internal;
      f.feature.push_back(is_internal ? static_cast<int32_t>(next() % 16) : -1);
      f.threshold.push_back(is_internal ? static_cast<float>(next() % 100000) / 997.f : 0.f);
      f.left_child.push_back(is_internal ? 2 * i + 1 : -1);
      f.default_left.push_back(is_internal ? next() % 2 : 0);
      int64_t ns = 1000000 >> std::min(20, static_cast<int>(std::log2(i + 1)));
      f.n_samples.push_back(ns);
      f.weight.push_back(static_cast<double>(ns) + 0.5 * (next() % 3));
      float rest = 1.f;
      for (int k = 0; k + 1 < n_outputs; ++k) {
        float p = rest * static_cast<float>(next() % 1000) / 1000.f;
        f.value.push_back(p);
        rest -= p;
      }
      f.value.push_back(rest);
    }
    f.tree_offsets.push_back(static_cast<int64_t>(f.feature.size()));
  }
  return m;
}

TEST_F(ModelFileTest, FlippedBytesInTheMiddle) {
  std::string p = path("m.h5");
  Model m = medium_forest(4, 50001, 2);
  save_model(m, p);
  ASSERT_EQ(load_model(p).forest.n_nodes(), m.forest.n_nodes());
  std::size_t size = fs::file_size(p);
  flip_bytes(p, size / 2, 16);
  std::string err = load_error(p);
  EXPECT_TRUE(contains(err, p + ": corrupt model file")) << err;
}

TEST_F(ModelFileTest, CorruptionHDF5CannotSeeIsCaughtByTheChecksum) {
  std::string p = path("m.h5");
  save_model(small_classifier(), p);
  haddr_t offset;
  {  // feature_importances is stored contiguous and uncompressed
    File f(p);
    hid_t d = H5Dopen2(f.id, "/feature_importances", H5P_DEFAULT);
    ASSERT_GE(d, 0);
    offset = H5Dget_offset(d);
    H5Dclose(d);
  }
  ASSERT_NE(offset, HADDR_UNDEF);
  flip_bytes(p, offset + 3, 1);
  std::string err = load_error(p);
  EXPECT_TRUE(contains(err, p + ": corrupt model file: checksum mismatch")) << err;
}

TEST_F(ModelFileTest, NewerFormatVersion) {
  std::string p = path("m.h5");
  save_model(small_classifier(), p);
  patch_int_attr(p, "format_version", 3);
  EXPECT_EQ(load_error(p),
            p + " was written by a newer canopy (format version 3; this build reads up to 2)");
}

TEST_F(ModelFileTest, WrongFormatString) {
  std::string p = path("m.h5");
  save_model(small_classifier(), p);
  patch_string_attr(p, "format", "sklearn-pickle");
  EXPECT_EQ(load_error(p), p + " is not a canopy model file (format is 'sklearn-pickle', "
                               "expected 'canopy-forest')");
}

TEST_F(ModelFileTest, MissingDataset) {
  std::string p = path("m.h5");
  save_model(small_classifier(), p);
  {
    File f(p);
    ASSERT_GE(H5Ldelete(f.id, "/nodes/feature", H5P_DEFAULT), 0);
  }
  EXPECT_EQ(load_error(p), p + ": corrupt model file: dataset /nodes/feature missing");
}

TEST_F(ModelFileTest, WrongValueShape) {
  std::string p = path("m.h5");
  Model m = small_classifier();
  save_model(m, p);
  {
    File f(p);
    ASSERT_GE(H5Ldelete(f.id, "/nodes/value", H5P_DEFAULT), 0);
    hsize_t dims[2] = {8, 2};
    hid_t s = H5Screate_simple(2, dims, nullptr);
    hid_t d = H5Dcreate2(f.id, "/nodes/value", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    ASSERT_GE(d, 0);
    std::vector<float> v(16, 0.5f);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Sclose(s);
  }
  std::string err = load_error(p);
  EXPECT_TRUE(contains(err, p + ": corrupt model file: /nodes/value has shape (8, 2), expected "
                                "(n_nodes, n_outputs) = (8, 3)"))
      << err;
}

TEST_F(ModelFileTest, UnknownMultiClassIsRefused) {
  std::string p = path("m.h5");
  save_model(small_ovr_classifier(), p);
  patch_string_attr(p, "multi_class", "ecoc");
  std::string err = load_error(p);
  EXPECT_TRUE(contains(err, p + ": corrupt model file: unknown multi_class 'ecoc' (expected joint or ovr)")) << err;
}

// The structural checks run after the checksum, so these tests patch both.
TEST_F(ModelFileTest, LeftChildOutOfRange) {
  std::string p = path("m.h5");
  Model m = small_classifier();
  save_model(m, p);
  m.forest.left_child[2] = 99;
  patch_int32_dataset(p, "/nodes/left_child", m.forest.left_child);
  patch_string_attr(p, "checksum", model_checksum(m));
  std::string err = load_error(p);
  EXPECT_EQ(err, p + ": corrupt model file: tree 0 node 2: left_child 99 out of range (the tree "
                     "has 5 nodes; both children must come after their parent)");
}

TEST_F(ModelFileTest, FeatureIndexOutOfRange) {
  std::string p = path("m.h5");
  Model m = small_classifier();
  save_model(m, p);
  m.forest.feature[5] = 4;
  patch_int32_dataset(p, "/nodes/feature", m.forest.feature);
  patch_string_attr(p, "checksum", model_checksum(m));
  EXPECT_EQ(load_error(p), p + ": corrupt model file: tree 1 node 0: feature index 4 out of "
                               "range (n_features = 4)");
}

TEST_F(ModelFileTest, ChecksumMismatchAfterPatchingAnArray) {
  std::string p = path("m.h5");
  Model m = small_classifier();
  save_model(m, p);
  m.forest.left_child[2] = 99;
  patch_int32_dataset(p, "/nodes/left_child", m.forest.left_child);
  std::string err = load_error(p);
  EXPECT_TRUE(contains(err, p + ": corrupt model file: checksum mismatch")) << err;
}

std::string validate_error(const Model& m) {
  try {
    validate_model(m);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

TEST(ValidateModel, FindsEachInconsistency) {
  EXPECT_EQ(validate_error(small_classifier()), "");
  EXPECT_EQ(validate_error(small_regressor()), "");
  EXPECT_EQ(validate_error(small_ovr_classifier()), "");
  {
    Model m = small_ovr_classifier();
    m.forest.tree_offsets.pop_back();
    m.forest.feature.resize(15), m.forest.threshold.resize(15), m.forest.left_child.resize(15);
    m.forest.default_left.resize(15), m.forest.n_samples.resize(15), m.forest.weight.resize(15);
    m.forest.value.resize(15);
    EXPECT_TRUE(contains(validate_error(m), "a one-vs-rest forest has 5 trees, not a multiple of n_outputs = 3"))
        << validate_error(m);
  }
  {
    Model m = small_ovr_classifier();
    m.forest.value.resize(18 * 3);  // 3 values per node where one-vs-rest keeps 1
    EXPECT_TRUE(contains(validate_error(m), "value has 54 entries, expected n_nodes * 1 (one-vs-rest) = 18 * 1"))
        << validate_error(m);
  }
  {
    Model m = small_regressor();
    m.forest.one_vs_rest = true;
    EXPECT_TRUE(contains(validate_error(m), "a one-vs-rest forest needs classification with at least 3 classes"))
        << validate_error(m);
  }
  {
    Model m = small_classifier();
    m.forest.tree_offsets = {0, 5, 5, 8};
    EXPECT_TRUE(contains(validate_error(m), "tree_offsets is not increasing at tree 1"));
  }
  {
    Model m = small_classifier();
    m.forest.tree_offsets = {0, 5, 7};
    EXPECT_TRUE(contains(validate_error(m), "tree_offsets ends at 7 but there are 8 nodes"));
  }
  {
    Model m = small_classifier();
    m.forest.tree_offsets = {1, 5, 8};
    EXPECT_TRUE(contains(validate_error(m), "tree_offsets[0] is 1"));
  }
  {
    Model m = small_classifier();
    m.forest.left_child[0] = 0;  // a cycle
    EXPECT_TRUE(contains(validate_error(m), "tree 0 node 0: left_child 0 out of range"));
  }
  {
    Model m = small_classifier();
    m.forest.left_child[2] = 1;  // points back up / shares a child
    EXPECT_TRUE(contains(validate_error(m), "tree 0 node 2: left_child 1 out of range"));
  }
  {
    Model m = small_classifier();
    m.forest.left_child[1] = 3;  // a leaf with a child
    EXPECT_TRUE(contains(validate_error(m), "tree 0 node 1: leaf (feature -1) has left_child 3"));
  }
  {
    Model m = small_classifier();
    m.forest.feature[0] = -2;
    EXPECT_TRUE(contains(validate_error(m), "feature index -2 out of range"));
  }
  {
    Model m = small_classifier();
    m.forest.threshold[2] = std::nanf("");
    EXPECT_TRUE(contains(validate_error(m), "tree 0 node 2: threshold is NaN"));
  }
  {
    Model m = small_classifier();
    m.forest.value.pop_back();
    EXPECT_TRUE(contains(validate_error(m), "value has 23 entries"));
  }
  {
    Model m = small_classifier();
    m.forest.weight.pop_back();
    EXPECT_TRUE(contains(validate_error(m), "weight has 7 entries, expected 8"));
  }
  {
    Model m = small_classifier();
    m.class_labels.pop_back();
    EXPECT_TRUE(contains(validate_error(m), "class_labels has 2 entries but n_outputs is 3"));
  }
  {
    Model m = small_regressor();
    m.class_labels = {"a"};
    EXPECT_TRUE(contains(validate_error(m), "a regression model has class labels"));
  }
  {
    Model m = small_regressor();
    m.feature_importances = {1.0};
    EXPECT_TRUE(contains(validate_error(m), "feature_importances has 1 entries, expected 3"));
  }
  {
    // Tree 0 of the regressor re-laid so that node 6 is unreachable.
    Model m = small_regressor();
    m.forest.feature[2] = -1;
    m.forest.left_child[2] = -1;
    EXPECT_TRUE(contains(validate_error(m), "tree 0 node 5 is not reachable from the root"));
  }
}

// --- saving ----------------------------------------------------------------------

TEST_F(ModelFileTest, FailedSaveLeavesNothingBehind) {
  std::string p = path("no_such_dir/m.h5");
  try {
    save_model(small_classifier(), p);
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    EXPECT_TRUE(contains(e.what(), "cannot save model to " + p)) << e.what();
    EXPECT_TRUE(contains(e.what(), "No such file or directory")) << e.what();
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(dir_entries(dir_).empty());

  // The rename fails (the target is a non-empty directory): the temporary goes.
  fs::create_directories(path("taken/sub"));
  EXPECT_THROW(save_model(small_classifier(), path("taken")), ModelError);
  EXPECT_EQ(dir_entries(dir_), std::vector<std::string>{"taken"});
}

TEST_F(ModelFileTest, InvalidModelIsNotSavedAndOldFileSurvives) {
  std::string p = path("m.h5");
  save_model(small_regressor(), p);
  std::string before = test::read_file(p);
  Model bad = small_classifier();
  bad.forest.left_child[0] = 7;
  try {
    save_model(bad, p);
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    EXPECT_TRUE(contains(e.what(), "cannot save model to " + p + ": tree 0 node 0: left_child 7"))
        << e.what();
  }
  EXPECT_EQ(test::read_file(p), before);
  EXPECT_EQ(dir_entries(dir_), std::vector<std::string>{"m.h5"});
}

// --- robustness: a flipped byte anywhere gives the model or a ModelError ----------

enum class FuzzOutcome { kLoaded, kRefused, kLoadedDifferent, kOtherException, kCrashed, kHung };

struct FuzzResult {
  FuzzOutcome outcome;
  int signal = 0;       // kCrashed: the signal
  std::string message;  // kRefused: the ModelError's text
};

// Calls load_model(path) in a forked child so that a crash or hang inside HDF5
// cannot take the test binary down. The child reports through its exit code
// (and, for a refusal, the error text through a pipe); the parent gives it
// 10 s and then kills it.
FuzzResult load_in_child(const std::string& path, const std::string& want_checksum) {
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return {FuzzOutcome::kOtherException};
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return {FuzzOutcome::kOtherException};
  }
  if (pid == 0) {
    ::close(fds[0]);
    int code = 3;
    try {
      Model m = load_model(path);
      code = model_checksum(m) == want_checksum ? 0 : 4;
    } catch (const ModelError& e) {
      std::size_t n = std::strlen(e.what());
      ssize_t w = ::write(fds[1], e.what(), std::min<std::size_t>(n, 512));
      (void)w;
      code = 1;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  // The pipe reaches EOF when the child exits (or is killed): wait for that
  // with a deadline, then reap the child.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string message;
  bool hung = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      hung = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      ADD_FAILURE() << "poll: " << std::strerror(errno);
      break;
    }
    if (ready == 0) continue;  // the deadline is checked above
    char buf[512];
    ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got > 0) {
      message.append(buf, static_cast<std::size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      break;  // EOF: the child is gone
    }
  }
  ::close(fds[0]);
  if (hung) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (hung) return {FuzzOutcome::kHung};
  if (WIFSIGNALED(status)) return {FuzzOutcome::kCrashed, WTERMSIG(status)};
  switch (WIFEXITED(status) ? WEXITSTATUS(status) : -1) {
    case 0: return {FuzzOutcome::kLoaded};
    case 1: return {FuzzOutcome::kRefused, 0, message};
    case 4: return {FuzzOutcome::kLoadedDifferent};
    default: return {FuzzOutcome::kOtherException};
  }
}

// What a refusal says, without the file name and details that vary per offset.
std::string refusal_kind(const std::string& message, const std::string& path) {
  std::string s = message;
  if (s.compare(0, path.size(), path) == 0) s = s.substr(path.size());
  for (const char* cut : {" (", "(stored", ": tree", " has "}) {
    auto at = s.find(cut, 2);
    if (at != std::string::npos) s = s.substr(0, at);
  }
  return s;
}

void fuzz_every_byte(const Model& m, const std::string& path, const char* what) {
  save_model(m, path);
  const std::string original = test::read_file(path);
  const std::string want = model_checksum(m);
  ASSERT_EQ(model_checksum(load_model(path)), want);

  // Every offset for a small file; a deterministic sample for a larger one.
  std::vector<std::size_t> offsets;
  if (original.size() < 20000) {
    for (std::size_t i = 0; i < original.size(); ++i) offsets.push_back(i);
  } else {
    std::vector<bool> taken(original.size(), false);
    uint64_t state = 12345;
    while (offsets.size() < 3000) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      auto off = static_cast<std::size_t>((state >> 17) % original.size());
      if (!taken[off]) offsets.push_back(off);
      taken[off] = true;
    }
  }

  std::map<FuzzOutcome, std::size_t> counts;
  std::vector<std::size_t> loaded;  // offsets whose flip load_model did not notice
  std::map<std::string, std::size_t> refusals;
  const std::string fuzzed = path + ".fuzz";
  for (std::size_t off : offsets) {
    std::string bytes = original;
    bytes[off] = static_cast<char>(~bytes[off]);
    test::write_file(fuzzed, bytes);
    FuzzResult r = load_in_child(fuzzed, want);
    ++counts[r.outcome];
    switch (r.outcome) {
      case FuzzOutcome::kLoaded: loaded.push_back(off); break;
      case FuzzOutcome::kRefused: ++refusals[refusal_kind(r.message, fuzzed)]; break;
      case FuzzOutcome::kLoadedDifferent:
        ADD_FAILURE() << what << ": flipping byte " << off
                      << " gave a different model without an error";
        break;
      case FuzzOutcome::kOtherException:
        ADD_FAILURE() << what << ": flipping byte " << off
                      << " made load_model throw something other than ModelError";
        break;
      case FuzzOutcome::kCrashed:
        ADD_FAILURE() << what << ": flipping byte " << off << " crashed load_model (signal "
                      << r.signal << ", " << strsignal(r.signal) << ")";
        break;
      case FuzzOutcome::kHung:
        ADD_FAILURE() << what << ": flipping byte " << off << " made load_model hang (> 10 s)";
        break;
    }
  }
  std::printf("[ fuzz     ] %s: %zu-byte file, %zu offsets flipped: %zu loaded (identical), "
              "%zu refused with ModelError, %zu loaded wrong, %zu other exception, "
              "%zu crashed, %zu hung\n",
              what, original.size(), offsets.size(), counts[FuzzOutcome::kLoaded],
              counts[FuzzOutcome::kRefused], counts[FuzzOutcome::kLoadedDifferent],
              counts[FuzzOutcome::kOtherException], counts[FuzzOutcome::kCrashed],
              counts[FuzzOutcome::kHung]);
  for (const auto& [kind, n] : refusals) std::printf("[ fuzz     ]   %5zu x %s\n", n, kind.c_str());
  // Where the harmless flips were (bytes HDF5 and canopy never use): ranges.
  std::sort(loaded.begin(), loaded.end());
  std::string ranges;
  for (std::size_t i = 0, shown = 0; i < loaded.size() && shown < 24; ++shown) {
    std::size_t j = i;
    while (j + 1 < loaded.size() && loaded[j + 1] == loaded[j] + 1) ++j;
    ranges += (ranges.empty() ? "" : " ") + std::to_string(loaded[i]) +
              (j > i ? "-" + std::to_string(loaded[j]) : "");
    i = j + 1;
  }
  std::printf("[ fuzz     ]   loaded fine at offsets: %s\n", ranges.c_str());
  EXPECT_EQ(counts[FuzzOutcome::kRefused] + counts[FuzzOutcome::kLoaded], offsets.size());
  EXPECT_GT(counts[FuzzOutcome::kRefused], 0u);
}

// Every single-byte corruption of a small model file (and a sample of offsets
// of a larger one, whose node arrays are compressed) must give back the same
// model or a ModelError: never a crash or a hang inside HDF5, never a
// different model. Variable-length strings failed this (HDF5 trusts the
// unchecksummed global heap); fixed-length strings pass.
// Multi-chunk arrays are filtered on several threads. A process forked after
// its parent ran OpenMP (the parent's pool does not survive fork) must still
// load them: an OpenMP region there would wait forever (kHung).
TEST_F(ModelFileTest, ForestsLongerThanOneChunkLoadInAForkedChild) {
  const Model m = long_forest();
  save_model(m, path("long.h5"));
  int threads = 0;
#pragma omp parallel
  {
#pragma omp atomic
    ++threads;
  }
  EXPECT_GE(threads, 1);
  const FuzzResult r = load_in_child(path("long.h5"), model_checksum(m));
  EXPECT_EQ(static_cast<int>(r.outcome), static_cast<int>(FuzzOutcome::kLoaded)) << r.message;
}

TEST_F(ModelFileTest, FlippingAnyByteGivesTheModelOrAModelError) {
  fuzz_every_byte(small_classifier(), path("classifier.h5"), "small classifier");
  fuzz_every_byte(small_ovr_classifier(), path("ovr.h5"), "one-vs-rest classifier");
  fuzz_every_byte(medium_forest(2, 2047, 3), path("medium.h5"), "2-tree forest");
}

// --- large forests and h5py -------------------------------------------------------

TEST_F(ModelFileTest, LargeForestIsQuickAndReadableByH5py) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };
  Model m = medium_forest(50, 100001, 2);  // 5,000,050 nodes
  std::string p = path("big.h5");
  auto t0 = clock::now();
  save_model(m, p);
  auto t1 = clock::now();
  Model back = load_model(p);
  auto t2 = clock::now();
  std::printf("[ timing   ] %zu nodes: save %.2f s, load %.2f s, file %.1f MB\n",
              m.forest.n_nodes(), secs(t1 - t0), secs(t2 - t1),
              static_cast<double>(fs::file_size(p)) / 1e6);
  expect_same_model(m, back);

  if (!have_h5py()) GTEST_SKIP() << "/usr/bin/python3 cannot import h5py";
  std::string out = path("h5py.txt");
  std::string cmd = "/usr/bin/python3 -c \"import h5py; f=h5py.File('" + p +
                    "', 'r'); print(f['nodes/feature'].shape, f['nodes/value'].shape, "
                    "f.attrs['format'].decode(), f.attrs['n_trees'])\" >" + out + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_file(out);
  EXPECT_EQ(test::read_file(out), "(5000050,) (5000050, 2) canopy-forest 50\n");
}

// The snippet in docs/model-format.md, with a machine-readable last line.
const char* kPythonPredict = R"PY(
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
off, feat, thr, left, dl, val = (f[k][:] for k in ("trees/offsets", "nodes/feature",
    "nodes/threshold", "nodes/left_child", "nodes/default_left", "nodes/value"))
def leaf(t, x):  # global index of the leaf that row x reaches in tree t
    n = off[t]
    while feat[n] >= 0:
        v = x[feat[n]]
        n = off[t] + left[n] + (0 if (dl[n] if np.isnan(v) else v <= thr[n]) else 1)
    return n
x = np.array([float(s) for s in sys.argv[2:]], dtype=np.float32)
T, C = len(off) - 1, int(f.attrs["n_outputs"])
if f.attrs.get("multi_class", b"joint") == b"ovr":  # tree t scores class t % C
    s = np.array([np.mean([float(val[leaf(t, x)][0]) for t in range(c, T, C)]) for c in range(C)])
    p = s / s.sum() if s.sum() > 0 else np.full(C, 1.0 / C)
else:
    p = np.mean([val[leaf(t, x)].astype(np.float64) for t in range(T)], axis=0)
task = f.attrs["task"].decode()              # string attributes read as bytes
labels = list(f["class_labels"].asstr()[:])  # string datasets too: .asstr() gives str
print(task, labels[int(np.argmax(p))] if labels else "")
print(" ".join(repr(float(v)) for v in p))
)PY";

TEST_F(ModelFileTest, PythonSnippetPredictsLikeTheNodeSemantics) {
  if (!have_h5py()) GTEST_SKIP() << "/usr/bin/python3 cannot import h5py";
  std::string p = path("m.h5"), script = path("predict.py"), out = path("out.txt");
  test::write_file(script, kPythonPredict);
  const std::vector<std::vector<float>> rows = {
      {5.1f, 3.5f, 1.4f, 0.2f}, {std::nanf(""), 3.f, 5.f, 1.8f}, {6.f, 2.f, std::nanf(""), 1.f},
      {6.f, 2.f, 4.f, std::nanf("")}, {0.f, 0.f, 0.f, 0.f}, {9.f, 9.f, 9.f, 9.f}};
  for (const Model& m : {small_classifier(), small_ovr_classifier()})
  for (const auto& row : rows) {
    save_model(m, p);
    std::string cmd = "/usr/bin/python3 " + script + " " + p;
    for (float v : row) cmd += std::isnan(v) ? " nan" : " " + std::to_string(v);
    cmd += " >" + out + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_file(out);
    std::istringstream in(test::read_file(out));
    std::vector<double> want = predict_row(m, row);
    std::string task, label;
    ASSERT_TRUE(in >> task >> label) << test::read_file(out);
    EXPECT_EQ(task, "classification");
    EXPECT_EQ(label, m.class_labels[std::max_element(want.begin(), want.end()) - want.begin()]);
    for (double w : want) {
      double got = 0;
      ASSERT_TRUE(in >> got) << test::read_file(out);
      EXPECT_NEAR(got, w, 1e-12);
    }
  }
}

// The checksum definition in docs/model-format.md, as printed there.
const char* kPythonChecksum = R"PY(
import sys, h5py, numpy as np
def canopy_checksum(path):
    f, h = h5py.File(path, "r"), 0xcbf29ce484222325
    def word(w):
        nonlocal h
        h = ((h ^ w) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    def field(b):
        word(len(b))
        for w in np.frombuffer(b + b"\0" * (-len(b) % 8), "<u8").tolist():
            word(w)
    def text(v):  # string attributes read as bytes (as str in older files)
        return v.decode() if isinstance(v, bytes) else v
    a = f.attrs
    keys = ["format", "format_version", "canopy_version", "task", "label_name", "n_features",
            "n_outputs", "n_trees", "n_nodes", "n_train_rows", "data_fingerprint", "params"]
    if int(a["format_version"]) >= 2:
        keys.insert(7, "multi_class")
    for k in keys:
        v = text(a[k])
        field(v.encode() if isinstance(v, str) else int(v).to_bytes(8, "little", signed=True))
    for k in ("feature_names", "class_labels"):
        names = f[k].asstr()[:]
        word(len(names))
        for s in names:
            field(s.encode())
    for k, dt in (("feature_importances", "<f8"), ("trees/offsets", "<i8"),
                  ("nodes/feature", "<i4"), ("nodes/threshold", "<f4"),
                  ("nodes/left_child", "<i4"), ("nodes/default_left", "u1"),
                  ("nodes/n_samples", "<i8"), ("nodes/weight", "<f8"), ("nodes/value", "<f4")):
        field(np.ascontiguousarray(f[k][()], dtype=dt).tobytes())
    return "%016x" % h == text(a["checksum"])
print(canopy_checksum(sys.argv[1]))
)PY";

TEST_F(ModelFileTest, PythonChecksumFromTheDocsMatches) {
  if (!have_h5py()) GTEST_SKIP() << "/usr/bin/python3 cannot import h5py";
  Model empty;
  empty.forest.n_outputs = 1;
  std::string script = path("checksum.py"), out = path("out.txt");
  test::write_file(script, kPythonChecksum);
  Model unicode = small_classifier();
  unicode.label_name = "esp\xc3\xa8" "ce \xe2\x9c\x93";
  unicode.params_json = std::string(3000, '#');
  int i = 0;
  for (const Model& m : {small_classifier(), small_regressor(), small_ovr_classifier(), empty, unicode, unicode}) {
    std::string p = path("m" + std::to_string(i++) + ".h5");
    save_model(m, p);
    // The last file is written the way older canopy builds wrote strings.
    if (i == 6) rewrite_strings_as_variable_length(p, m);
    std::string cmd = "/usr/bin/python3 " + script + " " + p + " >" + out + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_file(out);
    EXPECT_EQ(test::read_file(out), "True\n") << p;
  }
}

}  // namespace
}  // namespace canopy
