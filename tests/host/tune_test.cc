// Tests of `canopy tune` (host/search, host/sweep, host/tune, host/cli_tune):
// search spaces, equality with `canopy cv`, results files, refit, failure
// isolation, resume after a kill, and invalid grids.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "host/params.h"
#include "host/search.h"
#include "host/tune.h"
#include "test_util.h"
#include "tracking/store_factory.h"

namespace canopy::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json tune_json(const std::string& args) {
  CommandResult r = run_canopy("tune " + args + " --device cpu --json");
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  if (r.exit_code != 0) return json::object();
  return json::parse(r.out);
}

std::string diabetes() { return " --data " + data_file("diabetes.csv") + " --label target"; }
std::string cancer() { return " --data " + data_file("breast_cancer.csv") + " --label diagnosis"; }

// Expected min-method ranks of scores (NaN last).
std::vector<int64_t> expected_ranks(const std::vector<double>& v, bool higher) {
  std::vector<int64_t> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) {
      int64_t finite = 0;
      for (double x : v) finite += !std::isnan(x);
      r[i] = finite + 1;
      continue;
    }
    int64_t better = 0;
    for (double x : v) better += !std::isnan(x) && (higher ? x > v[i] : x < v[i]);
    r[i] = better + 1;
  }
  return r;
}

// --- search spaces -----------------------------------------------------------

TEST(TuneSearch, GridOrderIsSortedNamesLastFastest) {
  SearchSpace s;
  s.grids.push_back(parse_grid_flags({"min-samples-leaf=1,5", "max_features=sqrt,1.0", "maxDepth=3"}));
  const auto c = expand_grid(s);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(candidate_key(c[0]), "max_depth=3;max_features=sqrt;min_samples_leaf=1");
  EXPECT_EQ(candidate_key(c[1]), "max_depth=3;max_features=sqrt;min_samples_leaf=5");
  EXPECT_EQ(candidate_key(c[2]), "max_depth=3;max_features=1.0;min_samples_leaf=1");
  EXPECT_EQ(candidate_key(c[3]), "max_depth=3;max_features=1.0;min_samples_leaf=5");
}

