// CPU primitives: bin assignment, shared gain math, feature sampling,
// histogram and partition contracts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>

#include "kernels/bin.h"
#include "kernels/feature_sampling.h"
#include "kernels/histogram.h"
#include "kernels/partition.h"
#include "kernels/predict.h"
#include "kernels/row_sample.h"
#include "kernels/split_math.h"
#include "kernels/split_scan.h"

namespace canopy {
namespace {

TEST(Bin, MissingIsBinZeroAndBinsFollowCuts) {
  const float cuts[] = {1.0f, 2.0f, 3.5f};
  EXPECT_EQ(bin_value(cuts, 3, std::numeric_limits<float>::quiet_NaN()), 0);
  EXPECT_EQ(bin_value(cuts, 3, -100.0f), 1);
  EXPECT_EQ(bin_value(cuts, 3, 1.0f), 1);  // v <= c0 is bin 1
  EXPECT_EQ(bin_value(cuts, 3, 1.5f), 2);
  EXPECT_EQ(bin_value(cuts, 3, 2.0f), 2);
  EXPECT_EQ(bin_value(cuts, 3, 3.6f), 4);
  EXPECT_EQ(bin_value(cuts, 3, std::numeric_limits<float>::infinity()), 4);
  EXPECT_EQ(bin_value(cuts, 0, 5.0f), 1);
}

// "bin <= t" must mean "v <= threshold(t)" for every value: the model
// predicts on raw floats with the thresholds learned on bins.
TEST(Bin, ThresholdsReproduceBinSplits) {
  BinCuts c;
  c.values = {-1.0f, 0.25f, 7.0f};
  c.offsets = {0, 3};
  for (float v : {-3.0f, -1.0f, -0.5f, 0.25f, 0.3f, 7.0f, 8.0f}) {
    const uint8_t b = bin_value(c.cuts(0), c.n_cuts(0), v);
    for (uint32_t t = 1; t <= c.n_cuts(0) + 1; ++t) EXPECT_EQ(b <= t, v <= c.threshold(0, t)) << v << " " << t;
  }
  EXPECT_TRUE(std::isinf(c.threshold(0, 4)));
}

// assign_bins_cpu searches 16 values in lockstep; every bin must equal the
// one-value search, for any number of cuts (0 .. 254), for values on, between
// and beyond the cuts, NaN and infinities, and row counts that leave a tail.
TEST(Bin, MatrixEqualsOneValueAtATime) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-10.0f, 10.0f);
  BinCuts cuts;
  const std::vector<uint32_t> n_cuts = {0, 1, 2, 3, 15, 16, 17, 100, 254};
  for (uint32_t m : n_cuts) {
    std::vector<float> c(m);
    for (float& x : c) x = u(rng);
    std::sort(c.begin(), c.end());
    c.erase(std::unique(c.begin(), c.end()), c.end());
    cuts.values.insert(cuts.values.end(), c.begin(), c.end());
    cuts.offsets.push_back(static_cast<uint32_t>(cuts.values.size()));
  }
  for (std::size_t rows : {std::size_t{5}, std::size_t{16}, std::size_t{4096 + 37}}) {
    std::vector<std::vector<float>> columns(cuts.n_features(), std::vector<float>(rows));
    for (std::size_t f = 0; f < columns.size(); ++f)
      for (std::size_t r = 0; r < rows; ++r) {
        const uint32_t pick = static_cast<uint32_t>(rng() % 8);
        float& v = columns[f][r];
        if (pick == 0 && cuts.n_cuts(f) > 0) v = cuts.cuts(f)[rng() % cuts.n_cuts(f)];  // on a cut
        else if (pick == 1) v = std::numeric_limits<float>::quiet_NaN();
        else if (pick == 2) v = (rng() % 2 ? 1 : -1) * std::numeric_limits<float>::infinity();
        else v = u(rng) * 1.2f;
      }
    BinnedMatrix m;
    assign_bins_cpu(cuts, columns, m);
    ASSERT_EQ(m.n_rows, rows);
    for (std::size_t f = 0; f < columns.size(); ++f)
      for (std::size_t r = 0; r < rows; ++r)
        ASSERT_EQ(m.row(r)[f], bin_value(cuts.cuts(f), cuts.n_cuts(f), columns[f][r]))
            << "feature " << f << " (" << cuts.n_cuts(f) << " cuts), row " << r << " of " << rows;
  }
}

