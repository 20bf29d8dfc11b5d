#include "io/hdf5_data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace canopy {
namespace {

constexpr hsize_t kSlabRows = 65536;                  // rows per H5Dread of a matrix
constexpr hsize_t kColumnSlabRows = 1 << 20;          // rows per H5Dread of a 1-D column
constexpr hsize_t kMaxSlabElements = hsize_t(1) << 24;  // cap on a matrix slab buffer

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string absolute(const std::string& p) { return !p.empty() && p[0] == '/' ? p : "/" + p; }

// Trims spaces at both ends.
std::string trimmed(std::string s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

bool is_missing_text(const std::string& s) {
  return s.empty() || s == "NA" || s == "NaN" || s == "nan" || s == "?";
}

// ---------------------------------------------------------------- objects

// True when every link along `path` exists (H5Lexists needs the parents).
bool link_exists(hid_t loc, const std::string& path) {
  std::string prefix = !path.empty() && path[0] == '/' ? "/" : "";
  size_t i = prefix.size();
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      prefix += path.substr(i, j - i);
      htri_t e = H5Lexists(loc, prefix.c_str(), H5P_DEFAULT);
      if (e <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
      prefix += "/";
    }
    i = j + 1;
  }
  return true;
}

enum class Kind { kMissing, kDataset, kGroup, kOther };

Kind object_kind(hid_t loc, const std::string& path) {
  if (!link_exists(loc, path)) return Kind::kMissing;
  hid_t id = H5Oopen(loc, path.c_str(), H5P_DEFAULT);
  if (id < 0) {  // e.g. a dangling soft link
    H5Eclear2(H5E_DEFAULT);
    return Kind::kMissing;
  }
  H5Handle obj = h5_object(id);
  switch (H5Iget_type(id)) {
    case H5I_DATASET:
      return Kind::kDataset;
    case H5I_GROUP:
      return Kind::kGroup;
    default:
      return Kind::kOther;
  }
}

// An open dataset with its shape, type class and chunk height.
struct DsInfo {
  H5Handle ds;
  std::string name;  // for messages: "/y", or the column name in layout (b)
  int rank = 0;
  hsize_t dims[2] = {0, 1};
  H5T_class_t type_class = H5T_NO_CLASS;
  hsize_t chunk_rows = 0;  // 0 = not chunked

  hsize_t rows() const { return dims[0]; }
  bool numeric() const { return type_class == H5T_INTEGER || type_class == H5T_FLOAT; }
};

DsInfo open_dataset(hid_t loc, const std::string& path, const std::string& name,
                    const std::string& file) {
  DsInfo info;
  info.name = name;
  if (object_kind(loc, path) != Kind::kDataset) {
    throw DataError(file + ": dataset " + quoted(name) + " not found");
  }
  info.ds = h5_check(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose,
                     file + ": cannot open dataset " + quoted(name));
  H5Handle space = h5_check(H5Dget_space(info.ds.get()), H5Sclose, file + ": " + name);
  info.rank = H5Sget_simple_extent_ndims(space.get());
  if (info.rank < 0) throw_hdf5_error(file + ": " + name);
  if (info.rank == 1 || info.rank == 2) H5Sget_simple_extent_dims(space.get(), info.dims, nullptr);
  H5Handle type = h5_check(H5Dget_type(info.ds.get()), H5Tclose, file + ": " + name);
  info.type_class = H5Tget_class(type.get());
  H5Handle dcpl = h5_check(H5Dget_create_plist(info.ds.get()), H5Pclose, file + ": " + name);
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED && info.rank >= 1 && info.rank <= 2) {
    hsize_t chunk[2] = {0, 0};
    if (H5Pget_chunk(dcpl.get(), 2, chunk) >= 1) info.chunk_rows = chunk[0];
  }
  return info;
}

