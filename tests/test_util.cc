#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "io/synth.h"

namespace canopy::test {

std::string data_dir() {
  const char* env = std::getenv("CANOPY_TEST_DATA_DIR");
  return env ? env : CANOPY_TEST_DATA_DIR;
}

std::string data_file(const std::string& name) { return data_dir() + "/" + name; }

std::string temp_dir() {
  static std::atomic<int> counter{0};
  auto base = std::filesystem::temp_directory_path() /
              ("canopy_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  return base.string();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write " + path);
  f << text;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

CommandResult run_canopy(const std::string& args) {
  std::string dir = temp_dir();
  std::string out = dir + "/stdout", err = dir + "/stderr";
  const char* bin = std::getenv("CANOPY_BINARY");
  std::string cmd = std::string(bin ? bin : CANOPY_BINARY) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  r.out = read_file(out);
  r.err = read_file(err);
  std::filesystem::remove_all(dir);
  return r;
}

void expect_same_forest(const ForestNodes& a, const ForestNodes& b) {
  EXPECT_EQ(a.tree_offsets, b.tree_offsets);
  EXPECT_EQ(a.feature, b.feature);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.left_child, b.left_child);
  EXPECT_EQ(a.default_left, b.default_left);
  EXPECT_EQ(a.n_samples, b.n_samples);
  EXPECT_EQ(a.value, b.value);
}

TrainingData synthetic_classification(int64_t rows, int features, double missing, uint64_t seed, int32_t max_bins) {
  SynthSpec spec;
  spec.rows = rows;
  spec.features = features;
  spec.classes = 3;
  spec.missing_fraction = missing;
  spec.seed = seed;
  return prepare_training_data(make_synthetic_dataset(spec), TaskChoice::kClassification, max_bins);
}

}  // namespace canopy::test
