#pragma once
// Reads a dataset file whatever its format: HDF5 when the file starts with the
// HDF5 signature, otherwise CSV (see io/csv.h and io/hdf5_data.h).
#include <string>

#include "io/dataset.h"

namespace canopy {

// True when the file at `path` starts with the 8-byte HDF5 signature
// "\x89HDF\r\n\x1a\n" (false when it cannot be read).
bool is_hdf5_file(const std::string& path);

// Dispatches on content to read_hdf5 or read_csv. Throws DataError
// ("cannot open <path>: <reason>") when the file cannot be opened.
Dataset read_dataset(const std::string& path, const ReadOptions& opt);

}  // namespace canopy