TEST(TuneSearch, RandomSamplingIsSeededAndInRange) {
  SearchSpace s;
  s.grids.push_back(parse_grid_flags({"max_features=uniform(0.2,0.8)", "min_samples_leaf=int(1,20)",
                                      "min_impurity_decrease=loguniform(1e-6,1e-2)", "criterion=gini,entropy"}));
  const auto a = sample_candidates(s, 30, 7), b = sample_candidates(s, 30, 7), c = sample_candidates(s, 30, 8);
  ASSERT_EQ(a.size(), 30u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::set<std::string> crit;
  for (const auto& v : a) {
    const double mf = std::stod(v.at("max_features"));
    EXPECT_GE(mf, 0.2);
    EXPECT_LE(mf, 0.8);
    EXPECT_NE(v.at("max_features").find_first_of(".e"), std::string::npos);  // read as a fraction
    const int leaf = std::stoi(v.at("min_samples_leaf"));
    EXPECT_GE(leaf, 1);
    EXPECT_LE(leaf, 20);
    const double mid = std::stod(v.at("min_impurity_decrease"));
    EXPECT_GE(mid, 1e-6);
    EXPECT_LE(mid, 1e-2);
    crit.insert(v.at("criterion"));
  }
  EXPECT_EQ(crit.size(), 2u);
  // All lists: sampling without replacement from the grid.
  SearchSpace g;
  g.grids.push_back(parse_grid_flags({"max_depth=1,2,3,4", "min_samples_leaf=1,2,3"}));
  const auto r = sample_candidates(g, 5, 1);
  std::set<std::string> keys;
  for (const auto& v : r) keys.insert(candidate_key(v));
  EXPECT_EQ(keys.size(), 5u);
  EXPECT_EQ(sample_candidates(g, 50, 1).size(), 12u);
}

TEST(TuneSearch, RankMinTiesAndNaN) {
  const double nan = std::nan("");
  EXPECT_EQ(rank_min({0.5, 0.7, 0.7, nan, 0.1}, true), (std::vector<int64_t>{3, 1, 1, 5, 4}));
  EXPECT_EQ(rank_min({0.5, 0.7, 0.7, nan, nan}, false), (std::vector<int64_t>{1, 2, 2, 4, 4}));
}

TEST(TuneSearch, HalvingScheduleLikeScikitLearn) {
  // 24 candidates, factor 3: 3 rounds (24 -> 8 -> 3), exhaust 270 -> 30, 90, 270.
  HalvingSchedule s = halving_schedule(24, 3, 0, 270, 1);
  EXPECT_EQ(s.resources, (std::vector<int64_t>{30, 90, 270}));
  EXPECT_EQ(s.candidates, (std::vector<int64_t>{24, 8, 3}));
  s = halving_schedule(8, 2, 10, 100, 1);
  EXPECT_EQ(s.resources, (std::vector<int64_t>{10, 20, 40, 80}));
  EXPECT_EQ(s.candidates, (std::vector<int64_t>{8, 4, 2, 1}));
}

TEST(TuneSearch, YamlSubsetEqualsJson) {
  const std::string yaml = R"Y(# a sweep
strategy: random
n_iter: 12
scoring: [r2, rmse]
fixed:
  n_estimators: 30
grids:
  - max_depth: [6, 10, null]
    max_features: [sqrt, 0.33, 1.0]
  - min_samples_leaf: int(1, 20)   # a range
    max_features: "uniform(0.1, 0.9)"
halving: {factor: 2, resource: rows}
)Y";
  const json y = parse_yaml_subset(yaml);
  EXPECT_EQ(y["strategy"], "random");
  EXPECT_EQ(y["scoring"], json({"r2", "rmse"}));
  EXPECT_EQ(y["fixed"]["n_estimators"], "30");
  ASSERT_EQ(y["grids"].size(), 2u);
  EXPECT_EQ(y["grids"][0]["max_depth"], json({"6", "10", nullptr}));
  EXPECT_EQ(y["grids"][1]["min_samples_leaf"], "int(1, 20)");
  EXPECT_EQ(y["halving"]["factor"], "2");
  SearchSpace s = SearchSpace::from_json(y["grids"]);
  EXPECT_EQ(s.grids[0].at("max_depth").values, (std::vector<std::string>{"6", "10", "none"}));
  EXPECT_EQ(s.grids[0].at("max_features").values, (std::vector<std::string>{"sqrt", "0.33", "1.0"}));
  EXPECT_EQ(s.grids[1].at("min_samples_leaf").kind, ParamDomain::Kind::kInt);
  const json j = json::parse(R"({"grids": [{"max_depth": [6, 10, null], "max_features": ["sqrt", 0.33, 1.0]}]})");
  SearchSpace sj = SearchSpace::from_json(j["grids"]);
  EXPECT_EQ(sj.grids[0].at("max_features").values, s.grids[0].at("max_features").values);
  EXPECT_EQ(sj.grids[0].at("max_depth").values, s.grids[0].at("max_depth").values);
  EXPECT_THROW(parse_yaml_subset("a: 1\n  b: 2\n"), ParamError);
}

// --- (1) a batched sweep gives exactly what `canopy cv` gives ------------------

