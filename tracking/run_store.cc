#include "tracking/run_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

namespace canopy::tracking {

const char* status_name(RunStatus s) {
  switch (s) {
    case RunStatus::kRunning: return "RUNNING";
    case RunStatus::kScheduled: return "SCHEDULED";
    case RunStatus::kFinished: return "FINISHED";
    case RunStatus::kFailed: return "FAILED";
    case RunStatus::kKilled: return "KILLED";
  }
  return "RUNNING";
}

RunStatus parse_status(const std::string& s) {
  if (s == "RUNNING") return RunStatus::kRunning;
  if (s == "SCHEDULED") return RunStatus::kScheduled;
  if (s == "FINISHED") return RunStatus::kFinished;
  if (s == "FAILED") return RunStatus::kFailed;
  if (s == "KILLED") return RunStatus::kKilled;
  throw TrackingError("invalid run status \"" + s + "\": expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED");
}

bool operator==(const Metric& a, const Metric& b) {
  const bool same_value = a.value == b.value || (std::isnan(a.value) && std::isnan(b.value));
  return a.key == b.key && same_value && a.timestamp == b.timestamp && a.step == b.step;
}

std::string RunStore::get_or_create_experiment(const std::string& name) {
  if (auto e = get_experiment_by_name(name)) return e->experiment_id;
  try {
    return create_experiment(name);
  } catch (const TrackingError&) {
    // Another process may have created it between the two calls.
    if (auto e = get_experiment_by_name(name)) return e->experiment_id;
    throw;
  }
}

void RunStore::set_terminated(const std::string& run_id, RunStatus status, int64_t end_time) {
  update_run(run_id, status, end_time > 0 ? end_time : now_ms());
}

std::vector<FileInfo> RunStore::list_all_artifacts(const std::string& run_id) {
  std::vector<FileInfo> out;
  std::vector<std::string> todo{""};
  while (!todo.empty()) {
    std::string dir = todo.back();
    todo.pop_back();
    for (FileInfo& f : list_artifacts(run_id, dir)) {
      if (f.is_dir)
        todo.push_back(f.path);
      else
        out.push_back(std::move(f));
    }
  }
  std::sort(out.begin(), out.end(), [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  return out;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
std::mt19937_64& rng() {
  thread_local std::mt19937_64 g([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), static_cast<unsigned>(now_ms())};
    return std::mt19937_64(seq);
  }());
  return g;
}
}  // namespace

std::string new_run_id() {
  static const char* hex = "0123456789abcdef";
  std::string id(32, '0');
  uint64_t a = rng()(), b = rng()();
  for (int i = 0; i < 16; ++i) id[i] = hex[(a >> (4 * i)) & 15];
  for (int i = 0; i < 16; ++i) id[16 + i] = hex[(b >> (4 * i)) & 15];
  return id;
}

std::string generate_run_name() {
  static const char* adjectives[] = {"agile", "bold",  "brave", "bright", "calm",  "clever", "crisp", "eager",
                                     "fast",  "gentle", "grand", "keen",   "lucky", "merry",  "quiet", "rare",
                                     "sharp", "silent", "sleek", "smooth", "swift", "tidy",   "vivid", "wise"};
  static const char* nouns[] = {"ash",   "birch", "cedar", "elm",   "fern",  "fir",    "grove", "hazel",
                                "larch", "maple", "oak",   "olive", "pine",  "poplar", "rowan", "spruce",
                                "sumac", "teak",  "thorn", "walnut", "willow", "yew",   "aspen", "alder"};
  auto& g = rng();
  return std::string(adjectives[g() % 24]) + "-" + nouns[g() % 24] + "-" + std::to_string(g() % 1000);
}

std::vector<std::string> split_order_by(const std::string& order_by) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  for (char c : order_by) {
    if (quote) {
      if (c == quote) quote = 0;
      cur += c;
    } else if (c == '`' || c == '"' || c == '\'') {
      quote = c;
      cur += c;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  std::vector<std::string> trimmed;
  for (auto& s : out) {
    auto b = s.find_first_not_of(" \t\n");
    if (b == std::string::npos) continue;
    auto e = s.find_last_not_of(" \t\n");
    trimmed.push_back(s.substr(b, e - b + 1));
  }
  return trimmed;
}

}  // namespace canopy::tracking
