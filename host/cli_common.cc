#include "host/cli_common.h"

#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "io/data_source.h"
#include "kernels/device.h"

namespace canopy {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

namespace {

std::string kebab(std::string s) {
  for (char& c : s)
    if (c == '_') c = '-';
  return s;
}

}  // namespace

void DataArgs::add(CLI::App* app, bool required_data) {
  auto* o = app->add_option("--data", path, "CSV or HDF5 file");
  if (required_data) o->required();
  app->add_option("--label", label, "label column name (CSV, HDF5 columns) or dataset path (HDF5 /X + /y)");
  app->add_option("--features", features, "HDF5 2-D feature dataset path")->capture_default_str();
  app->add_option("--weight-column", weight_column, "column holding sample weights");
}

Dataset DataArgs::read(bool require_label) const {
  ReadOptions o;
  o.label = label;
  o.features = features;
  o.weight_column = weight_column;
  o.require_label = require_label;
  return read_dataset(path, o);
}

void ParamArgs::add(CLI::App* app) {
  for (const ParamSpec& p : param_table()) {
    // The kebab-case name, scikit-learn's snake_case name and Spark's alias.
    std::string names = "--" + kebab(p.name);
    if (kebab(p.name) != p.name) names += ",--" + std::string(p.name);
    if (*p.spark_alias && std::string(p.spark_alias) != p.name) names += ",--" + std::string(p.spark_alias);
    if (std::string(p.name) == "oob_score") continue;  // the --oob-score flag below
    app->add_option(names, raw[p.name], std::string(p.help) + " (default " + p.default_value + ")");
  }
  app->add_flag("--no-bootstrap", no_bootstrap, "train every tree on all rows (bootstrap=false)");
  app->add_flag("--oob-score", oob, "compute the out-of-bag score (oob_score=true)");
  app->add_option("--device", device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app->add_option("--task", task, "auto, classification or regression")->capture_default_str();
  app->add_flag("--no-tracking", no_tracking, "do not record the run");
  app->add_option("--tracking-uri", tracking_uri, "run store: sqlite:///PATH or http://HOST:PORT");
  app->add_option("--experiment", experiment, "experiment name for the run record");
}

ParamValues ParamArgs::collect() const {
  ParamValues v;
  for (const auto& [k, x] : raw)
    if (!x.empty()) v[k] = x;
  if (no_bootstrap) v["bootstrap"] = "false";
  if (oob) v["oob_score"] = "true";
  return v;
}

TaskChoice ParamArgs::task_choice() const {
  if (task == "auto") return TaskChoice::kAuto;
  if (task == "classification") return TaskChoice::kClassification;
  if (task == "regression") return TaskChoice::kRegression;
  throw ParamError("invalid value \"" + task + "\" for --task: expected auto, classification or regression");
}

Task ParamArgs::resolve_task(const Dataset& d) const {
  switch (task_choice()) {
    case TaskChoice::kClassification:
      return Task::kClassification;
    case TaskChoice::kRegression:
      return Task::kRegression;
    default:
      return infer_task(d);
  }
}

CudaTuning cuda_tuning_from_environment() {
  const char* spec = std::getenv("CANOPY_CUDA_TUNING");
  try {
    return parse_cuda_tuning(spec ? spec : "");
  } catch (const std::invalid_argument& e) {
    throw ParamError(std::string("CANOPY_CUDA_TUNING: ") + e.what());
  }
}

// The tree backend for --device: the CUDA backend (under CANOPY_CUDA_TUNING)
// when select_device picks a GPU, otherwise the CPU (with one notice when
// "auto" found no usable GPU). CANOPY_CUDA_TUNING is checked either way.
std::unique_ptr<TreeBackend> make_backend(const std::string& spec) {
  const CudaTuning tuning = cuda_tuning_from_environment();
  DeviceChoice choice = select_device(spec);
  if (choice.backend == Backend::kCuda) return make_cuda_tree_backend(choice.device_index, tuning);
  if (!choice.notice.empty()) std::cerr << choice.notice << "\n";
  return make_cpu_tree_backend();
}

void set_threads(int32_t threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

// A one-line progress bar on stderr, only when stderr is a terminal.
ProgressFn progress_bar(const char* what) {
  if (!isatty(STDERR_FILENO)) return {};
  return [what](int64_t done, int64_t total) {
    const int width = 30;
    const int filled = static_cast<int>(width * done / std::max<int64_t>(1, total));
    std::fprintf(stderr, "\r%s [%.*s%*s] %lld/%lld trees", what, filled, "##############################",
                 width - filled, "", static_cast<long long>(done), static_cast<long long>(total));
    if (done == total) std::fprintf(stderr, "\r%*s\r", width + 40, "");
    std::fflush(stderr);
  };
}

nlohmann::ordered_json metrics_json(const MetricList& m) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [k, v] : m) j[k] = std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
  return j;
}

nlohmann::ordered_json cv_json(const CvResult& r) {
  nlohmann::ordered_json j;
  j["folds"] = r.folds;
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < r.mean.size(); ++i) {
    nlohmann::ordered_json e;
    e["mean"] = r.mean[i].second;
    e["std"] = r.std[i].second;
    nlohmann::ordered_json per = nlohmann::ordered_json::array();
    for (const auto& f : r.per_fold)
      per.push_back(std::isfinite(f[i].second) ? nlohmann::ordered_json(f[i].second) : nlohmann::ordered_json(nullptr));
    e["per_fold"] = per;
    if (!std::isfinite(r.mean[i].second)) e["mean"] = nullptr, e["std"] = nullptr;
    m[r.mean[i].first] = e;
  }
  j["metrics"] = m;
  return j;
}

void print_cv(const CvResult& r) {
  std::printf("%d-fold cross-validation:\n", r.folds);
  for (std::size_t i = 0; i < r.mean.size(); ++i)
    std::printf("  %-18s %.4f +/- %.4f\n", r.mean[i].first.c_str(), r.mean[i].second, r.std[i].second);
}

void print_metrics(const MetricList& m) {
  for (const auto& [k, v] : m) std::printf("  %-18s %.4f\n", k.c_str(), v);
}

}  // namespace canopy
