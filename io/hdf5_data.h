#pragma once
// HDF5 dataset reader and group-of-columns writer (HDF5 C API).
//
// Two layouts are read:
//  (a) Matrix: a 2-D dataset at opt.features (default "/X", rows x features)
//      plus a 1-D label dataset at opt.label (default "/y" when opt.label is
//      empty and opt.require_label; an (n, 1) dataset is accepted too). Feature
//      names come from a string-array attribute "feature_names" on X, else
//      f0, f1, ... opt.weight_column, if set, is the path of a 1-D dataset.
//  (b) Group of columns: used when opt.features names a group, or when it does
//      not exist and the root group holds 1-D datasets. Each 1-D dataset of the
//      group is one column, in creation order when the group tracks it (else
//      name order); scalar datasets and sub-groups are ignored, other ranks are
//      an error. The label is the column named opt.label; when opt.label is
//      empty, the column named by the group's string attribute "label" if any
//      (written by write_hdf5_columns), else the last column when
//      opt.require_label. opt.weight_column (default: the group's attribute
//      "sample_weight_column", if that column exists) names the weight column.
//      With opt.require_label false a label column that exists is dropped.
// Feature data of any integer or float type is converted to float32 by HDF5;
// labels to double; string label datasets (fixed or variable length) become
// label_text (trimmed). Float NaN is a missing feature value. Data is read in
// slabs of rows (aligned with the chunking), never as one giant temporary.
//
// Errors throw DataError naming the file and dataset, e.g.
//   cannot open x.h5 as HDF5: ...          x.h5: dataset "/y" not found
//   x.h5: /X has 100 rows but /y has 99    x.h5: /X must be 2-D, found rank 3
//   x.h5: dataset "/y" row 17 (0-based): missing label (NaN)
#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "io/hdf5_handle.h"

namespace canopy {

Dataset read_hdf5(const std::string& path, const ReadOptions& opt);

// Writes `d` as layout (b) at the root: one 1-D float32 dataset per feature
// (named by the feature name, '/' replaced by '_'), then "sample_weight"
// (float64) if present, then the label (float64, or variable-length UTF-8
// strings) named by label_name, last. Root attributes "label" and
// "sample_weight_column" record the roles so read_hdf5 restores them.
// Deterministic bytes for identical inputs; atomic (see Hdf5ColumnWriter).
void write_hdf5_columns(const std::string& path, const Dataset& d);

// Builds a group-of-columns file at the root, atomically: everything goes to
// `path + ".tmp"`, which commit() renames over `path`; if commit() is never
// reached (an exception, an early return) the destructor removes the
// temporary file. Columns keep their creation order (tracked and indexed),
// are chunked (min(rows, 65536)) with shuffle + deflate level 4, and carry no
// timestamps, so identical inputs give identical files. Column names have '/'
// replaced by '_'; a repeated name throws DataError.
class Hdf5ColumnWriter {
 public:
  explicit Hdf5ColumnWriter(const std::string& path);
  ~Hdf5ColumnWriter();
  Hdf5ColumnWriter(const Hdf5ColumnWriter&) = delete;
  Hdf5ColumnWriter& operator=(const Hdf5ColumnWriter&) = delete;

  void add_float32(const std::string& name, const float* data, std::size_t n);
  void add_float64(const std::string& name, const double* data, std::size_t n);
  void add_strings(const std::string& name, const std::vector<std::string>& values);
  // A scalar variable-length string attribute on the root group.
  void set_attribute(const std::string& name, const std::string& value);
  void commit();

  // The dataset name used for a column name ('/' -> '_', "" and "." -> "_").
  static std::string dataset_name(const std::string& column_name);

 private:
  void add_numeric(const std::string& name, hid_t file_type, hid_t mem_type, const void* data,
                   std::size_t n);
  std::string claim_name(const std::string& column_name);

  std::string path_, tmp_;
  H5Handle file_;
  std::set<std::string> names_;
  bool committed_ = false;
};

}  // namespace canopy