// Rows per read: about `target` rows (at most kMaxSlabElements values), rounded
// to whole chunks so each chunk is decompressed once.
hsize_t slab_rows(const DsInfo& info, hsize_t target) {
  hsize_t width = info.rank == 2 ? std::max<hsize_t>(1, info.dims[1]) : 1;
  hsize_t rows = std::max<hsize_t>(1, std::min(target, kMaxSlabElements / width));
  if (info.chunk_rows > 0) rows = std::max(info.chunk_rows, rows / info.chunk_rows * info.chunk_rows);
  return rows;
}

// Reads rows [start, start + count) (all columns of a 2-D dataset) into `out`,
// converted to `mem_type`.
void read_rows(const DsInfo& info, hid_t mem_type, hsize_t start, hsize_t count, void* out,
               const std::string& file) {
  const std::string what = file + ": cannot read " + info.name;
  H5Handle fspace = h5_check(H5Dget_space(info.ds.get()), H5Sclose, what);
  hsize_t off[2] = {start, 0};
  hsize_t cnt[2] = {count, info.rank == 2 ? info.dims[1] : 1};
  h5_check_status(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, off, nullptr, cnt, nullptr), what);
  // Memory space of the same shape as the selection: HDF5 then copies whole
  // rows instead of iterating element by element.
  H5Handle mspace = h5_check(H5Screate_simple(info.rank == 2 ? 2 : 1, cnt, nullptr), H5Sclose, what);
  h5_check_status(H5Dread(info.ds.get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, out), what);
}

template <class T>
std::vector<T> read_numeric_column(const DsInfo& info, hid_t mem_type, const std::string& file) {
  std::vector<T> out(info.rows());
  const hsize_t slab = slab_rows(info, kColumnSlabRows);
  for (hsize_t start = 0; start < info.rows(); start += slab) {
    read_rows(info, mem_type, start, std::min(slab, info.rows() - start), out.data() + start, file);
  }
  return out;
}

void reclaim_vlen(hid_t type, hid_t space, void* buf) {
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

// A fixed-length HDF5 string: up to the first NUL, trailing pad spaces dropped.
std::string fixed_string(const char* p, size_t size) {
  size_t len = strnlen(p, size);
  while (len > 0 && p[len - 1] == ' ') --len;
  return std::string(p, len);
}

// Memory type for reading variable-length strings of `file_type`'s charset.
H5Handle vlen_string_type(hid_t file_type, const std::string& what) {
  H5Handle t = h5_check(H5Tcopy(H5T_C_S1), H5Tclose, what);
  h5_check_status(H5Tset_size(t.get(), H5T_VARIABLE), what);
  h5_check_status(H5Tset_cset(t.get(), H5Tget_cset(file_type)), what);
  return t;
}

std::vector<std::string> read_string_column(const DsInfo& info, const std::string& file) {
  const std::string what = file + ": cannot read " + info.name;
  H5Handle ftype = h5_check(H5Dget_type(info.ds.get()), H5Tclose, what);
  const bool vlen = H5Tis_variable_str(ftype.get()) > 0;
  const size_t size = H5Tget_size(ftype.get());
  std::vector<std::string> out;
  out.reserve(info.rows());
  const hsize_t slab = slab_rows(info, kSlabRows);
  if (vlen) {
    H5Handle mtype = vlen_string_type(ftype.get(), what);
    std::vector<char*> buf;
    for (hsize_t start = 0; start < info.rows(); start += slab) {
      hsize_t count = std::min(slab, info.rows() - start);
      buf.assign(count, nullptr);
      read_rows(info, mtype.get(), start, count, buf.data(), file);
      for (char* s : buf) out.emplace_back(s ? s : "");
      H5Handle mspace = h5_space(H5Screate_simple(1, &count, nullptr));
      reclaim_vlen(mtype.get(), mspace.get(), buf.data());
    }
  } else {
    std::vector<char> buf;
    for (hsize_t start = 0; start < info.rows(); start += slab) {
      hsize_t count = std::min(slab, info.rows() - start);
      buf.assign(count * size, 0);
      read_rows(info, ftype.get(), start, count, buf.data(), file);
      for (hsize_t i = 0; i < count; ++i) out.push_back(fixed_string(buf.data() + i * size, size));
    }
  }
  return out;
}

// Reads a string (or string array) attribute; `what` prefixes errors.
std::vector<std::string> read_string_attribute(hid_t obj, const char* name, const std::string& what) {
  H5Handle attr = h5_check(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose, what);
  H5Handle ftype = h5_check(H5Aget_type(attr.get()), H5Tclose, what);
  if (H5Tget_class(ftype.get()) != H5T_STRING) throw DataError(what + ": not a string attribute");
  H5Handle space = h5_check(H5Aget_space(attr.get()), H5Sclose, what);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw_hdf5_error(what);
  std::vector<std::string> out;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    H5Handle mtype = vlen_string_type(ftype.get(), what);
    std::vector<char*> buf(static_cast<size_t>(n), nullptr);
    h5_check_status(H5Aread(attr.get(), mtype.get(), buf.data()), what);
    for (char* s : buf) out.emplace_back(s ? s : "");
    reclaim_vlen(mtype.get(), space.get(), buf.data());
  } else {
    size_t size = H5Tget_size(ftype.get());
    std::vector<char> buf(static_cast<size_t>(n) * size, 0);
    h5_check_status(H5Aread(attr.get(), ftype.get(), buf.data()), what);
    for (hssize_t i = 0; i < n; ++i) out.push_back(fixed_string(buf.data() + i * size, size));
  }
  return out;
}

