// CUDA runtime queries behind kernels/device.h. Only CUDA lives here; the
// dispatch, the CPU-only fallbacks and all formatting are in device.cc.
// Nothing here throws: a machine without a driver or GPU is a normal case.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/device.h"

namespace canopy {
namespace {

// Does nothing; cudaFuncGetAttributes on it tells whether this binary carries
// code (SASS or PTX) that the device can run.
__global__ void canopy_probe_kernel() {}

#define CANOPY_DEVICE_STR2(...) #__VA_ARGS__
#define CANOPY_DEVICE_STR(...) CANOPY_DEVICE_STR2(__VA_ARGS__)

std::string built_architectures() {
#if defined(__CUDA_ARCH_LIST__)
  // e.g. "900" or "750,900" -> "sm_90" / "sm_75, sm_90"
  const std::string list = CANOPY_DEVICE_STR(__CUDA_ARCH_LIST__);
  std::string out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    if (!item.empty()) {
      int arch = std::atoi(item.c_str());
      if (!out.empty()) out += ", ";
      out += "sm_" + std::to_string(arch / 10);
    }
    start = comma + 1;
  }
  return out.empty() ? "unknown architectures" : out;
#else
  return "unknown architectures";
#endif
}

std::string version_text(int v) {
  if (v <= 0) return "";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string driver_version_text() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return version_text(v);
}

std::string runtime_version_text() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return version_text(v);
}

std::string no_device_reason() {
  std::string reason = "no CUDA device visible";
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  if (visible != nullptr) reason += std::string(" with CUDA_VISIBLE_DEVICES=\"") + visible + "\"";
  return reason;
}

// Restores the calling thread's current device on scope exit.
class CurrentDeviceGuard {
 public:
  CurrentDeviceGuard() {
    if (cudaGetDevice(&previous_) != cudaSuccess) {
      cudaGetLastError();
      previous_ = -1;
    }
  }
  ~CurrentDeviceGuard() {
    if (previous_ >= 0 && cudaSetDevice(previous_) != cudaSuccess) cudaGetLastError();
  }
  CurrentDeviceGuard(const CurrentDeviceGuard&) = delete;
  CurrentDeviceGuard& operator=(const CurrentDeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace

namespace detail {

CudaProbe cuda_probe() {
  CudaProbe probe;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  cudaGetLastError();  // never leave a sticky "last error" behind
  if (err == cudaSuccess && count > 0) {
    probe.device_count = count;
    return probe;
  }
  probe.device_count = 0;
  if (err == cudaSuccess || err == cudaErrorNoDevice) {
    probe.reason = no_device_reason();
  } else if (err == cudaErrorInsufficientDriver) {
    const std::string driver = driver_version_text();
    if (driver.empty()) {
      probe.reason = "no CUDA driver found";
    } else {
      probe.reason = "CUDA driver " + driver + " is older than the CUDA " + runtime_version_text() +
                     " runtime";
    }
  } else {
    probe.reason = std::string("CUDA initialisation failed: ") + cudaGetErrorString(err) +
                   " (error " + std::to_string(static_cast<int>(err)) + ")";
  }
  return probe;
}

std::vector<DeviceInfo> cuda_list_devices() {
  std::vector<DeviceInfo> devices;
  const CudaProbe probe = cuda_probe();
  if (probe.device_count <= 0) return devices;
  const std::string driver = driver_version_text();
  const std::string runtime = runtime_version_text();
  CurrentDeviceGuard guard;
  for (int i = 0; i < probe.device_count; ++i) {
    DeviceInfo info;
    info.index = i;
    info.driver_version = driver;
    info.runtime_version = runtime;
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) == cudaSuccess) {
      info.name = prop.name;
      info.total_memory = prop.totalGlobalMem;
      info.cc_major = prop.major;
      info.cc_minor = prop.minor;
      info.multiprocessors = prop.multiProcessorCount;
      int clock_khz = 0;
      if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, i) != cudaSuccess) cudaGetLastError();
      info.memory_bandwidth = peak_memory_bandwidth(clock_khz, prop.memoryBusWidth);
    } else {
      cudaGetLastError();
      info.name = "unknown CUDA device";
    }
    // Free memory needs a context on the device; a busy or exclusive device
    // simply reports 0 free.
    std::size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      info.free_memory = free_bytes;
      if (info.total_memory == 0) info.total_memory = total_bytes;
    } else {
      cudaGetLastError();
    }
    devices.push_back(std::move(info));
  }
  return devices;
}

std::string cuda_device_unsupported_reason(int index) {
  CurrentDeviceGuard guard;
  cudaError_t err = cudaSetDevice(index);
  cudaFuncAttributes attributes{};
  if (err == cudaSuccess) err = cudaFuncGetAttributes(&attributes, canopy_probe_kernel);
  cudaGetLastError();
  if (err == cudaSuccess) return "";
  std::string label = "cuda:" + std::to_string(index);
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, index) == cudaSuccess) {
    label += std::string(" (") + prop.name + ", compute capability " + std::to_string(prop.major) +
             "." + std::to_string(prop.minor) + ")";
  } else {
    cudaGetLastError();
  }
  if (err == cudaErrorUnsupportedPtxVersion) {
    return label + " cannot JIT this build's PTX: CUDA driver " + driver_version_text() +
           " is older than the toolkit that built canopy (built for " + built_architectures() + ")";
  }
  if (err == cudaErrorNoKernelImageForDevice || err == cudaErrorInvalidDeviceFunction) {
    return label + " cannot run this build's kernels (built for " + built_architectures() +
           "; rebuild with -DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(prop.major) +
           std::to_string(prop.minor) + ")";
  }
  return label + " is not usable: " + cudaGetErrorString(err) + " (error " +
         std::to_string(static_cast<int>(err)) + ")";
}

}  // namespace detail
}  // namespace canopy
