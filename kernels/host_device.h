#pragma once
// CANOPY_HD marks functions compiled for both the host and the device. Shared
// math lives in headers using it, so the CPU and CUDA backends run the very
// same source (DESIGN principle 2).
#if defined(__CUDACC__)
#define CANOPY_HD __host__ __device__ __forceinline__
#else
#define CANOPY_HD inline
#endif
