// Logging throughput: 100,000 metric points through RunRecorder (batched) into
// the SQLite store, and into an MLflow server when CANOPY_MLFLOW_URI is set.
// Reports points per second (items_per_second).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "host/run_recorder.h"

namespace {

constexpr int64_t kPoints = 100000;

void log_points(benchmark::State& state, const std::string& uri, const std::string& fallback) {
  for (auto _ : state) {
    canopy::RunOptions o;
    o.tracking_uri = uri;
    o.fallback_uri = fallback;
    o.experiment = "tracking-bench";
    o.install_signal_handlers = false;
    canopy::RunRecorder rec(o);
    for (int64_t i = 0; i < kPoints; ++i) rec.log_metric(i % 2 ? "oob_score" : "loss", 1.0 / (i + 1), i / 2);
    rec.finish();
    if (rec.fell_back()) state.SkipWithError("the store failed; see stderr");
  }
  state.SetItemsProcessed(state.iterations() * kPoints);
}

void BM_SqliteStore100kPoints(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "canopy_tracking_bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string uri = "sqlite://" + (dir / "canopy.db").string();
  log_points(state, uri, uri);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SqliteStore100kPoints)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

void BM_MlflowStore100kPoints(benchmark::State& state) {
  const char* uri = std::getenv("CANOPY_MLFLOW_URI");
  if (!uri || !*uri) {
    state.SkipWithError("set CANOPY_MLFLOW_URI=http://HOST:PORT to measure an MLflow server");
    for (auto _ : state) {
    }
    return;
  }
  const auto dir = std::filesystem::temp_directory_path() / "canopy_tracking_bench_fallback";
  std::filesystem::create_directories(dir);
  log_points(state, uri, "sqlite://" + (dir / "canopy.db").string());
}
BENCHMARK(BM_MlflowStore100kPoints)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
