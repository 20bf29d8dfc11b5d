// The CUDA primitives against their CPU twins on the same inputs: the tree
// backend (through the real level loop, grow_batch), bin assignment and
// prediction must give identical outputs, and end to end a model trained with
// --device cuda must export byte-identical JSON to one trained with --device cpu.
// Every test skips with a message when no CUDA device is visible (CI has none);
// everything still compiles in both CUDA and CPU-only builds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "forwarding_backend.h"
#include "host/forest_trainer.h"
#include "host/grower.h"
#include "host/params.h"
#include "host/training_data.h"
#include "kernels/bin.h"
#include "kernels/device.h"
#include "kernels/predict.h"
#include "kernels/tree_backend.h"
#include "recording_backend.h"
#include "test_util.h"

namespace canopy {
namespace {

#define CANOPY_REQUIRE_GPU()                                                                          \
  do {                                                                                                \
    if (list_devices().empty()) GTEST_SKIP() << "no CUDA device (" << cuda_unavailable_reason() << ")"; \
  } while (0)

// A synthetic binned training problem.
struct Problem {
  BinnedMatrix bins;
  BinCuts cuts;
  std::vector<int32_t> class_id;
  std::vector<int64_t> y_fixed;
  std::vector<int64_t> row_quantum;
  std::vector<uint32_t> train_rows;  // a training subset for RowSample jobs
  StatsLayout layout;