// The value of a scalar string attribute, or "" when absent or not a string.
std::string optional_string_attribute(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return "";
  }
  try {
    auto v = read_string_attribute(obj, name, name);
    return v.size() == 1 ? v[0] : "";
  } catch (const DataError&) {
    return "";
  }
}

// Link names of `group`: creation order when tracked, else name order.
std::vector<std::string> link_names(hid_t group, const std::string& what) {
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  unsigned flags = 0;
  H5Handle gcpl = h5_check(H5Gget_create_plist(group), H5Pclose, what);
  H5Pget_link_creation_order(gcpl.get(), &flags);
  std::vector<std::string> names;
  if (flags & H5P_CRT_ORDER_TRACKED) {
    hsize_t idx = 0;
    if (H5Literate(group, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, collect, &names) >= 0) return names;
    H5Eclear2(H5E_DEFAULT);
    names.clear();
  }
  hsize_t idx = 0;
  h5_check_status(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &names), what);
  return names;
}

H5Handle open_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw DataError("cannot open " + path + " as HDF5: " + std::strerror(errno));
  std::fclose(f);
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw DataError("cannot open " + path + " as HDF5: not an HDF5 file (no HDF5 signature)");
  }
  return h5_check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose,
                  "cannot open " + path + " as HDF5");
}

// ---------------------------------------------------------------- roles

void require_numeric(const DsInfo& info, const std::string& file, const char* role) {
  if (!info.numeric()) {
    throw DataError(file + ": " + info.name + " (" + role +
                    ") must hold integers or floats, found another type");
  }
}

void require_column(const DsInfo& info, const std::string& file) {
  if (info.rank != 1 && !(info.rank == 2 && info.dims[1] == 1)) {
    throw DataError(file + ": " + info.name + " must be 1-D, found rank " + std::to_string(info.rank) +
                    (info.rank == 2 ? " with " + std::to_string(info.dims[1]) + " columns" : ""));
  }
}

void read_label(const DsInfo& y, const std::string& label_name, const std::string& file, Dataset& d) {
  d.label_name = label_name;
  const std::string at = file + ": dataset " + quoted(y.name) + " row ";
  if (y.type_class == H5T_STRING) {
    d.label_text = read_string_column(y, file);
    for (size_t i = 0; i < d.label_text.size(); ++i) {
      d.label_text[i] = trimmed(std::move(d.label_text[i]));
      if (is_missing_text(d.label_text[i])) {
        throw DataError(at + std::to_string(i) + " (0-based): missing label " + quoted(d.label_text[i]));
      }
    }
  } else if (y.numeric()) {
    d.label_numeric = read_numeric_column<double>(y, H5T_NATIVE_DOUBLE, file);
    for (size_t i = 0; i < d.label_numeric.size(); ++i) {
      double v = d.label_numeric[i];
      if (std::isnan(v)) throw DataError(at + std::to_string(i) + " (0-based): missing label (NaN)");
      if (std::isinf(v)) throw DataError(at + std::to_string(i) + " (0-based): label is infinite");
    }
  } else {
    throw DataError(file + ": " + y.name + " (label) must hold numbers or strings, found another type");
  }
}

