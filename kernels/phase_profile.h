#pragma once
// Wall-clock totals per named phase, for finding where training time goes.
// Enabled by the environment variable CANOPY_PROFILE (any value); when it is
// unset every call is a cheap no-op. report() prints one line to stderr:
//   profile <owner>: phase1 1.234 s, phase2 0.010 s, ...
// Not thread-safe: one owner per thread.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace canopy {

class PhaseProfile {
 public:
  using Clock = std::chrono::steady_clock;

  explicit PhaseProfile(std::string owner) : owner_(std::move(owner)), enabled_(std::getenv("CANOPY_PROFILE") != nullptr) {}
  ~PhaseProfile() { report(); }
  PhaseProfile(const PhaseProfile&) = delete;
  PhaseProfile& operator=(const PhaseProfile&) = delete;

  bool enabled() const { return enabled_; }
  Clock::time_point now() const { return enabled_ ? Clock::now() : Clock::time_point{}; }

  // Adds the time since `since` to `phase` and returns the current time.
  Clock::time_point add(const char* phase, Clock::time_point since) {
    if (!enabled_) return since;
    const Clock::time_point t = Clock::now();
    const double s = std::chrono::duration<double>(t - since).count();
    for (auto& p : totals_)
      if (p.first == phase) {
        p.second += s;
        return t;
      }
    totals_.emplace_back(phase, s);
    return t;
  }

  // Prints and clears the totals (nothing when disabled or empty).
  void report() {
    if (!enabled_ || totals_.empty()) return;
    std::string line = "profile " + owner_ + ":";
    char buf[64];
    for (std::size_t i = 0; i < totals_.size(); ++i) {
      std::snprintf(buf, sizeof buf, " %.3f s", totals_[i].second);
      line += (i ? ", " : " ") + totals_[i].first + buf;
    }
    std::fprintf(stderr, "%s\n", line.c_str());
    totals_.clear();
  }

 private:
  std::string owner_;
  bool enabled_;
  std::vector<std::pair<std::string, double>> totals_;
};

}  // namespace canopy
