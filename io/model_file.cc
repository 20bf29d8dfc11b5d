#include "io/model_file.h"

#include <fcntl.h>
#include <hdf5.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <sstream>
#include <utility>
#include <vector>

#include "kernels/parallel_for.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "model_checksum hashes the in-memory bytes of the arrays, which the format "
              "defines as little-endian; port model_checksum before building on a big-endian host");

namespace canopy {
namespace {

// ---------------------------------------------------------------------------
// Small private HDF5 helpers (RAII ids, error capture).

class H5Id {
 public:
  H5Id() = default;
  H5Id(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  H5Id(H5Id&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  H5Id& operator=(H5Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      closer_ = o.closer_;
      o.id_ = -1;
    }
    return *this;
  }
  ~H5Id() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now and reports whether the close succeeded.
  bool close() {
    if (id_ < 0) return true;
    herr_t r = closer_(id_);
    id_ = -1;
    return r >= 0;
  }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

// Turns HDF5's automatic error printing off for the lifetime of the object and
// restores whatever was set before.
class ErrorSilencer {
 public:
  ErrorSilencer() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~ErrorSilencer() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  ErrorSilencer(const ErrorSilencer&) = delete;
  ErrorSilencer& operator=(const ErrorSilencer&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

herr_t innermost_error(unsigned n, const H5E_error2_t* err, void* out) {
  if (n == 0 && err && err->desc) *static_cast<std::string*>(out) = err->desc;
  return 0;
}

// The most specific message on HDF5's error stack (call right after the
// failing API call: the next call clears the stack).
std::string hdf5_detail() {
  std::string s;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, &s);
  return s.empty() ? "HDF5 error" : s;
}

// ---------------------------------------------------------------------------
// Checksum: FNV-1a 64 over 64-bit little-endian words (see docs/model-format.md).

class Hasher {
 public:
  void word(uint64_t w) {
    h_ ^= w;
    h_ *= 0x100000001b3ULL;
  }
  // One field: its byte length as a word, then its bytes as words, the last
  // one zero-padded.
  void bytes(const void* data, std::size_t n) {
    word(static_cast<uint64_t>(n));
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t full = n / 8;
    for (std::size_t i = 0; i < full; ++i) {
      uint64_t w;
      std::memcpy(&w, p + 8 * i, 8);
      word(w);
    }
    std::size_t rest = n % 8;
    if (rest) {
      uint64_t w = 0;
      std::memcpy(&w, p + 8 * full, rest);
      word(w);
    }
  }
  void str(const std::string& s) { bytes(s.data(), s.size()); }
  void i64(int64_t v) { bytes(&v, sizeof v); }
  void strings(const std::vector<std::string>& v) {
    word(static_cast<uint64_t>(v.size()));
    for (const auto& s : v) str(s);
  }
  template <typename T>
  void array(const std::vector<T>& v) {
    bytes(v.data(), v.size() * sizeof(T));
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// ---------------------------------------------------------------------------
// Writing.

constexpr hsize_t kChunkElements = hsize_t{1} << 20;  // ~1M elements per chunk

struct ModelWriteError {
  std::string message;
};

[[noreturn]] void write_fail(const std::string& what) {
  throw ModelWriteError{what + " (" + hdf5_detail() + ")"};
}

hid_t checked(hid_t id, const char* what) {
  if (id < 0) write_fail(what);
  return id;
}
void checked_status(herr_t r, const char* what) {
  if (r < 0) write_fail(what);
}

// Strings are written as FIXED-length UTF-8 (`size` bytes, NUL-padded, no
// terminator when a value fills its slot). Variable-length strings would live
// in HDF5's global heap, which has no checksum and which HDF5 1.10 trusts
// blindly: one flipped byte there can crash or hang HDF5 inside load_model
// before our own checksum runs. Fixed-length values sit in the (checksummed)
// object header for attributes, and in the dataset's raw data for datasets,
// which our checksum covers. `size` is at least 1 (HDF5 has no 0-byte
// strings). The reader accepts both forms, so older files still load.
H5Id utf8_fixed_string_type(std::size_t size) {
  H5Id t(checked(H5Tcopy(H5T_C_S1), "cannot create string type"), H5Tclose);
  checked_status(H5Tset_size(t.get(), std::max<std::size_t>(size, 1)),
                 "cannot create string type");
  checked_status(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "cannot create string type");
  checked_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "cannot create string type");
  return t;
}

void write_string_attr(hid_t loc, const char* name, const std::string& value) {
  H5Id type = utf8_fixed_string_type(value.size());
  H5Id space(checked(H5Screate(H5S_SCALAR), "cannot create dataspace"), H5Sclose);
  H5Id attr(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) write_fail(std::string("cannot create attribute ") + name);
  // c_str() supplies the one NUL byte an empty value's 1-byte slot needs.
  if (H5Awrite(attr.get(), type.get(), value.c_str()) < 0)
    write_fail(std::string("cannot write attribute ") + name);
}

void write_int_attr(hid_t loc, const char* name, int64_t value) {
  H5Id space(checked(H5Screate(H5S_SCALAR), "cannot create dataspace"), H5Sclose);
  H5Id attr(H5Acreate2(loc, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
            H5Aclose);
  if (!attr.valid()) write_fail(std::string("cannot create attribute ") + name);
  if (H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0)
    write_fail(std::string("cannot write attribute ") + name);
}

// No timestamps, and no fill values (every dataset is written in full).
H5Id dataset_create_plist() {
  H5Id dcpl(checked(H5Pcreate(H5P_DATASET_CREATE), "cannot create property list"), H5Pclose);
  checked_status(H5Pset_obj_track_times(dcpl.get(), 0), "cannot disable time tracking");
  checked_status(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "cannot set fill time");
  return dcpl;
}

// Threads for filtering chunks: --threads (OpenMP's setting), on plain
// threads (parallel_for.h: model files are also read in forked processes).
std::size_t file_threads() { return static_cast<std::size_t>(std::max(1, omp_get_max_threads())); }

// One chunk of n elements of `size` bytes through HDF5's shuffle filter
// (byte j of element i goes to j * n + i) and then its deflate filter (a
// zlib stream, level 1): what HDF5 would store for it.
std::vector<unsigned char> filter_chunk(const unsigned char* elems, std::size_t n, std::size_t size) {
  std::vector<unsigned char> shuffled(n * size);
  if (size > 1) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < size; ++j) shuffled[j * n + i] = elems[i * size + j];
  } else {
    std::memcpy(shuffled.data(), elems, n);
  }
  uLongf out_len = compressBound(static_cast<uLong>(shuffled.size()));
  std::vector<unsigned char> out(out_len);
  if (compress2(out.data(), &out_len, shuffled.data(), static_cast<uLong>(shuffled.size()), 1) != Z_OK)
    throw ModelWriteError{"cannot compress a model chunk"};
  out.resize(out_len);
  return out;
}

// The reverse of filter_chunk: inflates `stored` (a chunk of n elements of
// `size` bytes) and writes its first `valid` elements, unshuffled, to `to`.
// Returns false when the stream does not inflate to exactly n elements.
bool unfilter_chunk(const std::vector<unsigned char>& stored, std::size_t n, std::size_t size, std::size_t valid,
                    unsigned char* to) {
  std::vector<unsigned char> shuffled(n * size);
  uLongf len = static_cast<uLongf>(shuffled.size());
  if (uncompress(shuffled.data(), &len, stored.data(), static_cast<uLong>(stored.size())) != Z_OK ||
      len != shuffled.size())
    return false;
  if (size == 1) {
    std::memcpy(to, shuffled.data(), valid);
  } else {
    for (std::size_t i = 0; i < valid; ++i)
      for (std::size_t j = 0; j < size; ++j) to[i * size + j] = shuffled[j * n + i];
  }
  return true;
}

// Writes `count` elements of `size` bytes as the chunks of `ds`: chunk_rows
// rows of row_elems elements each (1-D: one element a row), the last padded
// with zeros as HDF5 stores edge chunks, filtered on every thread and
// written in order with H5Dwrite_chunk. The file is the one HDF5's own
// single-threaded filter pipeline writes, in a fraction of the time for a
// fully grown forest's millions of nodes.
void write_chunks_parallel(hid_t ds, const std::string& name, const void* data, std::size_t count,
                           std::size_t size, hsize_t chunk_rows, hsize_t row_elems) {
  const std::size_t chunk_elems = static_cast<std::size_t>(chunk_rows * row_elems);
  const std::size_t n_chunks = (count + chunk_elems - 1) / chunk_elems;
  std::vector<std::vector<unsigned char>> filtered(n_chunks);
  const auto* bytes = static_cast<const unsigned char*>(data);
  parallel_for(n_chunks, file_threads(), [&](std::size_t c) {
    const std::size_t e0 = c * chunk_elems, e1 = std::min(count, e0 + chunk_elems);
    if (e1 - e0 == chunk_elems) {
      filtered[c] = filter_chunk(bytes + e0 * size, chunk_elems, size);
    } else {
      std::vector<unsigned char> padded(chunk_elems * size, 0);
      std::memcpy(padded.data(), bytes + e0 * size, (e1 - e0) * size);
      filtered[c] = filter_chunk(padded.data(), chunk_elems, size);
    }
  });
  for (std::size_t c = 0; c < n_chunks; ++c) {
    const hsize_t offset[2] = {static_cast<hsize_t>(c) * chunk_rows, 0};
    if (H5Dwrite_chunk(ds, H5P_DEFAULT, 0, offset, filtered[c].size(), filtered[c].data()) < 0)
      write_fail("cannot write dataset " + name);
  }
}

// Writes a 1-D (cols == 0) or 2-D (rows x cols) numeric dataset. `chunked`
// selects chunking with shuffle + deflate(1) (filtered here in parallel,
// write_chunks_parallel); empty datasets are always contiguous (HDF5 needs
// chunk dims >= 1 and <= the fixed extent).
void write_numeric(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type,
                   const void* data, hsize_t rows, hsize_t cols, bool chunked) {
  int rank = cols == 0 ? 1 : 2;
  hsize_t dims[2] = {rows, cols};
  hsize_t n = cols == 0 ? rows : rows * cols;
  H5Id space(checked(H5Screate_simple(rank, dims, nullptr), "cannot create dataspace"), H5Sclose);
  H5Id dcpl = dataset_create_plist();
  hsize_t chunk[2] = {0, 0};
  if (chunked && n > 0) {
    if (rank == 1) {
      chunk[0] = std::min(rows, kChunkElements);
    } else {
      chunk[0] = std::max<hsize_t>(1, std::min(rows, kChunkElements / cols));
      chunk[1] = cols;
    }
    checked_status(H5Pset_chunk(dcpl.get(), rank, chunk), "cannot set chunking");
    if (H5Tget_size(file_type) > 1)
      checked_status(H5Pset_shuffle(dcpl.get()), "cannot set shuffle filter");
    checked_status(H5Pset_deflate(dcpl.get(), 1), "cannot set deflate filter");
  }
  H5Id ds(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(),
                     H5P_DEFAULT),
          H5Dclose);
  if (!ds.valid()) write_fail("cannot create dataset " + name);
  if (chunked && n > 0 && H5Tequal(file_type, mem_type) > 0) {
    write_chunks_parallel(ds.get(), name, data, static_cast<std::size_t>(n), H5Tget_size(file_type), chunk[0],
                          rank == 1 ? 1 : cols);
  } else if (n > 0 && H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    write_fail("cannot write dataset " + name);
  }
  if (!ds.close()) write_fail("cannot close dataset " + name);
}

// A 1-D dataset of fixed-length UTF-8 strings, each slot as wide as the longest
// value (at least 1 byte), shorter values NUL-padded. Contiguous, uncompressed.
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& v) {
  std::size_t width = 1;
  for (const auto& s : v) width = std::max(width, s.size());
  H5Id type = utf8_fixed_string_type(width);
  hsize_t dims[1] = {static_cast<hsize_t>(v.size())};
  H5Id space(checked(H5Screate_simple(1, dims, nullptr), "cannot create dataspace"), H5Sclose);
  H5Id dcpl = dataset_create_plist();
  H5Id ds(H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(),
                     H5P_DEFAULT),
          H5Dclose);
  if (!ds.valid()) write_fail("cannot create dataset " + name);
  if (!v.empty()) {
    std::vector<char> buf;
    try {
      buf.assign(v.size() * width, '\0');
    } catch (const std::bad_alloc&) {
      throw ModelWriteError{"out of memory writing dataset " + name};
    }
    for (std::size_t i = 0; i < v.size(); ++i)
      std::memcpy(buf.data() + i * width, v[i].data(), v[i].size());
    if (H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
      write_fail("cannot write dataset " + name);
  }
  if (!ds.close()) write_fail("cannot close dataset " + name);
}

H5Id create_group(hid_t file, const char* name) {
  H5Id gcpl(checked(H5Pcreate(H5P_GROUP_CREATE), "cannot create property list"), H5Pclose);
  checked_status(H5Pset_obj_track_times(gcpl.get(), 0), "cannot disable time tracking");
  H5Id g(H5Gcreate2(file, name, H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) write_fail(std::string("cannot create group ") + name);
  return g;
}

void write_hdf5(const Model& m, const std::string& file_name) {
  const ForestNodes& f = m.forest;
  H5Id fcpl(checked(H5Pcreate(H5P_FILE_CREATE), "cannot create property list"), H5Pclose);
  // The file creation list is also the root group's creation list.
  checked_status(H5Pset_obj_track_times(fcpl.get(), 0), "cannot disable time tracking");
  checked_status(H5Pset_attr_phase_change(fcpl.get(), 64, 32), "cannot set attribute storage");
  H5Id fapl(checked(H5Pcreate(H5P_FILE_ACCESS), "cannot create property list"), H5Pclose);
  checked_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110),
                 "cannot set library version bounds");

