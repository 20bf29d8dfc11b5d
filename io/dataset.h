#pragma once
// In-memory dataset: float32 feature columns plus an optional label column and
// optional per-row sample weights. Produced by the CSV and HDF5 readers.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace canopy {

// Thrown for bad input files; the message names the file and, where known,
// the line, column or dataset path and what was expected.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Dataset {
  std::string source;                        // file the data came from
  std::vector<std::string> feature_names;    // one per column
  std::vector<std::vector<float>> columns;   // feature-major; NaN = missing

  std::string label_name;                    // empty when the data has no label
  // Exactly one of these is filled when a label is present: numeric labels
  // (never NaN: a missing label is a DataError), or the raw strings of a
  // non-numeric label column.
  std::vector<double> label_numeric;
  std::vector<std::string> label_text;

  std::vector<double> sample_weight;         // empty = every row weighs 1

  std::size_t n_rows() const { return columns.empty() ? label_rows() : columns[0].size(); }
  std::size_t n_features() const { return columns.size(); }
  bool has_label() const { return !label_name.empty(); }
  bool label_is_text() const { return !label_text.empty(); }

 private:
  std::size_t label_rows() const {
    return label_numeric.empty() ? label_text.size() : label_numeric.size();
  }
};

// How a file is to be read. `label` is a column name (CSV, HDF5 group of
// columns) or a dataset path (HDF5 2-D layout, default "/y").
struct ReadOptions {
  std::string label;            // empty: "no label" unless require_label
  std::string features = "/X";  // HDF5 2-D layout only
  std::string weight_column;    // optional sample-weight column
  bool require_label = true;    // false at predict time: a label, if present, is dropped
};

}  // namespace canopy