TEST(SplitMath, ExactLog2MatchesLibm) {
  for (double x : {1.0, 2.0, 3.0, 10.0, 1e-3, 12345.678, 1e15, 0.7071, 1.4142})
    EXPECT_NEAR(exact_log2(x), std::log2(x), 4e-16 * std::max(1.0, std::fabs(std::log2(x)))) << x;
  EXPECT_EQ(xlog2x(0.0), 0.0);
}

TEST(SplitMath, GiniEntropyAndSquaredErrorGains) {
  const StatsLayout cls = StatsLayout::make(2, false);
  const int64_t parent[] = {4, 4}, left[] = {4, 0}, right[] = {0, 4};
  // Perfect split of 8 rows: gini decrease = 8 * 0.5 = 4; entropy decrease = 8 bits.
  EXPECT_DOUBLE_EQ(split_gain(Criterion::kGini, cls, left, right, parent, class_score(Criterion::kGini, cls, parent)),
                   4.0);
  EXPECT_NEAR(split_gain(Criterion::kEntropy, cls, left, right, parent,
                         class_score(Criterion::kEntropy, cls, parent)),
              8.0, 1e-12);
  const StatsLayout reg = StatsLayout::make(0, false);
  const int64_t l[] = {2, 2 * 10}, r[] = {2, 2 * 20}, p[] = {4, 60};
  // SSE reduction = wL wR / wP (mL - mR)^2 = 2*2/4 * 100.
  EXPECT_DOUBLE_EQ(split_gain(Criterion::kSquaredError, reg, l, r, p, 0.0), 100.0);
  const int64_t same_l[] = {3, 3 * 7}, same_r[] = {5, 5 * 7}, same_p[] = {8, 56};
  EXPECT_EQ(split_gain(Criterion::kSquaredError, reg, same_l, same_r, same_p, 0.0), 0.0);
}

TEST(SplitScan, TieBreaksOnLowestFeatureThenBinAndLearnsMissingDirection) {
  const StatsLayout lay = StatsLayout::make(2, false);
  // Node: 2 class-0 rows in value bin 1, 2 class-1 rows in value bin 3, 1 class-1 missing.
  const int64_t total[] = {2, 3};
  const int64_t missing[] = {0, 1};
  const int64_t values[] = {2, 0, 0, 0, 0, 2, 0, 0};  // bins 1..4
  ScanNode node = make_scan_node(&lay, Criterion::kGini, total, 1);
  int64_t a[2];
  SplitChoice best;
  scan_feature(node, 3, missing, values, nullptr, 4, a, best);
  ASSERT_TRUE(best.valid());
  EXPECT_EQ(best.feature, 3);
  EXPECT_EQ(best.bin, 1);             // bins 2 (empty) repeats bin 1's partition: the lower bin wins
  EXPECT_EQ(best.missing_left, 0);    // missing class-1 row belongs with the class-1 rows
  EXPECT_EQ(best.default_left, 0);
  SplitChoice same = best;
  scan_feature(node, 1, missing, values, nullptr, 4, a, best);
  EXPECT_EQ(best.feature, 1);  // equal gain on a lower feature wins
  best = same;
  scan_feature(node, 5, missing, values, nullptr, 4, a, best);
  EXPECT_EQ(best.feature, 3);  // equal gain on a higher feature does not
}

TEST(SplitScan, MinSamplesLeafIsHonoured) {
  const StatsLayout lay = StatsLayout::make(2, false);
  const int64_t total[] = {1, 5}, missing[] = {0, 0};
  const int64_t values[] = {1, 0, 0, 5};
  int64_t a[2];
  SplitChoice best;
  scan_feature(make_scan_node(&lay, Criterion::kGini, total, 2), 0, missing, values, nullptr, 2, a, best);
  EXPECT_FALSE(best.valid());
  scan_feature(make_scan_node(&lay, Criterion::kGini, total, 1), 0, missing, values, nullptr, 2, a, best);
  EXPECT_TRUE(best.valid());
}

