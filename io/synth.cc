#include "io/synth.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "io/hdf5_handle.h"
#include "kernels/rng.h"

namespace canopy {
namespace {

// Counter layout for stream kStreamSynth: (a, b, c) =
//   data:       (row low 32 bits, block, (row >> 32) << 1)   -- c even
//   parameters: (index, index2, odd tag)                      -- c odd
constexpr uint32_t kMetaBlock = 0xFFFFFFFFu;      // class, cluster, flip / regression noise
constexpr uint32_t kMissingBlock = 0x80000000u;   // + feature / 4: missing-value draws
constexpr uint32_t kTagVertex = 1, kTagScale = 3, kTagRedundant = 5, kTagWeights = 7, kTagHighBits = 9;

constexpr float kTwoPi = 6.283185307179586f;

inline float unit_open(uint32_t w) {  // (0, 1), 24 bits
  return (static_cast<float>(w >> 8) + 0.5f) * (1.0f / 16777216.0f);
}
inline double unit(uint32_t w) { return w * (1.0 / 4294967296.0); }  // [0, 1)

// Two standard normals from two words (Box–Muller).
inline void box_muller(uint32_t w0, uint32_t w1, float& z0, float& z1) {
  const float r = std::sqrt(-2.0f * std::log(unit_open(w0)));
  const float t = kTwoPi * unit_open(w1);
  z0 = r * std::cos(t);
  z1 = r * std::sin(t);
}

// Probability -> 32-bit threshold: a word w hits when w < threshold.
inline uint64_t threshold(double p) {
  return static_cast<uint64_t>(std::min(1.0, std::max(0.0, p)) * 4294967296.0);
}

[[noreturn]] void bad(const std::string& msg) { throw std::invalid_argument("synth: " + msg); }

// Fixed model parameters drawn from the seed, then rows on demand.
class Generator {
 public:
  explicit Generator(const SynthSpec& s) : s_(s) {
    classification_ = s.task == "classification";
    inf_ = s.informative;
    red_ = s.redundant;
    n_normals_ = s.features - red_;
    n_blocks_ = (n_normals_ + 3) / 4;
    flip_ = threshold(classification_ ? s.flip_fraction : 0);
    missing_ = threshold(s.missing_fraction);
    clusters_ = s.clusters_per_class;
    const uint64_t seed = s.seed;
    if (classification_) {
      // Distinct hypercube vertices: an odd-multiplier affine map is a
      // bijection on the low k bits; higher axes get independent random bits.
      const int k = std::min(inf_, 32);
      const uint64_t mask = k == 64 ? ~0ull : ((1ull << k) - 1);
      Philox4 p = philox(seed, kStreamSynth, 0, 0, kTagVertex);
      const uint64_t mul = (static_cast<uint64_t>(p.v[0]) << 1) | 1, add = p.v[1];
      const int total = s.classes * clusters_;
      centroid_.resize(static_cast<size_t>(total) * inf_);
      scale_.resize(centroid_.size());
      for (int q = 0; q < total; ++q) {
        const uint64_t vertex = (mul * static_cast<uint64_t>(q) + add) & mask;
        for (int i = 0; i < inf_; ++i) {
          bool bit = i < k ? (vertex >> i) & 1
                           : philox(seed, kStreamSynth, q, i, kTagHighBits).v[0] & 1;
          centroid_[q * inf_ + i] = static_cast<float>(bit ? s.class_sep : -s.class_sep);
          scale_[q * inf_ + i] =
              static_cast<float>(0.5 + unit(philox(seed, kStreamSynth, q, i, kTagScale).v[0]));
        }
      }
    } else {
      for (int i = 0; i < inf_; ++i) {
        weight_.push_back(static_cast<float>(100.0 * unit(philox(seed, kStreamSynth, i, 0, kTagWeights).v[0])));
      }
    }
    for (int i = 0; i < inf_; ++i) {
      for (int j = 0; j < red_; ++j) {
        mix_.push_back(static_cast<float>(2.0 * unit(philox(seed, kStreamSynth, i, j, kTagRedundant).v[0]) - 1.0));
      }
    }
  }

  void rows(int64_t begin, int64_t end, float* X, float* y) const {
    const long long n = end - begin;
#pragma omp parallel
    {
      std::vector<float> z(static_cast<size_t>(n_blocks_) * 4);
#pragma omp for schedule(static, 1024)
      for (long long i = 0; i < n; ++i) {
        row(begin + i, X + static_cast<size_t>(i) * s_.features, y + i, z.data());
      }
    }
  }

