#include "host/cuda_tuning_text.h"

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "host/search.h"

namespace canopy {
namespace {

// One key of the text form: how it reads and writes its field. `set` returns
// false when the value is not one it accepts (`values` says which are).
struct TuningKey {
  const char* name;
  const char* values;
  const char* help;
  bool (*set)(CudaTuning&, const std::string&);
  std::string (*get)(const CudaTuning&);
};

bool parse_flag(const std::string& v, bool& out) {
  if (v == "1" || v == "true") return out = true, true;
  if (v == "0" || v == "false") return out = false, true;
  return false;
}

// A whole decimal number in [lo, hi].
bool parse_count(const std::string& v, int64_t lo, int64_t hi, int64_t& out) {
  if (v.empty() || v.size() > 12) return false;
  int64_t x = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + (c - '0');
  }
  if (x < lo || x > hi) return false;
  out = x;
  return true;
}

// One of the listed whole numbers.
bool parse_one_of(const std::string& v, std::initializer_list<int> allowed, int& out) {
  int64_t x = 0;
  if (!parse_count(v, 0, 1 << 20, x)) return false;
  for (int a : allowed)
    if (x == a) return out = a, true;
  return false;
}

const char* const kMappingNames[] = {"row", "element", "row_words", "rotated_rows",
                                     "swizzled_rows"};  // HistogramMapping's order
static_assert(sizeof(kMappingNames) / sizeof(kMappingNames[0]) ==
                  static_cast<std::size_t>(CudaTuning::HistogramMapping::kSwizzledRows) + 1,
              "a name for every histogram mapping");
const char* const kSplitNames[] = {"thread", "warp"};                                   // SplitMapping's order

template <typename Enum, std::size_t N>
bool parse_enum(const std::string& v, const char* const (&names)[N], Enum& out) {
  for (std::size_t i = 0; i < N; ++i)
    if (v == names[i]) return out = static_cast<Enum>(i), true;
  return false;
}

std::string flag_text(bool b) { return b ? "1" : "0"; }

// The table: parsing, help and describe_cuda_tuning all read it.
const std::vector<TuningKey>& tuning_keys() {
  static const std::vector<TuningKey> keys = {
      {"histogram_mapping", "row|element|row_words|rotated_rows|swizzled_rows",
       "how histogram threads walk rows (rotated_rows and swizzled_rows fall back to row_words where they do not "
       "fit)",
       [](CudaTuning& t, const std::string& v) { return parse_enum(v, kMappingNames, t.histogram_mapping); },
       [](const CudaTuning& t) { return std::string(kMappingNames[static_cast<int>(t.histogram_mapping)]); }},
      {"histogram_shared_kib", "1..1024", "shared memory of one histogram block, KiB (capped at the device's limit)",
       [](CudaTuning& t, const std::string& v) {
         int64_t x = 0;
         if (!parse_count(v, 1, 1024, x)) return false;
         t.histogram_shared_bytes = static_cast<std::size_t>(x) << 10;
         return true;
       },
       [](const CudaTuning& t) { return std::to_string(t.histogram_shared_bytes >> 10); }},
      {"histogram_load_batch", "1|4", "bins a histogram thread loads before adding any (row and element walks)",
       [](CudaTuning& t, const std::string& v) {
         return parse_one_of(v, {1, 4}, t.histogram_load_batch);
       },
       [](const CudaTuning& t) { return std::to_string(t.histogram_load_batch); }},
      {"histogram_block_threads", "256|512", "threads of one histogram block",
       [](CudaTuning& t, const std::string& v) {
         return parse_one_of(v, {256, 512}, t.histogram_block_threads);
       },
       [](const CudaTuning& t) { return std::to_string(t.histogram_block_threads); }},
      {"histogram_atomics_in_halves", "0|1",
       "add to 64-bit shared histogram counters with two 32-bit atomics instead of a compare-and-swap loop",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.histogram_atomics_in_halves); },
       [](const CudaTuning& t) { return flag_text(t.histogram_atomics_in_halves); }},
      {"histogram_cluster_blocks", "1|2|4|8",
       "thread-block cluster of a shared-memory histogram launch: its blocks of one node sum their histograms "
       "before the global atomics (sm_90; 1: none)",
       [](CudaTuning& t, const std::string& v) {
         return parse_one_of(v, {1, 2, 4, 8}, t.histogram_cluster_blocks);
       },
       [](const CudaTuning& t) { return std::to_string(t.histogram_cluster_blocks); }},
      {"histogram_blocks_per_sm", "0..4",
       "at most this many histogram blocks a multiprocessor when a level's entries are cut into chunks (0: as "
       "many as run at once)",
       [](CudaTuning& t, const std::string& v) {
         return parse_one_of(v, {0, 1, 2, 3, 4}, t.histogram_blocks_per_sm);
       },
       [](const CudaTuning& t) { return std::to_string(t.histogram_blocks_per_sm); }},
      {"histogram_staggered_flush", "0|1",
       "each histogram block adds its shared histogram to the global one from its own offset",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.histogram_staggered_flush); },
       [](const CudaTuning& t) { return flag_text(t.histogram_staggered_flush); }},
      {"histogram_sector_flush", "0|1",
       "the rotated- and swizzled-rows walks flush four consecutive counters of a feature from four threads (one "
       "sector)",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.histogram_sector_flush); },
       [](const CudaTuning& t) { return flag_text(t.histogram_sector_flush); }},
      {"histogram_row_classes", "0|1",
       "unweighted classification: the class id in each padded device row's last byte, read with the row",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.histogram_row_classes); },
       [](const CudaTuning& t) { return flag_text(t.histogram_row_classes); }},
      {"histogram_identity_root", "0|1",
       "a root of every row once (no bootstrap or row sampling) is histogrammed without reading its entries",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.histogram_identity_root); },
       [](const CudaTuning& t) { return flag_text(t.histogram_identity_root); }},
      {"pad_rows", "0|1", "pad the device rows of bins to whole 32-byte sectors",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.pad_rows); },
       [](const CudaTuning& t) { return flag_text(t.pad_rows); }},
      {"histogram_subtraction", "0|1",
       "derive the larger sibling's histogram from its parent's (jobs that sample over half the features)",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.histogram_subtraction); },
       [](const CudaTuning& t) { return flag_text(t.histogram_subtraction); }},
      {"partition_columns", "0|1", "the partition reads a feature-major copy of the bins",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.partition_columns); },
       [](const CudaTuning& t) { return flag_text(t.partition_columns); }},
      {"partition_two_pass", "0|1", "the partition in two passes over go-left bits instead of flags and a scan",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.partition_two_pass); },
       [](const CudaTuning& t) { return flag_text(t.partition_two_pass); }},
      {"workspace_mib", "0|1..1048576", "device memory for a level's workspace, MiB (0: half the free memory)",
       [](CudaTuning& t, const std::string& v) {
         int64_t x = 0;
         if (!parse_count(v, 0, int64_t(1) << 20, x)) return false;
         t.workspace_bytes = static_cast<std::size_t>(x) << 20;
         return true;
       },
       [](const CudaTuning& t) { return std::to_string(t.workspace_bytes >> 20); }},
      {"split_mapping", "thread|warp", "one thread or one warp per (node, sampled feature) split scan",
       [](CudaTuning& t, const std::string& v) { return parse_enum(v, kSplitNames, t.split_mapping); },
       [](const CudaTuning& t) { return std::string(kSplitNames[static_cast<int>(t.split_mapping)]); }},
      {"time_histograms", "0|1", "time the histogram launches with CUDA events (benchmarks)",
       [](CudaTuning& t, const std::string& v) { return parse_flag(v, t.time_histograms); },
       [](const CudaTuning& t) { return flag_text(t.time_histograms); }},
  };
  return keys;
}

}  // namespace

