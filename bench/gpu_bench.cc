// Google Benchmark cases for the CUDA backend (issue 3), on `canopy synth`
// data written to an HDF5 file once and read back (so "load" is a real read):
//   gpu_bench --benchmark_filter=HistogramPass   root histogram pass, GB/s and fraction of 3.35 TB/s,
//                                                 under each CudaTuning (mapping 0 = row per thread,
//                                                 1 = element per thread, 2 = row words, 3 = rotated
//                                                 rows, 4 = swizzled rows;
//                                                 shared KiB per block;
//                                                 batch = loads before the additions: 1, 4;
//                                                 pad 1 = device rows padded to 32-byte sectors;
//                                                 threads = histogram block size);
//                                                 HistogramPassFewBins: the same rows cut into 4, 16
//                                                 or 64 bins a feature (4: 3 values and missing, as
//                                                 one-hot or boolean data), where rows share bins;
//                                                 HistogramPass64: a weighted batch's 64-bit counters,
//                                                 by compare-and-swap (halves 0) or 32-bit halves (1)
//   gpu_bench --benchmark_filter=Train10M        10M x 28 binary, 100 trees, depth 10, sqrt, bootstrap:
//                                                 load, binning (CPU and GPU) and training (GPU and CPU);
//                                                 Train10MTuned: GPU training under every tuning, and
//                                                 with the warp split scan (split 1) under the default
//   gpu_bench --benchmark_filter=Train10MPartition the reference training, the partition reading rows
//                                                 (columns 0) or a feature-major copy (columns 1), by
//                                                 flags (two_pass 0) or in two passes (two_pass 1)
//   gpu_bench --benchmark_filter=TrainAllFeatures 1M x 28, 100 trees, depth 10, every feature a node,
//                                                 without and with the subtraction trick, under the
//                                                 row-words and rotated-rows walks (and the CPU)
//   gpu_bench --benchmark_filter=TrainRegression 1M x 28 regression, 100 trees, depth 10, a third of the
//                                                 features a node: 64-bit counters by compare-and-swap
//                                                 (halves 0) or 32-bit atomic halves (halves 1), and the CPU
//   gpu_bench --benchmark_filter=Cluster         the default tuning in thread-block clusters of 1, 2, 4 and 8
//                                                 blocks (histogram_cluster_blocks): the root pass at 256 and 4
//                                                 bins, the reference training and every feature a node
//   gpu_bench --benchmark_filter=Lean            the staggered flush, the flush by sectors, class ids in the
//                                                 rows' padding and identity roots (stagger, sectors,
//                                                 row_classes, identity), with clusters of 1 and 4: the root
//                                                 pass at 256 and 4 bins and the reference training
//   gpu_bench --benchmark_filter=Blocks          at most 1 or 2 histogram blocks a multiprocessor
//                                                 (histogram_blocks_per_sm; blocks 0: as many as fit) with
//                                                 and without the flush by sectors, the lean rows (class
//                                                 ids in the rows, identity roots) and clusters of 4: the
//                                                 root pass at 256 and 4 bins and the reference training
//   gpu_bench --benchmark_filter=FullyGrown      1M x 28, 100 fully grown trees: time and peak device memory
// Environment: CANOPY_GPU_BENCH_ROWS (default 10000000), CANOPY_GPU_BENCH_FULL_ROWS
// (default 1000000), CANOPY_GPU_BENCH_DIR (synth files; default /tmp),
// CANOPY_GPU_BENCH_CPU=0 skips the CPU training comparison.
// Every case reports an error and skips when no CUDA device is visible.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "host/forest_trainer.h"
#include "host/params.h"
#include "host/training_data.h"
#include "io/data_source.h"
#include "io/synth.h"
#include "kernels/bin.h"
#include "kernels/device.h"
#include "kernels/tree_backend.h"

