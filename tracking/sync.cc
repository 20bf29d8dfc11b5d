#include "tracking/sync.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <filesystem>
#include <functional>
#include <set>
#include <tuple>

namespace fs = std::filesystem;

namespace canopy::tracking {
namespace {

std::string fnv_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string fingerprint(SqliteStore& from, const Run& r, const std::vector<FileInfo>& artifacts) {
  std::string s = std::string(status_name(r.info.status)) + "|" + std::to_string(r.info.end_time) + "|" +
                  r.info.run_name + "|";
  for (const auto& [k, v] : r.params) s += "p" + k + "=" + v + "\n";
  for (const auto& [k, v] : r.tags) s += "t" + k + "=" + v + "\n";
  s += "m" + std::to_string(from.metric_point_count(r.info.run_id)) + "\n";
  for (const auto& [k, m] : r.metrics) s += "l" + k + "@" + std::to_string(m.step) + "," + std::to_string(m.timestamp) + "\n";
  for (const FileInfo& f : artifacts) s += "a" + f.path + ":" + std::to_string(f.file_size) + "\n";
  return fnv_hex(s);
}

using PointKey = std::tuple<int64_t, int64_t, uint64_t>;  // step, timestamp, value bits
PointKey point_key(const Metric& m) {
  uint64_t bits = 0;
  double v = m.value;
  if (v != v) v = std::numeric_limits<double>::quiet_NaN();  // one NaN pattern
  std::memcpy(&bits, &v, sizeof bits);
  return {m.step, m.timestamp, bits};
}

class Syncer {
 public:
  Syncer(SqliteStore& from, RunStore& to, const SyncOptions& o) : from_(from), to_(to), o_(o) {}

  SyncResult run() {
    std::vector<Run> runs;
    std::vector<std::string> exp_ids;
    if (!o_.experiment.empty()) {
      auto e = from_.get_experiment_by_name(o_.experiment);
      if (!e) throw NotFoundError("no experiment named '" + o_.experiment + "' in " + from_.uri());
      exp_ids.push_back(e->experiment_id);
    }
    for (Run& r : from_.search_runs(exp_ids, "", {"attributes.start_time ASC"}, 0)) {
      if (!o_.run_ids.empty() && std::find(o_.run_ids.begin(), o_.run_ids.end(), r.info.run_id) == o_.run_ids.end())
        continue;
      local_.emplace(r.info.run_id, r);
      order_.push_back(r.info.run_id);
    }
    for (const std::string& id : order_) ensure(id);
    return std::move(result_);
  }

 private:
  // Syncs the run (after its parent); returns its remote id or "" on failure.
  std::string ensure(const std::string& local_id) {
    if (auto it = done_.find(local_id); it != done_.end()) return it->second;
    done_[local_id] = "";  // guards against parent cycles
    auto it = local_.find(local_id);
    Run r = it != local_.end() ? it->second : from_.get_run(local_id);
    std::string remote_parent;
    if (auto p = r.tags.find(kTagParentRunId); p != r.tags.end() && !p->second.empty()) {
      remote_parent = ensure(p->second);
    }
    try {
      std::string remote = push(r, remote_parent);
      done_[local_id] = remote;
      result_.mapping.emplace_back(local_id, remote);
      return remote;
    } catch (const UnreachableError&) {
      throw;
    } catch (const std::exception& e) {
      ++result_.failed;
      result_.errors.push_back("run " + local_id + ": " + e.what());
      say("failed   " + local_id + ": " + e.what());
      return "";
    }
  }

  std::string remote_experiment(const std::string& local_exp_id) {
    auto it = exp_map_.find(local_exp_id);
    if (it != exp_map_.end()) return it->second;
    const std::string name = from_.get_experiment(local_exp_id).name;
    std::string id = to_.get_or_create_experiment(name);
    exp_map_[local_exp_id] = id;
    return id;
  }

  std::optional<Run> try_get(const std::string& remote_id) {
    if (remote_id.empty()) return std::nullopt;
    try {
      return to_.get_run(remote_id);
    } catch (const NotFoundError&) {
      return std::nullopt;
    }
  }

  void say(const std::string& line) {
    if (o_.progress) o_.progress(line);
  }