CudaTuning parse_cuda_tuning(const std::string& spec) {
  CudaTuning t;
  const std::vector<std::string> items = split_top_level(spec, ',');
  if (items.size() == 1 && items[0].empty()) return t;  // an empty spec: the defaults
  std::vector<std::string> seen;
  for (const std::string& item : items) {
    if (item.empty())
      throw std::invalid_argument("empty item in \"" + spec + "\": expected key=value items separated by commas");
    const std::vector<std::string> kv = split_top_level(item, '=');
    if (kv.size() == 1) throw std::invalid_argument("\"" + item + "\" has no value: expected key=value");
    if (kv.size() > 2) throw std::invalid_argument("\"" + item + "\" has more than one '=': expected key=value");
    const std::string& key = kv[0];
    const std::string& value = kv[1];
    const TuningKey* k = nullptr;
    for (const TuningKey& x : tuning_keys())
      if (key == x.name) k = &x;
    if (!k) {
      std::string names;
      for (const TuningKey& x : tuning_keys()) names += std::string(names.empty() ? "" : ", ") + x.name;
      throw std::invalid_argument("unknown key \"" + key + "\": expected one of " + names);
    }
    for (const std::string& s : seen)
      if (s == key) throw std::invalid_argument("key \"" + key + "\" given twice");
    seen.push_back(key);
    if (!k->set(t, value))
      throw std::invalid_argument("invalid value \"" + value + "\" for " + key + ": expected " + k->values);
  }
  return t;
}

std::string describe_cuda_tuning(const CudaTuning& tuning) {
  std::string s;
  for (const TuningKey& k : tuning_keys()) s += std::string(s.empty() ? "" : ",") + k.name + "=" + k.get(tuning);
  return s;
}

std::string cuda_tuning_help() {
  std::string s;
  for (const TuningKey& k : tuning_keys())
    s += std::string("  ") + k.name + "=" + k.values + "  " + k.help + " (default " + k.get(CudaTuning{}) + ")\n";
  return s;
}

}  // namespace canopy