void read_weights(const DsInfo& w, const std::string& file, Dataset& d) {
  require_numeric(w, file, "sample weight");
  d.sample_weight = read_numeric_column<double>(w, H5T_NATIVE_DOUBLE, file);
  for (size_t i = 0; i < d.sample_weight.size(); ++i) {
    double v = d.sample_weight[i];
    if (!std::isfinite(v) || v < 0) {
      throw DataError(file + ": dataset " + quoted(w.name) + " row " + std::to_string(i) +
                      " (0-based): sample weight must be finite and >= 0, found " + std::to_string(v));
    }
  }
}

void check_rows(const DsInfo& x, const DsInfo& other, const std::string& file) {
  if (other.rows() != x.rows()) {
    throw DataError(file + ": " + x.name + " has " + std::to_string(x.rows()) + " rows but " +
                    other.name + " has " + std::to_string(other.rows()));
  }
}

// ---------------------------------------------------------------- layout (a)

void read_matrix_layout(hid_t file_id, const std::string& file, const std::string& x_path,
                        const ReadOptions& opt, Dataset& d) {
  DsInfo x = open_dataset(file_id, x_path, absolute(x_path), file);
  if (x.rank != 2) {
    throw DataError(file + ": " + x.name + " must be 2-D (rows x features), found rank " +
                    std::to_string(x.rank));
  }
  require_numeric(x, file, "features");
  const hsize_t n = x.dims[0], m = x.dims[1];
  if (m == 0) throw DataError(file + ": " + x.name + " has no feature columns");

  std::string y_path = opt.label.empty() && opt.require_label ? "/y" : opt.label;
  DsInfo y, w;
  if (opt.require_label) {
    y = open_dataset(file_id, y_path, absolute(y_path), file);
    require_column(y, file);
    check_rows(x, y, file);
  }
  if (!opt.weight_column.empty()) {
    w = open_dataset(file_id, opt.weight_column, absolute(opt.weight_column), file);
    require_column(w, file);
    check_rows(x, w, file);
  }
  if (n == 0) throw DataError(file + ": no data rows");

  if (H5Aexists(x.ds.get(), "feature_names") > 0) {
    d.feature_names = read_string_attribute(x.ds.get(), "feature_names",
                                            file + ": attribute feature_names of " + x.name);
    if (d.feature_names.size() != m) {
      throw DataError(file + ": attribute feature_names of " + x.name + " has " +
                      std::to_string(d.feature_names.size()) + " names but " + x.name + " has " +
                      std::to_string(m) + " columns");
    }
  } else {
    H5Eclear2(H5E_DEFAULT);
    for (hsize_t j = 0; j < m; ++j) d.feature_names.push_back("f" + std::to_string(j));
  }

  d.columns.assign(m, std::vector<float>(n));
  const hsize_t slab = slab_rows(x, kSlabRows);
  std::vector<float> buf(std::min(slab, n) * m);
  for (hsize_t start = 0; start < n; start += slab) {
    const hsize_t count = std::min(slab, n - start);
    read_rows(x, H5T_NATIVE_FLOAT, start, count, buf.data(), file);
    const float* src = buf.data();
    const long long mm = static_cast<long long>(m);
#pragma omp parallel for schedule(static) if (mm >= 4 && count >= 4096)
    for (long long j = 0; j < mm; ++j) {
      float* dst = d.columns[j].data() + start;
      for (hsize_t r = 0; r < count; ++r) dst[r] = src[r * m + j];
    }
  }
  if (y.ds) read_label(y, y.name.substr(y.name.find_last_of('/') + 1), file, d);
  if (w.ds) read_weights(w, file, d);
}