 private:
  void row(int64_t r, float* x, float* y, float* z) const {
    const uint64_t seed = s_.seed;
    const uint32_t a = static_cast<uint32_t>(r), c = static_cast<uint32_t>(static_cast<uint64_t>(r) >> 32) << 1;
    for (int b = 0; b < n_blocks_; ++b) {
      Philox4 p = philox(seed, kStreamSynth, a, static_cast<uint32_t>(b), c);
      box_muller(p.v[0], p.v[1], z[4 * b], z[4 * b + 1]);
      box_muller(p.v[2], p.v[3], z[4 * b + 2], z[4 * b + 3]);
    }
    Philox4 meta = philox(seed, kStreamSynth, a, kMetaBlock, c);
    const int F = s_.features;
    if (classification_) {
      const uint32_t cls = bounded(meta.v[0], static_cast<uint32_t>(s_.classes));
      const uint32_t q = cls * clusters_ + bounded(meta.v[1], static_cast<uint32_t>(clusters_));
      const float* cen = &centroid_[static_cast<size_t>(q) * inf_];
      const float* sc = &scale_[static_cast<size_t>(q) * inf_];
      for (int i = 0; i < inf_; ++i) x[i] = cen[i] + sc[i] * z[i];
      *y = static_cast<float>(meta.v[2] < flip_ ? bounded(meta.v[3], static_cast<uint32_t>(s_.classes)) : cls);
    } else {
      double t = 0;
      for (int i = 0; i < inf_; ++i) {
        x[i] = z[i];
        t += static_cast<double>(weight_[i]) * x[i];
      }
      float e0, e1;
      box_muller(meta.v[2], meta.v[3], e0, e1);
      *y = static_cast<float>(t + s_.noise * e0);
    }
    for (int j = 0; j < red_; ++j) {
      float v = 0;
      for (int i = 0; i < inf_; ++i) v += mix_[static_cast<size_t>(i) * red_ + j] * x[i];
      x[inf_ + j] = v;
    }
    for (int j = inf_ + red_; j < F; ++j) x[j] = z[j - red_];
    if (missing_ > 0) {
      for (int j0 = 0; j0 < F; j0 += 4) {
        Philox4 p = philox(seed, kStreamSynth, a, kMissingBlock + static_cast<uint32_t>(j0 / 4), c);
        for (int k = 0; k < 4 && j0 + k < F; ++k) {
          if (p.v[k] < missing_) x[j0 + k] = std::numeric_limits<float>::quiet_NaN();
        }
      }
    }
  }

  SynthSpec s_;
  bool classification_ = true;
  int inf_ = 0, red_ = 0, n_normals_ = 0, n_blocks_ = 0, clusters_ = 1;
  uint64_t flip_ = 0, missing_ = 0;
  std::vector<float> centroid_, scale_;  // (classes * clusters) x informative
  std::vector<float> mix_;               // informative x redundant
  std::vector<float> weight_;            // regression weights
};

// ------------------------------------------------------------- HDF5 helpers

template <class T>
void scalar_attribute(hid_t obj, const char* name, hid_t file_type, hid_t mem_type, T value,
                      const std::string& what) {
  H5Handle space = h5_check(H5Screate(H5S_SCALAR), H5Sclose, what);
  H5Handle attr = h5_check(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, what);
  h5_check_status(H5Awrite(attr.get(), mem_type, &value), what);
}

H5Handle vlen_string(const std::string& what) {
  H5Handle t = h5_check(H5Tcopy(H5T_C_S1), H5Tclose, what);
  h5_check_status(H5Tset_size(t.get(), H5T_VARIABLE), what);
  h5_check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), what);
  return t;
}

void string_attribute(hid_t obj, const char* name, const std::vector<std::string>& values, bool scalar,
                      const std::string& what) {
  H5Handle type = vlen_string(what);
  hsize_t n = values.size();
  H5Handle space = h5_check(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose, what);
  H5Handle attr = h5_check(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, what);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  h5_check_status(H5Awrite(attr.get(), type.get(), ptrs.data()), what);
}

H5Handle dataset_plist(int rank, const hsize_t* chunk, int compression, const std::string& what) {
  H5Handle dcpl = h5_check(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, what);
  h5_check_status(H5Pset_obj_track_times(dcpl.get(), false), what);
  h5_check_status(H5Pset_chunk(dcpl.get(), rank, chunk), what);
  if (compression > 0) {
    h5_check_status(H5Pset_shuffle(dcpl.get()), what);
    h5_check_status(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(compression)), what);
  }
  return dcpl;
}

