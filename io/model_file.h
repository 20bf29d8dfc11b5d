#pragma once
// Model files: a trained Model in a versioned HDF5 layout that h5py users can
// read directly. The layout, the versioning policy and the checksum are
// documented in docs/model-format.md.
//
//   save_model(m, "forest.h5");          // atomic: tmp file + rename
//   Model m = load_model("forest.h5");   // fully validated, or ModelError
#include <cstdint>
#include <stdexcept>
#include <string>

#include "io/model.h"

namespace canopy {

// Thrown when a model cannot be saved or loaded, or is inconsistent. The
// message names the file and says what is wrong.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Value of the root attribute `format`.
inline constexpr const char* kModelFormat = "canopy-forest";
// The newest model format version this build writes and reads. Version 2 adds
// one-vs-rest forests (the `multi_class` attribute); joint forests are still
// written as version 1, so older builds keep reading them.
inline constexpr int kModelFormatVersion = 2;

// The format version `m` is written with: the oldest that can hold it.
inline int model_format_version(const Model& m) { return m.forest.one_vs_rest ? 2 : 1; }

// Value of the `multi_class` attribute (format version 2 and later).
inline const char* multi_class_name(const ForestNodes& f) { return f.one_vs_rest ? "ovr" : "joint"; }

// Writes `m` to `path` (HDF5). The file is written to `path + ".tmp-<pid>"`
// in the same directory, synced and renamed over `path`; on failure the
// temporary file is removed and ModelError is thrown, so `path` is either the
// previous file or the complete new one. Throws ModelError if `m` fails
// validate_model(). The same Model always gives a byte-identical file.
void save_model(const Model& m, const std::string& path);

// Reads and fully validates a model file. Throws ModelError for a missing or
// unreadable file, a file that is not HDF5 or not a canopy model, a newer
// format version, a checksum mismatch, or any structural inconsistency. A
// model returned by load_model can be traversed without bounds checks.
Model load_model(const std::string& path);

// Checks the structural invariants of a model (see kernels/forest_nodes.h and
// docs/model-format.md): array lengths, tree offsets, child indices, feature
// indices, class labels vs n_outputs. Throws ModelError with a message (no
// file name) naming the first problem found.
void validate_model(const Model& m);

// The checksum stored in the `checksum` attribute: 16 lowercase hex digits of
// FNV-1a-64 over the model's metadata and arrays in a fixed order (see
// docs/model-format.md). Does not validate `m`.
std::string model_checksum(const Model& m);

}  // namespace canopy