void expect_equal_to_cv(const std::string& data, const std::vector<std::string>& grid, const std::string& fixed,
                        const std::vector<std::string>& metrics, int folds) {
  std::string g;
  for (const auto& x : grid) g += " --grid " + x;
  std::string scoring;
  for (const auto& m : metrics) scoring += (scoring.empty() ? "" : ",") + m;
  const json t = tune_json(data + g + fixed + " --folds " + std::to_string(folds) + " --scoring " + scoring +
                           " --no-tracking");
  ASSERT_TRUE(t.contains("results"));
  const json& res = t["results"];
  const std::size_t n = res["params"].size();
  ASSERT_GE(n, 2u);
  std::map<std::string, std::vector<double>> cv_means;
  for (std::size_t i = 0; i < n; ++i) {
    std::string flags;
    for (auto it = res["params"][i].begin(); it != res["params"][i].end(); ++it) {
      std::string k = it.key();
      for (char& c : k)
        if (c == '_') c = '-';
      flags += " --" + k + " " + it.value().get<std::string>();
    }
    CommandResult r = run_canopy("cv" + data + flags + fixed + " --folds " + std::to_string(folds) +
                                 " --device cpu --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json cv = json::parse(r.out);
    for (const auto& m : metrics) {
      for (int k = 0; k < folds; ++k)
        EXPECT_EQ(res["split" + std::to_string(k) + "_test_" + m][i].get<double>(),
                  cv["metrics"][m]["per_fold"][k].get<double>())
            << m << " fold " << k << " candidate " << res["params"][i].dump();
      EXPECT_EQ(res["mean_test_" + m][i].get<double>(), cv["metrics"][m]["mean"].get<double>());
      EXPECT_EQ(res["std_test_" + m][i].get<double>(), cv["metrics"][m]["std"].get<double>());
      cv_means[m].push_back(cv["metrics"][m]["mean"].get<double>());
    }
  }
  for (const auto& m : metrics) {
    const bool higher = !(m == "rmse" || m == "mse" || m == "mae" || m == "log_loss");
    EXPECT_EQ(res["rank_test_" + m].get<std::vector<int64_t>>(), expected_ranks(cv_means[m], higher)) << m;
  }
}

TEST(TuneCli, SweepScoresEqualCvExactlyRegression) {
  expect_equal_to_cv(diabetes(), {"max_features=sqrt,1.0", "min_samples_leaf=1,5"},
                     " --n-estimators 20 --shuffle-seed 7 --seed 3", {"r2", "rmse"}, 3);
}

TEST(TuneCli, SweepScoresEqualCvExactlyClassification) {
  // Stratified folds; class weights change the statistics layout (own batch).
  expect_equal_to_cv(cancer(), {"criterion=gini,entropy", "class_weight=none,balanced"},
                     " --n-estimators 10 --max-depth 6", {"accuracy", "log_loss"}, 4);
}

TEST(TuneCli, SweepScoresEqualCvExactlyOneVsRest) {
  // Joint and one-vs-rest candidates share one batch call (different label views).
  expect_equal_to_cv(" --data " + test::data_file("wine.csv") + " --label target",
                     {"multi_class=joint,ovr", "class_weight=none,balanced_subsample"},
                     " --n-estimators 12 --max-depth 4 --shuffle-seed 1", {"accuracy", "roc_auc"}, 3);
}

// --- (2) results table and refit ------------------------------------------------

TEST(TuneCli, ResultsTablesAndRefittedModel) {
  const std::string dir = temp_dir();
  const std::string grid = " --grid max_features=sqrt,0.5,1.0 --grid min_samples_leaf=1,5,10";
  const std::string common = diabetes() + grid + " --n-estimators 15 --folds 3 --shuffle-seed 1 --scoring r2,rmse "
                                                 "--no-tracking --device cpu";
  CommandResult r = run_canopy("tune" + common + " --results " + dir + "/res.csv --out " + dir + "/best.h5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rank"), std::string::npos);
  EXPECT_NE(r.out.find("best r2"), std::string::npos);
  const json t = tune_json(common.substr(0, common.size() - 13) + " --results " + dir + "/res.json");
  const json file = json::parse(read_file(dir + "/res.json"));
  EXPECT_EQ(file, t["results"]);
  const std::size_t n = 9;
  std::vector<std::string> cols = {"params", "param_max_features", "param_min_samples_leaf"};
  for (std::string m : {"r2", "rmse"}) {
    for (int k = 0; k < 3; ++k) cols.push_back("split" + std::to_string(k) + "_test_" + m);
    cols.push_back("mean_test_" + m);
    cols.push_back("std_test_" + m);
    cols.push_back("rank_test_" + m);
  }
  for (std::string c : {"mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time", "status", "error"})
    cols.push_back(c);
  for (const auto& c : cols) {
    ASSERT_TRUE(file.contains(c)) << c;
    EXPECT_EQ(file[c].size(), n) << c;
  }
  for (std::string m : {"r2", "rmse"}) {
    std::vector<double> mean;
    for (std::size_t i = 0; i < n; ++i) {
      double s = 0, s2 = 0;
      for (int k = 0; k < 3; ++k) s += file["split" + std::to_string(k) + "_test_" + m][i].get<double>();
      const double mu = s / 3;
      for (int k = 0; k < 3; ++k) {
        const double x = file["split" + std::to_string(k) + "_test_" + m][i].get<double>();
        s2 += (x - mu) * (x - mu);
      }
      EXPECT_NEAR(file["mean_test_" + m][i].get<double>(), mu, 1e-12);
      EXPECT_NEAR(file["std_test_" + m][i].get<double>(), std::sqrt(s2 / 3), 1e-12);  // population std
      mean.push_back(file["mean_test_" + m][i].get<double>());
    }
    EXPECT_EQ(file["rank_test_" + m].get<std::vector<int64_t>>(), expected_ranks(mean, m == "r2"));
  }
  // CSV: header with every column, 9 rows with the same values.
  std::istringstream csv(read_file(dir + "/res.csv"));
  std::string header, line;
  std::getline(csv, header);
  for (const auto& c : cols) EXPECT_NE(header.find(c), std::string::npos) << c;
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 9);
  EXPECT_NE(header.find("params,param_max_features"), std::string::npos);
  // The refitted model carries the best candidate's parameters.
  const json best = t["best_params"];
  std::size_t bi = t["best_index"];
  EXPECT_EQ(file["rank_test_r2"][bi], 1);
  CommandResult e = run_canopy("model export " + dir + "/best.h5 --format json --out " + dir + "/best.json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const json model = json::parse(read_file(dir + "/best.json"));
  EXPECT_EQ(model["params"]["max_features"], best["max_features"]);
  EXPECT_EQ(model["params"]["min_samples_leaf"], best["min_samples_leaf"]);
  EXPECT_EQ(model["params"]["n_estimators"], "15");
  EXPECT_EQ(model["params"]["seed"], "0");
}

