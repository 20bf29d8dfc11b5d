#include "kernels/gpu_metrics.h"

#include <dlfcn.h>

#include <memory>

namespace canopy {
namespace {

// The few NVML entry points used, declared by hand (no NVML headers needed).
struct NvmlUtilization {
  unsigned int gpu, memory;
};
struct NvmlMemory {
  unsigned long long total, free, used;
};
using NvmlDevice = void*;
using InitFn = int (*)();
using HandleFn = int (*)(unsigned int, NvmlDevice*);
using UtilFn = int (*)(NvmlDevice, NvmlUtilization*);
using MemFn = int (*)(NvmlDevice, NvmlMemory*);
using ShutdownFn = int (*)();

struct Nvml {
  void* lib = nullptr;
  NvmlDevice device = nullptr;
  UtilFn utilization = nullptr;
  MemFn memory = nullptr;
  ShutdownFn shutdown = nullptr;
  ~Nvml() {
    if (shutdown) shutdown();
    if (lib) dlclose(lib);
  }
};

}  // namespace

GpuMetricSource make_nvml_source(int device, std::string* why) {
  auto fail = [&](const char* reason) {
    if (why) *why = reason;
    return GpuMetricSource{};
  };
  auto nvml = std::make_shared<Nvml>();
  nvml->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!nvml->lib) return fail("NVML (libnvidia-ml.so.1) not found");
  auto init = reinterpret_cast<InitFn>(dlsym(nvml->lib, "nvmlInit_v2"));
  auto handle = reinterpret_cast<HandleFn>(dlsym(nvml->lib, "nvmlDeviceGetHandleByIndex_v2"));
  nvml->utilization = reinterpret_cast<UtilFn>(dlsym(nvml->lib, "nvmlDeviceGetUtilizationRates"));
  nvml->memory = reinterpret_cast<MemFn>(dlsym(nvml->lib, "nvmlDeviceGetMemoryInfo"));
  if (!init || !handle || !nvml->utilization || !nvml->memory) return fail("NVML lacks the functions needed");
  if (init() != 0) return fail("nvmlInit failed");
  nvml->shutdown = reinterpret_cast<ShutdownFn>(dlsym(nvml->lib, "nvmlShutdown"));
  if (handle(static_cast<unsigned int>(device), &nvml->device) != 0) return fail("NVML cannot open the device");
  const std::string prefix = "system/gpu_" + std::to_string(device) + "_";
  return [nvml, prefix](GpuMetricValues& out) {
    NvmlUtilization u{};
    if (nvml->utilization(nvml->device, &u) == 0)
      out.push_back({prefix + "utilization_percentage", static_cast<double>(u.gpu)});
    NvmlMemory m{};
    if (nvml->memory(nvml->device, &m) == 0 && m.total > 0) {
      out.push_back({prefix + "memory_usage_megabytes", static_cast<double>(m.used) / (1024.0 * 1024.0)});
      out.push_back({prefix + "memory_usage_percentage", 100.0 * static_cast<double>(m.used) / static_cast<double>(m.total)});
    }
  };
}

}  // namespace canopy
