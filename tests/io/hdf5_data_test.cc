// Tests for io/hdf5_data.h, io/data_source.h and io/predictions.h: both HDF5
// layouts, type conversion, chunked + compressed reads, error messages,
// CSV -> HDF5 round trips and format dispatch.
#include "io/hdf5_data.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/csv.h"
#include "io/data_source.h"
#include "io/hdf5_handle.h"
#include "io/predictions.h"
#include "test_util.h"

namespace canopy {
namespace {

template <class F>
std::string error_of(F f) {
  return test::error_message<DataError>(f);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Creates an HDF5 file; `track_order` records link creation order at the root.
H5Handle create_file(const std::string& path, bool track_order = true) {
  H5Handle fcpl = h5_plist(H5Pcreate(H5P_FILE_CREATE));
  if (track_order) H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  H5Handle f = h5_file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT));
  EXPECT_TRUE(f.valid());
  return f;
}

// Writes an n-D dataset; chunk_rows > 0 makes it chunked (and gzip-compressed
// when `gzip`).
void write_dataset(hid_t loc, const char* name, hid_t file_type, hid_t mem_type, const void* data,
                   std::vector<hsize_t> dims, hsize_t chunk_rows = 0, bool gzip = false) {
  H5Handle space = h5_space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  H5Handle dcpl = h5_plist(H5Pcreate(H5P_DATASET_CREATE));
  if (chunk_rows > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = chunk_rows;
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    if (gzip) {
      H5Pset_shuffle(dcpl.get());
      H5Pset_deflate(dcpl.get(), 6);
    }
  }
  H5Handle ds = h5_dataset(H5Dcreate2(loc, name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  ASSERT_TRUE(ds.valid()) << name;
  ASSERT_GE(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0) << name;
}

void write_vlen_strings(hid_t loc, const char* name, const std::vector<std::string>& values) {
  H5Handle type = h5_type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  hsize_t n = values.size();
  H5Handle space = h5_space(H5Screate_simple(1, &n, nullptr));
  H5Handle ds = h5_dataset(H5Dcreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  ASSERT_GE(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), 0);
}

void write_fixed_strings(hid_t loc, const char* name, const std::vector<std::string>& values, size_t width) {
  H5Handle type = h5_type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), width);
  H5Tset_strpad(type.get(), H5T_STR_SPACEPAD);
  std::string buf;
  for (const auto& v : values) buf += v + std::string(width - v.size(), ' ');
  hsize_t n = values.size();
  H5Handle space = h5_space(H5Screate_simple(1, &n, nullptr));
  H5Handle ds = h5_dataset(H5Dcreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  ASSERT_GE(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), 0);
}

void write_names_attribute(hid_t obj, const std::vector<std::string>& names) {
  H5Handle type = h5_type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  hsize_t n = names.size();
  H5Handle space = h5_space(H5Screate_simple(1, &n, nullptr));
  H5Handle attr = h5_attr(H5Acreate2(obj, "feature_names", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  std::vector<const char*> ptrs;
  for (const auto& v : names) ptrs.push_back(v.c_str());
  ASSERT_GE(H5Awrite(attr.get(), type.get(), ptrs.data()), 0);
}

// NaN-aware equality of two datasets' contents.
void expect_same_data(const Dataset& a, const Dataset& b) {
  ASSERT_EQ(a.feature_names, b.feature_names);
  ASSERT_EQ(a.n_features(), b.n_features());
  for (size_t j = 0; j < a.n_features(); ++j) {
    ASSERT_EQ(a.columns[j].size(), b.columns[j].size());
    for (size_t i = 0; i < a.columns[j].size(); ++i) {
      float x = a.columns[j][i], y = b.columns[j][i];
      ASSERT_TRUE((std::isnan(x) && std::isnan(y)) || x == y) << "column " << j << " row " << i;
    }
  }
  EXPECT_EQ(a.label_name, b.label_name);
  EXPECT_EQ(a.label_numeric, b.label_numeric);
  EXPECT_EQ(a.label_text, b.label_text);
  EXPECT_EQ(a.sample_weight, b.sample_weight);
}

TEST(Hdf5Matrix, ReadsXWithNamesAndConvertsTypes) {
  std::string path = test::temp_dir() + "/m.h5";
  {
    H5Handle f = create_file(path);
    std::vector<double> X = {1, 2, 3, 4, 5, NAN};  // 2 x 3, row-major
    write_dataset(f.get(), "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, X.data(), {2, 3});
    H5Handle ds = h5_dataset(H5Dopen2(f.get(), "X", H5P_DEFAULT));
    write_names_attribute(ds.get(), {"alpha", "beta", "gamma"});
    std::vector<int64_t> y = {7, -2};
    write_dataset(f.get(), "y", H5T_STD_I64LE, H5T_NATIVE_INT64, y.data(), {2});
  }
  Dataset d = read_hdf5(path, ReadOptions{});
  EXPECT_EQ(d.source, path);
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"alpha", "beta", "gamma"}));
  ASSERT_EQ(d.n_rows(), 2u);
  EXPECT_EQ(d.columns[0], (std::vector<float>{1, 4}));
  EXPECT_EQ(d.columns[1], (std::vector<float>{2, 5}));
  EXPECT_EQ(d.columns[2][0], 3.0f);
  EXPECT_TRUE(std::isnan(d.columns[2][1]));
  EXPECT_EQ(d.label_name, "y");
  EXPECT_EQ(d.label_numeric, (std::vector<double>{7, -2}));
}

TEST(Hdf5Matrix, DefaultNamesCustomPathsAndWeights) {
  std::string path = test::temp_dir() + "/m.h5";
  {
    H5Handle f = create_file(path);
    H5Handle g = h5_group(H5Gcreate2(f.get(), "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    std::vector<int16_t> X = {1, 2, 3, 4};
    write_dataset(g.get(), "features", H5T_STD_I16LE, H5T_NATIVE_INT16, X.data(), {2, 2});
    std::vector<float> y = {0.5f, 1.5f};
    write_dataset(g.get(), "target", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, y.data(), {2});
    std::vector<double> w = {1, 2};
    write_dataset(g.get(), "w", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, w.data(), {2});
  }
  ReadOptions o;
  o.features = "/data/features";
  o.label = "/data/target";
  o.weight_column = "/data/w";
  Dataset d = read_hdf5(path, o);
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"f0", "f1"}));
  EXPECT_EQ(d.columns[1], (std::vector<float>{2, 4}));
  EXPECT_EQ(d.label_name, "target");
  EXPECT_EQ(d.label_numeric, (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(d.sample_weight, (std::vector<double>{1, 2}));

  o.require_label = false;  // predict time: the label is not read
  o.weight_column.clear();
  d = read_hdf5(path, o);
  EXPECT_FALSE(d.has_label());
  EXPECT_EQ(d.n_features(), 2u);
}

TEST(Hdf5Matrix, ChunkedGzipReadInSlabs) {
  // More rows than one 65536-row slab, chunk height not dividing the slab.
  const hsize_t n = 150001, m = 3;
  std::vector<float> X(n * m);
  std::vector<int32_t> y(n);
  for (hsize_t i = 0; i < n; ++i) {
    for (hsize_t j = 0; j < m; ++j) X[i * m + j] = static_cast<float>(i * 10 + j);
    y[i] = static_cast<int32_t>(i % 3);
  }
  std::string path = test::temp_dir() + "/big.h5";
  {
    H5Handle f = create_file(path);
    write_dataset(f.get(), "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, X.data(), {n, m}, 7000, true);
    write_dataset(f.get(), "y", H5T_STD_I32LE, H5T_NATIVE_INT32, y.data(), {n}, 9999, true);
  }
  Dataset d = read_hdf5(path, ReadOptions{});
  ASSERT_EQ(d.n_rows(), n);
  for (hsize_t i = 0; i < n; ++i) {
    for (hsize_t j = 0; j < m; ++j) ASSERT_EQ(d.columns[j][i], X[i * m + j]) << i << "," << j;
    ASSERT_EQ(d.label_numeric[i], y[i]);
  }
  std::filesystem::remove(path);
}

TEST(Hdf5Matrix, StringLabelsVariableAndFixedLength) {
  std::string dir = test::temp_dir();
  std::vector<float> X = {1, 2, 3};
  {
    H5Handle f = create_file(dir + "/v.h5");
    write_dataset(f.get(), "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, X.data(), {3, 1});
    write_vlen_strings(f.get(), "y", {"cat", "dog", " cat "});
  }
  Dataset d = read_hdf5(dir + "/v.h5", ReadOptions{});
  EXPECT_EQ(d.label_text, (std::vector<std::string>{"cat", "dog", "cat"}));
  {
    H5Handle f = create_file(dir + "/f.h5");
    write_dataset(f.get(), "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, X.data(), {3, 1});
    write_fixed_strings(f.get(), "y", {"benign", "malignant", "benign"}, 12);
  }
  d = read_hdf5(dir + "/f.h5", ReadOptions{});
  EXPECT_EQ(d.label_text, (std::vector<std::string>{"benign", "malignant", "benign"}));
}

TEST(Hdf5Matrix, Errors) {
  std::string dir = test::temp_dir();
  std::vector<float> X(300, 1.0f);
  std::vector<double> y(99, 0.0);
  {
    H5Handle f = create_file(dir + "/len.h5");
    write_dataset(f.get(), "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, X.data(), {100, 3});
    write_dataset(f.get(), "y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, y.data(), {99});
  }
  EXPECT_EQ(error_of([&] { read_hdf5(dir + "/len.h5", ReadOptions{}); }),
            dir + "/len.h5: /X has 100 rows but /y has 99");
  {
    H5Handle f = create_file(dir + "/noy.h5");
    write_dataset(f.get(), "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, X.data(), {100, 3});
  }
  EXPECT_EQ(error_of([&] { read_hdf5(dir + "/noy.h5", ReadOptions{}); }),
            dir + "/noy.h5: dataset \"/y\" not found");
  {
    H5Handle f = create_file(dir + "/rank.h5");
    write_dataset(f.get(), "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, X.data(), {10, 10, 3});
  }
  std::string msg = error_of([&] { read_hdf5(dir + "/rank.h5", ReadOptions{}); });
  EXPECT_TRUE(contains(msg, "rank.h5: /X must be 2-D (rows x features), found rank 3")) << msg;
  {
    H5Handle f = create_file(dir + "/nan.h5");
    write_dataset(f.get(), "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, X.data(), {3, 1});
    std::vector<double> bad = {1, NAN, 2};
    write_dataset(f.get(), "y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, bad.data(), {3});
  }
  msg = error_of([&] { read_hdf5(dir + "/nan.h5", ReadOptions{}); });
  EXPECT_TRUE(contains(msg, "nan.h5: dataset \"/y\" row 1 (0-based): missing label")) << msg;

  msg = error_of([&] { read_hdf5(dir + "/absent.h5", ReadOptions{}); });
  EXPECT_EQ(msg, "cannot open " + dir + "/absent.h5 as HDF5: No such file or directory");
  test::write_file(dir + "/text.h5", "a,b\n1,2\n");
  msg = error_of([&] { read_hdf5(dir + "/text.h5", ReadOptions{}); });
  EXPECT_TRUE(contains(msg, "cannot open " + dir + "/text.h5 as HDF5: ")) << msg;

  ReadOptions o;
  o.features = "/nothere";
  msg = error_of([&] { read_hdf5(dir + "/len.h5", o); });
  EXPECT_EQ(msg, dir + "/len.h5: dataset \"/nothere\" not found");
}

TEST(Hdf5Columns, CreationOrderMixedTypesAndStringLabel) {
  std::string path = test::temp_dir() + "/cols.h5";
  {
    H5Handle f = create_file(path, /*track_order=*/true);
    std::vector<int16_t> a = {1, -2, 3};
    std::vector<int64_t> b = {10000000000LL, 5, 6};
    std::vector<double> c = {0.25, NAN, -1};
    // Created out of alphabetical order: zeta, alpha, mid, label.
    write_dataset(f.get(), "zeta", H5T_STD_I16LE, H5T_NATIVE_INT16, a.data(), {3});
    write_dataset(f.get(), "alpha", H5T_STD_I64LE, H5T_NATIVE_INT64, b.data(), {3});
    write_dataset(f.get(), "mid", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c.data(), {3});
    write_vlen_strings(f.get(), "species", {"a", "b", "a"});
  }
  Dataset d = read_hdf5(path, ReadOptions{});
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_EQ(d.columns[0], (std::vector<float>{1, -2, 3}));
  EXPECT_EQ(d.columns[1][0], 1e10f);
  EXPECT_TRUE(std::isnan(d.columns[2][1]));
  EXPECT_EQ(d.label_name, "species");
  EXPECT_EQ(d.label_text, (std::vector<std::string>{"a", "b", "a"}));

  // With another label, the string column would be a feature: not allowed.
  ReadOptions o;
  o.label = "alpha";
  std::string msg = error_of([&] { read_hdf5(path, o); });
  EXPECT_EQ(msg, path + ": column \"species\" is not numeric; feature columns must hold integers or floats");

  o.label = "foo";
  msg = error_of([&] { read_hdf5(path, o); });
  EXPECT_EQ(msg, path + ": label column \"foo\" not found; columns are: zeta, alpha, mid, species");
}

TEST(Hdf5Columns, NameOrderWithoutTrackingAndGroupSelection) {
  std::string path = test::temp_dir() + "/cols.h5";
  {
    H5Handle f = create_file(path, /*track_order=*/false);
    H5Handle g = h5_group(H5Gcreate2(f.get(), "table", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    std::vector<float> v = {1, 2};
    write_dataset(g.get(), "b", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), {2});
    write_dataset(g.get(), "a", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), {2});
    write_dataset(g.get(), "z_label", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), {2});
  }
  ReadOptions o;
  o.features = "/table";
  Dataset d = read_hdf5(path, o);
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.label_name, "z_label");
}

TEST(Hdf5Columns, LengthMismatchAndNoColumns) {
  std::string dir = test::temp_dir();
  {
    H5Handle f = create_file(dir + "/m.h5");
    std::vector<float> v = {1, 2, 3};
    write_dataset(f.get(), "a", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), {3});
    write_dataset(f.get(), "b", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), {2});
  }
  EXPECT_EQ(error_of([&] { read_hdf5(dir + "/m.h5", ReadOptions{}); }),
            dir + "/m.h5: column \"b\" has 2 rows but \"a\" has 3");
  { H5Handle f = create_file(dir + "/empty.h5"); }
  std::string msg = error_of([&] { read_hdf5(dir + "/empty.h5", ReadOptions{}); });
  EXPECT_TRUE(contains(msg, "empty.h5: dataset \"/X\" not found")) << msg;
}

TEST(Hdf5RoundTrip, CsvToColumnsAndBack) {
  std::string dir = test::temp_dir();
  test::write_file(dir + "/t.csv",
                   "a/b,c,w,label\n1.5,NA,1,x\n-2,3e-7,0.5,\"y, z\"\n4,inf,2,x\n");
  ReadOptions o;
  o.weight_column = "w";
  Dataset csv = read_csv(dir + "/t.csv", o);
  write_hdf5_columns(dir + "/t.h5", csv);
  EXPECT_FALSE(std::filesystem::exists(dir + "/t.h5.tmp"));
  Dataset h5 = read_hdf5(dir + "/t.h5", ReadOptions{});  // roles come from the root attributes
  csv.feature_names[0] = "a_b";                          // '/' is not allowed in a dataset name
  csv.source = h5.source;
  expect_same_data(csv, h5);

  // Identical inputs give identical bytes.
  write_hdf5_columns(dir + "/t2.h5", csv);
  write_hdf5_columns(dir + "/t3.h5", csv);
  EXPECT_EQ(test::read_file(dir + "/t2.h5"), test::read_file(dir + "/t3.h5"));
}

TEST(Hdf5RoundTrip, ExampleData) {
  std::string dir = test::temp_dir();
  for (auto [name, label] : {std::pair<std::string, std::string>{"diabetes.csv", "target"},
                             {"breast_cancer.csv", "diagnosis"}}) {
    ReadOptions o;
    o.label = label;
    Dataset csv = read_csv(test::data_file(name), o);
    write_hdf5_columns(dir + "/" + name + ".h5", csv);
    Dataset h5 = read_dataset(dir + "/" + name + ".h5", o);
    expect_same_data(csv, h5);
  }
}

TEST(Hdf5Write, FailureLeavesNothingBehind) {
  std::string dir = test::temp_dir();
  Dataset d;
  d.feature_names = {"a", "a"};
  d.columns = {{1}, {2}};
  std::string msg = error_of([&] { write_hdf5_columns(dir + "/dup.h5", d); });
  EXPECT_TRUE(contains(msg, "duplicate column name \"a\"")) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir + "/dup.h5"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/dup.h5.tmp"));
  d.feature_names = {"a", "b"};
  msg = error_of([&] { write_hdf5_columns(dir + "/no/such/dir/x.h5", d); });
  EXPECT_TRUE(contains(msg, "cannot write " + dir + "/no/such/dir/x.h5")) << msg;
}

TEST(DataSource, DispatchesOnContent) {
  std::string dir = test::temp_dir();
  test::write_file(dir + "/data.h5", "a,y\n1,2\n");  // CSV despite the name
  EXPECT_FALSE(is_hdf5_file(dir + "/data.h5"));
  EXPECT_EQ(read_dataset(dir + "/data.h5", ReadOptions{}).label_numeric, (std::vector<double>{2}));
  Dataset d = read_dataset(dir + "/data.h5", ReadOptions{});
  write_hdf5_columns(dir + "/data.csv", d);  // HDF5 despite the name
  EXPECT_TRUE(is_hdf5_file(dir + "/data.csv"));
  Dataset back = read_dataset(dir + "/data.csv", ReadOptions{});
  d.source = back.source;
  expect_same_data(back, d);
  EXPECT_FALSE(is_hdf5_file(dir + "/missing"));
  EXPECT_EQ(error_of([&] { read_dataset(dir + "/missing", ReadOptions{}); }),
            "cannot open " + dir + "/missing: No such file or directory");
}

TEST(Predictions, CsvRoundTripsDoublesExactly) {
  std::string dir = test::temp_dir();
  std::vector<std::string> labels = {"cat", "a \"b\", c"};
  std::vector<std::vector<double>> cols = {{0.1, 1.0 / 3}, {NAN, -1e300}};
  write_predictions(dir + "/p.csv", {"p_cat", "score"}, cols, &labels, "prediction");
  EXPECT_FALSE(std::filesystem::exists(dir + "/p.csv.tmp"));
  std::string text = test::read_file(dir + "/p.csv");
  EXPECT_EQ(text.substr(0, text.find('\n')), "prediction,p_cat,score");
  ReadOptions o;
  o.label = "prediction";
  Dataset d = read_csv(dir + "/p.csv", o);
  EXPECT_EQ(d.label_text, labels);
  // Features are read as float32; check the text itself for the exact doubles.
  EXPECT_TRUE(contains(text, "0.1,NaN")) << text;
  EXPECT_TRUE(contains(text, "0.3333333333333333,-1e+300")) << text;

  write_predictions(dir + "/n.csv", {"yhat"}, {{1.5, 2.5}}, nullptr, "");
  EXPECT_EQ(test::read_file(dir + "/n.csv"), "yhat\n1.5\n2.5\n");
}

TEST(Predictions, Hdf5Columns) {
  std::string dir = test::temp_dir();
  std::vector<std::string> labels = {"x", "y", "x"};
  write_predictions(dir + "/p.H5", {"p_x", "p_y"}, {{0.75, 0.25, 1}, {0.25, 0.75, 0}}, &labels, "pred");
  EXPECT_TRUE(is_hdf5_file(dir + "/p.H5"));
  ReadOptions o;
  o.label = "pred";
  Dataset d = read_hdf5(dir + "/p.H5", o);
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"p_x", "p_y"}));
  EXPECT_EQ(d.label_text, labels);
  EXPECT_EQ(d.columns[0], (std::vector<float>{0.75f, 0.25f, 1}));
  EXPECT_THROW(write_predictions(dir + "/bad.csv", {"a"}, {{1, 2}, {3}}, nullptr, ""), std::invalid_argument);
}

}  // namespace
}  // namespace canopy