// ---------------------------------------------------------------- layout (b)

// Reads the group of columns; returns false when the group holds no 1-D
// datasets at all.
bool read_column_layout(hid_t group, const std::string& prefix, const std::string& file,
                        const ReadOptions& opt, Dataset& d) {
  std::vector<DsInfo> cols;
  std::vector<std::string> names;
  for (const std::string& link : link_names(group, file + ": cannot list " + prefix)) {
    if (object_kind(group, link) != Kind::kDataset) continue;
    DsInfo info = open_dataset(group, link, link, file);
    if (info.rank == 0) continue;  // scalar metadata
    if (info.rank != 1) {
      throw DataError(file + ": " + prefix + link + " has rank " + std::to_string(info.rank) +
                      "; a group of columns holds only 1-D datasets");
    }
    names.push_back(link);
    cols.push_back(std::move(info));
  }
  if (cols.empty()) return false;
  auto find = [&](const std::string& name) {
    auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
  };
  auto column_list = [&] {
    std::string s;
    for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
    return s;
  };
  auto strip = [&](std::string s) {  // "/y" or "/group/y" -> "y"
    if (s.compare(0, prefix.size(), prefix) == 0) s = s.substr(prefix.size());
    return s;
  };

  int label = -1;
  std::string label_name = strip(opt.label);
  if (label_name.empty()) label_name = optional_string_attribute(group, "label");
  if (!label_name.empty()) {
    label = find(label_name);
    if (label < 0 && opt.require_label && !opt.label.empty()) {
      throw DataError(file + ": label column " + quoted(opt.label) + " not found; columns are: " +
                      column_list());
    }
  }
  if (label < 0 && opt.require_label) label = static_cast<int>(cols.size()) - 1;

  int weight = -1;
  if (!opt.weight_column.empty()) {
    weight = find(strip(opt.weight_column));
    if (weight < 0) {
      throw DataError(file + ": weight column " + quoted(opt.weight_column) +
                      " not found; columns are: " + column_list());
    }
  } else {
    weight = find(optional_string_attribute(group, "sample_weight_column"));
  }
  if (weight >= 0 && weight == label) {
    throw DataError(file + ": column " + quoted(names[weight]) +
                    " cannot be both the label and the weight column");
  }

  for (size_t i = 1; i < cols.size(); ++i) {
    if (cols[i].rows() != cols[0].rows()) {
      throw DataError(file + ": column " + quoted(names[i]) + " has " + std::to_string(cols[i].rows()) +
                      " rows but " + quoted(names[0]) + " has " + std::to_string(cols[0].rows()));
    }
  }
  if (cols[0].rows() == 0) throw DataError(file + ": no data rows");

  for (size_t i = 0; i < cols.size(); ++i) {
    if (static_cast<int>(i) == label || static_cast<int>(i) == weight) continue;
    if (!cols[i].numeric()) {
      throw DataError(file + ": column " + quoted(names[i]) +
                      " is not numeric; feature columns must hold integers or floats");
    }
    d.feature_names.push_back(names[i]);
    d.columns.push_back(read_numeric_column<float>(cols[i], H5T_NATIVE_FLOAT, file));
  }
  if (d.columns.empty()) {
    throw DataError(file + ": no feature columns (columns are: " + column_list() + ")");
  }
  if (label >= 0 && opt.require_label) read_label(cols[label], names[label], file, d);
  if (weight >= 0) read_weights(cols[weight], file, d);
  return true;
}

// ---------------------------------------------------------------- writing

H5Handle column_dcpl(std::size_t n) {
  const std::string what = "cannot create a dataset creation property list";
  H5Handle dcpl = h5_check(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, what);
  h5_check_status(H5Pset_obj_track_times(dcpl.get(), false), what);
  if (n > 0) {
    hsize_t chunk = std::min<hsize_t>(n, 65536);
    h5_check_status(H5Pset_chunk(dcpl.get(), 1, &chunk), what);
    h5_check_status(H5Pset_shuffle(dcpl.get()), what);
    h5_check_status(H5Pset_deflate(dcpl.get(), 4), what);
  }
  return dcpl;
}