// Writes rows [start, start + count) of a dataset (rank 1 or 2 with `width` columns).
void write_rows(hid_t ds, int rank, hsize_t width, hsize_t start, hsize_t count, hid_t mem_type,
                const void* data, const std::string& what) {
  H5Handle fspace = h5_check(H5Dget_space(ds), H5Sclose, what);
  hsize_t off[2] = {start, 0}, cnt[2] = {count, width};
  h5_check_status(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, off, nullptr, cnt, nullptr), what);
  H5Handle mspace = h5_check(H5Screate_simple(rank, cnt, nullptr), H5Sclose, what);
  h5_check_status(H5Dwrite(ds, mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data), what);
}

}  // namespace

SynthSpec resolve_synth_spec(const SynthSpec& spec) {
  SynthSpec s = spec;
  const bool classification = s.task == "classification";
  if (!classification && s.task != "regression") {
    bad("task must be \"classification\" or \"regression\" (got \"" + s.task + "\")");
  }
  if (s.rows < 1) bad("rows must be >= 1 (got " + std::to_string(s.rows) + ")");
  if (s.features < 2) bad("features must be >= 2 (got " + std::to_string(s.features) + ")");
  if (s.informative == -1) s.informative = std::min(s.features, std::max(2, s.features / 3));
  if (s.informative < 1 || s.informative > s.features) {
    bad("informative must be between 1 and features (" + std::to_string(s.features) + ") (got " +
        std::to_string(s.informative) + ")");
  }
  if (s.redundant == -1) s.redundant = std::min(s.features / 6, s.features - s.informative);
  if (s.redundant < 0 || s.informative + s.redundant > s.features) {
    bad("redundant must be between 0 and features - informative (" +
        std::to_string(s.features - s.informative) + ") (got " + std::to_string(s.redundant) + ")");
  }
  if (s.missing_fraction < 0 || !(s.missing_fraction < 1)) {
    bad("missing_fraction must be in [0, 1) (got " + std::to_string(s.missing_fraction) + ")");
  }
  if (s.compression < 0 || s.compression > 9) {
    bad("compression must be between 0 and 9 (got " + std::to_string(s.compression) + ")");
  }
  if (classification) {
    if (s.classes < 2) bad("classes must be >= 2 (got " + std::to_string(s.classes) + ")");
    const double vertices = std::ldexp(1.0, s.informative);
    if (s.classes > vertices) {
      bad("classes (" + std::to_string(s.classes) + ") must be <= 2^informative (" +
          std::to_string(static_cast<long long>(vertices)) + "); raise informative");
    }
    if (s.clusters_per_class < 1) {
      bad("clusters_per_class must be >= 1 (got " + std::to_string(s.clusters_per_class) + ")");
    }
    s.clusters_per_class = static_cast<int>(std::min<double>(s.clusters_per_class, std::floor(vertices / s.classes)));
    if (!(s.flip_fraction >= 0 && s.flip_fraction <= 1)) {
      bad("flip_fraction must be in [0, 1] (got " + std::to_string(s.flip_fraction) + ")");
    }
    if (!(s.class_sep >= 0) || !std::isfinite(s.class_sep)) {
      bad("class_sep must be finite and >= 0 (got " + std::to_string(s.class_sep) + ")");
    }
  } else if (!(s.noise >= 0) || !std::isfinite(s.noise)) {
    bad("noise must be finite and >= 0 (got " + std::to_string(s.noise) + ")");
  }
  return s;
}

void generate_synthetic(const SynthSpec& spec, int64_t begin, int64_t end, float* X, float* y) {
  SynthSpec s = resolve_synth_spec(spec);
  if (begin < 0 || end < begin || end > s.rows) throw std::invalid_argument("synth: row range out of bounds");
  Generator(s).rows(begin, end, X, y);
}

Dataset make_synthetic_dataset(const SynthSpec& spec) {
  SynthSpec s = resolve_synth_spec(spec);
  const size_t n = static_cast<size_t>(s.rows), F = static_cast<size_t>(s.features);
  std::vector<float> X(n * F), y(n);
  Generator(s).rows(0, s.rows, X.data(), y.data());
  Dataset d;
  d.source = "synthetic";
  d.columns.assign(F, std::vector<float>(n));
  for (size_t j = 0; j < F; ++j) {
    d.feature_names.push_back("f" + std::to_string(j));
    for (size_t r = 0; r < n; ++r) d.columns[j][r] = X[r * F + j];
  }
  d.label_name = "y";
  d.label_numeric.assign(y.begin(), y.end());
  return d;
}

