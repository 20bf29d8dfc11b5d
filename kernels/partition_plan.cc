#include "kernels/partition_plan.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "kernels/partition.h"

namespace canopy {

using cuda_tree::PartItem;
using cuda_tree::PartSeg;

PartitionPlan plan_partition(const std::vector<LevelSlot>& slots, const std::vector<SplitChoice>& split,
                             const std::vector<uint8_t>& keep_children, int64_t entries_per_item) {
  if (split.size() != slots.size()) throw std::logic_error("plan_partition: split count mismatch");
  if (keep_children.size() != 2 * slots.size()) throw std::logic_error("plan_partition: keep flag count mismatch");
  if (entries_per_item <= 0) throw std::logic_error("plan_partition: entries_per_item must be positive");
  PartitionPlan plan;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!partitions_rows(split[i], &keep_children[2 * i])) continue;
    const LevelSlot& s = slots[i];
    PartSeg g{};
    g.begin = s.begin;
    g.end = s.end;
    g.feature = split[i].feature;
    g.bin = split[i].bin;
    g.missing_left = split[i].missing_left != 0 ? 1 : 0;
    const int32_t si = static_cast<int32_t>(plan.segs.size());
    g.item_begin = static_cast<int32_t>(plan.items.size());
    for (int64_t e0 = s.begin; e0 < s.end; e0 += entries_per_item) {
      const int64_t e1 = std::min(s.end, e0 + entries_per_item);
      plan.items.push_back(PartItem{si, 0, e0, e1, plan.n_words});
      plan.n_words += cuda_tree::partition_words(e1 - e0);
    }
    if (plan.items.size() > static_cast<std::size_t>(INT32_MAX))
      throw std::runtime_error("cuda backend: too many partition work items in one level");
    g.item_end = static_cast<int32_t>(plan.items.size());
    plan.segs.push_back(g);
    plan.seg_slot.push_back(i);
  }
  return plan;
}

}  // namespace canopy