// --- (3) failure isolation --------------------------------------------------------

TEST(TuneCli, FailedCandidateIsRankedLastAndTheSweepGoesOn) {
  const json t = tune_json(diabetes() + " --grid max_features=sqrt,99 --grid min_samples_leaf=1,5 "
                                        "--n-estimators 10 --folds 3 --no-tracking");
  const json& res = t["results"];
  ASSERT_EQ(res["params"].size(), 4u);
  int failed = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    if (res["param_max_features"][i] == "99") {
      ++failed;
      EXPECT_EQ(res["status"][i], "failed");
      EXPECT_NE(res["error"][i].get<std::string>().find("max_features"), std::string::npos);
      EXPECT_TRUE(res["mean_test_r2"][i].is_null());
      EXPECT_TRUE(res["split0_test_r2"][i].is_null());
      EXPECT_EQ(res["rank_test_r2"][i], 3);  // both failed tie at the rank after the 2 good ones
    } else {
      EXPECT_EQ(res["status"][i], "ok");
      EXPECT_LE(res["rank_test_r2"][i].get<int>(), 2);
      EXPECT_TRUE(res["mean_test_r2"][i].is_number());
    }
  }
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(t["best_params"]["max_features"], "sqrt");
  // Every candidate failing is an error.
  CommandResult r = run_canopy("tune" + diabetes() + " --grid max_features=99,100 --n-estimators 5 --folds 3 "
                                                     "--no-tracking --device cpu");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("every candidate failed"), std::string::npos) << r.err;
}

