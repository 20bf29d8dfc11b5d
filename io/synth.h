#pragma once
// Synthetic datasets in the spirit of scikit-learn's make_classification and
// make_regression, generated with counter-based randomness (canopy::philox,
// stream kStreamSynth) so every value is a pure function of (spec, row,
// feature): output is identical for any thread count and slab size.
//
// Columns, in order: `informative` features, `redundant` features (fixed
// random linear combinations of the informative ones), then noise features
// (independent N(0, 1)).
//  - classification: each row draws a class uniformly, then one of the class's
//    clusters; every cluster sits at its own vertex of a hypercube of side
//    2 * class_sep in the informative subspace, with a per-cluster per-axis
//    spread in [0.5, 1.5). A fraction flip_fraction of rows then get a class
//    drawn uniformly at random (label noise). Labels are class ids 0..classes-1.
//  - regression: informative features are N(0, 1) and
//    y = sum_i w_i * x_i + noise * N(0, 1) with fixed weights w_i in [0, 100).
// With missing_fraction > 0 each feature value is independently replaced by
// NaN with that probability (after y is computed).
#include <cstdint>
#include <string>

#include "io/dataset.h"

namespace canopy {

struct SynthSpec {
  std::string task = "classification";  // or "regression"
  int64_t rows = 1000;
  int features = 20;
  int classes = 2;              // classification only
  int informative = -1;         // -1: max(2, features / 3), at most features
  int redundant = -1;           // -1: features / 6, at most features - informative
  int clusters_per_class = 2;   // lowered automatically so clusters fit 2^informative vertices
  double class_sep = 1.0;
  double flip_fraction = 0.01;  // classification label noise
  double noise = 1.0;           // regression: std of the noise added to y
  double missing_fraction = 0;  // per-cell probability of NaN, in [0, 1)
  uint64_t seed = 0;
  int compression = 0;          // deflate level for /X and /y (0 = none, fastest)
};

// Fills in the -1 defaults and checks every field; throws std::invalid_argument
// naming the parameter ("synth: features must be >= 2 (got 1)").
SynthSpec resolve_synth_spec(const SynthSpec& spec);

// Generates rows [begin, end) of the resolved spec: X row-major
// ((end - begin) x features) and y (class ids as floats, or targets).
// OpenMP-parallel; the result does not depend on the thread count.
void generate_synthetic(const SynthSpec& spec, int64_t begin, int64_t end, float* X, float* y);

// The whole dataset in memory (feature names f0.., label "y", numeric labels).
Dataset make_synthetic_dataset(const SynthSpec& spec);

// Writes an HDF5 file readable by read_hdf5's matrix layout: /X (float32,
// rows x features, chunked by rows) with attribute feature_names (f0, f1, ...),
// /y (int32 class ids, or float32 targets), and root attributes recording the
// resolved spec (generator, task, rows, features, classes, informative,
// redundant, clusters_per_class, class_sep, flip_fraction, noise,
// missing_fraction, seed). Generated and written in slabs of rows, so memory
// stays bounded; atomic (tmp + rename); identical bytes for identical specs.
void write_synthetic_hdf5(const SynthSpec& spec, const std::string& path);

}  // namespace canopy