  BatchData batch() const {
    BatchData b;
    b.bins = &bins;
    b.cuts = &cuts;
    b.layout = layout;
    b.class_id = class_id.empty() ? nullptr : class_id.data();
    b.y_fixed = y_fixed.empty() ? nullptr : y_fixed.data();
    b.row_quantum = row_quantum.empty() ? nullptr : row_quantum.data();
    return b;
  }
};

struct ProblemSpec {
  std::size_t rows = 2000;
  std::size_t features = 10;
  int32_t classes = 3;             // 0 = regression
  bool weighted = false;           // row quanta (some zero) and a count channel
  double missing = 0.05;           // fraction of missing bins
  int max_cuts = 254;              // cuts per feature at most
  uint32_t seed = 1;
};

// Labels depend on a few features so the trees have real structure.
Problem make_problem(const ProblemSpec& s) {
  Problem p;
  std::mt19937_64 rng(s.seed);
  p.cuts.offsets.assign(1, 0);
  std::vector<int> n_cuts(s.features);
  for (std::size_t f = 0; f < s.features; ++f) {
    n_cuts[f] = static_cast<int>(rng() % (s.max_cuts + 1));
    if (f == 0) n_cuts[f] = s.max_cuts;  // at least one feature with every bin
    for (int c = 0; c < n_cuts[f]; ++c) p.cuts.values.push_back(static_cast<float>(c) + 0.5f);
    p.cuts.offsets.push_back(static_cast<uint32_t>(p.cuts.values.size()));
  }
  p.bins.n_rows = s.rows;
  p.bins.n_features = s.features;
  p.bins.bins.resize(s.rows * s.features);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (std::size_t r = 0; r < s.rows; ++r)
    for (std::size_t f = 0; f < s.features; ++f)
      p.bins.bins[r * s.features + f] =
          u(rng) < s.missing ? 0 : static_cast<uint8_t>(1 + rng() % static_cast<uint64_t>(n_cuts[f] + 1));
  for (std::size_t r = 0; r < s.rows; ++r) {
    const uint8_t* row = p.bins.row(r);
    const double signal = row[0] * 0.02 + (s.features > 1 ? row[1] * 0.01 : 0.0) + u(rng);
    if (s.classes > 0) {
      const int32_t c = static_cast<int32_t>(std::fmod(signal * 2.7, 1.0) * s.classes);
      p.class_id.push_back(u(rng) < 0.1 ? static_cast<int32_t>(rng() % s.classes) : std::min(c, s.classes - 1));
    } else {
      p.y_fixed.push_back(static_cast<int64_t>(signal * 100000.0) - static_cast<int64_t>(rng() % 50000));
    }
    if (s.weighted) p.row_quantum.push_back(u(rng) < 0.1 ? 0 : static_cast<int64_t>(1 + rng() % 1000));
  }
  p.layout = StatsLayout::make(s.classes, s.weighted);
  for (std::size_t r = 0; r < s.rows; ++r)
    if (r % 7 != 3) p.train_rows.push_back(static_cast<uint32_t>(r));
  return p;
}

struct JobPlan {
  int32_t features_per_node;
  int64_t min_samples_leaf;
  Criterion criterion;
  bool bootstrap;
  int32_t max_depth;
  bool class_weights = false;
  // Rows from a RowSample over Problem::train_rows (the CUDA backend samples
  // them on the device) instead of a multiplicity vector built here.
  bool sampled = false;
  // Applied by the shared level loop, which then hands the backend splits it
  // turned down (apply_splits with invalid choices among valid ones).
  double min_impurity_decrease = 0.0;
};

void make_jobs(const Problem& p, const std::vector<JobPlan>& plans, uint64_t seed, std::vector<JobSpec>& jobs,
               std::vector<GrowLimits>& limits) {
  jobs.clear();
  limits.clear();
  std::mt19937_64 rng(seed);
  for (std::size_t t = 0; t < plans.size(); ++t) {
    const JobPlan& plan = plans[t];
    JobSpec j;
    j.seed = seed;
    j.tree_index = static_cast<uint32_t>(t);
    j.features_per_node = plan.features_per_node;
    j.min_samples_leaf = plan.min_samples_leaf;
    j.criterion = plan.criterion;
    if (plan.sampled) {
      j.sample.rows = &p.train_rows;
      j.sample.draws = plan.bootstrap ? static_cast<int64_t>(p.train_rows.size()) : 0;
    } else {
      j.multiplicity.assign(p.bins.n_rows, plan.bootstrap ? 0 : 1);
      if (plan.bootstrap)
        for (std::size_t d = 0; d < p.bins.n_rows; ++d) ++j.multiplicity[rng() % p.bins.n_rows];
    }
    if (plan.class_weights)
      for (int32_t c = 0; c < p.layout.n_classes; ++c) j.class_quantum.push_back(c % 3 == 0 ? 0 : 1 + c % 7);
    jobs.push_back(std::move(j));
    GrowLimits l;
    l.max_depth = plan.max_depth;
    l.min_samples_leaf = plan.min_samples_leaf;
    l.min_impurity_decrease = plan.min_impurity_decrease;
    limits.push_back(l);
  }
}

void expect_same_trees(const std::vector<GrownTree>& cpu, const std::vector<GrownTree>& gpu) {
  ASSERT_EQ(cpu.size(), gpu.size());
  EXPECT_TRUE(std::any_of(cpu.begin(), cpu.end(), [](const GrownTree& t) { return t.n_nodes() > 1; }))
      << "no tree of the batch split: the comparison would check root statistics only";
  for (std::size_t t = 0; t < cpu.size(); ++t) {
    SCOPED_TRACE("tree " + std::to_string(t));
    EXPECT_EQ(cpu[t].n_nodes(), gpu[t].n_nodes());
    EXPECT_TRUE(cpu[t].stats == gpu[t].stats);
    EXPECT_TRUE(cpu[t].feature == gpu[t].feature);
    EXPECT_TRUE(cpu[t].bin == gpu[t].bin);
    EXPECT_TRUE(cpu[t].left_child == gpu[t].left_child);
    EXPECT_TRUE(cpu[t].default_left == gpu[t].default_left);
    EXPECT_TRUE(cpu[t].importance == gpu[t].importance);  // exact: same gains in the same order
  }
}

// The CPU backend's trees and levels (recording_backend.h) for a batch of jobs.
struct CpuReference {
  std::vector<GrownTree> trees;
  std::vector<test::RecordedLevel> levels;
};

CpuReference grow_on_cpu(const Problem& p, const std::vector<JobPlan>& plans, uint64_t seed) {
  std::vector<JobSpec> jobs;
  std::vector<GrowLimits> limits;
  make_jobs(p, plans, seed, jobs, limits);
  auto cpu = make_cpu_tree_backend();
  test::RecordingBackend recording(*cpu);
  CpuReference r;
  grow_batch(recording, p.batch(), jobs, limits, r.trees);
  r.levels = std::move(recording.levels);
  return r;
}

// Grows the jobs of `cpu` on `gpu` (a default CUDA backend when null) and
// compares the trees, and level by level the primitives' outputs
// (recording_backend.h): the sampled rows, every node's histograms, split and
// left statistics, and the partitioned rows of every node.
void compare_with_cpu(const CpuReference& cpu, const Problem& p, const std::vector<JobPlan>& plans, uint64_t seed,
                      TreeBackend* gpu = nullptr) {
  std::vector<JobSpec> jobs;
  std::vector<GrowLimits> limits;
  make_jobs(p, plans, seed, jobs, limits);
  std::unique_ptr<TreeBackend> own;
  if (!gpu) {
    own = make_cuda_tree_backend(0);
    gpu = own.get();
  }
  EXPECT_STREQ(gpu->name(), "cuda");
  test::RecordingBackend recording(*gpu);
  std::vector<GrownTree> trees;
  grow_batch(recording, p.batch(), jobs, limits, trees);
  expect_same_trees(cpu.trees, trees);
  test::expect_same_levels(cpu.levels, recording.levels);
}

// The same jobs grown on the CPU backend and on `gpu`, compared.
void compare_backends(const Problem& p, const std::vector<JobPlan>& plans, uint64_t seed, TreeBackend* gpu = nullptr) {
  compare_with_cpu(grow_on_cpu(p, plans, seed), p, plans, seed, gpu);
}

TEST(CudaBackend, RandomClassificationMatchesCpu) {
  CANOPY_REQUIRE_GPU();
  const Problem p = make_problem({});
  compare_backends(p,
                   {{3, 1, Criterion::kGini, true, -1},
                    {10, 1, Criterion::kEntropy, true, -1},  // every feature (CPU subtraction trick)
                    {1, 5, Criterion::kGini, true, 8},
                    {5, 1, Criterion::kGini, false, -1},
                    {4, 2, Criterion::kEntropy, false, 3},
                    {3, 1, Criterion::kGini, true, -1, false, false, 0.002}},  // turns down the small nodes' splits
                   11);
}

TEST(CudaBackend, AllMissingAndConstantColumnsAndOneRowPerLeaf) {
  CANOPY_REQUIRE_GPU();
  ProblemSpec s;
  s.rows = 600;
  s.features = 6;
  s.classes = 2;
  Problem p = make_problem(s);
  const std::size_t values4 = p.cuts.n_cuts(4) + 1;  // value bins of feature 4
  for (std::size_t r = 0; r < s.rows; ++r) {
    p.bins.bins[r * s.features + 2] = 0;  // all missing
    p.bins.bins[r * s.features + 3] = 1;  // constant
    p.bins.bins[r * s.features + 4] = static_cast<uint8_t>(1 + r % values4);  // many distinct values
    p.class_id[r] = static_cast<int32_t>((r * 7919) % 2);
  }
  compare_backends(p,
                   {{6, 1, Criterion::kGini, false, -1},  // fully grown, min_samples_leaf 1
                    {2, 1, Criterion::kGini, true, -1},
                    {1, 1, Criterion::kEntropy, false, -1}},
                   5);
}

TEST(CudaBackend, ManyClassesUseTheGlobalAtomicFallback) {
  CANOPY_REQUIRE_GPU();
  ProblemSpec s;
  s.rows = 6000;
  s.features = 8;
  s.classes = 300;  // 256 bins x 300 channels x 8 bytes per feature: far above shared memory
  const Problem p = make_problem(s);
  compare_backends(p, {{3, 1, Criterion::kGini, true, -1}, {8, 1, Criterion::kEntropy, true, 12}}, 3);
}

TEST(CudaBackend, ZeroWeightsClassWeightsAndCountChannel) {
  CANOPY_REQUIRE_GPU();
  ProblemSpec s;
  s.rows = 3000;
  s.features = 9;
  s.classes = 4;
  s.weighted = true;
  const Problem p = make_problem(s);
  JobPlan a{3, 1, Criterion::kGini, true, -1, true};
  JobPlan b{9, 4, Criterion::kEntropy, false, -1, true};
  JobPlan c{2, 1, Criterion::kGini, true, 6, false};
  compare_backends(p, {a, b, c}, 17);
}

TEST(CudaBackend, RegressionMatchesCpu) {
  CANOPY_REQUIRE_GPU();
  for (bool weighted : {false, true}) {
    SCOPED_TRACE(weighted ? "weighted" : "unweighted");
    ProblemSpec s;
    s.rows = 4000;
    s.features = 7;
    s.classes = 0;
    s.weighted = weighted;
    const Problem p = make_problem(s);
    compare_backends(p,
                     {{7, 1, Criterion::kSquaredError, true, -1},
                      {2, 3, Criterion::kSquaredError, true, -1},
                      {4, 1, Criterion::kSquaredError, false, 9}},
                     23);
  }
}

// Jobs sampled on the device (bootstrap and plain subsets) next to jobs whose
// multiplicities come from the host, in one batch; weighted and unweighted.
TEST(CudaBackend, DeviceSampledRowsMatchCpu) {
  CANOPY_REQUIRE_GPU();
  for (int32_t classes : {3, 0}) {
    for (bool weighted : {false, true}) {
      SCOPED_TRACE(std::to_string(classes) + " classes, " + (weighted ? "weighted" : "unweighted"));
      ProblemSpec s;
      s.rows = 5000;
      s.features = 8;
      s.classes = classes;
      s.weighted = weighted;
      const Problem p = make_problem(s);
      const Criterion c = classes > 0 ? Criterion::kGini : Criterion::kSquaredError;
      JobPlan a{3, 1, c, true, -1};
      a.sampled = true;
      JobPlan b{8, 2, c, false, 10};
      b.sampled = true;
      JobPlan host{3, 1, c, true, -1};
      JobPlan d{2, 1, c, true, 7, classes > 0};
      d.sampled = true;
      compare_backends(p, {a, host, b, d}, 41);
    }
  }
}

// Large nodes: several histogram blocks per node and several shared-memory
// feature groups (28 features x 256 bins x 2 channels); the backend instance
// is reused, so the second batch also exercises the cached binned matrix.
TEST(CudaBackend, LargeNodesFeatureGroupsAndReuseAcrossBatches) {
  CANOPY_REQUIRE_GPU();
  ProblemSpec s;
  s.rows = 60000;
  s.features = 28;
  s.classes = 2;
  s.max_cuts = 254;
  const Problem p = make_problem(s);
  auto gpu = make_cuda_tree_backend(0);
  JobPlan sampled{5, 1, Criterion::kGini, true, 10};
  sampled.sampled = true;
  compare_backends(p, {{28, 1, Criterion::kGini, true, 10}, {5, 1, Criterion::kGini, true, 10}, sampled}, 29, gpu.get());
  compare_backends(p, {{5, 1, Criterion::kEntropy, false, 12}, {28, 20, Criterion::kGini, true, -1}}, 31, gpu.get());
  const Problem q = make_problem(ProblemSpec{});  // another matrix: must be uploaded again
  compare_backends(q, {{3, 1, Criterion::kGini, true, -1}}, 37, gpu.get());
}

// Every CudaTuning grows the CPU's trees: each combination of the histogram
// mapping, 48 or 96 KiB blocks (opted into; one feature group for 28
// features), padded device rows, 256 or 512 threads a block (the 64-bit
// shared counters in 32-bit atomic halves at 256 threads over packed rows
// and at 512 over padded ones), load batches
// of 1 and 4 and the row-words walk (9 features: rows rounded up to 12
// bytes; 400 features: too wide, the row walk instead), on 32-bit-counter
// classification, weighted classification with class weights, regression and
// the global-atomic fallback of many classes, and 40 features (padded to 64
// bytes). Nodes of 5, 7, 9 and 28 features leave partial load batches and a
// block stride that is not a multiple of the group. The rotated- and swizzled-rows walks
// take only launches whose every group covers more than half the row, so
// their batches sample most features (every job, and its root), and the
// class-weighted job trains in a batch of its own. The rotated-rows walk fits
// rows of at most 32 bytes whose 32 columns fit the block: 28 features of 256
// bins with 32-bit counters (64 KiB), 9 features of 31 cuts (weighted; two
// copies, 8 lanes idle), 7 of 15 cuts (regression; four copies) and 28 of 2
// cuts (one copy, or 32-byte padded rows); it falls back to the row-words
// walk elsewhere (28 weighted features of 256 bins take 128 KiB; the padded 9
// and 7 features' groups are not dense). The swizzled-rows walk takes the
// 32-bit batches of 28 features (rows padded to 32 bytes), of 40 features
// (rows of 64 bytes: a slice of 32 features and one of 8, the jobs
// subtracting, so every-feature histograms in feature order) and of 400
// features (13 slices), and falls back elsewhere (64-bit counters, groups of
// half the padded row or less); its narrower rows are
// OptInPathsOnSmallProblemsMatchCpu's.
// Problems of the given shapes: (rows, features, classes (0 = regression), weighted).
using Shape = std::tuple<std::size_t, std::size_t, int32_t, bool>;
std::vector<Problem> problems_of(std::initializer_list<Shape> shapes) {
  std::vector<Problem> problems;
  for (auto [rows, features, classes, weighted] : shapes) {
    ProblemSpec s;
    s.rows = rows;
    s.features = features;
    s.classes = classes;
    s.weighted = weighted;
    problems.push_back(make_problem(s));
  }
  return problems;
}

// A problem of at most `cuts` cuts a feature (few bins: small histograms).
Problem few_cuts_problem(std::size_t rows, std::size_t features, int32_t classes, int cuts, bool weighted = false) {
  ProblemSpec s;
  s.rows = rows;
  s.features = features;
  s.classes = classes;
  s.weighted = weighted;
  s.max_cuts = cuts;
  return make_problem(s);
}

TEST(CudaBackend, HistogramTuningsMatchCpu) {
  CANOPY_REQUIRE_GPU();
  std::vector<Problem> problems = problems_of(
      {{60000, 28, 2, false}, {3000, 9, 4, true}, {4000, 7, 0, false}, {6000, 8, 300, false}, {2000, 40, 3, false}});
  // 400 features of at most 4 bins: one feature group is wider than a block (256 threads)
  problems.push_back(few_cuts_problem(3000, 400, 2, 2));
  problems.push_back(few_cuts_problem(5000, 9, 4, 31, true));
  problems.push_back(few_cuts_problem(5000, 7, 0, 15));
  problems.push_back(few_cuts_problem(5000, 40, 3, 31));
  problems.push_back(few_cuts_problem(5000, 28, 2, 2));
  // Every combination; the row-words, rotated- and swizzled-rows walks have no load batch.
  std::vector<CudaTuning> tunings;
  for (auto mapping : {CudaTuning::HistogramMapping::kRowPerThread, CudaTuning::HistogramMapping::kElementPerThread,
                       CudaTuning::HistogramMapping::kRowWords, CudaTuning::HistogramMapping::kRotatedRows,
                       CudaTuning::HistogramMapping::kSwizzledRows})
    for (int kib : {48, 96})
      for (bool pad : {false, true})
        for (int threads : {256, 512})
          for (int batch : {1, 4}) {
            if (mapping >= CudaTuning::HistogramMapping::kRowWords && batch != 1) continue;
            CudaTuning t;
            t.histogram_mapping = mapping;
            t.histogram_shared_bytes = std::size_t(kib) << 10;
            t.pad_rows = pad;
            t.histogram_block_threads = threads;
            t.histogram_load_batch = batch;
            t.histogram_atomics_in_halves = pad != (threads == 256);  // 64-bit shared counters in 32-bit halves
            // Clusters (swizzled walk): blocks of a node sum their histograms in
            // distributed shared memory (at 48 KiB the walk does not fit: no
            // clusters).
            if (mapping == CudaTuning::HistogramMapping::kSwizzledRows) t.histogram_cluster_blocks = pad ? 8 : 4;
            // The opt-in staggered flush, class ids in the rows' padding and
            // identity roots (the batches' jobs without bootstrap) at 512
            // threads; the flush by sectors with padded rows.
            t.histogram_staggered_flush = t.histogram_row_classes = t.histogram_identity_root = threads == 512;
            t.histogram_sector_flush = pad;  // the lane-columns walks' flush by sectors
            tunings.push_back(t);
          }
  // Each problem's batches, with their CPU references grown once for every
  // tuning: `dense` for the rotated- and swizzled-rows walks, which take
  // dense groups only (every feature a node), `mixed` for the others.
  struct Batch {
    std::vector<JobPlan> plans;
    uint64_t seed;
    CpuReference cpu;
  };
  std::vector<std::vector<Batch>> dense(problems.size()), mixed(problems.size());
  for (std::size_t i = 0; i < problems.size(); ++i) {
    const Problem& p = problems[i];
    const int32_t nf = static_cast<int32_t>(p.bins.n_features);
    const Criterion c = p.layout.regression() ? Criterion::kSquaredError : Criterion::kGini;
    JobPlan sampled{5, 1, c, true, 8};
    sampled.sampled = true;
    JobPlan weighted{nf, 2, c, true, 6, p.layout.n_classes > 0};
    JobPlan sampled_rows{nf, 1, c, true, 8};
    sampled_rows.sampled = true;
    mixed[i].push_back({{{nf, 1, c, true, 10}, sampled, weighted, {3, 1, c, false, -1}}, 53, {}});
    // The class-weighted job in a batch of its own, so the others' batch keeps
    // 32-bit counters (the swizzled walk's only kind; 28 features of 256 bins
    // fit 96 KiB). Its weights leave a binary problem one class (make_jobs
    // weighs class 0 by 0): nothing to split, so there it is left out.
    dense[i].push_back({{{nf, 1, c, true, 10}, sampled_rows, {std::max(1, nf - 1), 1, c, false, -1}}, 53, {}});
    if (p.layout.n_classes != 2) dense[i].push_back({{weighted}, 59, {}});
    for (auto* batches : {&mixed[i], &dense[i]})
      for (Batch& b : *batches) b.cpu = grow_on_cpu(p, b.plans, b.seed);
  }
  for (const CudaTuning& tuning : tunings) {
    const char* const kMappingNames[] = {"row", "element", "row-words", "rotated-rows", "swizzled-rows"};
    const char* mapping = kMappingNames[static_cast<int>(tuning.histogram_mapping)];
    SCOPED_TRACE(std::string(mapping) + " mapping, " + std::to_string(tuning.histogram_shared_bytes >> 10) + " KiB" +
                 (tuning.pad_rows ? ", padded rows" : "") + ", " + std::to_string(tuning.histogram_block_threads) +
                 " threads, load batch " + std::to_string(tuning.histogram_load_batch) +
                 (tuning.histogram_atomics_in_halves ? ", atomics in halves" : "") +
                 (tuning.histogram_cluster_blocks > 1
                      ? ", clusters of " + std::to_string(tuning.histogram_cluster_blocks)
                      : std::string()) +
                 (tuning.histogram_row_classes ? ", staggered flush, row classes, identity roots" : "") +
                 (tuning.histogram_sector_flush ? ", flush by sectors" : ""));
    auto gpu = make_cuda_tree_backend(0, tuning);
    const bool dense_walk = tuning.histogram_mapping == CudaTuning::HistogramMapping::kRotatedRows ||
                            tuning.histogram_mapping == CudaTuning::HistogramMapping::kSwizzledRows;
    for (std::size_t i = 0; i < problems.size(); ++i)
      for (const Batch& b : dense_walk ? dense[i] : mixed[i])
        compare_with_cpu(b.cpu, problems[i], b.plans, b.seed, gpu.get());
    if (tuning.histogram_cluster_blocks > 1 && tuning.histogram_shared_bytes >= (std::size_t(96) << 10))
      EXPECT_GT(cuda_cluster_launches(*gpu), 0) << "no histogram launch ran in clusters (the plain launch took them)";
  }
}

// The subtraction trick (CudaTuning::histogram_subtraction) grows the CPU's
// trees: jobs that sample more than half the features histogram every
// feature and derive the larger sibling from the kept parent histogram, next
// to jobs that sample fewer features in the same batch. 32-bit and 64-bit
// counters, regression, the global-atomic fallback (300 classes), features of
// 2 cuts (histograms small enough to be kept to the deepest levels), 70
// features (rows over 64 bytes take the row walk, in two feature groups),
// and 20 features of 3 classes, under the default histogram walk, the
// swizzled-rows walk (the every-feature histograms of the 32-bit batches,
// binary and 3-class: under it the jobs weigh no classes, so every batch
// of a classification problem without row weights has 32-bit counters) and
// the element walk, and with the row-words and swizzled-rows walks in a 2 MiB workspace
// (levels in many chunks, siblings kept together, the pools too small for
// every node: a few kept, the rest built; there the partition also reads the
// feature-major bins, CudaTuning::partition_columns).
TEST(CudaBackend, SubtractionTrickMatchesCpu) {
  CANOPY_REQUIRE_GPU();
  std::vector<Problem> problems =
      problems_of({{60000, 28, 2, false}, {3000, 9, 4, true}, {4000, 7, 0, false}, {6000, 8, 300, false}});
  problems.push_back(few_cuts_problem(20000, 28, 2, 2));
  problems.push_back(few_cuts_problem(8000, 70, 2, 254));  // rows over 64 bytes: the row walk, two groups
  problems.push_back(few_cuts_problem(6000, 20, 3, 254));
  struct Setting {
    CudaTuning::HistogramMapping mapping;
    std::size_t workspace_bytes;
    bool subtract = true;
  };
  using Mapping = CudaTuning::HistogramMapping;
  for (const Setting& setting :
       {Setting{Mapping::kRowWords, 0}, Setting{Mapping::kSwizzledRows, 0}, Setting{Mapping::kElementPerThread, 0},
        Setting{Mapping::kRowWords, std::size_t(2) << 20}, Setting{Mapping::kSwizzledRows, std::size_t(2) << 20},
        Setting{Mapping::kRowWords, 0, false}}) {
    CudaTuning tuning;
    tuning.histogram_subtraction = setting.subtract;
    tuning.histogram_mapping = setting.mapping;
    tuning.workspace_bytes = setting.workspace_bytes;
    tuning.partition_columns = setting.workspace_bytes > 0;
    auto gpu = make_cuda_tree_backend(0, tuning);
    for (const Problem& p : problems) {
      SCOPED_TRACE(std::to_string(p.bins.n_rows) + " x " + std::to_string(p.bins.n_features) + ", " +
                   std::to_string(p.layout.n_classes) + " classes" + (p.row_quantum.empty() ? "" : ", weighted") +
                   ", mapping " + std::to_string(static_cast<int>(setting.mapping)) +
                   (setting.workspace_bytes ? ", 2 MiB workspace" : "") + (setting.subtract ? "" : ", no subtraction"));
      const int32_t nf = static_cast<int32_t>(p.bins.n_features);
      const Criterion c = p.layout.regression() ? Criterion::kSquaredError : Criterion::kGini;
      JobPlan sampled{nf - 1, 1, c, true, 12};
      sampled.sampled = true;
      compare_backends(p,
                       {{nf, 1, c, true, -1},
                        sampled,
                        {nf / 2 + 1, 3, c, false, 10},
                        {nf, 2, c, true, 8, p.layout.n_classes > 0 && setting.mapping != Mapping::kSwizzledRows},
                        {2, 1, c, true, 6}},
                       71, gpu.get());
    }
  }
}

// The opt-in paths on problems small enough for compute-sanitizer
// (scripts/gpu_check.sh sanitize runs this test under memcheck and
// racecheck): the row-words walk at 256 and 512 threads (32- and 64-bit
// counters, the 64-bit ones by compare-and-swap at 256 threads and in 32-bit
// halves at 512) with the subtraction trick in a 1 MiB workspace
// and the partition over the feature-major copy of the bins (by flags at 256
// threads, in two passes at 512). Also a layout
// with a count channel but no row weights (a batch of a training whose other
// requests weigh classes): 64-bit counters (32-bit ones only where there is
// no count channel), the count from the multiplicity.
// And 20000 rows, so the first partitions cut a node into several work items.
// Then the rotated- and swizzled-rows walks at 256 and 512 threads (the
// rotated walk's bounded registers; the swizzled walk's clusters of 4 at
// 512) on jobs that sample most features, with
// the default partition, adding 20 and 12 features of 3 classes, 11 and 3
// binary features (swizzled: rows padded to 32, 16 and 4 bytes, 32-bit
// counters); the 40 features of 3 classes take the swizzled walk's 32-byte
// slices of 64-byte rows (the jobs subtract).
// At 512 threads both parts also take the staggered flush, the class ids in
// the rows' padding (the 6 binary features' row-words rows of 8 bytes, the
// swizzled walk's rows of 32, 16 and 4 bytes) and identity roots (a job
// without bootstrap); the rotated and swizzled walks flush by sectors.
TEST(CudaBackend, OptInPathsOnSmallProblemsMatchCpu) {
  CANOPY_REQUIRE_GPU();
  std::vector<Problem> problems = {few_cuts_problem(1500, 28, 2, 254), few_cuts_problem(1200, 9, 4, 31, true),
                                   few_cuts_problem(1200, 7, 0, 15), few_cuts_problem(1000, 40, 3, 31),
                                   few_cuts_problem(1200, 9, 3, 31, true)};
  problems.back().row_quantum.clear();
  problems.push_back(few_cuts_problem(20000, 6, 2, 15));  // roots of over 8192 entries: several partition items
  for (int threads : {256, 512}) {
    CudaTuning tuning;
    tuning.histogram_mapping = CudaTuning::HistogramMapping::kRowWords;
    tuning.histogram_atomics_in_halves = threads == 512;
    tuning.histogram_block_threads = threads;
    tuning.histogram_subtraction = true;
    tuning.workspace_bytes = std::size_t(1) << 20;
    tuning.partition_columns = true;
    tuning.partition_two_pass = threads == 512;
    tuning.time_histograms = true;
    tuning.histogram_staggered_flush = tuning.histogram_row_classes = tuning.histogram_identity_root = threads == 512;
    auto gpu = make_cuda_tree_backend(0, tuning);
    for (const Problem& p : problems) {
      SCOPED_TRACE(std::to_string(p.bins.n_features) + " features, " + std::to_string(p.layout.n_classes) +
                   " classes, " + std::to_string(threads) + " threads");
      const int32_t nf = static_cast<int32_t>(p.bins.n_features);
      const Criterion c = p.layout.regression() ? Criterion::kSquaredError : Criterion::kGini;
      const double timed_s = cuda_histogram_seconds(*gpu);
      compare_backends(p, {{nf, 1, c, true, 8}, {3, 1, c, true, 6}, {nf, 1, c, false, 5}}, 83, gpu.get());
      EXPECT_GT(cuda_histogram_seconds(*gpu), timed_s);  // the histogram launches were timed
    }
  }
  EXPECT_EQ(cuda_histogram_seconds(*make_cuda_tree_backend(0)), 0.0);  // untimed by default
  // The walks of one column a row position, on dense groups: 28 binary
  // features of 255 bins take them with 32-bit counters (64 KiB a block), and
  // the swizzled walk's rows of 32, 16, 8 and 4 bytes (1, 2, 4 and 8 copies):
  // 28 and 20 features, 12 of 3 classes and 11 binary ones, the 6 binary
  // features, 3 features (binary: its two-channel offsets at every row
  // width); and its slices of the 40 features' 64-byte rows.
  problems.push_back(few_cuts_problem(1500, 20, 3, 63));
  problems.push_back(few_cuts_problem(1500, 12, 3, 63));
  problems.push_back(few_cuts_problem(1500, 11, 2, 254));
  problems.push_back(few_cuts_problem(1200, 3, 2, 127));
  for (auto mapping : {CudaTuning::HistogramMapping::kRotatedRows, CudaTuning::HistogramMapping::kSwizzledRows})
    for (int threads : {256, 512}) {
      CudaTuning tuning;
      tuning.histogram_mapping = mapping;
      tuning.histogram_block_threads = threads;
      tuning.workspace_bytes = std::size_t(1) << 20;
      // The swizzled walk's clusters at 512 threads: the sanitizers see the
      // reads of other blocks' shared histograms.
      if (mapping == CudaTuning::HistogramMapping::kSwizzledRows && threads == 512) tuning.histogram_cluster_blocks = 4;
      tuning.histogram_staggered_flush = tuning.histogram_row_classes = tuning.histogram_identity_root = threads == 512;
      tuning.histogram_sector_flush = true;  // with the clusters' shares at 512 threads
      auto gpu = make_cuda_tree_backend(0, tuning);
      for (const Problem& p : problems) {
        SCOPED_TRACE(std::to_string(p.bins.n_features) + " features, " + std::to_string(p.layout.n_classes) +
                     " classes, " + (mapping == CudaTuning::HistogramMapping::kRotatedRows ? "rotated" : "swizzled") +
                     " rows, " + std::to_string(threads) + " threads");
        const int32_t nf = static_cast<int32_t>(p.bins.n_features);
        const Criterion c = p.layout.regression() ? Criterion::kSquaredError : Criterion::kGini;
        compare_backends(p, {{nf, 1, c, true, 8}, {std::max(1, nf - 1), 1, c, true, 6}, {nf, 1, c, false, 5}}, 89,
                         gpu.get());
      }
      if (tuning.histogram_cluster_blocks > 1) EXPECT_GT(cuda_cluster_launches(*gpu), 0) << "no launch ran in clusters";
    }
}

// CudaTuning::histogram_row_classes writes the class ids into the device
// rows' padding at every batch, the cached rows too: a second batch over the
// same bins with other class ids (each class relabelled) grows the CPU's
// trees as well. Under the swizzled walk (its row classes at the root, 28
// and 12 features in rows of 32 and 16 bytes) and the row-words walk over
// padded rows (the class byte loaded beside the row's words, at every level);
// jobs that bootstrap, sample 3 features, and take every row once (identity
// roots, with histogram_identity_root: from host multiplicities and from a
// device sample of every row).
TEST(CudaBackend, RowClassesFollowEachBatchsClassIds) {
  CANOPY_REQUIRE_GPU();
  for (auto mapping : {CudaTuning::HistogramMapping::kSwizzledRows, CudaTuning::HistogramMapping::kRowWords}) {
    CudaTuning tuning;
    tuning.histogram_mapping = mapping;
    tuning.pad_rows = true;
    tuning.histogram_row_classes = tuning.histogram_identity_root = true;
    auto gpu = make_cuda_tree_backend(0, tuning);
    for (std::size_t nf : {28, 12}) {
      Problem p = few_cuts_problem(1500, nf, 3, 63);
      p.train_rows.resize(p.bins.n_rows);  // every row: a device sample without bootstrap is an identity root
      std::iota(p.train_rows.begin(), p.train_rows.end(), 0u);
      const int32_t f = static_cast<int32_t>(nf);
      JobPlan sampled_once{f, 1, Criterion::kGini, false, 5};
      sampled_once.sampled = true;
      for (int relabelled = 0; relabelled < 2; ++relabelled) {
        SCOPED_TRACE(std::string(mapping == CudaTuning::HistogramMapping::kRowWords ? "row-words" : "swizzled") +
                     " rows, " + std::to_string(nf) + " features" + (relabelled ? ", relabelled" : ""));
        compare_backends(p,
                         {{f, 1, Criterion::kGini, true, 8},
                          {3, 1, Criterion::kGini, true, 6},
                          {f, 1, Criterion::kGini, false, 5},
                          sampled_once},
                         97, gpu.get());
        for (int32_t& c : p.class_id) c = (c + 1) % 3;
      }
    }
  }
}

// Both partitions (CudaTuning::partition_two_pass: go-left bits in two
// passes, the default; or flags, a scan and a scatter) grow the CPU's trees,
// reading the split feature's bins from the rows and from the feature-major
// copy (CudaTuning::partition_columns): nodes of many work items (60000
// rows), fully grown trees (nodes down to one entry), bootstrap
// multiplicities, rows sampled on the device, weights, regression and 300
// classes.
TEST(CudaBackend, PartitionsMatchCpu) {
  CANOPY_REQUIRE_GPU();
  const std::vector<Problem> problems =
      problems_of({{60000, 28, 2, false}, {3000, 9, 4, true}, {4000, 7, 0, false}, {6000, 8, 300, false}});
  for (int variant = 0; variant < 4; ++variant) {
    const bool two_pass = variant & 1, columns = variant & 2;
    CudaTuning tuning;
    tuning.partition_two_pass = two_pass;
    tuning.partition_columns = columns;
    auto gpu = make_cuda_tree_backend(0, tuning);
    for (const Problem& p : problems) {
      SCOPED_TRACE(std::to_string(p.bins.n_rows) + " x " + std::to_string(p.bins.n_features) + ", " +
                   std::to_string(p.layout.n_classes) + " classes" + (two_pass ? ", two passes" : ", flags") +
                   (columns ? ", feature-major bins" : ""));
      const int32_t nf = static_cast<int32_t>(p.bins.n_features);
      const Criterion c = p.layout.regression() ? Criterion::kSquaredError : Criterion::kGini;
      JobPlan sampled{3, 1, c, true, 10};
      sampled.sampled = true;
      compare_backends(p, {{3, 1, c, true, -1}, sampled, {nf, 2, c, false, 8}, {2, 1, c, true, -1}}, 97, gpu.get());
    }
  }
}

// The warp-per-pair split scan grows the CPU's trees: gini (exact state, one
// run of bins per lane), regression, weighted statistics with a count
// channel, 300 classes and entropy (both fall back to one lane per pair).
// A CUDA batch that meets DeviceMemoryError mid-level (thrown here by a
// wrapper above 5 trees a batch, after the device's begin) is ended and the
// same trees grown again in smaller batches on the same backend: the forest
// equals the CPU's.
TEST(CudaBackend, BatchesThatRunOutOfMemoryAreGrownAgainSmaller) {
  CANOPY_REQUIRE_GPU();
  const TrainingData td = test::synthetic_classification(5000, 12, 0.05, 21, 64);
  const ForestParams p =
      resolve_params({{"n_estimators", "17"}, {"max_depth", "7"}, {"seed", "4"}}, Task::kClassification);
  auto cpu = make_cpu_tree_backend();
  const ForestNodes expected = train_forests(td, {ForestRequest{p, {}}}, *cpu)[0].nodes;
  auto gpu = make_cuda_tree_backend(0);
  test::TightMemoryBackend tight(*gpu, 17, 5);
  const ForestNodes got = train_forests(td, {ForestRequest{p, {}}}, tight)[0].nodes;
  EXPECT_EQ(tight.failed_, 2);  // 17, then 8; then 5, 5, 5, 2
  EXPECT_EQ(tight.ended_, tight.begun_);
  test::expect_same_forest(got, expected);
}

TEST(CudaBackend, WarpSplitScanMatchesCpu) {
  CANOPY_REQUIRE_GPU();
  const std::vector<Problem> problems = problems_of(
      {{60000, 28, 2, false}, {3000, 9, 4, true}, {4000, 7, 0, false}, {3000, 6, 0, true}, {6000, 8, 300, false}});
  for (bool padded : {false, true}) {
    CudaTuning tuning;
    tuning.split_mapping = CudaTuning::SplitMapping::kWarpPerPair;
    tuning.pad_rows = padded;
    auto gpu = make_cuda_tree_backend(0, tuning);
    for (const Problem& p : problems) {
      SCOPED_TRACE(std::to_string(p.bins.n_rows) + " x " + std::to_string(p.bins.n_features) + ", " +
                   std::to_string(p.layout.n_classes) + " classes" + (p.row_quantum.empty() ? "" : ", weighted") +
                   (padded ? ", padded rows" : ""));
      const int32_t nf = static_cast<int32_t>(p.bins.n_features);
      const bool regression = p.layout.regression();
      const Criterion c = regression ? Criterion::kSquaredError : Criterion::kGini;
      JobPlan sampled{5, 1, c, true, 8};
      sampled.sampled = true;
      std::vector<JobPlan> plans = {{nf, 1, c, true, 10}, sampled, {3, 4, c, false, -1},
                                    {nf, 2, c, true, 6, p.layout.n_classes > 0}};
      if (!regression) plans.push_back({nf, 1, Criterion::kEntropy, true, 8});
      compare_backends(p, plans, 61, gpu.get());
    }
  }
}

TEST(CudaBins, AssignBinsMatchesCpu) {
  CANOPY_REQUIRE_GPU();
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  const std::size_t nr = 100003, nf = 7;
  BinCuts cuts;
  cuts.offsets.assign(1, 0);
  for (std::size_t f = 0; f < nf; ++f) {
    const int m = f == 0 ? 0 : (f == 1 ? 254 : static_cast<int>(rng() % 60));
    std::vector<float> c;
    for (int i = 0; i < m; ++i) c.push_back(normal(rng));
    std::sort(c.begin(), c.end());
    c.erase(std::unique(c.begin(), c.end()), c.end());
    cuts.values.insert(cuts.values.end(), c.begin(), c.end());
    cuts.offsets.push_back(static_cast<uint32_t>(cuts.values.size()));
  }
  std::vector<std::vector<float>> cols(nf, std::vector<float>(nr));
  for (std::size_t f = 0; f < nf; ++f)
    for (std::size_t r = 0; r < nr; ++r) {
      const uint64_t x = rng() % 100;
      cols[f][r] = x < 5 ? std::numeric_limits<float>::quiet_NaN()
                 : x < 7 ? (x == 5 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity())
                 : x < 20 && cuts.n_cuts(f) > 0 ? cuts.cuts(f)[rng() % cuts.n_cuts(f)]  // exactly on a cut
                         : normal(rng);
    }
  BinnedMatrix cpu, gpu;
  assign_bins_cpu(cuts, cols, cpu);
  assign_bins_cuda(cuts, cols, gpu, 0);
  EXPECT_EQ(cpu.n_rows, gpu.n_rows);
  EXPECT_EQ(cpu.n_features, gpu.n_features);
  EXPECT_TRUE(cpu.bins == gpu.bins);
}

// 25 complete trees of depth 5 (24 for one-vs-rest: 8 members of 3 classes)
// with random splits and values.
ForestNodes random_forest(bool one_vs_rest, std::size_t nf, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  ForestNodes forest;
  forest.n_outputs = 3;
  forest.one_vs_rest = one_vs_rest;
  for (int t = 0; t < (one_vs_rest ? 24 : 25); ++t) {  // level order
    const int depth = 5, internal = (1 << depth) - 1, total = (1 << (depth + 1)) - 1;
    for (int n = 0; n < total; ++n) {
      const bool leaf = n >= internal;
      forest.feature.push_back(leaf ? -1 : static_cast<int32_t>(rng() % nf));
      forest.threshold.push_back(leaf ? 0.0f : u(rng));
      forest.left_child.push_back(leaf ? -1 : 2 * n + 1);
      forest.default_left.push_back(static_cast<uint8_t>(rng() % 2));
      forest.n_samples.push_back(1);
      forest.weight.push_back(1.0);
      for (int o = 0; o < forest.values_per_node(); ++o) forest.value.push_back(u(rng) + (one_vs_rest ? 1.0f : 0.0f));
    }
    forest.tree_offsets.push_back(static_cast<int64_t>(forest.feature.size()));
  }
  return forest;
}

TEST(CudaPredict, PredictMatchesCpuBitForBit) {
  CANOPY_REQUIRE_GPU();
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const std::size_t nf = 6, nr = 20011;
  std::vector<std::vector<float>> cols(nf, std::vector<float>(nr));
  std::vector<const float*> ptrs;
  for (auto& c : cols) {
    for (float& v : c) v = rng() % 10 == 0 ? std::numeric_limits<float>::quiet_NaN() : u(rng);
    ptrs.push_back(c.data());
  }
  const ColumnsView x{ptrs.data(), nr, nf};
  for (bool one_vs_rest : {false, true}) {
    const ForestNodes forest = random_forest(one_vs_rest, nf, rng);
    for (auto range : {std::pair<std::size_t, std::size_t>{0, forest.n_trees()}, {3, 17}}) {
      std::vector<double> cpu(nr * forest.n_outputs), gpu(nr * forest.n_outputs, -1.0);
      predict_cpu(forest, x, range.first, range.second, cpu.data());
      predict_cuda(forest, x, range.first, range.second, gpu.data(), 0);
      EXPECT_TRUE(cpu == gpu) << "one_vs_rest " << one_vs_rest;
    }
  }
}

// --- end to end through the canopy binary -----------------------------------

using test::CommandResult;
using test::run_canopy;

std::string train_and_export(const std::string& dir, const std::string& name, const std::string& args,
                             const std::string& device) {
  const std::string model = dir + "/" + name + "-" + device + ".h5";
  CommandResult r = run_canopy("train " + args + " --device " + device + " --out " + model);
  EXPECT_EQ(r.exit_code, 0) << args << " --device " << device << "\n" << r.err;
  const std::string out = model + ".json";
  CommandResult e = run_canopy("model export " + model + " --format json --out " + out);
  EXPECT_EQ(e.exit_code, 0) << e.err;
  return test::read_file(out);
}

void expect_identical_models(const std::string& name, const std::string& args) {
  const std::string dir = test::temp_dir();
  const std::string cpu = train_and_export(dir, name, args, "cpu");
  const std::string gpu = train_and_export(dir, name, args, "cuda");
  EXPECT_FALSE(cpu.empty());
  EXPECT_TRUE(cpu == gpu) << name << ": " << args;
}

TEST(CudaEndToEnd, BreastCancerClassificationModelsAreIdentical) {
  CANOPY_REQUIRE_GPU();
  const std::string data = "--data " + test::data_file("breast_cancer.csv") + " --label diagnosis --n-estimators 20 --seed 7";
  expect_identical_models("bc-bootstrap", data);
  expect_identical_models("bc-no-bootstrap", data + " --bootstrap false");
  expect_identical_models("bc-entropy-balanced", data + " --criterion entropy --class-weight balanced --max-features 0.5");
  // Host-side multiplicities (out-of-bag rows, per-tree class weights).
  expect_identical_models("bc-oob-subsample", data + " --oob-score --class-weight balanced_subsample");
  expect_identical_models("bc-stopping-rules",
                          data + " --min-impurity-decrease 0.002 --min-samples-split 6 --min-samples-leaf 2");
}

// multi_class=ovr: one binary tree per class per member, on wine (3 classes)
// and on 6 synthetic classes with missing values.
TEST(CudaEndToEnd, OneVsRestModelsAreIdentical) {
  CANOPY_REQUIRE_GPU();
  const std::string wine = "--data " + test::data_file("wine.csv") + " --label target --n-estimators 10 --seed 3";
  expect_identical_models("wine-ovr", wine + " --multi-class ovr");
  expect_identical_models("wine-ovr-oob-subsample", wine + " --multi-class ovr --oob-score --class-weight balanced_subsample");
  const std::string file = test::temp_dir() + "/classes.h5";
  CommandResult s = run_canopy("synth --rows 20000 --features 12 --classes 6 --missing 0.1 --seed 8 --out " + file);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  expect_identical_models("synth-ovr", "--data " + file + " --label y --n-estimators 6 --seed 5 --multi-class ovr");
}

// Launch choices other than the defaults, taken from CANOPY_CUDA_TUNING by
// the canopy binary, export the CPU's model bytes: the row-words walk with
// 64-bit shared counters by compare-and-swap, subtraction in a small
// workspace, the flag partition over the rows without subtraction (the
// defaults before they were measured), the warp split scan (diabetes:
// regression, 64-bit counters), the swizzled walk in clusters of 8, the
// staggered flush by sectors with class ids in the rows' padding (breast_cancer's 30
// features in rows of 32 bytes) and identity roots (without bootstrap), and
// one histogram block a multiprocessor.
TEST(CudaEndToEnd, TuningsFromTheEnvironmentGiveTheSameModels) {
  CANOPY_REQUIRE_GPU();
  const std::string bc = "--data " + test::data_file("breast_cancer.csv") + " --label diagnosis --n-estimators 10 --seed 7";
  const std::string db = "--data " + test::data_file("diabetes.csv") + " --label target --n-estimators 10 --seed 7";
  for (const char* spec :
       {"histogram_mapping=row_words,histogram_atomics_in_halves=0", "histogram_subtraction=1,workspace_mib=2",
        "partition_columns=0,partition_two_pass=0,histogram_subtraction=0",
        "split_mapping=warp,histogram_block_threads=256", "histogram_cluster_blocks=8",
        "histogram_staggered_flush=1,histogram_sector_flush=1,histogram_row_classes=1,histogram_identity_root=1",
        "histogram_blocks_per_sm=1"}) {
    SCOPED_TRACE(spec);
    setenv("CANOPY_CUDA_TUNING", spec, 1);
    expect_identical_models("bc-sqrt", bc);
    expect_identical_models("bc-most-features", bc + " --max-features 0.8");  // the subtraction trick's case
    expect_identical_models("bc-no-bootstrap", bc + " --bootstrap false");    // roots of every row once
    expect_identical_models("db", db + " --max-features 0.8");
    unsetenv("CANOPY_CUDA_TUNING");
  }
}

TEST(CudaEndToEnd, DiabetesRegressionModelsAreIdentical) {
  CANOPY_REQUIRE_GPU();
  const std::string data = "--data " + test::data_file("diabetes.csv") + " --label target --n-estimators 20 --seed 7";
  expect_identical_models("db-bootstrap", data);
  expect_identical_models("db-no-bootstrap", data + " --bootstrap false --max-features sqrt");
  expect_identical_models("db-min-impurity-decrease", data + " --min-impurity-decrease 20 --max-depth 8");
}

// canopy predict / evaluate --device cuda write the same bytes as on the CPU.
TEST(CudaEndToEnd, PredictAndEvaluateOnTheGpuMatchTheCpu) {
  CANOPY_REQUIRE_GPU();
  const std::string dir = test::temp_dir();
  for (const std::string& spec : {std::string("breast_cancer.csv --label diagnosis"), std::string("diabetes.csv --label target"),
                                  std::string("wine.csv --label target")}) {
    const std::string data = " --data " + test::data_file(spec.substr(0, spec.find(' '))) + spec.substr(spec.find(' '));
    const std::string ovr = spec.rfind("wine", 0) == 0 ? " --multi-class ovr" : "";
    ASSERT_EQ(run_canopy("train" + data + ovr + " --n-estimators 15 --out " + dir + "/m.h5").exit_code, 0);
    for (const std::string device : {"cpu", "cuda"}) {
      CommandResult p = run_canopy("predict --model " + dir + "/m.h5" + data + " --proba --device " + device +
                                   " --out " + dir + "/p-" + device + ".csv");
      ASSERT_EQ(p.exit_code, 0) << p.err;
    }
    EXPECT_EQ(test::read_file(dir + "/p-cpu.csv"), test::read_file(dir + "/p-cuda.csv")) << spec;
    CommandResult ec = run_canopy("evaluate --json --model " + dir + "/m.h5" + data + " --device cpu");
    CommandResult eg = run_canopy("evaluate --json --model " + dir + "/m.h5" + data + " --device cuda");
    ASSERT_EQ(ec.exit_code, 0) << ec.err;
    ASSERT_EQ(eg.exit_code, 0) << eg.err;
    const nlohmann::json jc = nlohmann::json::parse(ec.out), jg = nlohmann::json::parse(eg.out);
    EXPECT_EQ(jg.at("device"), "cuda");
    EXPECT_EQ(jc.at("metrics").dump(), jg.at("metrics").dump()) << spec;  // the same digits
  }
}

TEST(CudaEndToEnd, SyntheticDataWithMissingValuesModelsAreIdentical) {
  CANOPY_REQUIRE_GPU();
  const std::string dir = test::temp_dir();
  for (const std::string task : {"classification", "regression"}) {
    const std::string file = dir + "/" + task + ".h5";
    CommandResult s = run_canopy("synth --task " + task + " --rows 20000 --features 12 --missing 0.1 --seed 4 --out " + file);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const std::string data = "--data " + file + " --label y --n-estimators 10 --seed 5";
    expect_identical_models(task + "-bootstrap", data);
    expect_identical_models(task + "-no-bootstrap", data + " --bootstrap false --max-depth 12");
  }
}

}  // namespace
}  // namespace canopy
