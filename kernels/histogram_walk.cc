#include "kernels/histogram_walk.h"

#include <algorithm>

#include "kernels/histogram.h"
#include "kernels/lane_columns.h"
#include "kernels/rotated_rows.h"
#include "kernels/swizzled_rows.h"

namespace canopy {

using Mapping = CudaTuning::HistogramMapping;

// The planner cuts an every-feature histogram into groups of shared_group()
// features from feature 0, so with the swizzled walk's kLanes a group those
// are its 32-byte slices of a wide row.
static_assert(swizzled_rows::kSliceBytes == lane_columns::kLanes, "a wide row's slice is one group");

std::size_t device_row_stride(const CudaTuning& tuning, std::size_t n_features) {
  constexpr std::size_t kSector = 32;
  std::size_t stride = tuning.pad_rows ? padded_stride(n_features, kSector) : n_features;
  const std::size_t words = (stride + 3) / 4 * 4;
  switch (tuning.histogram_mapping) {
    case Mapping::kRowWords:
    case Mapping::kRotatedRows:
      stride = words;
      break;
    case Mapping::kSwizzledRows:
      stride = static_cast<std::size_t>(swizzled_rows::row_bytes(static_cast<int64_t>(n_features)));
      break;
    default:
      break;
  }
  return std::max<std::size_t>(1, stride);
}

HistogramWalks::HistogramWalks(const CudaTuning& tuning, const HistogramBatchShape& shape)
    : tuning_(tuning), shape_(shape) {
  const int64_t nb = shape_.bin_stride;
  rotated_ = tuning_.histogram_mapping == Mapping::kRotatedRows && nb % 4 == 0 && nb <= rotated_rows::kLanes &&
             rotated_rows_bytes() <= shape_.shared_bytes;
  swizzled_ = tuning_.histogram_mapping == Mapping::kSwizzledRows &&
              nb == swizzled_rows::row_bytes(shape_.n_features) && shape_.counters32 &&
              swizzled_rows_bytes() <= shape_.shared_bytes;
}

std::size_t HistogramWalks::feature_bytes() const {
  return static_cast<std::size_t>(shape_.max_bins) * static_cast<std::size_t>(shape_.n_channels) *
         (shape_.counters32 ? sizeof(uint32_t) : sizeof(int64_t));
}

// kLanes columns of one feature's histogram.
std::size_t HistogramWalks::rotated_rows_bytes() const { return rotated_rows::kLanes * feature_bytes(); }

// kLanes columns of one feature's 32-bit histogram, from a multiple of
// kCounterRowBytes.
std::size_t HistogramWalks::swizzled_rows_bytes() const {
  return static_cast<std::size_t>(swizzled_rows::counters(shape_.max_bins, shape_.n_channels)) * sizeof(uint32_t) +
         swizzled_rows::kCounterRowBytes;
}

int32_t HistogramWalks::shared_group() const {
  if (needs_dense_groups()) return lane_columns::kLanes;
  return static_cast<int32_t>(shape_.shared_bytes / feature_bytes());
}

HistogramCounters HistogramWalks::counters() const {
  if (shared_group() == 0) return HistogramCounters::kGlobal;
  return shape_.counters32 ? HistogramCounters::kShared32 : HistogramCounters::kShared64;
}

bool HistogramWalks::dense(int32_t nj, bool all_features) const {
  return swizzled_ ? swizzled_rows::takes(nj, shape_.bin_stride, all_features)
                   : rotated_rows::dense_group(nj, static_cast<int32_t>(shape_.bin_stride));
}

CudaTuning HistogramWalks::launch(bool dense) const {
  CudaTuning t = tuning_;
  if ((t.histogram_mapping == Mapping::kRotatedRows && !(rotated_ && dense)) ||
      (t.histogram_mapping == Mapping::kSwizzledRows && !(swizzled_ && dense)))
    t.histogram_mapping = Mapping::kRowWords;
  return t;
}

int32_t HistogramWalks::row_class_byte() const {
  const bool fits = tuning_.histogram_row_classes && shape_.counters32 && shape_.bin_stride > shape_.n_features &&
                    shape_.bin_stride <= swizzled_rows::kSliceBytes && shape_.n_channels >= 1 &&
                    shape_.n_channels <= 256 && shape_.n_channels <= shape_.max_bins;
  return fits ? static_cast<int32_t>(shape_.bin_stride - 1) : -1;
}

std::size_t HistogramWalks::shared_bytes(const CudaTuning& launch, int32_t group) const {
  if (shared_group() == 0) return 0;
  switch (launch.histogram_mapping) {
    case Mapping::kRotatedRows:
      return rotated_rows_bytes();
    case Mapping::kSwizzledRows:
      return swizzled_rows_bytes();
    default:
      return static_cast<std::size_t>(group) * feature_bytes();
  }
}

}  // namespace canopy