// --- (5) invalid grids ----------------------------------------------------------------

TEST(TuneCli, InvalidGridsAreRejectedBeforeTraining) {
  const std::string dir = temp_dir();
  const std::string uri = " --tracking-uri sqlite:///" + dir + "/runs.db";
  struct Case {
    std::string args, must_name1, must_name2;
  };
  const std::vector<Case> cases = {
      {" --grid max_deph=1,2", "max_deph", ""},
      {" --grid max_depth=", "max_depth", "empty"},
      {" --grid min_samples_leaf=1,0", "min_samples_leaf", "\"0\""},
      {" --grid max_depth=3,-2", "max_depth", "\"-2\""},
      {" --grid max_depth=3 --scoring r2,bogus", "bogus", ""},
      {" --grid max_depth=3 --refit rmse", "rmse", ""},
      {" --grid 'max_features=uniform(0.5,0.1)' --strategy random", "max_features", "uniform(0.5,0.1)"},
  };
  for (const Case& c : cases) {
    CommandResult r = run_canopy("tune" + diabetes() + c.args + " --n-estimators 5 --device cpu" + uri);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.must_name1), std::string::npos) << c.args << ": " << r.err;
    if (!c.must_name2.empty()) EXPECT_NE(r.err.find(c.must_name2), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(r.out.find("batch"), std::string::npos) << c.args;  // nothing trained
  }
  // No run was recorded: nothing started.
  if (fs::exists(dir + "/runs.db")) {
    auto store = tracking::open_store("sqlite:///" + dir + "/runs.db");
    EXPECT_TRUE(store->search_runs({}, "", {}, 0).empty());
  }
}

// --- validation modes and strategies ---------------------------------------------------