  errno = 0;
  H5Id file(H5Fcreate(file_name.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), H5Fclose);
  if (!file.valid()) {
    int err = errno;
    std::string detail = hdf5_detail();
    throw ModelWriteError{"cannot create file " + file_name + " (" +
                          (err ? std::string(std::strerror(err)) : detail) + ")"};
  }
  hid_t root = file.get();
  write_string_attr(root, "format", kModelFormat);
  const int version = model_format_version(m);
  write_int_attr(root, "format_version", version);
  write_string_attr(root, "canopy_version", m.canopy_version);
  write_string_attr(root, "task", task_name(m.task));
  write_string_attr(root, "label_name", m.label_name);
  write_int_attr(root, "n_features", static_cast<int64_t>(m.feature_names.size()));
  write_int_attr(root, "n_outputs", f.n_outputs);
  if (version >= 2) write_string_attr(root, "multi_class", multi_class_name(f));
  write_int_attr(root, "n_trees", static_cast<int64_t>(f.n_trees()));
  write_int_attr(root, "n_nodes", static_cast<int64_t>(f.n_nodes()));
  write_int_attr(root, "n_train_rows", m.n_train_rows);
  write_string_attr(root, "data_fingerprint", m.data_fingerprint);
  write_string_attr(root, "params", m.params_json);
  write_string_attr(root, "checksum", model_checksum(m));

