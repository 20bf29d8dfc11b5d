#pragma once
// Which walk a histogram launch of the CUDA backend takes, where its counters
// live and how much shared memory its blocks get: the host-side choice among
// CudaTuning::HistogramMapping's walks and their fallbacks, in plain C++ so
// the CPU tests check the rules (tests/kernels/histogram_walk_test.cc); the
// kernels are histogram.cu's.
#include <cstddef>
#include <cstdint>

#include "kernels/cuda_tuning.h"

namespace canopy {

// Where a histogram block accumulates: global int64 atomics (a feature's
// histogram does not fit the block), or privatised shared-memory counters of
// 32 bits (unweighted classification without a count channel) or 64 bits.
enum class HistogramCounters { kGlobal, kShared32, kShared64 };

// What the choice depends on, fixed for a batch.
struct HistogramBatchShape {
  int64_t n_features = 0;
  int64_t bin_stride = 0;  // device row stride (device_row_stride)
  int32_t max_bins = 0;
  int32_t n_channels = 0;
  bool counters32 = false;       // 32-bit shared counters allowed
  std::size_t shared_bytes = 0;  // a block's dynamic shared memory at most (the tuning's, within the device's limit)
};

// The device row stride of the binned matrix under `tuning`: n_features, or
// with pad_rows padded_stride(n_features, 32); rounded up to whole 4-byte
// words for the row-words and rotated-rows walks;
// swizzled_rows::row_bytes for the swizzled-rows walk. At least 1.
std::size_t device_row_stride(const CudaTuning& tuning, std::size_t n_features);

class HistogramWalks {
 public:
  HistogramWalks() = default;
  HistogramWalks(const CudaTuning& tuning, const HistogramBatchShape& shape);

  // Features per shared-memory group; 0: the global-atomic fallback. The
  // rotated- and swizzled-rows blocks hold kLanes features.
  int32_t shared_group() const;
  HistogramCounters counters() const;

  // Whether the tuning's walk takes launches whose every group is dense (the
  // rotated- and swizzled-rows walks), and whether a group of nj features is
  // (all_features: a group of an every-feature histogram in feature order).
  bool needs_dense_groups() const { return rotated_ || swizzled_; }
  bool dense(int32_t nj, bool all_features) const;

  // The tuning a launch takes: the tuning, with a walk that does not fit, or
  // needs dense groups where the launch has a sparse one (`dense` false),
  // replaced by the row-words walk.
  CudaTuning launch(bool dense) const;

  // Dynamic shared memory of a launch of tuning `launch` whose widest group
  // has `group` features (the rotated- and swizzled-rows blocks are one
  // size for any group); 0 for the global-atomic fallback.
  std::size_t shared_bytes(const CudaTuning& launch, int32_t group) const;

  // The byte of each device row that holds its class id
  // (CudaTuning::histogram_row_classes), or -1: the last byte, where the
  // tuning asks for it, the batch takes 32-bit counters (unweighted
  // classification, one channel a class), the row is padded past its
  // features within one 32-byte sector (the swizzled walk's single slice),
  // and every class fits a byte and is below max_bins (the rotated- and
  // swizzled-rows walks add the padding bytes as bins, into columns they
  // never flush).
  int32_t row_class_byte() const;

 private:
  std::size_t feature_bytes() const;  // one feature's privatised histogram
  std::size_t rotated_rows_bytes() const;
  std::size_t swizzled_rows_bytes() const;

  CudaTuning tuning_;
  HistogramBatchShape shape_;
  bool rotated_ = false, swizzled_ = false;  // the tuning's walk, where it fits
};

}  // namespace canopy