TEST(TuneCli, OobHoldoutRandomHalvingAndSweepFiles) {
  const json oob = tune_json(cancer() + " --grid max_features=sqrt,0.5 --n-estimators 20 --oob --no-tracking");
  EXPECT_EQ(oob["validation"], "out-of-bag validation: no per-fold refits");
  EXPECT_TRUE(oob["results"].contains("split0_test_accuracy"));
  EXPECT_FALSE(oob["results"].contains("split1_test_accuracy"));
  CommandResult text = run_canopy("tune" + cancer() + " --grid max_features=sqrt --n-estimators 10 --oob "
                                                      "--no-tracking --device cpu");
  EXPECT_NE(text.out.find("out-of-bag validation: no per-fold refits"), std::string::npos);

  const json ho = tune_json(diabetes() + " --grid max_depth=3,none --holdout 0.25 --n-estimators 10 --no-tracking");
  EXPECT_EQ(ho["results"]["params"].size(), 2u);
  EXPECT_FALSE(ho["results"].contains("split1_test_r2"));

  const json rnd = tune_json(diabetes() + " --strategy random --n-iter 5 --grid 'max_features=uniform(0.2,1.0)' "
                                          "--grid 'min_samples_leaf=int(1,10)' --n-estimators 10 --folds 3 --seed 4 "
                                          "--no-tracking");
  EXPECT_EQ(rnd["results"]["params"].size(), 5u);

  const json hv = tune_json(diabetes() + " --strategy halving --grid max_features=0.3,0.6,1.0 "
                                         "--grid min_samples_leaf=1,5,10 --n-estimators 27 --folds 3 --no-tracking");
  // 9 candidates, factor 3: 9 at 3 trees, 3 at 9 trees, 1 at 27 trees.
  EXPECT_EQ(hv["results"]["params"].size(), 13u);
  EXPECT_EQ(hv["results"]["n_resources"].back(), 27);
  EXPECT_EQ(hv["best_params"]["n_estimators"], "27");
  const std::size_t bi = hv["best_index"];
  EXPECT_EQ(hv["results"]["iter"][bi], 2);

  const json hr = tune_json(diabetes() + " --strategy halving --halving-resource rows --halving-factor 2 "
                                         "--grid max_features=0.3,0.6,1.0,sqrt --n-estimators 10 --folds 3 "
                                         "--no-tracking");
  EXPECT_EQ(hr["results"]["params"].size(), 4u + 2u + 1u);
  EXPECT_EQ(hr["results"]["n_resources"].back(), 440);  // int(2^2 * 110), as scikit-learn

  // The same sweep from a YAML and a JSON file, and from flags.
  const std::string dir = temp_dir();
  write_file(dir + "/s.yaml", "grid:\n  max_features: [sqrt, 1.0]\n  min_samples_leaf: [1, 5]\nfolds: 3\n"
                              "shuffle_seed: 2\nscoring: r2,rmse\nfixed:\n  n_estimators: 8\n");
  write_file(dir + "/s.json", R"({"grid": {"max_features": ["sqrt", 1.0], "min_samples_leaf": [1, 5]},
    "folds": 3, "shuffle_seed": 2, "scoring": ["r2", "rmse"], "fixed": {"n_estimators": 8}})");
  const json a = tune_json(diabetes() + " --sweep " + dir + "/s.yaml --no-tracking");
  const json b = tune_json(diabetes() + " --sweep " + dir + "/s.json --no-tracking");
  const json c = tune_json(diabetes() + " --grid max_features=sqrt,1.0 --grid min_samples_leaf=1,5 --folds 3 "
                                        "--shuffle-seed 2 --scoring r2,rmse --n-estimators 8 --no-tracking");
  EXPECT_EQ(a["results"]["mean_test_r2"], c["results"]["mean_test_r2"]);
  EXPECT_EQ(b["results"]["mean_test_r2"], c["results"]["mean_test_r2"]);
  EXPECT_EQ(a["results"]["params"], c["results"]["params"]);
}

// --- tracking and (4) resume after a kill --------------------------------------------

std::vector<tracking::Run> children_of(tracking::RunStore& s, const std::string& parent) {
  return s.search_runs({}, "tags.mlflow.parentRunId = '" + parent + "'", {}, 0);
}

TEST(TuneTracking, ParentAndChildRuns) {
  const std::string dir = temp_dir();
  const std::string uri = "sqlite:///" + dir + "/runs.db";
  const json t = tune_json(diabetes() + " --grid max_features=sqrt,99 --grid min_samples_leaf=1,5 "
                                        "--n-estimators 10 --folds 3 --scoring r2,rmse --tracking-uri " + uri +
                           " --experiment tune-test");
  ASSERT_TRUE(t.contains("sweep_run_id"));
  auto store = tracking::open_store(uri);
  const tracking::Run parent = store->get_run(t["sweep_run_id"]);
  EXPECT_EQ(parent.info.status, tracking::RunStatus::kFinished);
  EXPECT_EQ(parent.params.at("sweep.strategy"), "grid");
  EXPECT_TRUE(parent.params.count("sweep.grid"));
  EXPECT_TRUE(parent.metrics.count("best_r2"));
  EXPECT_EQ(parent.metrics.at("best_r2").value, t["best_score"].get<double>());
  bool has_model = false;
  for (const auto& f : store->list_all_artifacts(parent.info.run_id))
    has_model = has_model || f.path.find("model/") == 0;
  EXPECT_TRUE(has_model);
  const auto kids = children_of(*store, parent.info.run_id);
  ASSERT_EQ(kids.size(), 4u);
  int ok = 0;
  for (const auto& k : kids) {
    EXPECT_EQ(k.params.size(), param_table().size());  // every parameter, defaults included
    EXPECT_TRUE(k.tags.count("canopy.candidate_key"));
    if (k.info.status == tracking::RunStatus::kFinished) {
      ++ok;
      EXPECT_EQ(store->get_metric_history(k.info.run_id, "test_r2").size(), 3u);  // one point per fold
      EXPECT_TRUE(k.metrics.count("mean_test_r2"));
    } else {
      EXPECT_EQ(k.info.status, tracking::RunStatus::kFailed);
      EXPECT_EQ(k.params.at("max_features"), "99");
    }
  }
  EXPECT_EQ(ok, 2);
}

