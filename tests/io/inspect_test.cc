// Tests for io/inspect.h on small hand-computed tables.
#include "io/inspect.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "io/csv.h"
#include "test_util.h"

namespace canopy {
namespace {

Dataset small_table() {
  Dataset d;
  d.source = "small.csv";
  d.feature_names = {"a", "b"};
  d.columns = {{1, 2, NAN, 4}, {0.0f, -0.0f, 5, 5}};
  d.label_name = "kind";
  d.label_text = {"x", "y", "x", "z"};
  return d;
}

TEST(Inspect, HandComputedNumbers) {
  DataSummary s = summarize(small_table());
  EXPECT_EQ(s.path, "small.csv");
  EXPECT_EQ(s.rows, 4);
  ASSERT_EQ(s.columns.size(), 3u);
  const ColumnSummary& a = s.columns[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.dtype, "float32");
  EXPECT_EQ(a.missing, 1);
  EXPECT_EQ(a.distinct, 3);
  EXPECT_TRUE(a.distinct_exact);
  EXPECT_DOUBLE_EQ(a.min, 1);
  EXPECT_DOUBLE_EQ(a.max, 4);
  EXPECT_DOUBLE_EQ(a.mean, 7.0 / 3);
  EXPECT_NEAR(a.std, std::sqrt(14.0 / 9), 1e-12);  // population std of {1, 2, 4}
  const ColumnSummary& b = s.columns[1];
  EXPECT_EQ(b.distinct, 2);  // -0 and +0 are one value
  EXPECT_EQ(b.missing, 0);
  EXPECT_DOUBLE_EQ(b.mean, 2.5);
  EXPECT_DOUBLE_EQ(b.std, 2.5);
  const ColumnSummary& label = s.columns[2];
  EXPECT_TRUE(label.is_label);
  EXPECT_EQ(label.dtype, "string");
  EXPECT_EQ(label.distinct, 3);
  EXPECT_TRUE(std::isnan(label.mean));
  // Sorted by count descending, then value.
  using Entry = std::pair<std::string, int64_t>;
  EXPECT_EQ(s.label_distribution, (std::vector<Entry>{{"x", 2}, {"y", 1}, {"z", 1}}));
  EXPECT_FALSE(s.has_label_stats);
}

TEST(Inspect, TextAndJson) {
  DataSummary s = summarize(small_table());
  std::string text = summary_text(s);
  EXPECT_NE(text.find("rows: 4, features: 2, label: kind"), std::string::npos) << text;
  EXPECT_NE(text.find("column  dtype    missing  distinct  min  max     mean      std"), std::string::npos)
      << text;
  EXPECT_NE(text.find("(label)"), std::string::npos) << text;
  EXPECT_NE(text.find("  x  2   50.00%"), std::string::npos) << text;

  nlohmann::json j = summary_json(s);
  EXPECT_EQ(j["rows"], 4);
  EXPECT_EQ(j["n_features"], 2);
  EXPECT_EQ(j["label"], "kind");
  EXPECT_EQ(j["columns"][0]["name"], "a");
  EXPECT_EQ(j["columns"][0]["missing"], 1);
  EXPECT_EQ(j["columns"][0]["role"], "feature");
  EXPECT_DOUBLE_EQ(j["columns"][0]["mean"].get<double>(), 7.0 / 3);
  EXPECT_TRUE(j["columns"][2]["mean"].is_null());
  EXPECT_EQ(j["columns"][2]["role"], "label");
  EXPECT_EQ(j["label_distribution"][0]["value"], "x");
  EXPECT_EQ(j["label_distribution"][0]["count"], 2);
  EXPECT_FALSE(j.contains("label_stats"));
}

TEST(Inspect, NumericLabelsFewValuesGetADistribution) {
  Dataset d;
  d.feature_names = {"f"};
  d.columns = {{1, 2, 3, 4, 5}};
  d.label_name = "y";
  d.label_numeric = {2, 0, 2, 10, 0};
  DataSummary s = summarize(d);
  using Entry = std::pair<std::string, int64_t>;
  // Ties on count ordered numerically (0 < 2), not as text.
  EXPECT_EQ(s.label_distribution, (std::vector<Entry>{{"0", 2}, {"2", 2}, {"10", 1}}));
  EXPECT_EQ(s.columns.back().dtype, "float64");
}

TEST(Inspect, NumericLabelsManyValuesGetStats) {
  Dataset d;
  d.feature_names = {"f"};
  d.columns = {std::vector<float>(100, 1.0f)};
  d.label_name = "y";
  for (int i = 0; i < 100; ++i) d.label_numeric.push_back(i);
  d.sample_weight.assign(100, 2.0);
  DataSummary s = summarize(d);
  EXPECT_TRUE(s.has_label_stats);
  EXPECT_TRUE(s.label_distribution.empty());
  EXPECT_DOUBLE_EQ(s.label_stats.mean, 49.5);
  EXPECT_DOUBLE_EQ(s.label_stats.min, 0);
  EXPECT_DOUBLE_EQ(s.label_stats.max, 99);
  EXPECT_NEAR(s.label_stats.std, std::sqrt((100.0 * 100 - 1) / 12), 1e-9);
  ASSERT_EQ(s.columns.size(), 3u);
  EXPECT_TRUE(s.columns[1].is_weight);
  nlohmann::json j = summary_json(s);
  EXPECT_DOUBLE_EQ(j["label_stats"]["mean"].get<double>(), 49.5);
  EXPECT_FALSE(j.contains("label_distribution"));
  EXPECT_EQ(j["columns"][1]["role"], "weight");
  EXPECT_NE(summary_text(s).find("label y: mean 49.5"), std::string::npos);
}

TEST(Inspect, DistributionCappedWithOther) {
  Dataset d;
  d.feature_names = {"f"};
  d.label_name = "y";
  for (int i = 0; i < 60; ++i) {
    for (int k = 0; k <= i; ++k) d.label_text.push_back("c" + std::to_string(i));
  }
  d.columns = {std::vector<float>(d.label_text.size(), 0.0f)};
  DataSummary s = summarize(d);
  ASSERT_EQ(s.label_distribution.size(), kLabelDistributionCap + 1);
  EXPECT_EQ(s.label_distribution[0], (std::pair<std::string, int64_t>{"c59", 60}));
  // The 10 rarest classes c0..c9 have 1 + 2 + ... + 10 = 55 rows.
  EXPECT_EQ(s.label_distribution.back(), (std::pair<std::string, int64_t>{"(other)", 55}));
}

TEST(Inspect, ApproximateDistinctBeyondExactLimit) {
  Dataset d;
  d.feature_names = {"f"};
  std::vector<float> v;
  for (int i = 0; i < 300000; ++i) v.push_back(static_cast<float>(i));
  d.columns = {v};
  DataSummary s = summarize(d);
  EXPECT_FALSE(s.columns[0].distinct_exact);
  EXPECT_NEAR(s.columns[0].distinct, 300000, 300000 * 0.04);
  EXPECT_NE(summary_text(s).find("~"), std::string::npos);
}

TEST(Inspect, ExampleBreastCancer) {
  ReadOptions o;
  o.label = "diagnosis";
  DataSummary s = summarize(read_csv(test::data_file("breast_cancer.csv"), o));
  EXPECT_EQ(s.rows, 569);
  EXPECT_EQ(s.columns.size(), 31u);
  using Entry = std::pair<std::string, int64_t>;
  EXPECT_EQ(s.label_distribution, (std::vector<Entry>{{"benign", 357}, {"malignant", 212}}));
}

}  // namespace
}  // namespace canopy