// The GPU's warp scan (split_scan.cu) cuts a feature's value bins into runs,
// one per lane, each started from the sums of the runs before it. Here the
// same runs are scanned one after another on the host: the best candidate
// must be the one-pass scan's, field for field, for gini (exact), regression,
// weighted statistics with a count channel, zero-weight bins, sparse
// features, missing values and min_samples_leaf.
TEST(SplitScan, RunsFromTheirStartsGiveTheOnePassChoice) {
  std::mt19937_64 rng(11);
  int checked = 0, valid = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int32_t n_classes = trial % 4 == 0 ? 0 : 2 + static_cast<int32_t>(rng() % 5);
    const bool weighted = trial % 3 == 0;
    const StatsLayout lay = StatsLayout::make(n_classes, weighted);
    const int32_t k = lay.n_channels;
    const int32_t nb = 1 + static_cast<int32_t>(rng() % 255);  // value bins
    const int sparsity = static_cast<int>(rng() % 4);           // 0: dense .. 3: mostly empty bins
    std::vector<int64_t> missing(k, 0), values(static_cast<std::size_t>(nb) * k, 0), total(k, 0);
    auto fill = [&](int64_t* g) {
      if (rng() % 4 < static_cast<uint64_t>(sparsity)) return;
      const int64_t count = 1 + static_cast<int64_t>(rng() % 6);
      const int64_t w = weighted && rng() % 5 == 0 ? 0 : count * (weighted ? 1 + static_cast<int64_t>(rng() % 9) : 1);
      if (n_classes > 0) {
        g[rng() % n_classes] += w;
        if (rng() % 2) g[rng() % n_classes] += w / 2;
      } else {
        g[0] = w;
        g[1] = w * (static_cast<int64_t>(rng() % 2001) - 1000);
      }
      if (weighted) g[lay.count_channel] = count;
    };
    if (trial % 2) fill(missing.data());
    for (int32_t j = 0; j < nb; ++j) fill(values.data() + static_cast<std::size_t>(j) * k);
    for (int32_t c = 0; c < k; ++c) {
      total[c] = missing[c];
      for (int32_t j = 0; j < nb; ++j) total[c] += values[static_cast<std::size_t>(j) * k + c];
    }
    if (lay.weight(total.data()) <= 0) continue;
    const Criterion crit = n_classes == 0 ? Criterion::kSquaredError : Criterion::kGini;
    const ScanNode node = make_scan_node(&lay, crit, total.data(), 1 + static_cast<int64_t>(rng() % 4));
    ASSERT_NE(scan_kind(node), ScanKind::kClassTerms);
    std::vector<int64_t> scratch(k);
    SplitChoice one_pass;
    scan_feature(node, 7, missing.data(), values.data(), nullptr, nb, scratch.data(), one_pass);
    for (int32_t lanes : {1, 2, 7, 32, 300}) {
      const int32_t per = (nb + lanes - 1) / lanes;
      std::vector<int64_t> before(k, 0);  // the sums of the runs so far
      SplitChoice runs;
      for (int32_t lane = 0; lane < lanes; ++lane) {
        const int32_t j0 = std::min(nb, lane * per), j1 = std::min(nb, j0 + per);
        std::vector<int64_t> left = before;
        SplitChoice mine;
        scan_run(node, 7, missing.data(), values.data(), j0, j1, left.data(), mine);
        run_sums(node, values.data(), j0, j1, before.data());
        if (mine.better_than(runs)) runs = mine;
      }
      SCOPED_TRACE("trial " + std::to_string(trial) + ", " + std::to_string(lanes) + " runs");
      EXPECT_EQ(runs.valid(), one_pass.valid());
      EXPECT_EQ(runs.gain, one_pass.gain);  // bit for bit
      EXPECT_EQ(runs.feature, one_pass.feature);
      EXPECT_EQ(runs.bin, one_pass.bin);
      EXPECT_EQ(runs.missing_left, one_pass.missing_left);
      EXPECT_EQ(runs.default_left, one_pass.default_left);
      ++checked;
    }
    valid += one_pass.valid();
  }
  EXPECT_GT(checked, 1500);
  EXPECT_GT(valid, 250);  // most nodes have a split to find
}