H5Handle vlen_utf8_type() {
  H5Handle t = h5_check(H5Tcopy(H5T_C_S1), H5Tclose, "cannot create a string type");
  h5_check_status(H5Tset_size(t.get(), H5T_VARIABLE), "cannot create a string type");
  h5_check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "cannot create a string type");
  return t;
}

}  // namespace

Dataset read_hdf5(const std::string& path, const ReadOptions& opt) {
  silence_hdf5_errors();
  H5Handle file = open_file(path);
  const std::string features = opt.features.empty() ? "/X" : opt.features;
  Dataset d;
  d.source = path;
  switch (object_kind(file.get(), features)) {
    case Kind::kDataset:
      read_matrix_layout(file.get(), path, features, opt, d);
      break;
    case Kind::kGroup: {
      H5Handle group = h5_check(H5Gopen2(file.get(), features.c_str(), H5P_DEFAULT), H5Gclose,
                                path + ": cannot open group " + features);
      std::string prefix = absolute(features);
      if (prefix.back() != '/') prefix += '/';
      if (!read_column_layout(group.get(), prefix, path, opt, d)) {
        throw DataError(path + ": group " + quoted(absolute(features)) + " holds no 1-D datasets");
      }
      break;
    }
    case Kind::kOther:
      throw DataError(path + ": " + absolute(features) + " is neither a dataset nor a group");
    case Kind::kMissing: {
      if (absolute(features) != "/X") {
        throw DataError(path + ": dataset " + quoted(absolute(features)) + " not found");
      }
      H5Handle root = h5_check(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose,
                               path + ": cannot open the root group");
      if (!read_column_layout(root.get(), "/", path, opt, d)) {
        throw DataError(path + ": dataset \"/X\" not found, and the root group holds no 1-D datasets");
      }
      break;
    }
  }
  return d;
}

void write_hdf5_columns(const std::string& path, const Dataset& d) {
  const std::size_t n = d.n_rows();
  for (std::size_t j = 0; j < d.columns.size(); ++j) {
    if (d.columns[j].size() != n) throw std::invalid_argument("write_hdf5_columns: ragged feature columns");
  }
  if (d.feature_names.size() != d.columns.size()) {
    throw std::invalid_argument("write_hdf5_columns: feature_names and columns differ in size");
  }
  if (!d.sample_weight.empty() && d.sample_weight.size() != n) {
    throw std::invalid_argument("write_hdf5_columns: sample_weight has the wrong length");
  }
  if (d.has_label() && (d.label_is_text() ? d.label_text.size() : d.label_numeric.size()) != n) {
    throw std::invalid_argument("write_hdf5_columns: label has the wrong length");
  }
  Hdf5ColumnWriter w(path);
  for (std::size_t j = 0; j < d.columns.size(); ++j) {
    w.add_float32(d.feature_names[j], d.columns[j].data(), n);
  }
  if (!d.sample_weight.empty()) {
    w.add_float64("sample_weight", d.sample_weight.data(), n);
    w.set_attribute("sample_weight_column", "sample_weight");
  }
  if (d.has_label()) {
    if (d.label_is_text()) {
      w.add_strings(d.label_name, d.label_text);
    } else {
      w.add_float64(d.label_name, d.label_numeric.data(), n);
    }
    w.set_attribute("label", Hdf5ColumnWriter::dataset_name(d.label_name));
  }
  w.commit();
}

// ---------------------------------------------------------------- Hdf5ColumnWriter