  write_strings(root, "feature_names", m.feature_names);
  write_strings(root, "class_labels", m.class_labels);
  write_numeric(root, "feature_importances", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                m.feature_importances.data(), m.feature_importances.size(), 0, false);
  {
    H5Id trees = create_group(root, "trees");
    write_numeric(trees.get(), "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, f.tree_offsets.data(),
                  f.tree_offsets.size(), 0, false);
  }
  {
    H5Id nodes = create_group(root, "nodes");
    hid_t g = nodes.get();
    hsize_t n = f.n_nodes();
    write_numeric(g, "feature", H5T_STD_I32LE, H5T_NATIVE_INT32, f.feature.data(), n, 0, true);
    write_numeric(g, "threshold", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, f.threshold.data(), n, 0,
                  true);
    write_numeric(g, "left_child", H5T_STD_I32LE, H5T_NATIVE_INT32, f.left_child.data(), n, 0,
                  true);
    write_numeric(g, "default_left", H5T_STD_U8LE, H5T_NATIVE_UINT8, f.default_left.data(), n, 0,
                  true);
    write_numeric(g, "n_samples", H5T_STD_I64LE, H5T_NATIVE_INT64, f.n_samples.data(), n, 0,
                  true);
    write_numeric(g, "weight", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, f.weight.data(), n, 0, true);
    write_numeric(g, "value", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, f.value.data(), n,
                  static_cast<hsize_t>(f.values_per_node()), true);
  }
  if (!file.close()) write_fail("cannot finish writing " + file_name);
}

// Best effort: make the file's bytes durable before it is renamed into place.
bool sync_path(const std::string& p, bool directory) {
  int fd = ::open(p.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// ---------------------------------------------------------------------------
// Reading.

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void corrupt(const std::string& what) const {
    throw ModelError(path_ + ": corrupt model file: " + what);
  }

  void open() {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0)
      throw ModelError("cannot open model " + path_ + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode))
      throw ModelError("cannot open model " + path_ + ": " + std::strerror(EISDIR));
    int fd = ::open(path_.c_str(), O_RDONLY);
    if (fd < 0) throw ModelError("cannot open model " + path_ + ": " + std::strerror(errno));
    ::close(fd);
    htri_t is = H5Fis_hdf5(path_.c_str());
    if (is == 0) throw ModelError(path_ + " is not a canopy model file (not HDF5)");
    if (is < 0) throw ModelError("cannot open model " + path_ + ": " + hdf5_detail());
    file_ = H5Id(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file_.valid()) corrupt("HDF5 cannot open it (" + hdf5_detail() + ")");
  }

