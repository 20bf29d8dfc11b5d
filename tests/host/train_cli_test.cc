// End-to-end tests of train / cv / evaluate / predict / model export through
// the real `canopy` binary on real data (scikit-learn's bundled datasets).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "kernels/device.h"
#include "test_util.h"

namespace canopy::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json run_json(const std::string& args) {
  CommandResult r = run_canopy(args + " --json");
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  return json::parse(r.out);
}

std::string export_json(const std::string& model) {
  const std::string out = model + ".json";
  CommandResult r = run_canopy("model export " + model + " --format json --out " + out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return read_file(out);
}

TEST(Accuracy, DiabetesRegressionR2) {
  json j = run_json("cv --data " + data_file("diabetes.csv") +
                    " --label target --n-estimators 100 --folds 5 --shuffle-seed 0 --seed 0 --device cpu");
  EXPECT_EQ(j["folds"], 5);
  const double r2 = j["metrics"]["r2"]["mean"];
  EXPECT_GE(r2, 0.40);
  EXPECT_LE(r2, 0.45);
  EXPECT_EQ(j["metrics"]["r2"]["per_fold"].size(), 5u);
}

TEST(Accuracy, BreastCancerAccuracyAndAuc) {
  json j = run_json("cv --data " + data_file("breast_cancer.csv") +
                    " --label diagnosis --n-estimators 100 --folds 5 --shuffle-seed 0 --seed 0 --device cpu");
  EXPECT_GE(j["metrics"]["accuracy"]["mean"].get<double>(), 0.945);
  EXPECT_GE(j["metrics"]["roc_auc"]["mean"].get<double>(), 0.985);
}

TEST(Accuracy, MultiClassIrisAndWine) {
  json iris = run_json("cv --data " + data_file("iris.csv") + " --label species --shuffle-seed 0 --device cpu");
  EXPECT_GE(iris["metrics"]["accuracy"]["mean"].get<double>(), 0.93);
  json wine = run_json("cv --data " + data_file("wine.csv") + " --label target --shuffle-seed 0 --criterion entropy");
  EXPECT_GE(wine["metrics"]["accuracy"]["mean"].get<double>(), 0.95);
}

// multi_class=ovr through the binary: C trees per member, reported as such,
// accurate, deterministic across thread counts, and refused for regression.
TEST(Accuracy, OneVsRestOnWineAndIris) {
  json wine = run_json("cv --data " + data_file("wine.csv") + " --label target --shuffle-seed 0 --multi-class ovr");
  EXPECT_GE(wine["metrics"]["accuracy"]["mean"].get<double>(), 0.97);
  EXPECT_GE(wine["metrics"]["roc_auc"]["mean"].get<double>(), 0.995);
  const std::string dir = temp_dir();
  json t = run_json("train --data " + data_file("iris.csv") + " --label species --multi-class ovr --oob-score --out " +
                    dir + "/m.h5");
  EXPECT_EQ(t["multi_class"], "ovr");
  EXPECT_EQ(t["trees"], 300);  // 100 members x 3 classes
  EXPECT_GT(t["oob_score"].get<double>(), 0.9);
  EXPECT_EQ(t["params"]["multi_class"], "ovr");
  CommandResult p = run_canopy("predict --model " + dir + "/m.h5 --data " + data_file("iris.csv") + " --out " + dir +
                               "/p.csv --proba");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const std::string csv = read_file(dir + "/p.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "prediction,proba_setosa,proba_versicolor,proba_virginica");
  json e = run_json("evaluate --model " + dir + "/m.h5 --data " + data_file("iris.csv"));
  EXPECT_GT(e["metrics"]["accuracy"].get<double>(), 0.98);  // training data
  std::string first;
  for (const char* threads : {"1", "2"}) {
    const std::string model = dir + "/t" + threads + ".h5";
    ASSERT_EQ(run_canopy("train --data " + data_file("wine.csv") + " --label target --multi-class ovr --n-estimators 8 "
                         "--class-weight balanced --threads " + std::string(threads) + " --out " + model).exit_code, 0);
    const std::string text = export_json(model);
    if (first.empty()) first = text;
    EXPECT_TRUE(text == first) << threads << " threads";
  }
  CommandResult bad = run_canopy("train --data " + data_file("diabetes.csv") + " --label target --multi-class ovr --out " +
                                 dir + "/r.h5");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("parameter multi_class=ovr applies to classification only"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir + "/r.h5"));
}

// Same seed => byte-identical exported model for 1 and 2 threads and repeated runs.
TEST(Determinism, ThreadsAndRepeatsGiveIdenticalModels) {
  const std::string dir = temp_dir();
  for (const std::string& spec : {std::string("breast_cancer.csv --label diagnosis"),
                                  std::string("diabetes.csv --label target --max-features sqrt")}) {
    std::string first;
    int i = 0;
    for (const char* threads : {"1", "2", "2", "1"}) {
      const std::string model = dir + "/m" + std::to_string(i++) + ".h5";
      CommandResult r = run_canopy("train --data " + data_file(spec) + " --n-estimators 20 --seed 7 --threads " +
                                   threads + " --out " + model);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const std::string text = export_json(model);
      if (first.empty()) first = text;
      EXPECT_TRUE(text == first) << spec << " with " << threads << " threads";
    }
  }
}

// A forest trained alone equals the same forest trained in one batch with CV folds.
TEST(Determinism, BatchCompositionDoesNotChangeTheModel) {
  const std::string dir = temp_dir();
  const std::string base = "train --data " + data_file("diabetes.csv") + " --label target --n-estimators 10 --seed 3";
  ASSERT_EQ(run_canopy(base + " --out " + dir + "/a.h5").exit_code, 0);
  ASSERT_EQ(run_canopy(base + " --cv 3 --out " + dir + "/b.h5").exit_code, 0);
  EXPECT_TRUE(export_json(dir + "/a.h5") == export_json(dir + "/b.h5"));
}

TEST(Determinism, DifferentSeedsGiveDifferentModels) {
  const std::string dir = temp_dir();
  const std::string base = "train --data " + data_file("breast_cancer.csv") + " --n-estimators 5";
  ASSERT_EQ(run_canopy(base + " --seed 1 --out " + dir + "/a.h5").exit_code, 0);
  ASSERT_EQ(run_canopy(base + " --seed 2 --out " + dir + "/b.h5").exit_code, 0);
  EXPECT_FALSE(export_json(dir + "/a.h5") == export_json(dir + "/b.h5"));
}

TEST(TrainPredict, StringLabelsComeBackAndEvaluateMatchesCv) {
  const std::string dir = temp_dir();
  json t = run_json("train --data " + data_file("breast_cancer.csv") + " --label diagnosis --oob-score --out " + dir +
                    "/m.h5");
  EXPECT_EQ(t["task"], "classification");
  EXPECT_EQ(t["classes"], json({"benign", "malignant"}));
  EXPECT_GT(t["oob_score"].get<double>(), 0.93);
  json e = run_json("evaluate --model " + dir + "/m.h5 --data " + data_file("breast_cancer.csv"));
  EXPECT_GT(e["metrics"]["accuracy"].get<double>(), 0.99);  // training data
  CommandResult p = run_canopy("predict --model " + dir + "/m.h5 --data " + data_file("breast_cancer.csv") +
                               " --out " + dir + "/p.csv --proba");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const std::string csv = read_file(dir + "/p.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "prediction,proba_benign,proba_malignant");
  EXPECT_NE(csv.find("\nmalignant,"), std::string::npos);
  EXPECT_NE(csv.find("\nbenign,"), std::string::npos);
}

TEST(TrainPredict, RegressionPredictionsToHdf5) {
  const std::string dir = temp_dir();
  ASSERT_EQ(run_canopy("train --data " + data_file("diabetes.csv") + " --label target --n-estimators 10 --out " + dir +
                       "/m.h5").exit_code, 0);
  CommandResult p = run_canopy("predict --model " + dir + "/m.h5 --data " + data_file("diabetes.csv") + " --out " +
                               dir + "/p.h5");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(fs::exists(dir + "/p.h5"));
}

// predict/evaluate --device: the CPU explicitly gives the default's output; a
// CUDA device that is not there is a clear error and leaves no predictions file.
TEST(TrainPredict, PredictDeviceChoice) {
  const std::string dir = temp_dir();
  const std::string data = " --data " + data_file("breast_cancer.csv");
  ASSERT_EQ(run_canopy("train" + data + " --label diagnosis --n-estimators 10 --out " + dir + "/m.h5").exit_code, 0);
  ASSERT_EQ(run_canopy("predict --model " + dir + "/m.h5" + data + " --proba --out " + dir + "/default.csv").exit_code, 0);
  CommandResult p = run_canopy("predict --model " + dir + "/m.h5" + data + " --proba --device cpu --out " + dir + "/cpu.csv");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(read_file(dir + "/default.csv"), read_file(dir + "/cpu.csv"));
  if (!list_devices().empty()) GTEST_SKIP() << "a CUDA device is visible (tests/kernels/cuda_backend_test.cc compares it)";
  CommandResult g = run_canopy("predict --model " + dir + "/m.h5" + data + " --device cuda --out " + dir + "/gpu.csv");
  EXPECT_NE(g.exit_code, 0);
  EXPECT_NE(g.err.find("cuda"), std::string::npos) << g.err;
  EXPECT_FALSE(fs::exists(dir + "/gpu.csv"));
  CommandResult e = run_canopy("evaluate --model " + dir + "/m.h5" + data + " --device cuda");
  EXPECT_NE(e.exit_code, 0);
}

// --device auto on every command that takes it: the JSON names the backend
// used, and without a usable GPU exactly one notice line on stderr says the
// CPU runs instead (also under --json, whose stdout stays pure JSON).
// `canopy devices` says what it found in lines without a blank one.
TEST(TrainPredict, AutoDeviceNoticeAndJsonNameTheBackend) {
  const std::string dir = temp_dir();
  const std::string data = " --data " + data_file("breast_cancer.csv") + " --label diagnosis";
  const DeviceChoice auto_choice = select_device("auto");
  const std::string expected = backend_name(auto_choice.backend);
  const auto check_notice = [&](const CommandResult& r, const std::string& what) {
    if (auto_choice.notice.empty()) {
      EXPECT_EQ(r.err.find("no usable GPU"), std::string::npos) << what << ": " << r.err;
    } else {
      EXPECT_NE(r.err.find(auto_choice.notice + "\n"), std::string::npos) << what << ": " << r.err;
      EXPECT_EQ(r.err.find("no usable GPU"), r.err.rfind("no usable GPU")) << what << ": one notice\n" << r.err;
    }
  };
  CommandResult t = run_canopy("train" + data + " --n-estimators 5 --device auto --json --out " + dir + "/m.h5");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(json::parse(t.out).at("device"), expected);
  check_notice(t, "train");
  CommandResult c = run_canopy("cv" + data + " --n-estimators 5 --folds 2 --device auto --json");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(json::parse(c.out).at("device"), expected);
  check_notice(c, "cv");
  CommandResult e = run_canopy("evaluate --model " + dir + "/m.h5" + data + " --device auto --json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(json::parse(e.out).at("device"), expected);
  check_notice(e, "evaluate");
  CommandResult p = run_canopy("predict --model " + dir + "/m.h5" + data + " --device auto --out " + dir + "/p.csv");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  check_notice(p, "predict");
  CommandResult cpu = run_canopy("train" + data + " --n-estimators 5 --device cpu --json --out " + dir + "/c.h5");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  EXPECT_EQ(json::parse(cpu.out).at("device"), "cpu");
  EXPECT_EQ(cpu.err.find("no usable GPU"), std::string::npos) << "--device cpu asks for no GPU: " << cpu.err;

  CommandResult d = run_canopy("devices");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  ASSERT_FALSE(d.out.empty());
  EXPECT_EQ(d.out.back(), '\n');
  EXPECT_EQ(d.out.find("\n\n"), std::string::npos) << d.out;
  const json dj = json::parse(run_canopy("devices --json").out);
  EXPECT_EQ(dj.at("cuda_available").get<bool>(), !list_devices().empty());
  if (!list_devices().empty()) return;
  EXPECT_NE(d.out.find("no CUDA devices"), std::string::npos) << d.out;
  CommandResult g = run_canopy("train" + data + " --n-estimators 5 --device cuda --out " + dir + "/g.h5");
  EXPECT_NE(g.exit_code, 0);
  EXPECT_NE(g.err.find("--device cuda: no CUDA device"), std::string::npos) << g.err;
  EXPECT_FALSE(fs::exists(dir + "/g.h5"));
}

// Bad input: a clear one-line cause, a non-zero exit code and no model left behind.
struct BadCase {
  std::string name, file_text, args, expected;
};

TEST(BadInput, ClearErrorsAndNoModelLeftBehind) {
  const std::string dir = temp_dir();
  const std::vector<BadCase> cases = {
      {"ragged", "a,b,y\n1,2,0\n3,4\n5,6,1\n", "--label y", "line 3"},
      {"nonnumeric", "a,b,y\n1,2,0\n3,abc,1\n", "--label y", "line 3"},
      {"missing_label", "a,b,y\n1,2,0\n3,4,\n5,6,1\n", "--label y", "line 3"},
      {"nan_label", "a,b,y\n1,2,0\n3,4,NaN\n5,6,1\n", "--label y", "line 3"},
      {"empty", "", "--label y", "empty"},
      {"single_class", "a,b,y\n1,2,0\n3,4,0\n5,6,0\n", "--label y --task classification", "single class"},
      {"no_label_column", "a,b,y\n1,2,0\n3,4,1\n", "--label target", "\"target\""},
      {"bad_param", "a,b,y\n1,2,0\n3,4,1\n", "--label y --max-depth -3", "max_depth"},
      {"bad_features", "a,b,y\n1,2,0\n3,4,1\n", "--label y --max-features 1.5", "max_features"},
      {"too_many_features", "a,b,y\n1,2,0\n3,4,1\n", "--label y --max-features 9", "max_features"},
      {"bad_criterion", "a,b,y\n1,2,0\n3,4,1\n", "--label y --criterion mse --task classification", "criterion"},
  };
  for (const BadCase& c : cases) {
    const std::string data = dir + "/" + c.name + ".csv", model = dir + "/" + c.name + ".h5";
    write_file(data, c.file_text);
    CommandResult r = run_canopy("train --data " + data + " " + c.args + " --out " + model);
    EXPECT_NE(r.exit_code, 0) << c.name;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.name << ": " << r.err;
    EXPECT_FALSE(fs::exists(model)) << c.name;
  }
}

TEST(BadInput, UnknownParameterIsAUsageError) {
  CommandResult r = run_canopy("train --data x.csv --out m.h5 --n-trees 5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("canopy: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("--n-trees"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("canopy train --help"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // A value the option cannot take, and a missing required option, read the same way.
  for (const char* args : {"synth --task classification --rows many --features 3 --out x.h5", "predict --model m.h5 --data x.csv"}) {
    CommandResult u = run_canopy(args);
    EXPECT_EQ(u.exit_code, 2) << args;
    EXPECT_EQ(u.err.rfind("canopy: error: ", 0), 0u) << u.err;
  }
  // --help is not an error.
  CommandResult h = run_canopy("train --help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--n-estimators"), std::string::npos);
}

// Sets an environment variable for a scope (the canopy child processes inherit it).
struct ScopedEnv {
  ScopedEnv(const char* key, const char* value) : key(key) { setenv(key, value, 1); }
  ~ScopedEnv() { unsetenv(key); }
  const char* key;
};

TEST(BadInput, CudaTuningVariableNamesTheBadValue) {
  const std::string dir = temp_dir();
  const std::string args = "train --data " + data_file("breast_cancer.csv") +
                           " --label diagnosis --n-estimators 3 --device cpu --no-tracking --out " + dir + "/m.h5";
  {
    ScopedEnv env("CANOPY_CUDA_TUNING", "partition_two_pass=1,histogram_mapping=diagonal");
    CommandResult r = run_canopy(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("CANOPY_CUDA_TUNING: invalid value \"diagonal\" for histogram_mapping: expected "
                         "row|element|row_words|rotated_rows"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(dir + "/m.h5"));
  }
  ScopedEnv env("CANOPY_CUDA_TUNING", "partition_two_pass=1");  // valid: the CPU backend ignores it
  CommandResult r = run_canopy(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(BadInput, MissingFilesAndHdf5Datasets) {
  const std::string dir = temp_dir();
  CommandResult r = run_canopy("train --data " + dir + "/nope.csv --out " + dir + "/m.h5");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("nope.csv"), std::string::npos) << r.err;
  ASSERT_EQ(run_canopy("convert " + data_file("iris.csv") + " " + dir + "/iris.h5 --label species").exit_code, 0);
  r = run_canopy("train --data " + dir + "/iris.h5 --label nosuch --out " + dir + "/m.h5");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("nosuch"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/m.h5"));
  r = run_canopy("train --data " + dir + "/iris.h5 --label species --out " + dir + "/m.h5 --n-estimators 5");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(BadInput, WrongFeatureCountAndCorruptModel) {
  const std::string dir = temp_dir();
  ASSERT_EQ(run_canopy("train --data " + data_file("iris.csv") + " --label species --n-estimators 5 --out " + dir +
                       "/m.h5").exit_code, 0);
  write_file(dir + "/three.csv", "a,b,c\n1,2,3\n");
  CommandResult r = run_canopy("predict --model " + dir + "/m.h5 --data " + dir + "/three.csv --out " + dir + "/p.csv");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("expects 4"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/p.csv"));
  std::string bytes = read_file(dir + "/m.h5");
  bytes.resize(bytes.size() / 2);
  write_file(dir + "/bad.h5", bytes);
  r = run_canopy("evaluate --model " + dir + "/bad.h5 --data " + data_file("iris.csv"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad.h5"), std::string::npos) << r.err;
  r = run_canopy("train --data " + data_file("iris.csv") + " --out " + dir + "/no/such/dir/m.h5");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(fs::exists(dir + "/no/such/dir/m.h5"));
}

}  // namespace
}  // namespace canopy::test

namespace canopy::test {
namespace {

TEST(Params, SparkAliasesAndScikitLearnNamesMeanTheSameParameters) {
  const std::string dir = temp_dir();
  const std::string data = " --data " + data_file("wine.csv") + " --label target";
  ASSERT_EQ(run_canopy("train" + data + " --n-estimators 7 --max-depth 3 --max-bins 32 --min-samples-leaf 2 "
                       "--max-features log2 --max-samples 0.5 --out " + dir + "/a.h5").exit_code, 0);
  ASSERT_EQ(run_canopy("train" + data + " --numTrees 7 --maxDepth 3 --maxBins 32 --minInstancesPerNode 2 "
                       "--featureSubsetStrategy log2 --subsamplingRate 0.5 --out " + dir + "/b.h5").exit_code, 0);
  ASSERT_EQ(run_canopy("train" + data + " --n_estimators 7 --max_depth 3 --max_bins 32 --min_samples_leaf 2 "
                       "--max_features log2 --max_samples 0.5 --out " + dir + "/c.h5").exit_code, 0);
  EXPECT_TRUE(export_json(dir + "/a.h5") == export_json(dir + "/b.h5"));
  EXPECT_TRUE(export_json(dir + "/a.h5") == export_json(dir + "/c.h5"));
  // A different value under the snake_case name changes the model (the name is not ignored).
  ASSERT_EQ(run_canopy("train" + data + " --n_estimators 7 --max_depth 2 --max_bins 32 --min_samples_leaf 2 "
                       "--max_features log2 --max_samples 0.5 --out " + dir + "/d.h5").exit_code, 0);
  EXPECT_FALSE(export_json(dir + "/a.h5") == export_json(dir + "/d.h5"));
  json j = json::parse(export_json(dir + "/a.h5"));
  EXPECT_EQ(j["params"]["n_estimators"], "7");
  EXPECT_EQ(j["params"]["max_features"], "log2");
  EXPECT_EQ(j["params"]["seed"], "0");  // the default seed is always recorded
}

TEST(Params, KeywordsAndIntegerClassLabels) {
  const std::string dir = temp_dir();
  std::string csv = "a,b,y\n";
  for (int i = 0; i < 120; ++i)
    csv += std::to_string(i % 12) + "," + std::to_string((i * 7) % 5) + "," + std::to_string(i % 12) + "\n";
  write_file(dir + "/twelve.csv", csv);
  CommandResult r = run_canopy("train --data " + dir + "/twelve.csv --label y --max-features onethird "
                               "--max-samples none --n-estimators 5 --out " + dir + "/m.h5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_canopy("predict --model " + dir + "/m.h5 --data " + dir + "/twelve.csv --proba --out " + dir + "/p.csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string header = read_file(dir + "/p.csv").substr(0, read_file(dir + "/p.csv").find('\n'));
  EXPECT_NE(header.find(",proba_10,proba_11"), std::string::npos) << header;
}

}  // namespace
}  // namespace canopy::test
