// Google Benchmark cases for the CPU engine on `canopy synth` data:
// histogram building (rows per second), bootstrap sampling and end-to-end training.
//   build/bench/engine_bench --benchmark_filter=Histogram
//   build/bench/engine_bench --benchmark_filter=Bootstrap
//   CANOPY_BENCH_ROWS=1000000 build/bench/engine_bench --benchmark_filter=Train
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <numeric>

#include "host/forest_trainer.h"
#include "host/params.h"
#include "host/training_data.h"
#include "io/synth.h"
#include "kernels/histogram.h"
#include "kernels/row_sample.h"

namespace canopy {
namespace {

int64_t bench_rows() {
  const char* env = std::getenv("CANOPY_BENCH_ROWS");
  return env ? std::atoll(env) : 1000000;
}

// One binned synthetic dataset per (task, rows, features), built once.
const TrainingData& data(const std::string& task, int64_t rows, int features) {
  static std::map<std::string, std::pair<std::unique_ptr<Dataset>, std::unique_ptr<TrainingData>>> cache;
  const std::string key = task + "/" + std::to_string(rows) + "/" + std::to_string(features);
  auto& slot = cache[key];
  if (!slot.second) {
    SynthSpec spec;
    spec.task = task;
    spec.rows = rows;
    spec.features = features;
    slot.first = std::make_unique<Dataset>(make_synthetic_dataset(spec));
    slot.second = std::make_unique<TrainingData>(prepare_training_data(
        *slot.first, task == "classification" ? TaskChoice::kClassification : TaskChoice::kRegression, 256));
  }
  return *slot.second;
}

// Histogram of every feature over all rows (one root node), binary classification.
void BM_HistogramAllFeatures(benchmark::State& state) {
  const TrainingData& td = data("classification", bench_rows(), 28);
  const StatsLayout lay = StatsLayout::make(td.n_classes, false);
  RowTargets t;
  t.layout = &lay;
  t.class_id = td.class_id.data();
  std::vector<RowEntry> entries(td.n_rows());
  for (std::size_t r = 0; r < entries.size(); ++r) entries[r] = {static_cast<uint32_t>(r), 1};
  std::vector<int32_t> feats(td.n_features());
  std::iota(feats.begin(), feats.end(), 0);
  std::vector<uint32_t> offsets(feats.size() + 1, 0);
  for (std::size_t f = 0; f < feats.size(); ++f) offsets[f + 1] = offsets[f] + td.cuts.n_bins(f);
  FeatureSet fs{feats.data(), offsets.data(), static_cast<int32_t>(feats.size())};
  std::vector<int64_t> hist(fs.total_bins() * lay.n_channels);
  for (auto _ : state) {
    std::fill(hist.begin(), hist.end(), 0);
    accumulate_histogram_cpu(rows_of(td.bins), t, entries.data(), entries.size(), fs, hist.data());
    benchmark::DoNotOptimize(hist.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(entries.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(td.bins.bins.size()));
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(entries.size()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_HistogramAllFeatures)->Unit(benchmark::kMillisecond);

// One tree's bootstrap multiplicities over bench_rows() rows (n draws among n),
// as the CPU backend draws them for every tree.
void BM_BootstrapMultiplicity(benchmark::State& state) {
  std::vector<uint32_t> rows(static_cast<std::size_t>(bench_rows()));
  std::iota(rows.begin(), rows.end(), 0u);
  const RowSample sample{&rows, static_cast<int64_t>(rows.size())};
  uint32_t tree = 0;
  for (auto _ : state) {
    auto m = sample_multiplicity(sample, 42, tree++, rows.size());
    benchmark::DoNotOptimize(m.data());
  }
  state.counters["draws/s"] =
      benchmark::Counter(static_cast<double>(rows.size()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_BootstrapMultiplicity)->Unit(benchmark::kMillisecond);

void train(benchmark::State& state, const std::string& task, ParamValues values) {
  const TrainingData& td = data(task, bench_rows(), 28);
  ForestParams p = resolve_params(values, td.task);
  auto backend = make_cpu_tree_backend();
  for (auto _ : state) {
    auto forests = train_forests(td, {ForestRequest{p, {}}}, *backend);
    benchmark::DoNotOptimize(forests);
  }
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(td.n_rows() * p.n_estimators),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// The reference case: 1M x 28 binary classification, 100 trees, depth 10.
void BM_TrainClassification100TreesDepth10(benchmark::State& state) {
  train(state, "classification", {{"n_estimators", "100"}, {"max_depth", "10"}});
}
BENCHMARK(BM_TrainClassification100TreesDepth10)->Unit(benchmark::kSecond)->Iterations(1);

void BM_TrainRegression20TreesDepth10(benchmark::State& state) {
  train(state, "regression", {{"n_estimators", "20"}, {"max_depth", "10"}});
}
BENCHMARK(BM_TrainRegression20TreesDepth10)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace canopy

BENCHMARK_MAIN();