TEST(TuneTracking, ResumeAfterKillTrainsOnlyMissingCandidates) {
  const std::string dir = temp_dir();
  const std::string uri = "sqlite:///" + dir + "/runs.db";
  const std::string sweep = diabetes() + " --grid max_features=0.3,0.5,0.7,1.0 --grid min_samples_leaf=1,3 "
                                         "--n-estimators 80 --folds 3 --shuffle-seed 5 --scoring r2,rmse";
  // Start in the background, in chunks of 2 candidates.
  const std::string cmd = std::string(CANOPY_BINARY) + " tune" + sweep + " --device cpu --batch-candidates 2 "
                          "--tracking-uri " + uri + " >" + dir + "/out.txt 2>&1 & echo $!";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  int pid = 0;
  ASSERT_EQ(fscanf(p, "%d", &pid), 1);
  pclose(p);
  // Wait until the first chunk's children are committed, then kill -9.
  std::string parent_id;
  std::size_t done_at_kill = 0;
  auto store = tracking::open_store(uri);
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
    try {
      for (const auto& r : store->search_runs({}, "tags.canopy.run_kind = 'sweep'", {}, 0)) parent_id = r.info.run_id;
      if (!parent_id.empty()) {
        std::size_t done = 0;
        for (const auto& k : children_of(*store, parent_id))
          done += k.info.status == tracking::RunStatus::kFinished;
        if (done >= 2) break;
      }
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0) << "the sweep ended before it could be killed: " << read_file(dir + "/out.txt");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_FALSE(parent_id.empty());
  for (const auto& k : children_of(*store, parent_id)) done_at_kill += k.info.status == tracking::RunStatus::kFinished;
  ASSERT_GE(done_at_kill, 2u);
  ASSERT_LT(done_at_kill, 8u) << "the sweep finished before the kill";
  EXPECT_EQ(store->get_run(parent_id).info.status, tracking::RunStatus::kRunning);

  const json resumed = tune_json("--resume " + parent_id + " --tracking-uri " + uri);
  EXPECT_EQ(resumed["reused"].get<std::size_t>(), done_at_kill);
  EXPECT_EQ(resumed["trained"].get<std::size_t>(), 8u - done_at_kill);
  EXPECT_EQ(resumed["sweep_run_id"], parent_id);
  EXPECT_EQ(store->get_run(parent_id).info.status, tracking::RunStatus::kFinished);
  std::set<std::string> keys;
  std::size_t finished = 0;
  for (const auto& k : children_of(*store, parent_id))
    if (k.info.status == tracking::RunStatus::kFinished) ++finished, keys.insert(k.tags.at("canopy.candidate_key"));
  EXPECT_EQ(finished, 8u);  // no candidate trained twice
  EXPECT_EQ(keys.size(), 8u);

  // The same results as an uninterrupted sweep.
  const json whole = tune_json(sweep + " --no-tracking");
  for (std::string col : {"params", "split0_test_r2", "split1_test_r2", "split2_test_r2", "mean_test_r2",
                          "std_test_r2", "rank_test_r2", "mean_test_rmse", "rank_test_rmse"})
    EXPECT_EQ(resumed["results"][col], whole["results"][col]) << col;
  EXPECT_EQ(resumed["best_params"], whole["best_params"]);
}

}  // namespace
}  // namespace canopy::test
