#pragma once
// Small helpers shared by the CUDA primitives (bin.cu, predict.cu, the tree
// backend's kernels and tree_backend_cuda.cu). CUDA-only header.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda_check.cuh"
#include "kernels/device.h"
#include "kernels/device_buffer.cuh"

namespace canopy {
namespace cuda_util {

// Makes `device` current for the scope and restores the previous device after.
class ScopedDevice {
 public:
  explicit ScopedDevice(int device) {
    CANOPY_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) CANOPY_CUDA_CHECK(cudaSetDevice(device));
  }
  ~ScopedDevice() {
    int now = -1;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous_ && cudaSetDevice(previous_) != cudaSuccess)
      (void)cudaGetLastError();
  }
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  int previous_ = 0;
};

inline std::string mib_text(std::size_t bytes) {
  return std::to_string(bytes) + " bytes (" + std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB)";
}

// Free device memory on the current device, in bytes.
inline std::size_t free_device_memory() {
  std::size_t free_bytes = 0, total_bytes = 0;
  CANOPY_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return free_bytes;
}

// "cuda:N: <what> needs <needed> of device memory<why>; use fewer rows or
// --device cpu", as a DeviceMemoryError.
[[noreturn]] inline void throw_device_memory_error(const std::string& what, std::size_t needed,
                                                   const std::string& why) {
  int device = -1;
  (void)cudaGetDevice(&device);
  throw DeviceMemoryError("cuda:" + std::to_string(device) + ": " + what + " needs " + mib_text(needed) +
                          " of device memory" + why + "; use fewer rows or --device cpu");
}

// Throws DeviceMemoryError naming the bytes needed and available when
// `needed` bytes (beyond `reusable` bytes the caller is about to free) do not
// fit in free device memory.
inline void require_device_memory(std::size_t needed, std::size_t reusable, const std::string& what) {
  const std::size_t available = free_device_memory() + reusable;
  if (needed > available) throw_device_memory_error(what, needed, ", " + mib_text(available) + " available");
}

// Resizes `a` to at least `n` elements (contents are not kept), checking free
// memory first so a failure is a clear message rather than a CUDA error. An
// allocation that fails even so (fragmented memory, another process) is a
// DeviceMemoryError too, so the trainer's smaller batches answer it as well.
template <typename T>
void ensure_capacity(DeviceArray<T>& a, std::size_t n, const char* what) {
  if (n <= a.size()) return;
  require_device_memory(n * sizeof(T), a.bytes(), what);
  a.resize(0);
  try {
    a.resize(n);
  } catch (const CudaError& e) {
    if (e.code() != cudaErrorMemoryAllocation) throw;
    (void)cudaGetLastError();  // not a sticky error: the context stays usable
    throw_device_memory_error(what, n * sizeof(T),
                              " and cudaMalloc failed with " + mib_text(free_device_memory()) +
                                  " free (fragmented, or taken by another process)");
  }
}

// Blocks of `threads` covering n items (at least 1).
inline unsigned int blocks_for(std::size_t n, int threads) {
  const std::size_t b = (n + static_cast<std::size_t>(threads) - 1) / static_cast<std::size_t>(threads);
  if (b > 0x7fffffffu) throw std::runtime_error("cuda: launch of " + std::to_string(n) + " items is too large");
  return static_cast<unsigned int>(b == 0 ? 1 : b);
}

// Device time summed over intervals, each between start() and stop() on the
// default stream (two CUDA events on the device current at construction).
// collect() waits for the last stop() and adds its interval; each start()
// takes a stop() before the next start() or collect() (an interval not
// collected before the next start() is dropped).
class DeviceTimer {
 public:
  DeviceTimer() {
    CANOPY_CUDA_CHECK(cudaEventCreate(&start_));
    CANOPY_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~DeviceTimer() {
    (void)cudaEventDestroy(start_);
    (void)cudaEventDestroy(stop_);
  }
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;

  void start() {
    CANOPY_CUDA_CHECK(cudaEventRecord(start_));
    running_ = true;
  }
  void stop() { CANOPY_CUDA_CHECK(cudaEventRecord(stop_)); }
  // Adds the open interval (if any) once the device has passed stop(); returns the total in seconds.
  double collect() {
    if (running_) {
      CANOPY_CUDA_CHECK(cudaEventSynchronize(stop_));
      float ms = 0;
      CANOPY_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      total_s_ += static_cast<double>(ms) * 1e-3;
      running_ = false;
    }
    return total_s_;
  }
  double total_seconds() const { return total_s_; }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  bool running_ = false;
  double total_s_ = 0;
};

}  // namespace cuda_util
}  // namespace canopy