TEST(FeatureSampling, DeterministicDistinctAndSorted) {
  std::vector<int32_t> scratch(28), out(5), again(5);
  std::set<std::vector<int32_t>> seen;
  for (uint32_t node = 0; node < 50; ++node) {
    sample_features(7, 3, node, 28, 5, scratch.data(), out.data());
    sample_features(7, 3, node, 28, 5, scratch.data(), again.data());
    EXPECT_EQ(out, again);
    EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
    EXPECT_EQ(std::set<int32_t>(out.begin(), out.end()).size(), 5u);
    for (int32_t f : out) EXPECT_TRUE(f >= 0 && f < 28);
    seen.insert(out);
  }
  EXPECT_GT(seen.size(), 40u);  // different nodes draw different sets
  sample_features(7, 3, 0, 4, 9, scratch.data(), out.data());
  EXPECT_EQ(std::vector<int32_t>(out.begin(), out.begin() + 4), (std::vector<int32_t>{0, 1, 2, 3}));
}

// The contract in feature_sampling.h, one draw at a time: draw i swaps
// scratch[i] with scratch[i + bounded(word i % 4 of Philox block i / 4,
// n - i)]; the first k, sorted. Models depend on these exact sets.
std::vector<int32_t> features_by_draws(uint64_t seed, uint32_t tree, uint32_t node, int32_t n, int32_t k) {
  std::vector<int32_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  if (k >= n) return perm;
  for (int32_t i = 0; i < k; ++i) {
    const Philox4 w = philox(seed, kStreamNodeFeatures, tree, node, static_cast<uint32_t>(i / 4));
    std::swap(perm[i], perm[i + static_cast<int32_t>(bounded(w.v[i % 4], static_cast<uint32_t>(n - i)))]);
  }
  std::vector<int32_t> out(perm.begin(), perm.begin() + k);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FeatureSampling, FollowsTheDrawContract) {
  int checked = 0;
  for (int32_t n : {1, 2, 5, 28, 63, 64, 65, 200}) {
    for (int32_t k : {1, 3, 4, 5, 8, 13, 64, 100, 250}) {
      std::vector<int32_t> scratch(n), out(std::min(n, k));
      for (uint32_t node = 0; node < 40; ++node) {
        sample_features(11 + n, 5, node, n, k, scratch.data(), out.data());
        ASSERT_EQ(out, features_by_draws(11 + n, 5, node, n, k)) << "n " << n << " k " << k << " node " << node;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 8 * 9 * 40);
}

// The contract in row_sample.h, one draw at a time: draw d picks
// rows[bounded(bootstrap_block(seed, tree, d / 4).v[d % 4], n)].
std::vector<uint32_t> multiplicity_by_draws(const std::vector<uint32_t>& rows, int64_t draws, uint64_t seed,
                                            uint32_t tree, std::size_t n_rows) {
  std::vector<uint32_t> m(n_rows, 0);
  for (int64_t d = 0; d < draws; ++d)
    ++m[rows[bounded(bootstrap_block(seed, tree, d / 4).v[d % 4], static_cast<uint32_t>(rows.size()))]];
  return m;
}

TEST(RowSample, BootstrapFollowsTheDrawContract) {
  const std::size_t n_rows = 1003;
  std::vector<uint32_t> all(n_rows);
  std::iota(all.begin(), all.end(), 0u);
  std::vector<uint32_t> fold;  // a CV training fold: a subset, in order
  for (uint32_t r = 0; r < n_rows; ++r)
    if (r % 5 != 2) fold.push_back(r);
  std::vector<uint32_t> from_one(all.begin() + 1, all.end());  // consecutive but not from 0
  std::vector<uint32_t> shuffled(all.rbegin(), all.rend());
  for (const auto* rows : {&all, &fold, &from_one, &shuffled})
    for (int64_t draws : {int64_t{1}, int64_t{3}, int64_t{4}, int64_t{401}, static_cast<int64_t>(rows->size())})
      for (uint32_t tree : {0u, 7u}) {
        const RowSample s{rows, draws};
        const auto m = sample_multiplicity(s, 99, tree, n_rows);
        EXPECT_EQ(m, multiplicity_by_draws(*rows, draws, 99, tree, n_rows))
            << "rows " << rows->size() << ", draws " << draws << ", tree " << tree;
        EXPECT_EQ(std::accumulate(m.begin(), m.end(), int64_t{0}), draws);
      }
  const RowSample once{&fold, 0};
  const auto m = sample_multiplicity(once, 1, 0, n_rows);
  for (uint32_t r = 0; r < n_rows; ++r) EXPECT_EQ(m[r], r % 5 != 2 ? 1u : 0u);
}

TEST(Histogram, SumsAreOrderFreeAndMatchTotals) {
  BinnedMatrix bins;
  bins.n_rows = 6;
  bins.n_features = 2;
  bins.bins = {1, 2, 2, 0, 1, 1, 3, 2, 2, 2, 1, 3};
  const int32_t cls[] = {0, 1, 1, 0, 1, 0};
  const StatsLayout lay = StatsLayout::make(2, false);
  RowTargets t;
  t.layout = &lay;
  t.class_id = cls;
  std::vector<RowEntry> e = {{0, 1}, {1, 2}, {2, 1}, {3, 1}, {4, 3}, {5, 1}};
  const int32_t feats[] = {0, 1};
  const uint32_t offs[] = {0, 4, 8};
  FeatureSet fs{feats, offs, 2};
  std::vector<int64_t> h1(16, 0), h2(16, 0), totals(2, 0);
  accumulate_histogram_cpu(rows_of(bins), t, e.data(), e.size(), fs, h1.data());
  std::reverse(e.begin(), e.end());
  accumulate_histogram_cpu(rows_of(bins), t, e.data(), e.size(), fs, h2.data());
  EXPECT_EQ(h1, h2);
  accumulate_totals_cpu(t, e.data(), e.size(), totals.data());
  for (int f = 0; f < 2; ++f) {
    int64_t c0 = 0, c1 = 0;
    for (int b = 0; b < 4; ++b) c0 += h1[(offs[f] + b) * 2], c1 += h1[(offs[f] + b) * 2 + 1];
    EXPECT_EQ(c0, totals[0]);
    EXPECT_EQ(c1, totals[1]);
  }
  EXPECT_EQ(h1[(0 + 1) * 2 + 0], 2);  // feature 0, bin 1, class 0: rows 0 and 5
  EXPECT_EQ(h1[(4 + 0) * 2 + 1], 2);  // feature 1, missing bin, class 1: row 1 drawn twice
}

TEST(Histogram, PaddedStrideKeepsRowsInTheFewestBlocks) {
  EXPECT_EQ(padded_stride(0, 64), 1u);
  EXPECT_EQ(padded_stride(1, 64), 1u);
  EXPECT_EQ(padded_stride(3, 64), 4u);
  EXPECT_EQ(padded_stride(28, 64), 32u);
  EXPECT_EQ(padded_stride(50, 64), 64u);
  EXPECT_EQ(padded_stride(64, 64), 64u);
  EXPECT_EQ(padded_stride(65, 64), 128u);
  EXPECT_EQ(padded_stride(200, 64), 256u);
  EXPECT_EQ(padded_stride(28, 32), 32u);
  EXPECT_EQ(padded_stride(33, 32), 64u);
  EXPECT_EQ(padded_stride(40, 32), 64u);
  // No row of n features crosses more granule boundaries than it must.
  for (std::size_t g : {32u, 64u})
    for (std::size_t nf = 1; nf <= 300; ++nf) {
      const std::size_t stride = padded_stride(nf, g);
      ASSERT_GE(stride, nf);
      const std::size_t least = (nf + g - 1) / g;
      for (std::size_t r = 0; r < 64; ++r)
        ASSERT_EQ((r * stride + nf - 1) / g - (r * stride) / g + 1, least) << "nf " << nf << ", granule " << g;
    }
}

// The CPU backend histograms a copy whose rows are padded (BinRows::stride >
// n_features); whatever the padding holds, the histogram is the matrix's.
TEST(Histogram, PaddedRowsGiveTheMatrixHistogram) {
  std::mt19937 rng(3);
  const std::size_t nr = 300, nf = 5, stride = 8;
  BinnedMatrix bins;
  bins.n_rows = nr;
  bins.n_features = nf;
  bins.bins.resize(nr * nf);
  std::vector<uint8_t> padded(nr * stride);
  for (auto& b : padded) b = static_cast<uint8_t>(rng() % 256);  // padding: anything
  for (std::size_t r = 0; r < nr; ++r)
    for (std::size_t f = 0; f < nf; ++f) padded[r * stride + f] = bins.bins[r * nf + f] = static_cast<uint8_t>(rng() % 10);
  std::vector<int32_t> cls(nr);
  for (auto& c : cls) c = static_cast<int32_t>(rng() % 3);
  const StatsLayout lay = StatsLayout::make(3, false);
  RowTargets t;
  t.layout = &lay;
  t.class_id = cls.data();
  std::vector<RowEntry> e;
  for (uint32_t r = 0; r < nr; r += 1 + rng() % 3) e.push_back({r, 1 + static_cast<uint32_t>(rng() % 3)});
  const int32_t feats[] = {0, 2, 4};
  const uint32_t offs[] = {0, 10, 20, 30};
  FeatureSet fs{feats, offs, 3};
  std::vector<int64_t> plain(30 * 3, 0), from_padded(30 * 3, 0);
  accumulate_histogram_cpu(rows_of(bins), t, e.data(), e.size(), fs, plain.data());
  accumulate_histogram_cpu(BinRows{padded.data(), stride}, t, e.data(), e.size(), fs, from_padded.data());
  EXPECT_EQ(plain, from_padded);
  EXPECT_GT(std::accumulate(plain.begin(), plain.end(), int64_t{0}), 0);
}

TEST(Partition, StableAndMissingFollowsDirection) {
  BinnedMatrix bins;
  bins.n_rows = 5;
  bins.n_features = 1;
  bins.bins = {2, 0, 1, 3, 0};
  std::vector<RowEntry> e = {{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}}, scratch(5);
  std::size_t nl = partition_rows_cpu(bins, 0, 2, true, e.data(), e.size(), scratch.data());
  EXPECT_EQ(nl, 4u);
  std::vector<uint32_t> order;
  for (auto x : e) order.push_back(x.row);
  EXPECT_EQ(order, (std::vector<uint32_t>{0, 1, 2, 4, 3}));
}

// The feature-major partition (what the CPU backend runs) orders entries exactly
// as the row-major one, for every feature, threshold and missing direction.
TEST(Partition, ByColumnEqualsRowMajor) {
  BinnedMatrix bins;
  bins.n_rows = 3001;
  bins.n_features = 3;
  uint32_t s = 7;
  for (std::size_t i = 0; i < bins.n_rows * bins.n_features; ++i)
    bins.bins.push_back(static_cast<uint8_t>((s = s * 1103515245u + 12345u) >> 24) % 9);
  std::vector<RowEntry> all;
  for (uint32_t r = 0; r < bins.n_rows; r += 1 + r % 3) all.push_back({r, 1 + r % 2});
  for (int32_t f = 0; f < 3; ++f)
    for (int32_t bin : {0, 3, 8})
      for (bool missing_left : {false, true}) {
        std::vector<uint8_t> column;
        for (std::size_t r = 0; r < bins.n_rows; ++r) column.push_back(bins.bins[r * 3 + f]);
        std::vector<RowEntry> a = all, b = all, scratch(all.size());
        const std::size_t na = partition_rows_cpu(bins, f, bin, missing_left, a.data(), a.size(), scratch.data());
        const std::size_t nb = partition_rows_by_column(column.data(), bin, missing_left, b.data(), b.size(), scratch.data());
        EXPECT_EQ(na, nb);
        for (std::size_t i = 0; i < a.size(); ++i) {
          ASSERT_EQ(a[i].row, b[i].row) << "feature " << f << " bin " << bin << " entry " << i;
          ASSERT_EQ(a[i].mult, b[i].mult);
        }
      }
}

TEST(Predict, WalksThresholdsAndDefaultDirections) {
  ForestNodes f;
  f.n_outputs = 1;
  f.feature = {0, -1, -1};
  f.threshold = {0.5f, 0, 0};
  f.left_child = {1, -1, -1};
  f.default_left = {0, 0, 0};
  f.n_samples = {2, 1, 1};
  f.weight = {2, 1, 1};
  f.value = {1.5f, 1.0f, 2.0f};
  f.tree_offsets = {0, 3};
  std::vector<float> col = {0.1f, 0.5f, 0.9f, std::numeric_limits<float>::quiet_NaN()};
  const float* cols[] = {col.data()};
  std::vector<double> out(4);
  predict_cpu(f, ColumnsView{cols, 4, 1}, 0, 1, out.data());
  EXPECT_EQ(out, (std::vector<double>{1.0, 1.0, 2.0, 2.0}));
}

}  // namespace
}  // namespace canopy
