// Backend/device selection and description (kernels/device.h).
//
// This file dispatches: with CANOPY_WITH_CUDA it calls the CUDA queries in
// device.cu, without it it answers "built without CUDA". It never includes a
// CUDA header, so a CPU-only build compiles it unchanged.
#include "kernels/device.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace canopy {
namespace {

// "/work/main/kernels/histogram.cu" -> "kernels/histogram.cu": the last two
// path components, enough to find the call and stable across build machines.
std::string short_file(const std::string& file) {
  const std::size_t last = file.find_last_of('/');
  if (last == std::string::npos || last == 0) return file;
  const std::size_t prev = file.find_last_of('/', last - 1);
  return prev == std::string::npos ? file : file.substr(prev + 1);
}

std::string cuda_error_message(int code, const std::string& description, const std::string& call,
                               const std::string& file, int line) {
  return "CUDA error " + std::to_string(code) + " (" + description + ") in " + call + " at " +
         short_file(file) + ":" + std::to_string(line);
}

struct Availability {
  int device_count = 0;
  std::string reason;  // "" when device_count > 0
};

Availability availability() {
  Availability a;
#if defined(CANOPY_WITH_CUDA)
  detail::CudaProbe probe = detail::cuda_probe();
  a.device_count = probe.device_count;
  a.reason = std::move(probe.reason);
  if (a.device_count <= 0 && a.reason.empty()) a.reason = "no CUDA device visible";
#else
  a.reason = "built without CUDA";
#endif
  return a;
}

// "" when device `index` (< visible count) can run this build's kernels.
std::string unsupported_reason(int index) {
#if defined(CANOPY_WITH_CUDA)
  return detail::cuda_device_unsupported_reason(index);
#else
  (void)index;
  return "built without CUDA";
#endif
}

std::string gib(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

const char kAcceptedForms[] = "expected auto, cpu, cuda or cuda:N (N = CUDA device index, e.g. cuda:0)";

[[noreturn]] void reject_spec(const std::string& spec) {
  throw std::invalid_argument("--device \"" + spec + "\": unknown device; " + kAcceptedForms);
}

// Parses "cuda" / "cuda:N"; returns false when `spec` is not of that form.
bool parse_cuda_spec(const std::string& spec, int* index) {
  static const std::string kPrefix = "cuda";
  if (spec.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  if (spec.size() == kPrefix.size()) {
    *index = 0;
    return true;
  }
  if (spec[kPrefix.size()] != ':') return false;
  const std::string digits = spec.substr(kPrefix.size() + 1);
  if (digits.empty() || digits.size() > 6) return false;
  int value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *index = value;
  return true;
}

}  // namespace

CudaError::CudaError(int code, const std::string& description, const std::string& call,
                     const std::string& file, int line)
    : std::runtime_error(cuda_error_message(code, description, call, file, line)),
      code_(code),
      description_(description),
      call_(call),
      file_(short_file(file)),
      line_(line) {}

namespace detail {

void throw_cuda_error(int code, const char* description, const char* call, const char* file,
                      int line) {
  throw CudaError(code, description ? description : "unknown error", call ? call : "",
                  file ? file : "", line);
}

}  // namespace detail

std::vector<DeviceInfo> list_devices() {
#if defined(CANOPY_WITH_CUDA)
  try {
    return detail::cuda_list_devices();
  } catch (...) {  // cuda_list_devices does not throw; bad_alloc is the only candidate
    return {};
  }
#else
  return {};
#endif
}

std::string cuda_unavailable_reason() { return availability().reason; }

const char* backend_name(Backend backend) {
  return backend == Backend::kCuda ? "cuda" : "cpu";
}

DeviceChoice select_device(const std::string& spec) {
  DeviceChoice choice;
  if (spec == "cpu") return choice;
  if (spec == "auto") {
    const Availability a = availability();
    std::string reason = a.reason;
    if (a.device_count > 0) {
      reason = unsupported_reason(0);
      if (reason.empty()) {
        choice.backend = Backend::kCuda;
        choice.device_index = 0;
        return choice;
      }
    }
    choice.notice = "canopy: no usable GPU (" + reason + "); running on the CPU";
    return choice;
  }
  int index = 0;
  if (!parse_cuda_spec(spec, &index)) reject_spec(spec);
  const Availability a = availability();
  const std::string prefix = "--device " + spec + ": ";
  if (a.device_count <= 0) {
    // The reason may itself start with "no CUDA device visible" (plus a note on
    // CUDA_VISIBLE_DEVICES); do not say it twice.
    static const std::string kNoDevice = "no CUDA device visible";
    if (a.reason.compare(0, kNoDevice.size(), kNoDevice) == 0) {
      throw std::invalid_argument(prefix + a.reason);
    }
    throw std::invalid_argument(prefix + kNoDevice + " (" + a.reason + ")");
  }
  if (index >= a.device_count) {
    throw std::invalid_argument(prefix + "only " + std::to_string(a.device_count) +
                                " CUDA device(s) visible");
  }
  const std::string unsupported = unsupported_reason(index);
  if (!unsupported.empty()) throw std::invalid_argument(prefix + unsupported);
  choice.backend = Backend::kCuda;
  choice.device_index = index;
  return choice;
}

double peak_memory_bandwidth(int memory_clock_khz, int bus_width_bits) {
  if (memory_clock_khz <= 0 || bus_width_bits <= 0) return 0;
  return 2.0 * memory_clock_khz * 1e3 * bus_width_bits / 8.0;
}

std::string describe_devices(const std::vector<DeviceInfo>& devices) {
  if (devices.empty()) {
    const std::string reason = cuda_unavailable_reason();
    return reason.empty() ? "no CUDA devices\n" : "no CUDA devices (" + reason + ")\n";
  }
  std::string out;
  for (const DeviceInfo& d : devices) {
    out += "cuda:" + std::to_string(d.index) + ": " + (d.name.empty() ? "unknown" : d.name);
    out += ", " + gib(d.total_memory) + " (" + gib(d.free_memory) + " free";
    if (d.memory_bandwidth > 0) {
      char bw[48];
      std::snprintf(bw, sizeof bw, ", %.2f TB/s peak", d.memory_bandwidth / 1e12);
      out += bw;
    }
    out += ")";
    out += ", compute capability " + std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor);
    out += ", " + std::to_string(d.multiprocessors) + " SMs";
    out += ", driver " + (d.driver_version.empty() ? std::string("unknown") : d.driver_version);
    out += ", runtime " + (d.runtime_version.empty() ? std::string("unknown") : d.runtime_version);
    out += "\n";
  }
  return out;
}

std::string describe_devices_json(const std::vector<DeviceInfo>& devices) {
  nlohmann::json j;
  j["cuda_available"] = !devices.empty();
  j["reason"] = devices.empty() ? cuda_unavailable_reason() : std::string();
  nlohmann::json list = nlohmann::json::array();
  for (const DeviceInfo& d : devices) {
    list.push_back({
        {"index", d.index},
        {"name", d.name},
        {"total_memory_bytes", d.total_memory},
        {"free_memory_bytes", d.free_memory},
        {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
        {"multiprocessors", d.multiprocessors},
        {"memory_bandwidth_bytes_per_s", d.memory_bandwidth},
        {"driver_version", d.driver_version},
        {"runtime_version", d.runtime_version},
    });
  }
  j["devices"] = std::move(list);
  return j.dump(2);
}

}  // namespace canopy
