#pragma once
// Backend and device selection, device discovery and the CUDA error type.
//
// This header carries no CUDA types (DESIGN: public headers carry no CUDA
// types), so every layer can include it whether or not CUDA is built in.
// Layout follows XGBoost's fit_stump.{h,cc,cu}: device.cc dispatches and holds
// the CPU-only fallbacks plus all formatting; device.cu holds only the CUDA
// runtime queries and is compiled only when CANOPY_WITH_CUDA is defined.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace canopy {

// A failed CUDA runtime call, thrown by CANOPY_CUDA_CHECK (kernels/cuda_check.cuh).
// what(): "CUDA error 2 (out of memory) in cudaMalloc(&p, n) at kernels/histogram.cu:123".
class CudaError : public std::runtime_error {
 public:
  // `code` is the cudaError_t value; `description` is cudaGetErrorString(code).
  CudaError(int code, const std::string& description, const std::string& call,
            const std::string& file, int line);

  int code() const noexcept { return code_; }
  const std::string& description() const noexcept { return description_; }
  const std::string& call() const noexcept { return call_; }
  const std::string& file() const noexcept { return file_; }  // shortened, e.g. "kernels/x.cu"
  int line() const noexcept { return line_; }

 private:
  int code_;
  std::string description_;
  std::string call_;
  std::string file_;
  int line_;
};

// Device memory that a step needs is not free (cuda_util::require_device_memory).
// what() names the step, the bytes needed and the bytes available. The forest
// trainer answers it by growing fewer trees per batch (host/forest_trainer.cc);
// a single tree that does not fit ends the run with this message.
class DeviceMemoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DeviceInfo {
  int index = 0;                 // CUDA runtime ordinal (after CUDA_VISIBLE_DEVICES)
  std::string name;              // e.g. "NVIDIA H100 80GB HBM3"
  std::size_t total_memory = 0;  // bytes
  std::size_t free_memory = 0;   // bytes at query time (0 when it could not be queried)
  int cc_major = 0;              // compute capability
  int cc_minor = 0;
  int multiprocessors = 0;
  double memory_bandwidth = 0;   // bytes/s at the memory's peak clock (peak_memory_bandwidth); 0: unknown
  std::string driver_version;    // "13.0"; "" when no driver
  std::string runtime_version;   // "13.0": the CUDA runtime linked into canopy
};

// The peak bandwidth, bytes/s, of device memory clocked at memory_clock_khz
// (the runtime's peak memory clock) over a bus of bus_width_bits, two
// transfers a clock: 3.35e12 for an H100 SXM's HBM3 (2,619 MHz, 5,120 bits).
// 0 when either is unknown (<= 0).
double peak_memory_bandwidth(int memory_clock_khz, int bus_width_bits);

// Every visible CUDA device. Empty when built without CUDA, when no driver or no
// GPU is present, or on any CUDA error while counting devices; never throws on
// those conditions and never aborts.
std::vector<DeviceInfo> list_devices();

// Why no CUDA device can be used: "built without CUDA", "no CUDA driver found",
// "no CUDA device visible", "CUDA driver 12.4 is older than the CUDA 13.0 runtime",
// or "CUDA initialisation failed: ...". Empty when at least one device is visible.
std::string cuda_unavailable_reason();

enum class Backend { kCpu, kCuda };

struct DeviceChoice {
  Backend backend = Backend::kCpu;
  int device_index = -1;  // CUDA ordinal when backend == kCuda, else -1
  std::string notice;     // one line for the user when "auto" fell back to the CPU, else ""
};

// Parses a --device value:
//   "auto"          -> CUDA device 0 when one is visible and usable by this build, else
//                      the CPU with notice "canopy: no usable GPU (<reason>); running on the CPU"
//   "cpu"           -> the CPU
//   "cuda", "cuda:N"-> that CUDA device; throws std::invalid_argument when none is visible
//                      ("--device cuda: no CUDA device visible (no CUDA driver found)"), when N
//                      is out of range ("--device cuda:3: only 1 CUDA device(s) visible") or
//                      when the device cannot run this build's kernels
//   anything else   -> throws std::invalid_argument naming the value and the accepted forms.
DeviceChoice select_device(const std::string& spec);

// Text for `canopy devices`: one line per device (name, memory, compute capability,
// SMs, driver/runtime), or "no CUDA devices (<reason>)".
std::string describe_devices(const std::vector<DeviceInfo>& devices);

// The same as JSON (nlohmann::json, pretty-printed):
// {"cuda_available": bool, "reason": str, "devices": [{"index", "name", "total_memory_bytes",
//  "free_memory_bytes", "compute_capability", "multiprocessors", "driver_version",
//  "runtime_version"}]}
std::string describe_devices_json(const std::vector<DeviceInfo>& devices);

// Human name of a backend: "cpu" or "cuda".
const char* backend_name(Backend backend);

namespace detail {

// Throws CudaError; used by CANOPY_CUDA_CHECK so the macro stays small.
[[noreturn]] void throw_cuda_error(int code, const char* description, const char* call,
                                   const char* file, int line);

#if defined(CANOPY_WITH_CUDA)
// Implemented in device.cu (CUDA only). None of these throw.
struct CudaProbe {
  int device_count = 0;  // 0 when unavailable
  std::string reason;    // why unavailable; "" when device_count > 0
};
CudaProbe cuda_probe();
std::vector<DeviceInfo> cuda_list_devices();
// "" when `index` can run this build's kernels, else why not.
std::string cuda_device_unsupported_reason(int index);
#endif

}  // namespace detail
}  // namespace canopy