void write_synthetic_hdf5(const SynthSpec& spec, const std::string& path) {
  const SynthSpec s = resolve_synth_spec(spec);
  const bool classification = s.task == "classification";
  const Generator gen(s);
  silence_hdf5_errors();
  const std::string what = "cannot write " + path;
  const std::string tmp = path + ".tmp";
  const hsize_t rows = static_cast<hsize_t>(s.rows), F = static_cast<hsize_t>(s.features);

  // Chunks of about 4 MiB of whole rows (a power of two), slabs of whole chunks.
  hsize_t chunk_rows = 1;
  while (chunk_rows * 2 * F * sizeof(float) <= (4u << 20)) chunk_rows *= 2;
  chunk_rows = std::min(chunk_rows, rows);
  const hsize_t slab = std::max<hsize_t>(1, (hsize_t(1) << 18) / chunk_rows) * chunk_rows;

  try {
    H5Handle fcpl = h5_check(H5Pcreate(H5P_FILE_CREATE), H5Pclose, what);
    h5_check_status(H5Pset_obj_track_times(fcpl.get(), false), what);
    H5Handle file = h5_check(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose, what);

    hsize_t xdims[2] = {rows, F}, xchunk[2] = {chunk_rows, F};
    H5Handle xspace = h5_check(H5Screate_simple(2, xdims, nullptr), H5Sclose, what);
    H5Handle xdcpl = dataset_plist(2, xchunk, s.compression, what);
    H5Handle X = h5_check(H5Dcreate2(file.get(), "X", H5T_IEEE_F32LE, xspace.get(), H5P_DEFAULT, xdcpl.get(),
                                     H5P_DEFAULT),
                          H5Dclose, what);
    std::vector<std::string> names;
    for (int j = 0; j < s.features; ++j) names.push_back("f" + std::to_string(j));
    string_attribute(X.get(), "feature_names", names, false, what);

    H5Handle yspace = h5_check(H5Screate_simple(1, &rows, nullptr), H5Sclose, what);
    H5Handle ydcpl = dataset_plist(1, &chunk_rows, s.compression, what);
    H5Handle Y = h5_check(H5Dcreate2(file.get(), "y", classification ? H5T_STD_I32LE : H5T_IEEE_F32LE,
                                     yspace.get(), H5P_DEFAULT, ydcpl.get(), H5P_DEFAULT),
                          H5Dclose, what);

    hid_t root = file.get();
    string_attribute(root, "generator", {"canopy synth"}, true, what);
    string_attribute(root, "task", {s.task}, true, what);
    scalar_attribute(root, "rows", H5T_STD_I64LE, H5T_NATIVE_INT64, s.rows, what);
    scalar_attribute(root, "features", H5T_STD_I32LE, H5T_NATIVE_INT, s.features, what);
    scalar_attribute(root, "classes", H5T_STD_I32LE, H5T_NATIVE_INT, classification ? s.classes : 0, what);
    scalar_attribute(root, "informative", H5T_STD_I32LE, H5T_NATIVE_INT, s.informative, what);
    scalar_attribute(root, "redundant", H5T_STD_I32LE, H5T_NATIVE_INT, s.redundant, what);
    scalar_attribute(root, "clusters_per_class", H5T_STD_I32LE, H5T_NATIVE_INT, s.clusters_per_class, what);
    scalar_attribute(root, "class_sep", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s.class_sep, what);
    scalar_attribute(root, "flip_fraction", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s.flip_fraction, what);
    scalar_attribute(root, "noise", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s.noise, what);
    scalar_attribute(root, "missing_fraction", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s.missing_fraction, what);
    scalar_attribute(root, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, s.seed, what);

    std::vector<float> xbuf(std::min(slab, rows) * F), ybuf(std::min(slab, rows));
    std::vector<int32_t> ybuf_int(classification ? ybuf.size() : 0);
    for (hsize_t start = 0; start < rows; start += slab) {
      const hsize_t count = std::min(slab, rows - start);
      gen.rows(static_cast<int64_t>(start), static_cast<int64_t>(start + count), xbuf.data(), ybuf.data());
      write_rows(X.get(), 2, F, start, count, H5T_NATIVE_FLOAT, xbuf.data(), what);
      if (classification) {
        for (hsize_t i = 0; i < count; ++i) ybuf_int[i] = static_cast<int32_t>(ybuf[i]);
        write_rows(Y.get(), 1, 1, start, count, H5T_NATIVE_INT32, ybuf_int.data(), what);
      } else {
        write_rows(Y.get(), 1, 1, start, count, H5T_NATIVE_FLOAT, ybuf.data(), what);
      }
    }
    if (!X.close() || !Y.close() || !file.close()) throw_hdf5_error(what);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      throw DataError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
    }
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

}  // namespace canopy