Hdf5ColumnWriter::Hdf5ColumnWriter(const std::string& path) : path_(path), tmp_(path + ".tmp") {
  silence_hdf5_errors();
  const std::string what = "cannot write " + path;
  H5Handle fcpl = h5_check(H5Pcreate(H5P_FILE_CREATE), H5Pclose, what);
  h5_check_status(
      H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), what);
  h5_check_status(H5Pset_obj_track_times(fcpl.get(), false), what);
  file_ = h5_check(H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose, what);
}

Hdf5ColumnWriter::~Hdf5ColumnWriter() {
  if (!committed_) {
    file_.close();
    std::remove(tmp_.c_str());
  }
}

std::string Hdf5ColumnWriter::dataset_name(const std::string& column_name) {
  std::string s = column_name;
  std::replace(s.begin(), s.end(), '/', '_');
  if (s.empty() || s == ".") s = "_";
  return s;
}

std::string Hdf5ColumnWriter::claim_name(const std::string& column_name) {
  std::string s = dataset_name(column_name);
  if (!names_.insert(s).second) {
    throw DataError("cannot write " + path_ + ": duplicate column name " + quoted(s));
  }
  return s;
}

void Hdf5ColumnWriter::add_numeric(const std::string& name, hid_t file_type, hid_t mem_type,
                                   const void* data, std::size_t n) {
  silence_hdf5_errors();
  const std::string ds_name = claim_name(name);
  const std::string what = "cannot write column " + quoted(ds_name) + " to " + path_;
  hsize_t dims = n;
  H5Handle space = h5_check(H5Screate_simple(1, &dims, nullptr), H5Sclose, what);
  H5Handle dcpl = column_dcpl(n);
  H5Handle ds = h5_check(H5Dcreate2(file_.get(), ds_name.c_str(), file_type, space.get(), H5P_DEFAULT,
                                    dcpl.get(), H5P_DEFAULT),
                         H5Dclose, what);
  if (n > 0) h5_check_status(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), what);
  if (!ds.close()) throw_hdf5_error(what);
}

void Hdf5ColumnWriter::add_float32(const std::string& name, const float* data, std::size_t n) {
  add_numeric(name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data, n);
}

void Hdf5ColumnWriter::add_float64(const std::string& name, const double* data, std::size_t n) {
  add_numeric(name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data, n);
}

void Hdf5ColumnWriter::add_strings(const std::string& name, const std::vector<std::string>& values) {
  silence_hdf5_errors();
  const std::string ds_name = claim_name(name);
  const std::string what = "cannot write column " + quoted(ds_name) + " to " + path_;
  hsize_t dims = values.size();
  H5Handle type = vlen_utf8_type();
  H5Handle space = h5_check(H5Screate_simple(1, &dims, nullptr), H5Sclose, what);
  H5Handle dcpl = column_dcpl(values.size());
  H5Handle ds = h5_check(H5Dcreate2(file_.get(), ds_name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                    dcpl.get(), H5P_DEFAULT),
                         H5Dclose, what);
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const std::string& s : values) ptrs.push_back(s.c_str());
  if (!values.empty()) {
    h5_check_status(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), what);
  }
  if (!ds.close()) throw_hdf5_error(what);
}

void Hdf5ColumnWriter::set_attribute(const std::string& name, const std::string& value) {
  silence_hdf5_errors();
  const std::string what = "cannot write attribute " + quoted(name) + " to " + path_;
  if (H5Aexists(file_.get(), name.c_str()) > 0) {
    h5_check_status(H5Adelete(file_.get(), name.c_str()), what);
  }
  H5Handle type = vlen_utf8_type();
  H5Handle space = h5_check(H5Screate(H5S_SCALAR), H5Sclose, what);
  H5Handle attr = h5_check(
      H5Acreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
      what);
  const char* ptr = value.c_str();
  h5_check_status(H5Awrite(attr.get(), type.get(), &ptr), what);
}

void Hdf5ColumnWriter::commit() {
  silence_hdf5_errors();
  if (!file_.close()) throw_hdf5_error("cannot write " + path_);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    throw DataError("cannot rename " + tmp_ + " to " + path_ + ": " + std::strerror(errno));
  }
  committed_ = true;
}

}  // namespace canopy
