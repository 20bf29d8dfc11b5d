// MLflow's search syntax: parsing, evaluation, ordering, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "tracking/filter.h"

namespace canopy::tracking {
namespace {

tracking::Run make_run() {
  tracking::Run r;
  r.info.run_id = "0123456789abcdef0123456789abcdef";
  r.info.run_name = "brave-oak-1";
  r.info.status = RunStatus::kFinished;
  r.info.start_time = 1000;
  r.info.end_time = 5000;
  r.info.user_id = "ada";
  r.info.experiment_id = "3";
  r.params = {{"max_depth", "8"}, {"criterion", "gini"}, {"max features", "sqrt"}};
  r.metrics = {{"r2", {"r2", 0.5, 1, 0}}, {"system/cpu_utilization_percentage", {"x", 40, 1, 3}},
               {"my metric", {"my metric", -2, 1, 0}}};
  r.tags = {{"mlflow.parentRunId", "p123"}, {"team", "Blue"}};
  return r;
}

bool m(const std::string& f) { return Filter::parse(f).matches(make_run()); }

std::string error_of(const std::string& f) {
  try {
    Filter::parse(f);
  } catch (const FilterError& e) {
    return e.what();
  }
  return "";
}

TEST(Filter, EmptyMatchesEverything) {
  EXPECT_TRUE(m(""));
  EXPECT_TRUE(m("   "));
}

TEST(Filter, NumericComparators) {
  EXPECT_TRUE(m("metrics.r2 = 0.5"));
  EXPECT_TRUE(m("metrics.r2 == 0.5"));
  EXPECT_FALSE(m("metrics.r2 != 0.5"));
  EXPECT_TRUE(m("metrics.r2 < 0.6"));
  EXPECT_TRUE(m("metrics.r2 <= 0.5"));
  EXPECT_FALSE(m("metrics.r2 > 0.5"));
  EXPECT_TRUE(m("metrics.r2 >= 0.5"));
  EXPECT_TRUE(m("metrics.r2>0.4"));
  EXPECT_TRUE(m("metrics.r2 > 4e-1"));
  EXPECT_TRUE(m("metrics.`my metric` = -2"));
  EXPECT_TRUE(m("metrics.\"my metric\" < -1.5"));
  EXPECT_TRUE(m("metrics.system/cpu_utilization_percentage >= 40"));
  EXPECT_TRUE(m("metric.r2 > .1"));
  EXPECT_FALSE(m("metrics.missing > 0"));
  EXPECT_FALSE(m("metrics.missing != 0"));
  EXPECT_TRUE(m("attributes.start_time >= 1000"));
  EXPECT_TRUE(m("end_time = 5000"));
}

TEST(Filter, StringComparators) {
  EXPECT_TRUE(m("params.max_depth = '8'"));
  EXPECT_TRUE(m("params.max_depth = \"8\""));
  EXPECT_FALSE(m("params.max_depth != '8'"));
  EXPECT_TRUE(m("params.criterion LIKE 'gi%'"));
  EXPECT_TRUE(m("params.criterion like 'g_n_'"));
  EXPECT_FALSE(m("params.criterion LIKE 'G%'"));
  EXPECT_TRUE(m("params.criterion ILIKE 'G%'"));
  EXPECT_TRUE(m("params.`max features` = 'sqrt'"));
  EXPECT_TRUE(m("tags.mlflow.parentRunId = 'p123'"));
  EXPECT_TRUE(m("tags.team ILIKE '%lu%'"));
  EXPECT_TRUE(m("params.criterion IN ('entropy', 'gini')"));
  EXPECT_TRUE(m("params.criterion NOT IN ('entropy')"));
  EXPECT_FALSE(m("tags.missing = 'x'"));
}

TEST(Filter, Attributes) {
  EXPECT_TRUE(m("attributes.status = 'FINISHED'"));
  EXPECT_TRUE(m("attribute.status = 'FINISHED'"));
  EXPECT_TRUE(m("status = 'FINISHED'"));
  EXPECT_FALSE(m("status = 'RUNNING'"));
  EXPECT_TRUE(m("attributes.run_name LIKE 'brave%'"));
  EXPECT_TRUE(m("run_name = 'brave-oak-1'"));
  EXPECT_TRUE(m("attributes.run_id = '0123456789abcdef0123456789abcdef'"));
  EXPECT_TRUE(m("attributes.user_id = 'ada'"));
  EXPECT_TRUE(m("attr.experiment_id = '3'"));
}

TEST(Filter, AndIsCaseInsensitive) {
  EXPECT_TRUE(m("metrics.r2 > 0.4 and params.max_depth = '8'"));
  EXPECT_TRUE(m("metrics.r2 > 0.4 AND params.max_depth = '8' And status = 'FINISHED'"));
  EXPECT_FALSE(m("metrics.r2 > 0.4 and params.max_depth = '9'"));
  EXPECT_EQ(Filter::parse("metrics.r2 > 0.4 and params.max_depth = '8'").clauses().size(), 2u);
}

TEST(Filter, MalformedFilterNamesTheToken) {
  EXPECT_EQ(error_of("metrics.r2 >> 0.4"), "invalid filter \"metrics.r2 >> 0.4\": unexpected token \">\" at position 12");
  EXPECT_NE(error_of("metrics.r2 > 0.4 or params.x = '1'").find("unexpected token \"or\" at position 17"),
            std::string::npos);
  EXPECT_NE(error_of("metrics.r2 > 0.4 and").find("unexpected end at position 20"), std::string::npos);
  EXPECT_NE(error_of("metrics.r2 0.4").find("unexpected token \"0.4\" at position 11"), std::string::npos);
  EXPECT_NE(error_of("params.x = 'abc").find("unterminated string"), std::string::npos);
  EXPECT_NE(error_of("foo.x = 'a'").find("unknown entity \"foo\""), std::string::npos);
  EXPECT_NE(error_of("attributes.colour = 'a'").find("unknown attribute \"colour\""), std::string::npos);
  EXPECT_NE(error_of("params.max_depth = 8").find("quote the value 8 at position 19"), std::string::npos);
  EXPECT_NE(error_of("metrics.r2 = 'high'").find("expected a number, found 'high' at position 13"),
            std::string::npos);
  EXPECT_NE(error_of("metrics.r2 LIKE '1%'").find("comparator LIKE"), std::string::npos);
  EXPECT_NE(error_of("params.x > '1'").find("comparator \">\""), std::string::npos);
  EXPECT_NE(error_of("metrics.r2 > 0.4 params.x = '1'").find("unexpected token \"params.x\" at position 17"),
            std::string::npos);
  EXPECT_NE(error_of("metrics.r2 ! 1").find("unexpected token \"!\" at position 11"), std::string::npos);
}

TEST(Filter, LikeMatcher) {
  EXPECT_TRUE(like_match("abc", "abc", false));
  EXPECT_TRUE(like_match("abc", "%", false));
  EXPECT_TRUE(like_match("", "%", false));
  EXPECT_TRUE(like_match("abcabd", "%abd", false));
  EXPECT_TRUE(like_match("aXc", "a_c", false));
  EXPECT_FALSE(like_match("ac", "a_c", false));
  EXPECT_TRUE(like_match("ABC", "a%c", true));
  EXPECT_FALSE(like_match("ABC", "a%c", false));
}

TEST(OrderBy, ParsesAndSorts) {
  auto keys = parse_order_by(split_order_by("metrics.r2 DESC, params.x ASC, attributes.start_time desc, run_name"));
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(keys[0].type, EntityType::kMetric);
  EXPECT_FALSE(keys[0].ascending);
  EXPECT_EQ(keys[1].type, EntityType::kParam);
  EXPECT_TRUE(keys[1].ascending);
  EXPECT_EQ(keys[2].key, "start_time");
  EXPECT_FALSE(keys[2].ascending);
  EXPECT_EQ(keys[3].key, "run_name");
  EXPECT_EQ(split_order_by("metrics.`a,b` DESC, params.x").size(), 2u);
  try {
    parse_order_by({"metrics.r2 DOWN"});
    FAIL();
  } catch (const FilterError& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected token \"DOWN\" at position 11"), std::string::npos) << e.what();
  }

  std::vector<tracking::Run> runs(4);
  const double r2[] = {0.3, std::nan(""), 0.9, 0.3};
  for (int i = 0; i < 4; ++i) {
    runs[i].info.run_id = std::string(1, static_cast<char>('a' + i));
    runs[i].info.start_time = 10 * i;
    runs[i].metrics["r2"] = Metric{"r2", r2[i], 0, 0};
  }
  runs.push_back(tracking::Run{});
  runs.back().info.run_id = "e";  // no r2: last
  sort_runs(runs, parse_order_by({"metrics.r2 DESC"}));
  std::string order;
  for (const tracking::Run& r : runs) order += r.info.run_id;
  EXPECT_EQ(order, "cdabe");  // ties on r2 break on start_time DESC; NaN after numbers
  sort_runs(runs, parse_order_by({"metrics.r2"}));
  order.clear();
  for (const tracking::Run& r : runs) order += r.info.run_id;
  EXPECT_EQ(order, "dacbe");
}

}  // namespace
}  // namespace canopy::tracking
