// NVML-based GPU system metrics: absent NVML is reported, present NVML gives
// MLflow's metric names with sane values.
#include <gtest/gtest.h>

#include "kernels/device.h"
#include "kernels/gpu_metrics.h"

namespace canopy {
namespace {

TEST(GpuMetrics, SourceReportsMlflowNamesOrWhyNot) {
  std::string why;
  GpuMetricSource source = make_nvml_source(0, &why);
  if (!source) {
    EXPECT_FALSE(why.empty());
    GTEST_SKIP() << "no NVML here: " << why;
  }
  GpuMetricValues values;
  source(values);
  ASSERT_FALSE(values.empty());
  for (const auto& [name, value] : values) {
    EXPECT_EQ(name.rfind("system/gpu_0_", 0), 0u) << name;
    EXPECT_GE(value, 0.0) << name;
  }
}

}  // namespace
}  // namespace canopy
