// Backend/device selection (kernels/device.h), the CUDA error type and, when a
// GPU is present, device discovery and DeviceArray. Branches that need a GPU
// skip when list_devices() is empty (CI has none).
#include "kernels/device.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(CANOPY_WITH_CUDA)
#include "kernels/cuda_check.cuh"
#include "kernels/device_buffer.cuh"
#endif

namespace canopy {
namespace {

bool has_gpu() { return !list_devices().empty(); }

// Runs select_device(spec), expecting std::invalid_argument; returns what().
std::string rejection(const std::string& spec) {
  try {
    select_device(spec);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "select_device(\"" << spec << "\") did not throw";
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(SelectDevice, CpuIsAlwaysTheCpu) {
  const DeviceChoice c = select_device("cpu");
  EXPECT_EQ(c.backend, Backend::kCpu);
  EXPECT_EQ(c.device_index, -1);
  EXPECT_TRUE(c.notice.empty());
  EXPECT_STREQ(backend_name(c.backend), "cpu");
}

TEST(SelectDevice, AutoFallsBackToTheCpuWithANotice) {
  const DeviceChoice c = select_device("auto");
  if (has_gpu()) {
    // A visible GPU is used unless this build cannot run on it, which the notice says.
    if (c.backend == Backend::kCuda) {
      EXPECT_EQ(c.device_index, 0);
      EXPECT_TRUE(c.notice.empty());
    } else {
      EXPECT_TRUE(contains(c.notice, "no usable GPU")) << c.notice;
    }
    return;
  }
  EXPECT_EQ(c.backend, Backend::kCpu);
  EXPECT_EQ(c.device_index, -1);
  ASSERT_FALSE(c.notice.empty());
  const std::string reason = cuda_unavailable_reason();
  ASSERT_FALSE(reason.empty());
  EXPECT_EQ(c.notice, "canopy: no usable GPU (" + reason + "); running on the CPU");
  EXPECT_EQ(c.notice.find('\n'), std::string::npos) << "the notice is one line";
}

TEST(SelectDevice, CudaWithoutADeviceThrowsWithTheReason) {
  if (has_gpu()) GTEST_SKIP() << "a CUDA device is visible";
  const std::string reason = cuda_unavailable_reason();
  ASSERT_FALSE(reason.empty());
#if !defined(CANOPY_WITH_CUDA)
  EXPECT_EQ(reason, "built without CUDA");
#endif
  for (const std::string spec : {"cuda", "cuda:0", "cuda:3"}) {
    const std::string msg = rejection(spec);
    EXPECT_EQ(msg.rfind("--device " + spec + ": no CUDA device visible", 0), 0u) << msg;
    EXPECT_TRUE(contains(msg, reason)) << msg;
  }
  if (reason == "no CUDA driver found") {
    EXPECT_EQ(rejection("cuda"), "--device cuda: no CUDA device visible (no CUDA driver found)");
  }
}

TEST(SelectDevice, RejectsUnknownSpecsNamingTheValue) {
  for (const std::string spec :
       {"cuda:x", "gpu", "", "CPU", "cuda:", "cuda:-1", "cuda0", "cuda:0 ", " auto", "cuda:1x"}) {
    const std::string msg = rejection(spec);
    EXPECT_TRUE(contains(msg, "\"" + spec + "\"")) << spec << " -> " << msg;
    EXPECT_TRUE(contains(msg, "expected auto, cpu, cuda or cuda:N")) << msg;
  }
}

TEST(SelectDevice, CudaIndexOutOfRange) {
  const std::vector<DeviceInfo> devices = list_devices();
  if (devices.empty()) GTEST_SKIP() << "no CUDA device visible";
  const std::string spec = "cuda:" + std::to_string(devices.size());
  EXPECT_EQ(rejection(spec), "--device " + spec + ": only " + std::to_string(devices.size()) +
                                 " CUDA device(s) visible");
}

TEST(SelectDevice, CudaPicksTheRequestedDevice) {
  const std::vector<DeviceInfo> devices = list_devices();
  if (devices.empty()) GTEST_SKIP() << "no CUDA device visible";
  DeviceChoice c = select_device("cuda");
  EXPECT_EQ(c.backend, Backend::kCuda);
  EXPECT_EQ(c.device_index, 0);
  EXPECT_TRUE(c.notice.empty());
  const int last = static_cast<int>(devices.size()) - 1;
  c = select_device("cuda:" + std::to_string(last));
  EXPECT_EQ(c.backend, Backend::kCuda);
  EXPECT_EQ(c.device_index, last);
  EXPECT_STREQ(backend_name(c.backend), "cuda");
}

TEST(ListDevices, FieldsAreSaneOnAGpu) {
  const std::vector<DeviceInfo> devices = list_devices();
  if (devices.empty()) {
    EXPECT_FALSE(cuda_unavailable_reason().empty());
    GTEST_SKIP() << "no CUDA device visible: " << cuda_unavailable_reason();
  }
  EXPECT_TRUE(cuda_unavailable_reason().empty());
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const DeviceInfo& d = devices[i];
    EXPECT_EQ(d.index, static_cast<int>(i));
    EXPECT_FALSE(d.name.empty());
    EXPECT_GT(d.total_memory, std::size_t{1} << 30);
    EXPECT_LE(d.free_memory, d.total_memory);
    EXPECT_GT(d.free_memory, 0u);
    EXPECT_GE(d.cc_major, 5);
    EXPECT_GE(d.cc_minor, 0);
    EXPECT_GT(d.multiprocessors, 0);
    EXPECT_GT(d.memory_bandwidth, 1e11);  // any CUDA card's memory moves over 100 GB/s
    EXPECT_TRUE(contains(d.driver_version, ".")) << d.driver_version;
    EXPECT_TRUE(contains(d.runtime_version, ".")) << d.runtime_version;
  }
  const std::string text = describe_devices(devices);
  EXPECT_TRUE(contains(text, devices[0].name)) << text;
  const nlohmann::json j = nlohmann::json::parse(describe_devices_json(devices));
  EXPECT_TRUE(j["cuda_available"].get<bool>());
  EXPECT_EQ(j["devices"].size(), devices.size());
}

TEST(DescribeDevices, NoDevices) {
  const std::string text = describe_devices({});
  EXPECT_EQ(text.rfind("no CUDA devices", 0), 0u) << text;
  const std::string reason = cuda_unavailable_reason();
  if (!reason.empty()) {
    EXPECT_EQ(text, "no CUDA devices (" + reason + ")\n");
  }

  const nlohmann::json j = nlohmann::json::parse(describe_devices_json({}));
  EXPECT_FALSE(j["cuda_available"].get<bool>());
  EXPECT_TRUE(j["devices"].is_array());
  EXPECT_TRUE(j["devices"].empty());
  EXPECT_EQ(j["reason"].get<std::string>(), reason);
}

TEST(DescribeDevices, FormatsEveryField) {
  DeviceInfo d;
  d.index = 1;
  d.name = "NVIDIA H100 80GB HBM3";
  d.total_memory = std::size_t{80} << 30;
  d.free_memory = std::size_t{79} << 30;
  d.cc_major = 9;
  d.cc_minor = 0;
  d.multiprocessors = 132;
  d.memory_bandwidth = peak_memory_bandwidth(2619000, 5120);  // an H100 SXM's HBM3
  EXPECT_EQ(peak_memory_bandwidth(0, 5120), 0);               // the runtime did not say
  EXPECT_EQ(peak_memory_bandwidth(2619000, 0), 0);
  d.driver_version = "13.0";
  d.runtime_version = "13.0";
  EXPECT_EQ(describe_devices({d}),
            "cuda:1: NVIDIA H100 80GB HBM3, 80.0 GiB (79.0 GiB free, 3.35 TB/s peak), compute capability 9.0, "
            "132 SMs, driver 13.0, runtime 13.0\n");
  const nlohmann::json j = nlohmann::json::parse(describe_devices_json({d}));
  EXPECT_TRUE(j["cuda_available"].get<bool>());
  EXPECT_EQ(j["reason"].get<std::string>(), "");
  ASSERT_EQ(j["devices"].size(), 1u);
  const nlohmann::json& jd = j["devices"][0];
  EXPECT_EQ(jd["index"].get<int>(), 1);
  EXPECT_EQ(jd["name"].get<std::string>(), d.name);
  EXPECT_EQ(jd["total_memory_bytes"].get<std::uint64_t>(), d.total_memory);
  EXPECT_EQ(jd["free_memory_bytes"].get<std::uint64_t>(), d.free_memory);
  EXPECT_EQ(jd["compute_capability"].get<std::string>(), "9.0");
  EXPECT_EQ(jd["multiprocessors"].get<int>(), 132);
  EXPECT_DOUBLE_EQ(jd["memory_bandwidth_bytes_per_s"].get<double>(), 3.352320e12);
  d.memory_bandwidth = 0;  // unknown: not printed
  EXPECT_EQ(describe_devices({d}),
            "cuda:1: NVIDIA H100 80GB HBM3, 80.0 GiB (79.0 GiB free), compute capability 9.0, "
            "132 SMs, driver 13.0, runtime 13.0\n");
  EXPECT_EQ(jd["driver_version"].get<std::string>(), "13.0");
  EXPECT_EQ(jd["runtime_version"].get<std::string>(), "13.0");
}

TEST(CudaError, MessageNamesCodeCallAndPlace) {
  const CudaError e(2, "out of memory", "cudaMalloc(&p, n)", "/work/main/kernels/histogram.cu", 123);
  EXPECT_STREQ(e.what(), "CUDA error 2 (out of memory) in cudaMalloc(&p, n) at kernels/histogram.cu:123");
  EXPECT_EQ(e.code(), 2);
  EXPECT_EQ(e.call(), "cudaMalloc(&p, n)");
  EXPECT_EQ(e.file(), "kernels/histogram.cu");
  EXPECT_EQ(e.line(), 123);
  EXPECT_THROW(detail::throw_cuda_error(2, "out of memory", "f()", "x.cu", 1), CudaError);
  // CudaError is a std::runtime_error, so generic handlers report it.
  EXPECT_THROW(detail::throw_cuda_error(2, "out of memory", "f()", "x.cu", 1), std::runtime_error);
}

#if defined(CANOPY_WITH_CUDA)
TEST(CudaCheck, ThrowsCudaErrorWithTheCallText) {
  try {
    CANOPY_CUDA_CHECK(cudaErrorMemoryAllocation);
    FAIL() << "CANOPY_CUDA_CHECK did not throw";
  } catch (const CudaError& e) {
    EXPECT_EQ(e.code(), static_cast<int>(cudaErrorMemoryAllocation));
    EXPECT_EQ(e.call(), "cudaErrorMemoryAllocation");
    EXPECT_EQ(e.file(), "kernels/device_test.cc");
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("CUDA error 2 (out of memory) in cudaErrorMemoryAllocation at "
                        "kernels/device_test.cc:",
                        0),
              0u)
        << msg;
  }
  EXPECT_NO_THROW(CANOPY_CUDA_CHECK(cudaSuccess));
}

TEST(DeviceArray, AllocationWithoutAGpuThrowsCudaError) {
  if (has_gpu()) GTEST_SKIP() << "a CUDA device is visible";
  EXPECT_THROW(DeviceArray<int>(16), CudaError);
  DeviceArray<int> empty;  // no allocation, no CUDA call
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.data(), nullptr);
}

TEST(DeviceArray, RoundTripOnAGpu) {
  if (!has_gpu()) GTEST_SKIP() << "no CUDA device visible";
  std::vector<std::uint32_t> host(1000);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<std::uint32_t>(i * 2654435761u);
  DeviceArray<std::uint32_t> a(host);
  EXPECT_EQ(a.size(), host.size());
  EXPECT_EQ(a.bytes(), host.size() * sizeof(std::uint32_t));
  EXPECT_EQ(a.download(), host);

  DeviceArray<std::uint32_t> b(std::move(a));
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.download(), host);

  b.fill_bytes(0);
  EXPECT_EQ(b.download(), std::vector<std::uint32_t>(host.size(), 0u));
  std::vector<std::uint32_t> part(10);
  EXPECT_THROW(b.download(part.data(), host.size() + 1), std::out_of_range);
  b.upload(host.data(), 10);
  b.download(part.data(), 10);
  EXPECT_EQ(part, std::vector<std::uint32_t>(host.begin(), host.begin() + 10));
}
#endif

}  // namespace
}  // namespace canopy
