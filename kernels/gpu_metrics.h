#pragma once
// GPU utilisation and memory for the run's system metrics, read through NVML
// (libnvidia-ml.so.1, loaded at run time: the binary never links it, so it
// starts on machines without the NVIDIA driver).
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace canopy {

using GpuMetricValues = std::vector<std::pair<std::string, double>>;
using GpuMetricSource = std::function<void(GpuMetricValues&)>;

// A source that appends MLflow's system metric names for GPU `device`:
//   system/gpu_<device>_utilization_percentage
//   system/gpu_<device>_memory_usage_megabytes
//   system/gpu_<device>_memory_usage_percentage
// Returns an empty function (and sets *why) when NVML or the device is not
// available.
GpuMetricSource make_nvml_source(int device, std::string* why = nullptr);

}  // namespace canopy