namespace canopy {
namespace {

constexpr double kH100Bandwidth = 3.35e12;  // bytes/s, H100 SXM HBM3

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : fallback;
}

// The CudaTuning of a case's arguments (mapping, shared KiB, batched loads,
// padded rows, block threads, and with `split_arg` the split mapping: 1 = warp
// per pair).
CudaTuning tuning_of(const benchmark::State& state, bool split_arg = false) {
  CudaTuning t;
  t.histogram_mapping = static_cast<CudaTuning::HistogramMapping>(state.range(0));
  t.histogram_shared_bytes = static_cast<std::size_t>(state.range(1)) << 10;
  t.histogram_load_batch = static_cast<int>(state.range(2));
  t.pad_rows = state.range(3) != 0;
  t.histogram_block_threads = static_cast<int>(state.range(4));
  if (split_arg && state.range(5) == 1) t.split_mapping = CudaTuning::SplitMapping::kWarpPerPair;
  return t;
}

// The histogram mappings as gpu_bench's "mapping" argument: 0 row, 1 element,
// 2 row-words, 3 rotated rows, 4 swizzled rows (CudaTuning::HistogramMapping's
// order).
constexpr int kMappings = 5;
constexpr int kRowWordsMapping = static_cast<int>(CudaTuning::HistogramMapping::kRowWords);
constexpr int kRotatedRowsMapping = static_cast<int>(CudaTuning::HistogramMapping::kRotatedRows);
constexpr int kSwizzledRowsMapping = static_cast<int>(CudaTuning::HistogramMapping::kSwizzledRows);
constexpr int kDefaultMapping = static_cast<int>(CudaTuning{}.histogram_mapping);

// Registers a case once per CudaTuning at each shared size in `kib` (the
// row-words, rotated- and swizzled-rows walks have no load batch; the
// rotated- and swizzled-rows blocks need 64 KiB on 10M x 28, so they are
// registered at 96 KiB only; the
// swizzled-rows walk pads rows itself, to 32 bytes here), with `split`
// appended when >= 0.
void tunings(benchmark::internal::Benchmark* b, std::initializer_list<int64_t> kib, int64_t split) {
  for (int64_t mapping = 0; mapping < kMappings; ++mapping)
    for (int64_t shared : kib)
      for (int64_t batch : {1, 4})
        for (int64_t pad : {0, 1})
          for (int64_t threads : {256, 512}) {
            if (mapping >= kRowWordsMapping && batch != 1) continue;
            if (mapping >= kRotatedRowsMapping && shared < 96) continue;
            if (mapping == kSwizzledRowsMapping && pad != 0) continue;
            std::vector<int64_t> args{mapping, shared, batch, pad, threads};
            if (split >= 0) args.push_back(split);
            b->Args(args);
          }
}

void every_tuning(benchmark::internal::Benchmark* b) {
  b->ArgNames({"mapping", "shared_KiB", "batch", "pad", "threads"});
  tunings(b, {48, 96}, -1);
}

// The training cases: every tuning at 96 KiB (a node's sampled features fit
// one group at 48 KiB already, so the shared size changes only the root
// levels) with the thread split scan, plus the warp split scan under the
// default histogram tuning.
void every_tuning_and_split(benchmark::internal::Benchmark* b) {
  b->ArgNames({"mapping", "shared_KiB", "batch", "pad", "threads", "split"});
  tunings(b, {96}, 0);
  b->Args({kDefaultMapping, 96, 1, 0, 512, 1});
}

// Device 0's peak memory bandwidth (DeviceInfo::memory_bandwidth), bytes/s;
// 0 when unknown.
double device_bandwidth() {
  static const double bandwidth = [] {
    const std::vector<DeviceInfo> devices = list_devices();
    return devices.empty() ? 0.0 : devices[0].memory_bandwidth;
  }();
  return bandwidth;
}

bool skip_without_gpu(benchmark::State& state) {
  if (!list_devices().empty()) return false;
  state.SkipWithError(("no CUDA device (" + cuda_unavailable_reason() + ")").c_str());
  return true;
}

struct Loaded {
  Dataset dataset;
  TrainingData data;
  double load_s = 0, bin_cpu_s = 0, bin_gpu_s = 0;
};

// Synthetic classification data (written once, read back), binned on the CPU
// (prepare_training_data: cuts + bins) and, for timing, binned again on the GPU.
const Loaded& load(int64_t rows, int features, int32_t max_bins = 256, bool regression = false) {
  static std::map<std::tuple<int64_t, int, int32_t, bool>, std::unique_ptr<Loaded>> cache;
  auto& slot = cache[{rows, features, max_bins, regression}];
  if (slot) return *slot;
  const char* dir_env = std::getenv("CANOPY_GPU_BENCH_DIR");
  const std::string dir = dir_env ? dir_env : "/tmp";
  const std::string path = dir + "/canopy_gpu_bench_" + std::to_string(rows) + "x" + std::to_string(features) +
                           (regression ? "_regression" : "") + ".h5";
  if (!std::filesystem::exists(path)) {
    SynthSpec spec;
    spec.rows = rows;
    spec.features = features;
    if (regression) spec.task = "regression";
    write_synthetic_hdf5(spec, path);
  }
  slot = std::make_unique<Loaded>();
  Loaded& l = *slot;
  ReadOptions opt;
  opt.label = "y";
  auto t0 = Clock::now();
  l.dataset = read_dataset(path, opt);
  l.load_s = seconds_since(t0);
  t0 = Clock::now();
  l.data =
      prepare_training_data(l.dataset, regression ? TaskChoice::kRegression : TaskChoice::kClassification, max_bins);
  l.bin_cpu_s = seconds_since(t0);
  BinnedMatrix gpu_bins;
  t0 = Clock::now();
  assign_bins_cuda(l.data.cuts, l.dataset.columns, gpu_bins, 0);
  l.bin_gpu_s = seconds_since(t0);
  if (gpu_bins.bins != l.data.bins.bins) throw std::runtime_error("gpu_bench: GPU bins differ from CPU bins");
  return l;
}

// Samples free device memory in the background; peak use = start - minimum.
class DeviceMemoryWatch {
 public:
  DeviceMemoryWatch() : start_(free_now()), min_(start_) {
    thread_ = std::thread([this] {
      while (!stop_) {
        const std::size_t f = free_now();
        std::size_t m = min_.load();
        while (f < m && !min_.compare_exchange_weak(m, f)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  ~DeviceMemoryWatch() { stop(); }
  void stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
  }
  std::size_t peak_bytes() const { return start_ > min_ ? start_ - min_ : 0; }

 private:
  static std::size_t free_now() {
    const auto d = list_devices();
    return d.empty() ? 0 : d[0].free_memory;
  }
  std::size_t start_;
  std::atomic<std::size_t> min_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One root node of all rows, every feature histogrammed (features_per_node =
// n_features): the time of find_splits on that level, which is dominated by
// the histogram pass over n_rows x n_features bins.
// count_channel: the layout of a weighted batch (classes and a count
// channel), which takes 64-bit shared counters.
void histogram_pass(benchmark::State& state, int32_t max_bins, CudaTuning tuning, bool count_channel) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_ROWS", 10000000), 28, max_bins);
  const TrainingData& td = l.data;
  BatchData batch;
  batch.bins = &td.bins;
  batch.cuts = &td.cuts;
  batch.layout = StatsLayout::make(td.n_classes, count_channel);
  batch.class_id = td.class_id.data();
  std::vector<JobSpec> jobs(1);
  jobs[0].features_per_node = static_cast<int32_t>(td.n_features());
  jobs[0].multiplicity.assign(td.n_rows(), 1);
  tuning.time_histograms = true;
  auto backend = make_cuda_tree_backend(0, tuning);
  std::vector<int64_t> root;
  backend->begin(batch, jobs, root);
  backend->restrict_frontier({1});
  std::vector<FrontierNode> frontier{{0, 0}};
  std::vector<SplitChoice> best;
  std::vector<int64_t> left;
  backend->find_splits(frontier, root, best, left);  // warm-up
  const double kernel_s0 = cuda_histogram_seconds(*backend);
  for (auto _ : state) {
    const auto t0 = Clock::now();
    backend->find_splits(frontier, root, best, left);
    state.SetIterationTime(seconds_since(t0));
  }
  const double kernel_s = (cuda_histogram_seconds(*backend) - kernel_s0) / static_cast<double>(state.iterations());
  if (tuning.histogram_cluster_blocks > 1)  // 0: the device ran the plain launch instead
    state.counters["cluster_launches"] = static_cast<double>(cuda_cluster_launches(*backend));
  backend->end();
  // The time is find_splits' (uploads, histogram, split scan, copies back);
  // kernel_* count the histogram launches alone (CUDA events), the figure
  // DESIGN.md asks for as a fraction of the bandwidth: of the H100
  // reference, 3.35 TB/s, and of the device's own peak (kernel_fraction_of_device).
  const double bytes = static_cast<double>(td.bins.bins.size());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["bin_GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["fraction_of_3.35TB/s"] =
      benchmark::Counter(bytes / kH100Bandwidth, benchmark::Counter::kIsIterationInvariantRate);
  if (kernel_s > 0) {
    state.counters["kernel_us"] = kernel_s * 1e6;
    state.counters["kernel_GB/s"] = bytes / kernel_s / 1e9;
    state.counters["kernel_fraction_of_3.35TB/s"] = bytes / kernel_s / kH100Bandwidth;
    if (device_bandwidth() > 0) {
      state.counters["device_TB/s"] = device_bandwidth() / 1e12;
      state.counters["kernel_fraction_of_device"] = bytes / kernel_s / device_bandwidth();
    }
  }
}
void BM_HistogramPass(benchmark::State& state) { histogram_pass(state, 256, tuning_of(state), false); }
BENCHMARK(BM_HistogramPass)
    ->Apply(every_tuning)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(20);

// Every mapping at 96 KiB, 512 threads, on 4, 16 and 64 bins a feature
// (where the walks that avoid bank conflicts overtake the row-words walk).
void BM_HistogramPassFewBins(benchmark::State& state) {
  histogram_pass(state, static_cast<int32_t>(state.range(5)), tuning_of(state), false);
}
BENCHMARK(BM_HistogramPassFewBins)
    ->ArgNames({"mapping", "shared_KiB", "batch", "pad", "threads", "bins"})
    ->ArgsProduct(
        {{0, 1, kRowWordsMapping, kRotatedRowsMapping, kSwizzledRowsMapping}, {96}, {1}, {0}, {512}, {4, 16, 64}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(20);

// The root pass of a weighted batch's layout (2 classes and a count channel:
// 64-bit shared counters) under the default tuning, adding to the counters
// with the 64-bit atomic (halves 0: a compare-and-swap loop in shared
// memory) or with two 32-bit ones (halves 1:
// CudaTuning::histogram_atomics_in_halves). Every add here is +1, so the
// halves never add to the high word: their best case; TrainRegression1M's
// signed adds need the high word about as often as they are negative.
// The default tuning, with 64-bit shared counters in atomic halves where the
// case's "halves" argument is 1.
CudaTuning halves_tuning(const benchmark::State& state) {
  CudaTuning tuning;
  tuning.histogram_atomics_in_halves = state.range(0) != 0;
  return tuning;
}

void BM_HistogramPass64(benchmark::State& state) { histogram_pass(state, 256, halves_tuning(state), true); }
BENCHMARK(BM_HistogramPass64)
    ->ArgName("halves")
    ->DenseRange(0, 1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(20);

double train_seconds(const TrainingData& td, const ForestParams& p, TreeBackend& backend) {
  const auto t0 = Clock::now();
  auto forests = train_forests(td, {ForestRequest{p, {}}}, backend);
  benchmark::DoNotOptimize(forests);
  return seconds_since(t0);
}

// The reference case: 10M x 28 binary, 100 trees, depth 10, sqrt, bootstrap.
ForestParams reference_params(const TrainingData& td) {
  return resolve_params(
      {{"n_estimators", "100"}, {"max_depth", "10"}, {"max_features", "sqrt"}, {"bootstrap", "true"}}, td.task);
}

void BM_Train10M(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_ROWS", 10000000), 28);
  const ForestParams p = reference_params(l.data);
  auto gpu = make_cuda_tree_backend(0);
  double gpu_s = 0;
  for (auto _ : state) {
    gpu_s = train_seconds(l.data, p, *gpu);
    state.SetIterationTime(gpu_s);
  }
  state.counters["load_s"] = l.load_s;
  state.counters["bin_cpu_s"] = l.bin_cpu_s;
  state.counters["bin_gpu_s"] = l.bin_gpu_s;
  state.counters["train_gpu_s"] = gpu_s;
  if (env_int("CANOPY_GPU_BENCH_CPU", 1) != 0) {
    auto cpu = make_cpu_tree_backend();
    const double cpu_s = train_seconds(l.data, p, *cpu);
    state.counters["train_cpu_s"] = cpu_s;
    state.counters["speedup_vs_cpu"] = cpu_s / gpu_s;
  }
}
BENCHMARK(BM_Train10M)->UseManualTime()->Unit(benchmark::kSecond)->Iterations(1);

// GPU training under `tuning`, timed after a warm-up fit (the bins upload,
// any copy of them the tuning makes, the workspace allocations: first_fit_s);
// histogram_kernel_s: a timed fit's device time in histogram launches.
void time_gpu_training(benchmark::State& state, const TrainingData& td, const ForestParams& p, CudaTuning tuning) {
  tuning.time_histograms = true;
  auto gpu = make_cuda_tree_backend(0, tuning);
  state.counters["first_fit_s"] = train_seconds(td, p, *gpu);
  const double kernel_s0 = cuda_histogram_seconds(*gpu);
  double gpu_s = 0;
  for (auto _ : state) {
    gpu_s = train_seconds(td, p, *gpu);
    state.SetIterationTime(gpu_s);
  }
  state.counters["train_gpu_s"] = gpu_s;
  state.counters["histogram_kernel_s"] =
      (cuda_histogram_seconds(*gpu) - kernel_s0) / static_cast<double>(state.iterations());
  if (tuning.histogram_cluster_blocks > 1)
    state.counters["cluster_launches"] = static_cast<double>(cuda_cluster_launches(*gpu));
}

// The reference case on the GPU alone under each tuning: 3 fits after a warm-up.
void BM_Train10MTuned(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_ROWS", 10000000), 28);
  time_gpu_training(state, l.data, reference_params(l.data), tuning_of(state, true));
}
BENCHMARK(BM_Train10MTuned)->Apply(every_tuning_and_split)->UseManualTime()
    ->Unit(benchmark::kSecond)
    ->Iterations(3);

// The reference training under the four partitions side by side: the split
// feature's bins read from the rows (columns 0) or from a feature-major copy
// (columns 1: CudaTuning::partition_columns), entries placed by flags and a
// scan over every entry (two_pass 0) or in two passes over go-left bits
// (two_pass 1: CudaTuning::partition_two_pass).
void BM_Train10MPartition(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_ROWS", 10000000), 28);
  CudaTuning tuning;
  tuning.partition_columns = state.range(0) != 0;
  tuning.partition_two_pass = state.range(1) != 0;
  time_gpu_training(state, l.data, reference_params(l.data), tuning);
}
BENCHMARK(BM_Train10MPartition)
    ->ArgNames({"columns", "two_pass"})
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kSecond)
    ->Iterations(3);

// Every feature a node (max_features all), 1M x 28, 100 trees, depth 10,
// bootstrap: each node histograms its features (subtract 0), or the larger
// child comes from its parent's histogram minus the smaller one's
// (subtract 1: CudaTuning::histogram_subtraction, the default), under the
// row-words, rotated- or swizzled-rows histogram walk (mapping 2, 3 or 4;
// every group of this training is dense, so the rotated and swizzled walks
// take every level); the
// CPU backend, which always subtracts there, beside the default.
ForestParams all_features_params(const TrainingData& td) {
  return resolve_params({{"n_estimators", "100"}, {"max_depth", "10"}, {"max_features", "all"}, {"bootstrap", "true"}},
                        td.task);
}

void BM_TrainAllFeatures1M(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_FULL_ROWS", 1000000), 28);
  const ForestParams p = all_features_params(l.data);
  CudaTuning tuning;
  tuning.histogram_subtraction = state.range(0) != 0;
  tuning.histogram_mapping = static_cast<CudaTuning::HistogramMapping>(state.range(1));
  time_gpu_training(state, l.data, p, tuning);
  if (state.range(0) == 1 && state.range(1) == kDefaultMapping && env_int("CANOPY_GPU_BENCH_CPU", 1) != 0) {
    auto cpu = make_cpu_tree_backend();
    state.counters["train_cpu_s"] = train_seconds(l.data, p, *cpu);
  }
}
BENCHMARK(BM_TrainAllFeatures1M)
    ->ArgNames({"subtract", "mapping"})
    ->ArgsProduct({{0, 1}, {kRowWordsMapping, kRotatedRowsMapping, kSwizzledRowsMapping}})
    ->UseManualTime()
    ->Unit(benchmark::kSecond)
    ->Iterations(3);

// Regression, 1M x 28 (canopy synth's regression task), 100 trees, depth 10,
// a third of the features a node, bootstrap: every histogram has 64-bit
// shared counters (weight and weighted target), added to by compare-and-swap
// (halves 0) or in 32-bit atomic halves (halves 1:
// CudaTuning::histogram_atomics_in_halves); the CPU backend beside the first.
void BM_TrainRegression1M(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_FULL_ROWS", 1000000), 28, 256, true);
  const ForestParams p = resolve_params(
      {{"n_estimators", "100"}, {"max_depth", "10"}, {"max_features", "0.33"}, {"bootstrap", "true"}}, l.data.task);
  time_gpu_training(state, l.data, p, halves_tuning(state));
  if (state.range(0) == 0 && env_int("CANOPY_GPU_BENCH_CPU", 1) != 0) {
    auto cpu = make_cpu_tree_backend();
    state.counters["train_cpu_s"] = train_seconds(l.data, p, *cpu);
  }
}
BENCHMARK(BM_TrainRegression1M)
    ->ArgName("halves")
    ->DenseRange(0, 1)
    ->UseManualTime()
    ->Unit(benchmark::kSecond)
    ->Iterations(3);

// The default tuning in thread-block clusters of `cluster` blocks
// (CudaTuning::histogram_cluster_blocks; 1: none): the root pass at 256 and
// 4 bins a feature (the flush's share of the kernel is largest at 256),
// the reference training, and every feature a node on 1M x 28 (the
// subtraction trick's every-feature histograms take the swizzled walk).
CudaTuning cluster_tuning(const benchmark::State& state) {
  CudaTuning tuning;
  tuning.histogram_cluster_blocks = static_cast<int>(state.range(0));
  return tuning;
}

void BM_HistogramPassCluster(benchmark::State& state) {
  histogram_pass(state, static_cast<int32_t>(state.range(1)), cluster_tuning(state), false);
}
BENCHMARK(BM_HistogramPassCluster)
    ->ArgNames({"cluster", "bins"})
    ->ArgsProduct({{1, 2, 4, 8}, {256, 4}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(20);

void BM_Train10MCluster(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_ROWS", 10000000), 28);
  time_gpu_training(state, l.data, reference_params(l.data), cluster_tuning(state));
}
// The trainings' cases: without clusters and in clusters of 4, 3 fits each.
void training_clusters(benchmark::internal::Benchmark* b) {
  b->ArgName("cluster")->Arg(1)->Arg(4)->UseManualTime()->Unit(benchmark::kSecond)->Iterations(3);
}
BENCHMARK(BM_Train10MCluster)->Apply(training_clusters);

void BM_TrainAllFeatures1MCluster(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_FULL_ROWS", 1000000), 28);
  const ForestParams p = all_features_params(l.data);
  time_gpu_training(state, l.data, p, cluster_tuning(state));
}
BENCHMARK(BM_TrainAllFeatures1MCluster)->Apply(training_clusters);

// The opt-ins that cut the root pass's bytes and its flush's cost, each
// alone and together, without and with clusters of 4:
// CudaTuning::histogram_staggered_flush, histogram_sector_flush,
// histogram_row_classes (the class ids in the 28 features' 32-byte rows)
// and histogram_identity_root (the pass's root is every row once). The root
// pass at 256 and 4 bins a feature; the reference training (bootstrap: no
// identity roots; the row classes serve every level) with none, each and all
// of the other three, and all of them in clusters of 4.
CudaTuning lean_tuning(const benchmark::State& state) {
  CudaTuning tuning;
  tuning.histogram_staggered_flush = state.range(0) != 0;
  tuning.histogram_sector_flush = state.range(1) != 0;
  tuning.histogram_row_classes = state.range(2) != 0;
  tuning.histogram_identity_root = state.range(3) != 0;
  tuning.histogram_cluster_blocks = static_cast<int>(state.range(4));
  return tuning;
}

void BM_HistogramPassLean(benchmark::State& state) {
  histogram_pass(state, static_cast<int32_t>(state.range(5)), lean_tuning(state), false);
}
BENCHMARK(BM_HistogramPassLean)
    ->ArgNames({"stagger", "sectors", "row_classes", "identity", "cluster", "bins"})
    ->ArgsProduct({{0, 1}, {0, 1}, {0, 1}, {0, 1}, {1, 4}, {256, 4}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(20);

void BM_Train10MLean(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_ROWS", 10000000), 28);
  time_gpu_training(state, l.data, reference_params(l.data), lean_tuning(state));
}
BENCHMARK(BM_Train10MLean)
    ->ArgNames({"stagger", "sectors", "row_classes", "identity", "cluster"})
    ->Args({0, 0, 0, 0, 1})
    ->Args({1, 0, 0, 0, 1})
    ->Args({0, 1, 0, 0, 1})
    ->Args({0, 0, 1, 0, 1})
    ->Args({1, 1, 1, 0, 1})
    ->Args({1, 1, 1, 0, 4})
    ->UseManualTime()
    ->Unit(benchmark::kSecond)
    ->Iterations(3);

// Fewer histogram blocks a multiprocessor (CudaTuning::histogram_blocks_per_sm,
// 0: as many as fit, 3 on the root pass): each flushes its whole shared
// histogram at the end of the one wave, so 1 a multiprocessor flushes a third
// as many counters, from fewer warps. With and without the flush by sectors
// and the lean rows (histogram_row_classes and histogram_identity_root, which
// take the root pass's rows to 32 bytes a row), without and with clusters of
// 4 (whose blocks sum in distributed shared memory first: a twelfth of the
// default's flushed counters at 1 block a multiprocessor): the root pass at
// 256 and 4 bins a feature; the reference training (bootstrap: the lean rows
// are the class ids alone).
CudaTuning blocks_tuning(const benchmark::State& state) {
  CudaTuning tuning;
  tuning.histogram_blocks_per_sm = static_cast<int>(state.range(0));
  tuning.histogram_sector_flush = state.range(1) != 0;
  tuning.histogram_row_classes = tuning.histogram_identity_root = state.range(2) != 0;
  tuning.histogram_cluster_blocks = static_cast<int>(state.range(3));
  return tuning;
}

void BM_HistogramPassBlocks(benchmark::State& state) {
  histogram_pass(state, static_cast<int32_t>(state.range(4)), blocks_tuning(state), false);
}
BENCHMARK(BM_HistogramPassBlocks)
    ->ArgNames({"blocks", "sectors", "lean", "cluster", "bins"})
    ->ArgsProduct({{0, 1, 2}, {0, 1}, {0, 1}, {1, 4}, {256, 4}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(20);

void BM_Train10MBlocks(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_ROWS", 10000000), 28);
  time_gpu_training(state, l.data, reference_params(l.data), blocks_tuning(state));
}
BENCHMARK(BM_Train10MBlocks)
    ->ArgNames({"blocks", "sectors", "lean", "cluster"})
    ->Args({0, 0, 0, 1})
    ->Args({1, 0, 0, 1})
    ->Args({2, 0, 0, 1})
    ->Args({1, 1, 1, 1})
    ->Args({2, 1, 1, 1})
    ->Args({1, 1, 1, 4})
    ->Args({2, 1, 1, 4})
    ->UseManualTime()
    ->Unit(benchmark::kSecond)
    ->Iterations(3);

// Fully grown trees (max_depth none) on 1M x 28: must finish; time and peak device memory.
void BM_FullyGrown1M(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const Loaded& l = load(env_int("CANOPY_GPU_BENCH_FULL_ROWS", 1000000), 28);
  const ForestParams p = resolve_params({{"n_estimators", "100"}, {"max_features", "sqrt"}}, l.data.task);
  auto gpu = make_cuda_tree_backend(0);
  double gpu_s = 0;
  std::size_t peak = 0;
  for (auto _ : state) {
    DeviceMemoryWatch watch;
    gpu_s = train_seconds(l.data, p, *gpu);
    watch.stop();
    peak = watch.peak_bytes();
    state.SetIterationTime(gpu_s);
  }
  state.counters["train_gpu_s"] = gpu_s;
  state.counters["peak_device_MiB"] = static_cast<double>(peak) / (1024.0 * 1024.0);
}
BENCHMARK(BM_FullyGrown1M)->UseManualTime()->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace canopy

BENCHMARK_MAIN();
