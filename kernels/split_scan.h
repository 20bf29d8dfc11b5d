#pragma once
// The split scan over one feature, shared by every backend and by the dense
// (histogram) and sparse (sorted small node) paths on the CPU.
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/split_math.h"

namespace canopy {

struct ScanNode {
  const StatsLayout* layout;
  Criterion criterion;
  const int64_t* total;    // the node's statistics
  int64_t total_weight;    // layout->weight(total)
  int64_t total_count;     // layout->count(total)
  double parent_score;     // class_score(total) (classification; unused for regression)
  double min_gain;         // a split must have gain > min_gain
  int64_t min_leaf_count;  // each child needs at least this many samples
  // Optional (classification): the classes with non-zero weight in the node,
  // ascending. Absent classes contribute nothing, so scanning only these gives
  // the same result; null means every class.
  const int32_t* present_classes = nullptr;
  int32_t n_present = 0;
};

// Per-class term of a classification purity score: n^2 (gini) or n log2 n
// (entropy), so that score = sum_c term(n_c) / n (gini) or sum_c term(n_c) -
// term(n) (entropy); see class_score_w.
CANOPY_HD double class_term(Criterion crit, int64_t n) {
  const double x = static_cast<double>(n);
  return crit == Criterion::kGini ? x * x : xlog2x(x);
}

CANOPY_HD double children_score(Criterion crit, double left_terms, int64_t wl, double right_terms, int64_t wr) {
  if (crit == Criterion::kGini)
    return left_terms / static_cast<double>(wl) + right_terms / static_cast<double>(wr);
  return (left_terms - xlog2x(static_cast<double>(wl))) + (right_terms - xlog2x(static_cast<double>(wr)));
}

// The i-th class the scan visits.
CANOPY_HD int32_t class_at(const ScanNode& node, int32_t i) {
  return node.present_classes ? node.present_classes[i] : i;
}

// Moves a bin's weight gc of one class from the right child to the left one,
// keeping the exact sums of squared class weights (gini; see scan_feature).
CANOPY_HD void move_class_exact(int64_t gc, int64_t total_c, int64_t& lc, int64_t& left_sq, int64_t& right_sq) {
  // (l+g)^2 - l^2 = g (2l + g); (r-g)^2 - r^2 = g (g - 2r)
  left_sq += gc * (2 * lc + gc);
  right_sq += gc * (gc - 2 * (total_c - lc));
  lc += gc;
}

// The same with per-class terms in double (gini or entropy); gc != 0.
CANOPY_HD void move_class_terms(Criterion crit, int64_t gc, int64_t total_c, int64_t& lc, double& left_terms,
                                double& right_terms) {
  const int64_t r = total_c - lc;
  left_terms += class_term(crit, lc + gc) - class_term(crit, lc);
  right_terms += class_term(crit, r - gc) - class_term(crit, r);
  lc += gc;
}

// How scan_feature_as scores candidates; fixed per call, so each kind gets
// its own loop without per-bin tests of the kind. kExactGini and kRegression
// carry only integers from bin to bin, so a scan may start mid-feature from
// the state the earlier bins leave (ScanStart); kClassTerms carries sums of
// doubles, whose rounding depends on the order, so it always starts at bin 1.
enum class ScanKind { kExactGini, kClassTerms, kRegression };

CANOPY_HD ScanKind scan_kind(const ScanNode& node) {
  if (node.layout->regression()) return ScanKind::kRegression;
  if (node.criterion == Criterion::kGini && node.total_weight < (int64_t{1} << 30)) return ScanKind::kExactGini;
  return ScanKind::kClassTerms;
}

// The state of an integer scan (kExactGini, kRegression) after the value
// bins before `first` (dense bins: first = the number of them); the caller
// sets `left` to those bins' left statistics (start_state).
struct ScanStart {
  int32_t first = 0;
  int64_t left_w = 0, left_c = 0;      // weight and count of left
  int64_t left_sq = 0, right_sq = 0;   // kExactGini: sums of squared class weights of both children
};

// `start` (integer kinds, dense bins only): continue from that state, with
// `left` already holding its left statistics, over the groups of bins
// start->first + 1 .. start->first + n_entries.
template <ScanKind Kind>
CANOPY_HD void scan_feature_as(const ScanNode& node, int32_t feature, const int64_t* missing,
                               const int64_t* values, const int32_t* bin_ids, int32_t n_entries, int64_t* left,
                               SplitChoice& best, const uint64_t* group_classes, const ScanStart* start = nullptr) {
  const StatsLayout& lay = *node.layout;
  const int32_t k = lay.n_channels;
  constexpr bool classes = Kind != ScanKind::kRegression;
  const int64_t miss_w = lay.weight(missing), miss_c = lay.count(missing);
  const bool has_missing = miss_w > 0;
  int64_t left_w = 0, left_c = 0;  // weight and count of `left`, kept alongside it
  // Classification: the per-class terms of the left and right children,
  // updated only for the classes a bin holds, so a candidate costs O(1) rather
  // than O(classes). The update order (bins ascending, classes ascending) is
  // fixed, so every backend and both scan paths round identically.
  double left_terms = 0.0, right_terms = 0.0;
  // Gini on nodes lighter than 2^30: the sums of squared class weights are
  // kept exactly in int64 (every term < 2^62), branch-free per class.
  constexpr bool exact_gini = Kind == ScanKind::kExactGini;
  int64_t left_sq = 0, right_sq = 0;
  const int32_t n_cls = node.present_classes ? node.n_present : lay.n_classes;
  int32_t first = 0;
  if (start) {
    first = start->first;
    left_w = start->left_w;
    left_c = start->left_c;
    left_sq = start->left_sq;
    right_sq = start->right_sq;
  } else {
    for (int32_t c = 0; c < k; ++c) left[c] = 0;
    if constexpr (exact_gini) {
      for (int32_t c = 0; c < lay.n_classes; ++c) right_sq += node.total[c] * node.total[c];
    } else if constexpr (classes) {
      for (int32_t c = 0; c < lay.n_classes; ++c) right_terms += class_term(node.criterion, node.total[c]);
    }
  }
  for (int32_t j = 0; j < n_entries; ++j) {
    const int64_t* g = values + static_cast<int64_t>(j) * k;
    int64_t gw = 0;  // the bin's weight
    if constexpr (exact_gini) {
      if (group_classes) {
        for (uint64_t bits = group_classes[j]; bits; bits &= bits - 1) {
          const int32_t c = lowest_set_bit(bits);
          move_class_exact(g[c], node.total[c], left[c], left_sq, right_sq);
          gw += g[c];
        }
      } else {
        for (int32_t i = 0; i < n_cls; ++i) {  // branch-free: absent classes add 0
          const int32_t c = class_at(node, i);
          move_class_exact(g[c], node.total[c], left[c], left_sq, right_sq);
          gw += g[c];
        }
      }
      if (gw == 0) continue;
      if (lay.count_channel >= 0) left[lay.count_channel] += g[lay.count_channel];
    } else if constexpr (classes) {  // one pass over the classes (ascending): weight and term updates together
      if (group_classes) {
        for (uint64_t bits = group_classes[j]; bits; bits &= bits - 1) {
          const int32_t c = lowest_set_bit(bits);
          if (g[c] == 0) continue;
          move_class_terms(node.criterion, g[c], node.total[c], left[c], left_terms, right_terms);
          gw += g[c];
        }
      } else {
        for (int32_t i = 0; i < n_cls; ++i) {
          const int32_t c = class_at(node, i);
          if (g[c] == 0) continue;
          move_class_terms(node.criterion, g[c], node.total[c], left[c], left_terms, right_terms);
          gw += g[c];
        }
      }
      if (gw == 0) continue;  // an empty bin repeats the previous partition
      if (lay.count_channel >= 0) left[lay.count_channel] += g[lay.count_channel];
    } else {
      gw = g[0];  // regression: channel 0 is the weight
      if (gw == 0) continue;
      for (int32_t c = 0; c < k; ++c) left[c] += g[c];
    }
    left_w += gw;
    left_c += lay.count_channel >= 0 ? g[lay.count_channel] : gw;
    const int32_t bin = bin_ids ? bin_ids[j] : first + j + 1;
    // Missing left first (it wins ties), then missing right.
    for (int32_t variant = has_missing ? 0 : 1; variant < 2; ++variant) {
      int64_t wl = left_w, cl = left_c;
      if (variant == 0) {
        wl += miss_w;
        cl += miss_c;
      }
      const int64_t wr = node.total_weight - wl, cr = node.total_count - cl;
      if (wl <= 0 || wr <= 0) continue;
      if (cl < node.min_leaf_count || cr < node.min_leaf_count) continue;
      double gain;
      if constexpr (exact_gini) {
        int64_t lsq = left_sq, rsq = right_sq;
        if (variant == 0)  // move the missing rows from the right child to the left
          for (int32_t i = 0; i < n_cls; ++i) {
            const int32_t c = class_at(node, i);
            int64_t lc = left[c];
            move_class_exact(missing[c], node.total[c], lc, lsq, rsq);
          }
        gain = children_score(node.criterion, static_cast<double>(lsq), wl, static_cast<double>(rsq), wr) -
               node.parent_score;
      } else if constexpr (classes) {
        double lt = left_terms, rt = right_terms;
        if (variant == 0) {  // move the missing rows from the right child to the left
          for (int32_t i = 0; i < n_cls; ++i) {
            const int32_t c = class_at(node, i);
            if (missing[c] == 0) continue;
            int64_t lc = left[c];
            move_class_terms(node.criterion, missing[c], node.total[c], lc, lt, rt);
          }
        }
        gain = children_score(node.criterion, lt, wl, rt, wr) - node.parent_score;
      } else {
        const int64_t sl = variant == 0 ? left[1] + missing[1] : left[1];
        gain = regression_gain(sl, node.total[1] - sl, wl, wr);
      }
      if (!(gain > node.min_gain)) continue;
      SplitChoice cand;
      cand.gain = gain;
      cand.feature = feature;
      cand.bin = bin;
      cand.missing_left = variant == 0 ? 1 : 0;
      cand.default_left = has_missing ? cand.missing_left : (cl >= cr ? 1 : 0);
      if (cand.better_than(best)) best = cand;
    }
  }
}

// Scans the value bins of `feature`. `missing` holds the statistics of the
// missing bin (bin 0); `values` holds `n_entries` groups of n_channels
// statistics in ascending bin order, group j describing bin `bin_of(j)`:
// bin_ids[j] when bin_ids is given (sparse path: only non-empty bins), else
// j + 1 (dense path: every value bin). Optional (classification with at most
// 64 classes): group_classes[j] has bit c set for every class c with weight in
// group j (a superset is fine), so a bin costs O(its classes) instead of
// O(classes); the result is the same. `left` is a scratch array of
// n_channels. Updates `best` under the SplitChoice order.
CANOPY_HD void scan_feature(const ScanNode& node, int32_t feature, const int64_t* missing,
                            const int64_t* values, const int32_t* bin_ids, int32_t n_entries, int64_t* left,
                            SplitChoice& best, const uint64_t* group_classes = nullptr) {
  switch (scan_kind(node)) {
    case ScanKind::kRegression:
      return scan_feature_as<ScanKind::kRegression>(node, feature, missing, values, bin_ids, n_entries, left, best,
                                                    group_classes);
    case ScanKind::kExactGini:
      return scan_feature_as<ScanKind::kExactGini>(node, feature, missing, values, bin_ids, n_entries, left, best,
                                                   group_classes);
    case ScanKind::kClassTerms:
      break;
  }
  scan_feature_as<ScanKind::kClassTerms>(node, feature, missing, values, bin_ids, n_entries, left, best,
                                         group_classes);
}

// --- Scanning a feature in runs (integer kinds only) ---------------------------
// A dense feature's value bins may be cut into runs scanned independently (one
// per GPU lane): run r starts from the state of the runs before it, which
// follows from the sums of their statistics (integers: any order gives the
// same sums). Every candidate then gets the gain the one-pass scan gives it,
// so the best under SplitChoice::better_than is the same.

// sums[c] += what value bins [j0, j1) (dense, values + j * n_channels) move
// to the left child, as the scan moves it: a bin of zero weight moves nothing.
CANOPY_HD void run_sums(const ScanNode& node, const int64_t* values, int32_t j0, int32_t j1, int64_t* sums) {
  const StatsLayout& lay = *node.layout;
  const int32_t k = lay.n_channels;
  for (int32_t j = j0; j < j1; ++j) {
    const int64_t* g = values + static_cast<int64_t>(j) * k;
    if (lay.weight(g) == 0) continue;
    for (int32_t c = 0; c < k; ++c) sums[c] += g[c];
  }
}

// The state after the first `first` value bins, whose left statistics are
// `left` (the sums of the runs before).
CANOPY_HD ScanStart start_state(const ScanNode& node, int32_t first, const int64_t* left) {
  const StatsLayout& lay = *node.layout;
  ScanStart s;
  s.first = first;
  s.left_w = lay.weight(left);
  s.left_c = lay.count(left);
  if (!lay.regression())
    for (int32_t c = 0; c < lay.n_classes; ++c) {
      const int64_t r = node.total[c] - left[c];
      s.left_sq += left[c] * left[c];
      s.right_sq += r * r;
    }
  return s;
}

// Scans dense value bins [j0, j1) from the state the bins before them leave;
// `left` holds that state's left statistics (n_channels; it is updated).
// The node's kind must be integer (scan_kind(node) != kClassTerms).
CANOPY_HD void scan_run(const ScanNode& node, int32_t feature, const int64_t* missing, const int64_t* values,
                        int32_t j0, int32_t j1, int64_t* left, SplitChoice& best) {
  if (j1 <= j0) return;
  const ScanStart start = start_state(node, j0, left);
  const int64_t* run = values + static_cast<int64_t>(j0) * node.layout->n_channels;
  if (scan_kind(node) == ScanKind::kRegression)
    scan_feature_as<ScanKind::kRegression>(node, feature, missing, run, nullptr, j1 - j0, left, best, nullptr, &start);
  else
    scan_feature_as<ScanKind::kExactGini>(node, feature, missing, run, nullptr, j1 - j0, left, best, nullptr, &start);
}

// Statistics of the node needed before scanning.
CANOPY_HD ScanNode make_scan_node(const StatsLayout* lay, Criterion crit, const int64_t* total,
                                  int64_t min_leaf_count) {
  ScanNode n;
  n.layout = lay;
  n.criterion = crit;
  n.total = total;
  n.min_leaf_count = min_leaf_count;
  n.total_weight = lay->weight(total);
  n.total_count = lay->count(total);
  if (lay->regression()) {
    n.parent_score = 0.0;
    n.min_gain = 0.0;
  } else {
    n.parent_score = class_score(crit, *lay, total);
    n.min_gain = kMinRelativeClassGain * static_cast<double>(lay->weight(total));
  }
  return n;
}

}  // namespace canopy
