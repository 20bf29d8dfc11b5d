#pragma once
// Writes prediction tables (one row per input row) as CSV or HDF5.
#include <string>
#include <vector>

namespace canopy {

// Writes the columns `label_column` (optional: may be null; it becomes the first
// column, named label_column_name) followed by numeric_columns[i] named
// column_names[i]. Every column must have the same length (else
// std::invalid_argument).
//  - Path ending in .h5 or .hdf5 (any case): an HDF5 group of columns at the
//    root (see Hdf5ColumnWriter), label as UTF-8 strings, numbers as float64.
//  - Anything else: CSV with a header row; numbers in the shortest form that
//    reads back to the same double (NaN written as "NaN", infinities as
//    "inf"/"-inf"); text quoted per RFC 4180 when it holds ',', '"', a newline
//    or surrounding spaces.
// The file is written to `path + ".tmp"` and renamed over `path`; on failure
// the temporary file is removed and canopy::DataError is thrown.
void write_predictions(const std::string& path, const std::vector<std::string>& column_names,
                       const std::vector<std::vector<double>>& numeric_columns,
                       const std::vector<std::string>* label_column,
                       const std::string& label_column_name);

}  // namespace canopy
