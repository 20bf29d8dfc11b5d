#pragma once
// The shared-memory histogram of the rotated- and swizzled-rows walks
// (rotated_rows.h, swizzled_rows.h): kLanes columns, one a warp lane, column
// c in shared-memory bank c, so a warp's atomic adds into distinct columns
// fall in distinct banks whatever the bins. Each column holds max_bins x k
// counters; bin-channel bc = bin * k + channel of column c is counter
// column_counter(bc, c).
#include <cstdint>

#include "kernels/host_device.h"

namespace canopy {
namespace lane_columns {

constexpr int32_t kLanes = 32;  // a warp; also the shared-memory banks

// Counter of a lane's column at bin-channel bc = bin * k + channel.
CANOPY_HD int64_t column_counter(int64_t bc, int32_t lane) { return bc * kLanes + lane; }

// Counters of the histogram: kLanes columns of max_bins x k.
CANOPY_HD int64_t counters(int32_t max_bins, int32_t k) { return static_cast<int64_t>(kLanes) * max_bins * k; }

}  // namespace lane_columns
}  // namespace canopy