  std::string push(const Run& r, const std::string& remote_parent) {
    const std::string& id = r.info.run_id;
    const std::vector<FileInfo> artifacts = from_.list_all_artifacts(id);
    const std::string fp = fingerprint(from_, r, artifacts);
    const std::string target = to_.uri();
    const std::string exp = remote_experiment(r.info.experiment_id);

    std::optional<SyncRecord> rec = from_.get_sync_record(id, target);
    std::optional<Run> remote;
    if (rec) remote = try_get(rec->remote_run_id);
    if (!remote) {
      auto rid = r.tags.find(kTagRemoteRunId);
      auto ruri = r.tags.find(kTagRemoteUri);
      if (rid != r.tags.end() && ruri != r.tags.end() && ruri->second == target) remote = try_get(rid->second);
    }
    if (!remote) {
      auto found = to_.search_runs({exp}, std::string("tags.") + kTagSourceRunId + " = '" + id + "'", {}, 1);
      if (!found.empty()) remote = found.front();
    }
    if (remote && rec && rec->remote_run_id == remote->info.run_id && rec->fingerprint == fp) {
      ++result_.unchanged;
      say("unchanged " + id + " -> " + remote->info.run_id);
      return remote->info.run_id;
    }
    const bool created = !remote;
    if (!remote) {
      CreateRunRequest req;
      req.experiment_id = exp;
      req.run_name = r.info.run_name;
      req.user_id = r.info.user_id;
      req.start_time = r.info.start_time;
      req.tags[kTagSourceRunId] = id;
      RunInfo info = to_.create_run(req);
      remote = Run{info, {}, {}, {}};
    }
    const std::string remote_id = remote->info.run_id;

    // Params (write-once on the server: send what is missing).
    std::map<std::string, std::string> params;
    for (const auto& [k, v] : r.params)
      if (!remote->params.count(k)) params[k] = v;
    // Tags, with the parent id remapped.
    std::map<std::string, std::string> tags;
    for (const auto& [k, v] : r.tags) {
      if (k == kTagRemoteRunId || k == kTagRemoteUri) continue;
      std::string value = v;
      if (k == kTagParentRunId) {
        if (remote_parent.empty()) continue;  // the parent could not be synced
        value = remote_parent;
      }
      auto rt = remote->tags.find(k);
      if (rt == remote->tags.end() || rt->second != value) tags[k] = value;
    }
    if (!remote->tags.count(kTagSourceRunId)) tags[kTagSourceRunId] = id;
    to_.log_batch(remote_id, {}, params, tags);

    // Metric histories: only the points the server lacks.
    std::vector<Metric> pending;
    for (const auto& kv : r.metrics) {
      const std::string& key = kv.first;
      std::vector<Metric> hist = from_.get_metric_history(id, key);
      std::multiset<PointKey> have;
      if (remote->metrics.count(key))
        for (const Metric& m : to_.get_metric_history(remote_id, key)) have.insert(point_key(m));
      for (const Metric& m : hist) {
        auto h = have.find(point_key(m));
        if (h != have.end()) {
          have.erase(h);
          continue;
        }
        pending.push_back(m);
        if (pending.size() >= 10000) {
          to_.log_batch(remote_id, pending, {}, {});
          pending.clear();
        }
      }
    }
    if (!pending.empty()) to_.log_batch(remote_id, pending, {}, {});

    // Artifacts missing remotely (or of another size).
    std::map<std::string, int64_t> remote_files;
    if (!created && !artifacts.empty())
      for (const FileInfo& f : to_.list_all_artifacts(remote_id)) remote_files[f.path] = f.file_size;
    const std::string local_root = from_.run_artifact_dir(id);
    for (const FileInfo& f : artifacts) {
      auto rf = remote_files.find(f.path);
      if (rf != remote_files.end() && rf->second == f.file_size) continue;
      const std::string dir = fs::path(f.path).parent_path().generic_string();
      to_.log_artifact(remote_id, (fs::path(local_root) / f.path).string(), dir);
    }

    // Status and times last, so a half-pushed run never looks finished.
    to_.update_run(remote_id, r.info.status,
                   r.info.end_time > 0 ? std::optional<int64_t>(r.info.end_time) : std::nullopt);
    from_.put_sync_record(SyncRecord{id, target, remote_id, fp, now_ms()});
    if (created)
      ++result_.created;
    else
      ++result_.updated;
    say(std::string(created ? "created  " : "updated  ") + id + " -> " + remote_id);
    return remote_id;
  }

  SqliteStore& from_;
  RunStore& to_;
  const SyncOptions& o_;
  std::map<std::string, Run> local_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> done_;
  std::map<std::string, std::string> exp_map_;
  SyncResult result_;
};

}  // namespace

SyncResult sync_runs(SqliteStore& from, RunStore& to, const SyncOptions& options) {
  return Syncer(from, to, options).run();
}

}  // namespace canopy::tracking
