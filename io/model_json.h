#pragma once
// A model as canonical, human-readable JSON (for audits, diffs and tools that
// do not speak HDF5). The form is documented in docs/model-format.md.
#include <string>

#include "io/model.h"

namespace canopy {

// The whole model as JSON text: metadata, params (as an object), feature
// importances and every node of every tree, one node per line. The same Model
// always gives byte-identical text. float32 fields (threshold, value) are
// printed as the shortest decimal that reads back to the identical float32
// (also when read as a double and then rounded to float32); float64 fields
// as the shortest decimal that reads back to the identical double.
// Non-finite numbers are written as the strings "inf", "-inf" and "nan".
// Throws ModelError (io/model_file.h) when the model fails validate_model()
// or params_json is not valid JSON.
std::string model_to_json(const Model& m);

// Writes model_to_json(m) to `path` through a temporary file in the same
// directory renamed over `path`; throws ModelError on failure and leaves no
// partial file behind.
void export_model_json(const Model& m, const std::string& path);

}  // namespace canopy