  hid_t root() const { return file_.get(); }

  bool has_attr(const char* name) const {
    htri_t r = H5Aexists(root(), name);
    if (r < 0) corrupt(std::string("cannot look up attribute ") + name);
    return r > 0;
  }

  // An attribute of the root, open with its type; `scalar` says whether it
  // holds exactly one value of class `cls`. Throws when it is missing or unreadable.
  struct Attr {
    H5Id attr, type;
    bool scalar = false;
  };
  Attr open_attr(const char* name, H5T_class_t cls) const {
    if (!has_attr(name)) corrupt(std::string("attribute ") + name + " missing");
    Attr a;
    a.attr = H5Id(H5Aopen(root(), name, H5P_DEFAULT), H5Aclose);
    if (!a.attr.valid()) corrupt(std::string("cannot open attribute ") + name);
    a.type = H5Id(H5Aget_type(a.attr.get()), H5Tclose);
    H5Id space(H5Aget_space(a.attr.get()), H5Sclose);
    if (!a.type.valid() || !space.valid()) corrupt(std::string("cannot read attribute ") + name);
    a.scalar = H5Tget_class(a.type.get()) == cls && H5Sget_simple_extent_npoints(space.get()) == 1;
    return a;
  }

  // Reads a scalar string attribute (variable or fixed length). Sets
  // *is_string to false instead of throwing when the attribute exists but is
  // not a string.
  std::string string_attr(const char* name, bool* is_string = nullptr) const {
    const Attr a = open_attr(name, H5T_STRING);
    if (!a.scalar) {
      if (is_string) {
        *is_string = false;
        return {};
      }
      corrupt(std::string("attribute ") + name + " is not a string");
    }
    if (is_string) *is_string = true;
    H5Id mem(H5Tcopy(a.type.get()), H5Tclose);
    if (!mem.valid()) corrupt(std::string("cannot read attribute ") + name);
    htri_t vlen = H5Tis_variable_str(a.type.get());
    if (vlen < 0) corrupt(std::string("cannot read attribute ") + name);
    if (vlen > 0) {
      char* p = nullptr;
      if (H5Aread(a.attr.get(), mem.get(), &p) < 0)
        corrupt(std::string("cannot read attribute ") + name + " (" + hdf5_detail() + ")");
      std::string s = p ? p : "";
      if (p) H5free_memory(p);
      return s;
    }
    std::size_t size = H5Tget_size(a.type.get());
    std::vector<char> buf(size + 1, '\0');
    if (H5Aread(a.attr.get(), mem.get(), buf.data()) < 0)
      corrupt(std::string("cannot read attribute ") + name + " (" + hdf5_detail() + ")");
    return fixed_string(buf.data(), size, a.type.get());
  }

  int64_t int_attr(const char* name) const {
    const Attr a = open_attr(name, H5T_INTEGER);
    if (!a.scalar) corrupt(std::string("attribute ") + name + " is not an integer");
    int64_t v = 0;
    if (H5Aread(a.attr.get(), H5T_NATIVE_INT64, &v) < 0)
      corrupt(std::string("cannot read attribute ") + name + " (" + hdf5_detail() + ")");
    return v;
  }

  struct Dataset {
    H5Id ds;
    H5Id type;
    std::vector<hsize_t> dims;
    hsize_t n = 0;
  };

