#pragma once
// DeviceArray<T>: owning, move-only RAII array in device memory, for kernels'
// device-side data (bins, histograms, node ids). CUDA-only header; every
// runtime call goes through CANOPY_CUDA_CHECK, so failures throw CudaError.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cuda_check.cuh"

namespace canopy {

template <typename T>
class DeviceArray {
  static_assert(std::is_trivially_copyable<T>::value,
                "DeviceArray<T> copies raw bytes: T must be trivially copyable");

 public:
  DeviceArray() = default;
  explicit DeviceArray(std::size_t n) { allocate(n); }
  explicit DeviceArray(const std::vector<T>& host) {
    allocate(host.size());
    upload(host);
  }
  ~DeviceArray() { release(); }

  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t bytes() const noexcept { return size_ * sizeof(T); }
  bool empty() const noexcept { return size_ == 0; }

  // Reallocates to `n` elements when the size differs; contents are not kept.
  void resize(std::size_t n) {
    if (n == size_) return;
    release();
    allocate(n);
  }

  // Sets every byte to `byte` (0 gives zero integers and +0.0 floats).
  void fill_bytes(int byte, cudaStream_t stream = nullptr) {
    if (size_ == 0) return;
    CANOPY_CUDA_CHECK(cudaMemsetAsync(data_, byte, bytes(), stream));
  }

  // Host -> device. upload(host, n) copies n elements to the front; the
  // vector form resizes to host.size() first.
  void upload(const T* host, std::size_t n, cudaStream_t stream = nullptr) {
    check_count(n, "upload");
    if (n == 0) return;
    CANOPY_CUDA_CHECK(cudaMemcpyAsync(data_, host, n * sizeof(T), cudaMemcpyHostToDevice, stream));
    CANOPY_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  void upload(const std::vector<T>& host, cudaStream_t stream = nullptr) {
    resize(host.size());
    upload(host.data(), host.size(), stream);
  }

  // Device -> host, synchronous with respect to `stream`.
  void download(T* host, std::size_t n, cudaStream_t stream = nullptr) const {
    check_count(n, "download");
    if (n == 0) return;
    CANOPY_CUDA_CHECK(cudaMemcpyAsync(host, data_, n * sizeof(T), cudaMemcpyDeviceToHost, stream));
    CANOPY_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  std::vector<T> download(cudaStream_t stream = nullptr) const {
    std::vector<T> host(size_);
    download(host.data(), size_, stream);
    return host;
  }

 private:
  void allocate(std::size_t n) {
    if (n == 0) return;
    void* p = nullptr;
    CANOPY_CUDA_CHECK(cudaMalloc(&p, n * sizeof(T)));
    data_ = static_cast<T*>(p);
    size_ = n;
  }
  void release() noexcept {
    if (data_ != nullptr) {
      // Destructors must not throw; a failure here means the context is gone.
      if (cudaFree(data_) != cudaSuccess) (void)cudaGetLastError();
    }
    data_ = nullptr;
    size_ = 0;
  }
  void check_count(std::size_t n, const char* what) const {
    if (n > size_) {
      throw std::out_of_range(std::string("DeviceArray::") + what + ": " + std::to_string(n) +
                              " elements requested, array holds " + std::to_string(size_));
    }
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace canopy
