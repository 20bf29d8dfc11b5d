#include "tracking/system_metrics.h"

#include <chrono>
#include <fstream>
#include <sstream>

namespace canopy::tracking {
namespace {

bool read_cpu(SystemMetricsSampler::CpuTimes& t) {
  std::ifstream f("/proc/stat");
  std::string cpu;
  if (!(f >> cpu) || cpu != "cpu") return false;
  uint64_t v[10] = {0};
  uint64_t total = 0;
  for (int i = 0; i < 10 && (f >> v[i]); ++i) total += i < 8 ? v[i] : 0;  // guest time is in user already
  t.idle = v[3] + v[4];  // idle + iowait
  t.total = total;
  return total > 0;
}

// "Key:   12345 kB" lines.
bool read_kb(const char* file, const char* key, double& kb) {
  std::ifstream f(file);
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(k, 0) == 0) {
      std::istringstream is(line.substr(k.size()));
      return static_cast<bool>(is >> kb);
    }
  }
  return false;
}

}  // namespace

MetricValues SystemMetricsSampler::sample_host(CpuTimes& prev) {
  MetricValues out;
  CpuTimes now;
  if (read_cpu(now)) {
    if (prev.total > 0 && now.total > prev.total) {
      const double dt = static_cast<double>(now.total - prev.total);
      const double di = static_cast<double>(now.idle >= prev.idle ? now.idle - prev.idle : 0);
      out.emplace_back("system/cpu_utilization_percentage", 100.0 * (1.0 - di / dt));
    }
    prev = now;
  }
  double total_kb = 0, avail_kb = 0, rss_kb = 0;
  if (read_kb("/proc/meminfo", "MemTotal", total_kb) && read_kb("/proc/meminfo", "MemAvailable", avail_kb) &&
      total_kb > 0) {
    out.emplace_back("system/system_memory_usage_megabytes", (total_kb - avail_kb) / 1024.0);
    out.emplace_back("system/system_memory_usage_percentage", 100.0 * (total_kb - avail_kb) / total_kb);
  }
  if (read_kb("/proc/self/status", "VmRSS", rss_kb))
    out.emplace_back("system/process_memory_rss_megabytes", rss_kb / 1024.0);
  return out;
}

SystemMetricsSampler::SystemMetricsSampler(Sink sink, double interval_s)
    : sink_(std::move(sink)), interval_s_(interval_s > 0 ? interval_s : 5) {}

SystemMetricsSampler::~SystemMetricsSampler() { stop(); }

void SystemMetricsSampler::add_source(Source source) { sources_.push_back(std::move(source)); }

void SystemMetricsSampler::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return;
  stop_ = false;
  running_ = true;
  read_cpu(cpu_);  // the baseline for the first utilisation figure
  thread_ = std::thread([this] { loop(); });
}

void SystemMetricsSampler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
}

void SystemMetricsSampler::sample() {
  MetricValues values = sample_host(cpu_);
  // GPU hook: a source added by host/ (NVML when a GPU is in use) appends
  // system/gpu_<i>_utilization_percentage, system/gpu_<i>_memory_usage_megabytes, ...
  for (auto& s : sources_) {
    try {
      s(values);
    } catch (...) {
    }
  }
  if (values.empty()) return;
  const int64_t ts = now_ms();
  std::vector<Metric> metrics;
  for (const auto& [k, v] : values) metrics.push_back(Metric{k, v, ts, step_});
  ++step_;
  try {
    sink_(metrics);
  } catch (...) {
    // The sink reports its own failures; sampling never stops the run.
  }
}

void SystemMetricsSampler::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (cv_.wait_for(lock, std::chrono::duration<double>(interval_s_), [this] { return stop_; })) break;
    lock.unlock();
    sample();
    lock.lock();
  }
}

}  // namespace canopy::tracking
