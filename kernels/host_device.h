#pragma once
// CANOPY_HD marks functions compiled for both the host and the device. Shared
// math lives in headers using it, so the CPU and CUDA backends run the very
// same source (DESIGN principle 2).
#if defined(__CUDACC__)
#define CANOPY_HD __host__ __device__ __forceinline__
#else
#define CANOPY_HD inline
#endif

#include <cstdint>

// Index of the lowest set bit of a non-zero word.
CANOPY_HD int32_t lowest_set_bit(uint64_t bits) {
#if defined(__CUDA_ARCH__)
  return __ffsll(static_cast<long long>(bits)) - 1;
#else
  return __builtin_ctzll(bits);
#endif
}
