#pragma once
// Samples system metrics on a background thread every `interval_s` seconds
// and hands them to a sink as metrics under MLflow's names:
//   system/cpu_utilization_percentage        (from /proc/stat, whole machine)
//   system/system_memory_usage_megabytes     (MemTotal - MemAvailable, /proc/meminfo)
//   system/system_memory_usage_percentage
//   system/process_memory_rss_megabytes      (canopy's own, VmRSS from /proc/self/status)
// Step = sample number (0, 1, ...), as MLflow's system metrics monitor does.
// GPU metrics (system/gpu_0_utilization_percentage,
// system/gpu_0_memory_usage_megabytes, ...) come from an extra source added
// with add_source() by code that knows the device (NVML lives outside tracking/).
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tracking/run_store.h"

namespace canopy::tracking {

using MetricValues = std::vector<std::pair<std::string, double>>;

class SystemMetricsSampler {
 public:
  using Sink = std::function<void(const std::vector<Metric>&)>;
  using Source = std::function<void(MetricValues&)>;

  SystemMetricsSampler(Sink sink, double interval_s = 5);
  ~SystemMetricsSampler();  // stop()
  SystemMetricsSampler(const SystemMetricsSampler&) = delete;
  SystemMetricsSampler& operator=(const SystemMetricsSampler&) = delete;

  void add_source(Source source);  // call before start()
  void start();
  // Stops the thread promptly (does not wait out the interval). Idempotent.
  void stop();
  int64_t samples() const { return step_; }

  // One reading of CPU / memory; `cpu_prev` carries /proc/stat totals between calls.
  struct CpuTimes {
    uint64_t idle = 0, total = 0;
  };
  static MetricValues sample_host(CpuTimes& cpu_prev);

 private:
  void loop();
  void sample();

  Sink sink_;
  double interval_s_;
  std::vector<Source> sources_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool running_ = false;
  CpuTimes cpu_;
  int64_t step_ = 0;
};

}  // namespace canopy::tracking
