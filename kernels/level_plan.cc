#include "kernels/level_plan.h"

#include <algorithm>
#include <limits>

#include "kernels/split_math.h"

namespace canopy {

using cuda_tree::HistCombine;
using cuda_tree::HistItem;
using cuda_tree::NodeDesc;

bool LevelPlanner::siblings(const std::vector<LevelSlot>& slots, std::size_t a, std::size_t b) const {
  return b < slots.size() && slots[a].parent >= 0 && slots[a].parent == slots[b].parent && dense(slots[a]) &&
         dense(slots[b]);
}

bool LevelPlanner::keeps_histogram(const LevelSlot& s) const {
  return shape_.subtract[s.job] && dense(s) && s.size() >= shape_.n_features * shape_.max_bins &&
         n_kept_ < shape_.max_kept;
}

std::size_t LevelPlanner::workspace_bytes(const LevelSlot& s) const {
  const int64_t k = shape_.n_channels;
  const int64_t kf = std::max(0, shape_.kf[s.job]);
  std::size_t b = sizeof(NodeDesc) + 2 * k * sizeof(int64_t) + static_cast<std::size_t>(shape_.n_features) * sizeof(int32_t) +
                  kf * (2 * sizeof(int32_t) + sizeof(SplitChoice)) + sizeof(SplitChoice) + sizeof(int32_t);
  if (dense(s)) {
    const int64_t hf = hist_features(s.job);
    b += static_cast<std::size_t>(hf * shape_.max_bins * k) * sizeof(int64_t) + sizeof(HistCombine);
    if (k > shape_.local_channels) b += static_cast<std::size_t>(kf * k) * sizeof(int64_t);
    const int32_t g = shape_.shared_group;
    const int64_t groups = g > 0 ? (hf + g - 1) / g : 1;
    b += static_cast<std::size_t>(groups * ((s.size() + shape_.min_entries_per_block - 1) / shape_.min_entries_per_block)) *
         sizeof(HistItem);
  } else {
    b += static_cast<std::size_t>(kf * cuda_tree::sparse_scratch_groups(s.size()) * k) * sizeof(int64_t);
  }
  return b;
}

void LevelPlanner::start_level(std::vector<LevelSlot>& slots) {
  for (LevelSlot& s : slots) s.kept = -1;
  n_kept_ = 0;
}

std::size_t LevelPlanner::chunk_end(const std::vector<LevelSlot>& slots, std::size_t i0, std::size_t budget) const {
  std::size_t i1 = i0, bytes = 0;
  while (i1 < slots.size()) {
    const std::size_t b = workspace_bytes(slots[i1]);
    // Siblings stay in one chunk (the larger one's histogram is derived from
    // the smaller one's), the budget notwithstanding.
    if (i1 > i0 && bytes + b > budget && !siblings(slots, i1 - 1, i1)) break;
    bytes += b;
    ++i1;
  }
  return i1;
}

LevelPlan LevelPlanner::plan(std::vector<LevelSlot>& slots, std::size_t i0, std::size_t i1) {
  LevelPlan plan;
  const int32_t k = shape_.n_channels;
  const int32_t m = static_cast<int32_t>(i1 - i0);
  const int32_t g = shape_.shared_group;
  const LevelSlot* chunk = slots.data() + i0;
  // Sibling pairs: the larger one's histogram is derived (its parent's minus
  // the smaller one's, smaller_of), not built.
  std::vector<int32_t> smaller_of(m, -1);
  for (int32_t i = 0; i + 1 < m; ++i)
    if (siblings(slots, i0 + i, i0 + i + 1)) {
      const bool first_smaller = chunk[i].size() <= chunk[i + 1].size();
      smaller_of[first_smaller ? i + 1 : i] = first_smaller ? i : i + 1;
      ++i;
    }
  // Entries per histogram block: at least min_entries_per_block, and more when
  // the level has work for several per resident block (each block ends by
  // flushing its whole histogram, so fewer, longer blocks flush less); the
  // element walk needs entries x group features below 2^31.
  int64_t dense_work = 0;  // entries x feature groups of the dense nodes histogrammed
  int32_t widest = 1;
  for (int32_t i = 0; i < m; ++i) {
    const int32_t hf = hist_features(chunk[i].job);
    if (dense(chunk[i]) && smaller_of[i] < 0) dense_work += chunk[i].size() * (g > 0 ? (hf + g - 1) / g : 1);
    widest = std::max(widest, g > 0 ? std::min(g, hf) : hf);
  }
  int64_t per_block =
      std::max(shape_.min_entries_per_block, dense_work / std::max<int64_t>(1, shape_.resident_blocks) + 1);
  per_block = std::max<int64_t>(1, std::min(per_block, int64_t{std::numeric_limits<int32_t>::max()} / widest));

  plan.nodes.resize(m);
  for (int32_t i = 0; i < m; ++i) {
    const LevelSlot& s = chunk[i];
    NodeDesc& nd = plan.nodes[i];
    nd.begin = s.begin;
    nd.end = s.end;
    nd.job = s.job;
    nd.node = s.node;
    nd.kf = std::max(0, shape_.kf[s.job]);
    nd.dense = dense(s) ? 1 : 0;
    nd.identity = s.identity ? 1 : 0;
    nd.pad = 0;
    nd.feat_off = static_cast<int32_t>(plan.pair_node.size());
    nd.hist_off = 0;
    nd.scratch_off = 0;
    nd.pair_scratch = 0;
    nd.all_features = 0;
    nd.hist_feat_off = nd.feat_off;
    for (int32_t j = 0; j < nd.kf; ++j) plan.pair_node.push_back(i);
    if (nd.dense) {
      const int32_t hf = hist_features(s.job);
      nd.all_features = shape_.subtract[s.job] ? 1 : 0;
      nd.hist_off = plan.hist_len;
      plan.hist_len += static_cast<int64_t>(hf) * shape_.max_bins * k;
      if (k > shape_.local_channels) {
        nd.scratch_off = plan.scratch_len;
        nd.pair_scratch = k;
        plan.scratch_len += static_cast<int64_t>(nd.kf) * nd.pair_scratch;
      }
      const int32_t group = g > 0 ? g : std::max(1, hf);
      for (int32_t j0 = 0; j0 < hf && smaller_of[i] < 0; j0 += group) {
        const int32_t nj = std::min(group, hf - j0);
        plan.max_group = std::max(plan.max_group, nj);
        for (int64_t e0 = s.begin; e0 < s.end; e0 += per_block)
          plan.items.push_back(HistItem{i, j0, nj, 0, e0, std::min(s.end, e0 + per_block)});
      }
    } else {
      nd.scratch_off = plan.scratch_len;
      nd.pair_scratch = static_cast<int32_t>(cuda_tree::sparse_scratch_groups(s.size()) * k);
      plan.scratch_len += static_cast<int64_t>(nd.kf) * nd.pair_scratch;
    }
  }
  if (shape_.cluster_blocks > 1 && !plan.items.empty()) {
    HistItem empty = plan.items.back();
    empty.e0 = empty.e1;
    while (plan.items.size() % static_cast<std::size_t>(shape_.cluster_blocks) != 0) plan.items.push_back(empty);
  }
  // Every-feature histograms read the identity list after the samples;
  // derived siblings, then the histograms kept for the next level.
  const int32_t n_pairs = static_cast<int32_t>(plan.pair_node.size());
  const int64_t all_len = all_features_len();
  for (int32_t i = 0; i < m; ++i) {
    NodeDesc& nd = plan.nodes[i];
    if (!nd.all_features) continue;
    plan.any_all_features = true;
    nd.hist_feat_off = n_pairs;
    if (smaller_of[i] >= 0)
      plan.combines.push_back(HistCombine{nd.hist_off, chunk[i].parent * all_len, plan.nodes[smaller_of[i]].hist_off});
  }
  plan.n_derived = plan.combines.size();
  for (int32_t i = 0; i < m; ++i) {
    LevelSlot& s = slots[i0 + i];
    if (!keeps_histogram(s)) continue;
    s.kept = n_kept_++;
    plan.combines.push_back(HistCombine{s.kept * all_len, plan.nodes[i].hist_off, -1});
  }
  return plan;
}

}  // namespace canopy
