#include "host/grower.h"

#include <algorithm>

namespace canopy {
namespace {

// Appends a node with the given statistics; returns its index.
int32_t add_node(GrownTree& t, const int64_t* s, int32_t k) {
  t.stats.insert(t.stats.end(), s, s + k);
  t.feature.push_back(-1);
  t.bin.push_back(0);
  t.left_child.push_back(-1);
  t.default_left.push_back(0);
  return static_cast<int32_t>(t.feature.size() - 1);
}

bool can_split(const StatsLayout& lay, const GrowLimits& lim, const int64_t* s, int32_t depth) {
  if (lim.max_depth >= 0 && depth >= lim.max_depth) return false;
  const int64_t count = lay.count(s);
  if (count < lim.min_samples_split || count < 2 * lim.min_samples_leaf) return false;
  if (!lay.regression()) {  // pure node
    const int64_t w = lay.weight(s);
    for (int32_t c = 0; c < lay.n_classes; ++c)
      if (s[c] == w) return false;
  }
  return true;
}

// grow_batch without the closing backend.end().
void grow_levels(TreeBackend& backend, const BatchData& data, std::vector<JobSpec>& jobs,
                 const std::vector<GrowLimits>& limits, std::vector<GrownTree>& out) {
  const StatsLayout& lay = data.layout;
  const int32_t k = lay.n_channels;
  const std::size_t n_jobs = jobs.size();
  const std::size_t nf = data.bins->n_features;
  out.assign(n_jobs, GrownTree{});
  std::vector<int64_t> root;
  backend.begin(data, jobs, root);

  struct Item {
    int32_t job, node, depth;
  };
  std::vector<Item> frontier;
  std::vector<uint8_t> keep(n_jobs, 0);
  std::vector<double> gain_to_decrease(n_jobs);
  for (std::size_t j = 0; j < n_jobs; ++j) {
    gain_to_decrease[j] = 1.0 / (static_cast<double>(lay.weight(&root[j * k])) * limits[j].gain_unit);
    out[j].importance.assign(nf, 0.0);
    add_node(out[j], &root[j * k], k);
    keep[j] = can_split(lay, limits[j], &root[j * k], 0);
    if (keep[j]) frontier.push_back({static_cast<int32_t>(j), 0, 0});
  }
  backend.restrict_frontier(keep);

  std::vector<FrontierNode> request;
  std::vector<int64_t> stats, left;
  std::vector<SplitChoice> best;
  std::vector<int64_t> right(k);
  while (!frontier.empty()) {
    request.clear();
    stats.clear();
    for (const Item& it : frontier) {
      request.push_back({it.job, it.node});
      const int64_t* s = &out[it.job].stats[static_cast<std::size_t>(it.node) * k];
      stats.insert(stats.end(), s, s + k);
    }
    backend.find_splits(request, stats, best, left);

    std::vector<Item> next;
    std::vector<uint8_t> keep_children(2 * frontier.size(), 0);
    for (std::size_t i = 0; i < frontier.size(); ++i) {
      const Item it = frontier[i];
      GrownTree& t = out[it.job];
      const GrowLimits& lim = limits[it.job];
      SplitChoice& c = best[i];
      if (!c.valid()) continue;
      const double decrease = c.gain * gain_to_decrease[it.job];
      if (decrease < lim.min_impurity_decrease) {
        c = SplitChoice{};
        continue;
      }
      const int64_t* l = &left[i * k];
      const int64_t* p = &stats[i * k];
      for (int32_t ch = 0; ch < k; ++ch) right[ch] = p[ch] - l[ch];
      const int32_t lc = add_node(t, l, k);
      add_node(t, right.data(), k);
      t.feature[it.node] = c.feature;
      t.bin[it.node] = c.bin;
      t.default_left[it.node] = static_cast<uint8_t>(c.default_left);
      t.left_child[it.node] = lc;
      t.importance[c.feature] += decrease;
      for (int side = 0; side < 2; ++side) {
        const int32_t child = lc + side;
        if (can_split(lay, lim, &t.stats[static_cast<std::size_t>(child) * k], it.depth + 1)) {
          keep_children[2 * i + side] = 1;
          next.push_back({it.job, child, it.depth + 1});
        }
      }
    }
    backend.apply_splits(best, keep_children);
    frontier.swap(next);
  }
}

}  // namespace

void grow_batch(TreeBackend& backend, const BatchData& data, std::vector<JobSpec>& jobs,
                const std::vector<GrowLimits>& limits, std::vector<GrownTree>& out) {
  try {
    grow_levels(backend, data, jobs, limits, out);
  } catch (...) {
    try {
      backend.end();  // the batch's memory goes; the first error is the one reported
    } catch (...) {
    }
    throw;
  }
  backend.end();
}

}  // namespace canopy