  bool link_exists(const std::string& path) const {
    std::size_t pos = 0;
    while (pos != std::string::npos) {
      pos = path.find('/', pos + 1);
      std::string prefix = path.substr(0, pos);
      htri_t r = H5Lexists(root(), prefix.c_str(), H5P_DEFAULT);
      if (r <= 0) return false;
    }
    return true;
  }

  Dataset open_dataset(const std::string& name, H5T_class_t cls, int rank) const {
    if (!link_exists(name)) corrupt("dataset " + name + " missing");
    Dataset d;
    d.ds = H5Id(H5Dopen2(root(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.ds.valid()) corrupt("cannot open dataset " + name + " (" + hdf5_detail() + ")");
    d.type = H5Id(H5Dget_type(d.ds.get()), H5Tclose);
    H5Id space(H5Dget_space(d.ds.get()), H5Sclose);
    if (!d.type.valid() || !space.valid()) corrupt("cannot read dataset " + name);
    if (H5Tget_class(d.type.get()) != cls)
      corrupt("dataset " + name + " has the wrong type (expected " +
              (cls == H5T_STRING ? "strings" : cls == H5T_FLOAT ? "floats" : "integers") + ")");
    int r = H5Sget_simple_extent_ndims(space.get());
    if (r != rank)
      corrupt("dataset " + name + " has " + std::to_string(r) + " dimensions, expected " +
              std::to_string(rank));
    d.dims.assign(rank, 0);
    if (H5Sget_simple_extent_dims(space.get(), d.dims.data(), nullptr) < 0)
      corrupt("cannot read the shape of dataset " + name);
    d.n = 1;
    for (hsize_t x : d.dims) {
      if (x != 0 && d.n > std::numeric_limits<hsize_t>::max() / x)
        corrupt("dataset " + name + " has an impossible shape");
      d.n *= x;
    }
    return d;
  }

  template <typename T>
  void read_numeric(const std::string& name, H5T_class_t cls, hid_t mem_type, int rank,
                    std::vector<T>& out, std::vector<hsize_t>* dims = nullptr) const {
    Dataset d = open_dataset(name, cls, rank);
    if (dims) *dims = d.dims;
    try {
      out.assign(static_cast<std::size_t>(d.n), T{});
    } catch (const std::exception&) {
      corrupt("dataset " + name + " has an implausible size (" + std::to_string(d.n) +
              " elements)");
    }
    if (d.n == 0 || read_chunks_parallel(d, name, mem_type, out.data())) return;
    if (H5Dread(d.ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
      corrupt("cannot read dataset " + name + " (" + hdf5_detail() + ")");
  }

  // The reverse of write_chunks_parallel: when `d` is stored as canopy writes
  // node arrays (chunks of whole rows through shuffle + deflate, in the
  // memory type's layout), its chunks are read raw in order, inflated and
  // unshuffled on every thread into `out`. Returns false (nothing read) for
  // any other layout, which H5Dread then handles.
  bool read_chunks_parallel(const Dataset& d, const std::string& name, hid_t mem_type, void* out) const {
    const int rank = static_cast<int>(d.dims.size());
    if (H5Tequal(d.type.get(), mem_type) <= 0) return false;
    const std::size_t size = H5Tget_size(mem_type);
    H5Id dcpl(H5Dget_create_plist(d.ds.get()), H5Pclose);
    if (!dcpl.valid() || H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return false;
    hsize_t chunk[2] = {0, 0};
    if (H5Pget_chunk(dcpl.get(), rank, chunk) != rank || chunk[0] == 0) return false;
    if (rank == 2 && chunk[1] != d.dims[1]) return false;
    const int n_filters = H5Pget_nfilters(dcpl.get());
    std::vector<H5Z_filter_t> filters;
    for (int i = 0; i < n_filters; ++i) {
      unsigned flags = 0;
      std::size_t n_values = 0;
      filters.push_back(H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &n_values, nullptr, 0, nullptr,
                                       nullptr));
    }
    const std::vector<H5Z_filter_t> expected =
        size > 1 ? std::vector<H5Z_filter_t>{H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE}
                 : std::vector<H5Z_filter_t>{H5Z_FILTER_DEFLATE};
    if (filters != expected) return false;
    const std::size_t chunk_elems = static_cast<std::size_t>(rank == 1 ? chunk[0] : chunk[0] * chunk[1]);
    const std::size_t count = static_cast<std::size_t>(d.n);
    const std::size_t n_chunks = (count + chunk_elems - 1) / chunk_elems;
    std::vector<std::vector<unsigned char>> raw(n_chunks);
    for (std::size_t c = 0; c < n_chunks; ++c) {
      hsize_t offset[2] = {static_cast<hsize_t>(c) * chunk[0], 0};
      hsize_t bytes = 0;
      uint32_t mask = 0;
      if (H5Dget_chunk_storage_size(d.ds.get(), offset, &bytes) < 0 || bytes == 0) return false;
      raw[c].resize(static_cast<std::size_t>(bytes));
      if (H5Dread_chunk(d.ds.get(), H5P_DEFAULT, offset, &mask, raw[c].data()) < 0)
        corrupt("cannot read dataset " + name + " (" + hdf5_detail() + ")");
      if (mask != 0) return false;  // a chunk stored with a filter skipped
    }
    std::atomic<bool> bad{false};
    auto* dst = static_cast<unsigned char*>(out);
    parallel_for(n_chunks, file_threads(), [&](std::size_t c) {
      const std::size_t e0 = c * chunk_elems, valid = std::min(count, e0 + chunk_elems) - e0;
      if (!unfilter_chunk(raw[c], chunk_elems, size, valid, dst + e0 * size)) bad = true;
    });
    if (bad) corrupt("dataset " + name + " has a chunk that does not inflate");
    return true;
  }

  std::vector<std::string> read_strings(const std::string& name) const {
    Dataset d = open_dataset(name, H5T_STRING, 1);
    std::vector<std::string> out;
    if (d.n == 0) return out;
    H5Id mem(H5Tcopy(d.type.get()), H5Tclose);
    htri_t vlen = H5Tis_variable_str(d.type.get());
    if (!mem.valid() || vlen < 0) corrupt("cannot read dataset " + name);
    try {
      out.reserve(static_cast<std::size_t>(d.n));
      if (vlen > 0) {
        std::vector<char*> ptrs(static_cast<std::size_t>(d.n), nullptr);
        if (H5Dread(d.ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
          corrupt("cannot read dataset " + name + " (" + hdf5_detail() + ")");
        for (char* p : ptrs) out.emplace_back(p ? p : "");
        H5Id space(H5Dget_space(d.ds.get()), H5Sclose);
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#else
        H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#endif
      } else {
        std::size_t size = H5Tget_size(d.type.get());
        std::vector<char> buf(static_cast<std::size_t>(d.n) * size + 1, '\0');
        if (H5Dread(d.ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
          corrupt("cannot read dataset " + name + " (" + hdf5_detail() + ")");
        for (hsize_t i = 0; i < d.n; ++i)
          out.push_back(fixed_string(buf.data() + i * size, size, d.type.get()));
      }
    } catch (const std::bad_alloc&) {
      corrupt("dataset " + name + " has an implausible size");
    }
    return out;
  }

  static std::string fixed_string(const char* p, std::size_t size, hid_t type) {
    std::size_t len = 0;
    while (len < size && p[len] != '\0') ++len;
    std::string s(p, len);
    if (H5Tget_strpad(type) == H5T_STR_SPACEPAD)
      while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  H5Id file_;
};

void expect_size(const Reader& r, const char* name, std::size_t got, std::size_t want,
                 const char* what) {
  if (got != want)
    r.corrupt(std::string(name) + " has " + std::to_string(got) + " elements, expected " +
              std::to_string(want) + " (" + what + ")");
}

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

}  // namespace

// ---------------------------------------------------------------------------

std::string model_checksum(const Model& m) {
  const ForestNodes& f = m.forest;
  Hasher h;
  h.str(kModelFormat);
  const int version = model_format_version(m);
  h.i64(version);
  h.str(m.canopy_version);
  h.str(task_name(m.task));
  h.str(m.label_name);
  h.i64(static_cast<int64_t>(m.feature_names.size()));
  h.i64(f.n_outputs);
  if (version >= 2) h.str(multi_class_name(f));
  h.i64(static_cast<int64_t>(f.tree_offsets.empty() ? 0 : f.n_trees()));
  h.i64(static_cast<int64_t>(f.n_nodes()));
  h.i64(m.n_train_rows);
  h.str(m.data_fingerprint);
  h.str(m.params_json);
  h.strings(m.feature_names);
  h.strings(m.class_labels);
  h.array(m.feature_importances);
  h.array(f.tree_offsets);
  h.array(f.feature);
  h.array(f.threshold);
  h.array(f.left_child);
  h.array(f.default_left);
  h.array(f.n_samples);
  h.array(f.weight);
  h.array(f.value);
  return hex64(h.value());
}

void validate_model(const Model& m) {
  const ForestNodes& f = m.forest;
  auto fail = [](const std::string& what) { throw ModelError(what); };
  auto s = [](auto v) { return std::to_string(v); };

  if (f.n_outputs < 1) fail("n_outputs is " + s(f.n_outputs) + ", must be at least 1");
  if (m.n_train_rows < 0) fail("n_train_rows is negative (" + s(m.n_train_rows) + ")");
  for (const std::string* str : {&m.label_name, &m.params_json, &m.data_fingerprint,
                                 &m.canopy_version})
    if (has_nul(*str)) fail("a metadata string contains a NUL byte");
  for (const auto& name : m.feature_names)
    if (has_nul(name)) fail("a feature name contains a NUL byte");
  for (const auto& label : m.class_labels)
    if (has_nul(label)) fail("a class label contains a NUL byte");

  const std::size_t n_features = m.feature_names.size();
  if (!m.feature_importances.empty() && m.feature_importances.size() != n_features)
    fail("feature_importances has " + s(m.feature_importances.size()) + " entries, expected " +
         s(n_features) + " (one per feature) or none");
  if (m.task == Task::kRegression && !m.class_labels.empty())
    fail("a regression model has class labels");
  if (m.task == Task::kClassification && !m.class_labels.empty() &&
      m.class_labels.size() != static_cast<std::size_t>(f.n_outputs))
    fail("class_labels has " + s(m.class_labels.size()) + " entries but n_outputs is " +
         s(f.n_outputs));

  if (f.tree_offsets.empty()) fail("tree_offsets is empty (needs n_trees + 1 entries)");
  if (f.tree_offsets[0] != 0) fail("tree_offsets[0] is " + s(f.tree_offsets[0]) + ", must be 0");
  const std::size_t n = f.n_nodes();
  const int64_t n_nodes = static_cast<int64_t>(n);
  for (std::size_t t = 0; t + 1 < f.tree_offsets.size(); ++t) {
    if (f.tree_offsets[t + 1] <= f.tree_offsets[t])
      fail("tree_offsets is not increasing at tree " + s(t) + " (" + s(f.tree_offsets[t]) +
           " then " + s(f.tree_offsets[t + 1]) + "; every tree has at least one node)");
    if (f.tree_offsets[t + 1] > n_nodes)
      fail("tree_offsets[" + s(t + 1) + "] is " + s(f.tree_offsets[t + 1]) + " but there are " +
           s(n) + " nodes");
  }
  if (f.tree_offsets.back() != n_nodes)
    fail("tree_offsets ends at " + s(f.tree_offsets.back()) + " but there are " + s(n) + " nodes");
  auto same = [&](std::size_t got, const char* name) {
    if (got != n) fail(std::string(name) + " has " + s(got) + " entries, expected " + s(n));
  };
  same(f.threshold.size(), "threshold");
  same(f.left_child.size(), "left_child");
  same(f.default_left.size(), "default_left");
  same(f.n_samples.size(), "n_samples");
  same(f.weight.size(), "weight");
  if (f.one_vs_rest) {
    if (m.task != Task::kClassification || f.n_outputs < 3)
      fail("a one-vs-rest forest needs classification with at least 3 classes (n_outputs is " +
           s(f.n_outputs) + ")");
    if (f.n_trees() % static_cast<std::size_t>(f.n_outputs) != 0)
      fail("a one-vs-rest forest has " + s(f.n_trees()) + " trees, not a multiple of n_outputs = " +
           s(f.n_outputs));
  }
  const std::size_t per_node = static_cast<std::size_t>(f.values_per_node());
  if (f.value.size() / per_node != n || f.value.size() % per_node != 0)
    fail("value has " + s(f.value.size()) + " entries, expected n_nodes * " +
         (f.one_vs_rest ? std::string("1 (one-vs-rest)") : "n_outputs") + " = " + s(n) + " * " +
         s(per_node));

  std::vector<uint8_t> parents;
  for (std::size_t t = 0; t + 1 < f.tree_offsets.size(); ++t) {
    const int64_t begin = f.tree_offsets[t];
    const int64_t size = f.tree_offsets[t + 1] - begin;
    parents.assign(static_cast<std::size_t>(size), 0);
    for (int64_t i = 0; i < size; ++i) {
      const std::size_t g = static_cast<std::size_t>(begin + i);
      const int32_t feat = f.feature[g];
      const int64_t lc = f.left_child[g];
      auto where = [&] { return "tree " + s(t) + " node " + s(i) + ": "; };
      if (feat == -1) {
        if (lc != -1) fail(where() + "leaf (feature -1) has left_child " + s(lc) + ", expected -1");
      } else {
        if (feat < -1 || static_cast<std::size_t>(feat) >= n_features)
          fail(where() + "feature index " + s(feat) + " out of range (n_features = " +
               s(n_features) + ")");
        if (lc <= i || lc + 1 >= size)
          fail(where() + "left_child " + s(lc) + " out of range (the tree has " + s(size) +
               " nodes; both children must come after their parent)");
        if (std::isnan(f.threshold[g])) fail(where() + "threshold is NaN");
        if (f.default_left[g] > 1)
          fail(where() + "default_left is " + s(int(f.default_left[g])) + ", must be 0 or 1");
        for (int64_t c : {lc, lc + 1}) {
          auto& p = parents[static_cast<std::size_t>(c)];
          if (p) fail("tree " + s(t) + " node " + s(c) + " has more than one parent");
          p = 1;
        }
      }
      if (f.n_samples[g] < 0) fail(where() + "n_samples is negative");
      if (!(f.weight[g] >= 0) || std::isinf(f.weight[g]))
        fail(where() + "weight is not a finite non-negative number");
    }
    for (int64_t i = 1; i < size; ++i)
      if (!parents[static_cast<std::size_t>(i)])
        fail("tree " + s(t) + " node " + s(i) + " is not reachable from the root");
  }
}

void save_model(const Model& m, const std::string& path) {
  try {
    validate_model(m);
  } catch (const ModelError& e) {
    throw ModelError("cannot save model to " + path + ": " + e.what());
  }
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  ErrorSilencer silence;
  try {
    write_hdf5(m, tmp);
    if (!sync_path(tmp, false))
      throw ModelWriteError{std::string("cannot sync ") + tmp + " (" + std::strerror(errno) + ")"};
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw ModelWriteError{std::string("cannot rename ") + tmp + " (" + std::strerror(errno) +
                            ")"};
  } catch (const ModelWriteError& e) {
    std::remove(tmp.c_str());
    throw ModelError("cannot save model to " + path + ": " + e.message);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  sync_path(parent_dir(path), true);
}

Model load_model(const std::string& path) {
  ErrorSilencer silence;
  Reader r(path);
  r.open();

  // Is it ours, and can we read this version? (Checked before anything else so
  // that a newer file gets a clear message rather than a structural one.)
  if (!r.has_attr("format"))
    throw ModelError(path + " is not a canopy model file (no 'format' attribute)");
  bool is_string = false;
  std::string format = r.string_attr("format", &is_string);
  if (!is_string)
    throw ModelError(path + " is not a canopy model file ('format' attribute is not a string)");
  if (format != kModelFormat)
    throw ModelError(path + " is not a canopy model file (format is '" + format +
                     "', expected '" + kModelFormat + "')");
  int64_t version = r.int_attr("format_version");
  if (version > kModelFormatVersion)
    throw ModelError(path + " was written by a newer canopy (format version " +
                     std::to_string(version) + "; this build reads up to " +
                     std::to_string(kModelFormatVersion) + ")");
  if (version < 1) r.corrupt("invalid format_version " + std::to_string(version));

  Model m;
  ForestNodes& f = m.forest;
  m.canopy_version = r.string_attr("canopy_version");
  std::string task = r.string_attr("task");
  if (task == "classification") {
    m.task = Task::kClassification;
  } else if (task == "regression") {
    m.task = Task::kRegression;
  } else {
    r.corrupt("unknown task '" + task + "'");
  }
  m.label_name = r.string_attr("label_name");
  int64_t n_features = r.int_attr("n_features");
  int64_t n_outputs = r.int_attr("n_outputs");
  int64_t n_trees = r.int_attr("n_trees");
  int64_t n_nodes = r.int_attr("n_nodes");
  m.n_train_rows = r.int_attr("n_train_rows");
  m.data_fingerprint = r.string_attr("data_fingerprint");
  m.params_json = r.string_attr("params");
  std::string stored_checksum = r.string_attr("checksum");
  if (n_outputs < 1 || n_outputs > std::numeric_limits<int32_t>::max())
    r.corrupt("n_outputs is " + std::to_string(n_outputs));
  if (n_features < 0 || n_trees < 0 || n_nodes < 0)
    r.corrupt("negative n_features, n_trees or n_nodes");
  f.n_outputs = static_cast<int32_t>(n_outputs);
  if (version >= 2) {
    const std::string multi = r.string_attr("multi_class");
    if (multi != "joint" && multi != "ovr")
      r.corrupt("unknown multi_class '" + multi + "' (expected joint or ovr)");
    f.one_vs_rest = multi == "ovr";
  }

  m.feature_names = r.read_strings("/feature_names");
  expect_size(r, "/feature_names", m.feature_names.size(), static_cast<std::size_t>(n_features),
              "n_features");
  m.class_labels = r.read_strings("/class_labels");
  r.read_numeric("/feature_importances", H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, m.feature_importances);
  r.read_numeric("/trees/offsets", H5T_INTEGER, H5T_NATIVE_INT64, 1, f.tree_offsets);
  expect_size(r, "/trees/offsets", f.tree_offsets.size(), static_cast<std::size_t>(n_trees) + 1,
              "n_trees + 1");

  const auto nn = static_cast<std::size_t>(n_nodes);
  r.read_numeric("/nodes/feature", H5T_INTEGER, H5T_NATIVE_INT32, 1, f.feature);
  expect_size(r, "/nodes/feature", f.feature.size(), nn, "n_nodes");
  r.read_numeric("/nodes/threshold", H5T_FLOAT, H5T_NATIVE_FLOAT, 1, f.threshold);
  expect_size(r, "/nodes/threshold", f.threshold.size(), nn, "n_nodes");
  r.read_numeric("/nodes/left_child", H5T_INTEGER, H5T_NATIVE_INT32, 1, f.left_child);
  expect_size(r, "/nodes/left_child", f.left_child.size(), nn, "n_nodes");
  r.read_numeric("/nodes/default_left", H5T_INTEGER, H5T_NATIVE_UINT8, 1, f.default_left);
  expect_size(r, "/nodes/default_left", f.default_left.size(), nn, "n_nodes");
  r.read_numeric("/nodes/n_samples", H5T_INTEGER, H5T_NATIVE_INT64, 1, f.n_samples);
  expect_size(r, "/nodes/n_samples", f.n_samples.size(), nn, "n_nodes");
  r.read_numeric("/nodes/weight", H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, f.weight);
  expect_size(r, "/nodes/weight", f.weight.size(), nn, "n_nodes");
  std::vector<hsize_t> value_dims;
  r.read_numeric("/nodes/value", H5T_FLOAT, H5T_NATIVE_FLOAT, 2, f.value, &value_dims);
  if (value_dims[0] != static_cast<hsize_t>(n_nodes) ||
      value_dims[1] != static_cast<hsize_t>(f.values_per_node()))
    r.corrupt("/nodes/value has shape (" + std::to_string(value_dims[0]) + ", " +
              std::to_string(value_dims[1]) + "), expected (n_nodes, " +
              (f.one_vs_rest ? "1 for one-vs-rest" : "n_outputs") + ") = (" + std::to_string(n_nodes) +
              ", " + std::to_string(f.values_per_node()) + ")");

  std::string computed = model_checksum(m);
  if (computed != stored_checksum)
    r.corrupt("checksum mismatch (stored " + stored_checksum + ", computed " + computed + ")");
  try {
    validate_model(m);
  } catch (const ModelError& e) {
    r.corrupt(e.what());
  }
  return m;
}

}  // namespace canopy
