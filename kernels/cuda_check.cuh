#pragma once
// CANOPY_CUDA_CHECK(call): runs a CUDA runtime call and throws canopy::CudaError
// (kernels/device.h) when it does not return cudaSuccess, e.g.
//   CUDA error 2 (out of memory) in cudaMalloc(&p, n) at kernels/histogram.cu:123
// CUDA-only header: include it from .cu/.cuh files, never from public headers.
#include <cuda_runtime_api.h>

#include "kernels/device.h"

#define CANOPY_CUDA_CHECK(call)                                                              \
  do {                                                                                       \
    const cudaError_t canopy_cuda_status_ = (call);                                          \
    if (canopy_cuda_status_ != cudaSuccess) {                                                \
      /* clear the runtime's "last error" so later checks do not report it again */          \
      (void)cudaGetLastError();                                                              \
      ::canopy::detail::throw_cuda_error(static_cast<int>(canopy_cuda_status_),              \
                                         cudaGetErrorString(canopy_cuda_status_), #call,     \
                                         __FILE__, __LINE__);                                \
    }                                                                                        \
  } while (0)

// After a kernel launch (<<<...>>>): reports launch-configuration errors at once.
#define CANOPY_CUDA_CHECK_LAUNCH() CANOPY_CUDA_CHECK(cudaGetLastError())
