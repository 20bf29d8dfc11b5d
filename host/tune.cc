#include "host/tune.h"

#include <canopy/version.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

#include "host/cli_common.h"
#include "host/metrics.h"
#include "host/model_ops.h"
#include "host/run_recorder.h"
#include "io/model_file.h"
#include "tracking/store_factory.h"

namespace canopy {
namespace {

using ojson = nlohmann::ordered_json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Tags and params of the tracking layout (docs/tuning.md).
constexpr const char* kSpecParam = "canopy.sweep.spec";
constexpr const char* kKeyTag = "canopy.candidate_key";
constexpr const char* kIndexTag = "canopy.candidate_index";
constexpr const char* kRoundTag = "canopy.sweep.round";
constexpr const char* kResourcesTag = "canopy.sweep.n_resources";
constexpr const char* kStatusTag = "canopy.candidate_status";  // ok | failed
constexpr const char* kFingerprintTag = "canopy.sweep.data_fingerprint";
constexpr const char* kKindTag = "canopy.run_kind";            // sweep | candidate

int64_t json_int(const nlohmann::json& v, const std::string& what) {
  if (v.is_number_integer() || v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    const long long x = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0') return x;
  }
  throw ParamError("invalid value " + v.dump() + " for " + what + ": expected an integer");
}

double json_double(const nlohmann::json& v, const std::string& what) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    const double x = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0') return x;
  }
  throw ParamError("invalid value " + v.dump() + " for " + what + ": expected a number");
}

bool json_bool(const nlohmann::json& v, const std::string& what) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "true" || s == "yes" || s == "1") return true;
    if (s == "false" || s == "no" || s == "0") return false;
  }
  throw ParamError("invalid value " + v.dump() + " for " + what + ": expected true or false");
}

std::vector<std::string> json_names(const nlohmann::json& v, const std::string& what) {
  std::vector<std::string> out;
  if (v.is_string()) {
    for (const std::string& s : split_top_level(v.get<std::string>(), ','))
      if (!s.empty()) out.push_back(s);
  } else if (v.is_array()) {
    for (const auto& x : v) out.push_back(json_scalar_text(x, what));
  } else {
    throw ParamError("invalid value " + v.dump() + " for " + what + ": expected a list of names");
  }
  return out;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string fmt(double v, const char* f = "%.4f") {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string csv_number(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

ojson num_or_null(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp);
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot write " + tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
  }
}

// Metric names of a task, in metric_list order.
std::vector<std::string> metric_names(Task task) {
  std::vector<std::string> out;
  if (task == Task::kRegression) {
    for (const auto& [k, v] : metric_list(RegressionMetrics{})) out.push_back(k);
  } else {
    ClassificationMetrics m;
    m.n_classes = 2;
    for (const auto& [k, v] : metric_list(m)) out.push_back(k);
  }
  return out;
}

double metric_of(const MetricList& m, const std::string& name) {
  for (const auto& [k, v] : m)
    if (k == name) return v;
  return kNaN;
}

// ---------------------------------------------------------------------------
// Tracking: the parent run (new, or an existing one when resuming) and its
// child runs. Every call is a no-op when tracking is off.

class SweepTracker {
 public:
  // A new parent run.
  SweepTracker(const TuneRuntime& rt, const std::map<std::string, std::string>& tags) : enabled_(rt.tracking) {
    if (!enabled_) return;
    RunOptions o;
    o.tracking_uri = rt.tracking_uri;
    o.experiment = rt.experiment;
    o.run_name = rt.run_name;
    o.command_line = rt.command_line;
    o.tags = tags;
    parent_ = std::make_unique<RunRecorder>(o);
    run_id_ = parent_->run_id();
  }
  // An existing parent run (--resume).
  SweepTracker(const TuneRuntime& rt, std::unique_ptr<tracking::RunStore> store, const tracking::Run& run,
               const std::string& experiment)
      : enabled_(true), store_(std::move(store)), run_id_(run.info.run_id) {
    child_opts_.tracking_uri = store_->uri();
    child_opts_.experiment = experiment;
    child_opts_.command_line = rt.command_line;
    child_opts_.parent_run_id = run_id_;
    guarded([&] { store_->update_run(run_id_, tracking::RunStatus::kRunning, std::nullopt); });
  }
  ~SweepTracker() {
    if (store_ && !ended_) guarded([&] {
        store_->log_batch(run_id_, {}, {}, {{"canopy.error", "the resumed sweep ended without finishing"}});
        store_->set_terminated(run_id_, tracking::RunStatus::kFailed);
      });
  }

  bool enabled() const { return enabled_; }
  const std::string& run_id() const { return run_id_; }
  std::string uri() const { return parent_ ? parent_->tracking_uri() : store_ ? store_->uri() : ""; }

  void log_params(const std::map<std::string, std::string>& p) {
    if (parent_) parent_->log_params(p);
    if (store_) guarded([&] { store_->log_batch(run_id_, {}, p, {}); });
  }
  void set_tags(const std::map<std::string, std::string>& t) {
    if (parent_) parent_->set_tags(t);
    if (store_) guarded([&] { store_->log_batch(run_id_, {}, {}, t); });
  }
  void log_metrics(const MetricList& m) {
    if (parent_) {
      parent_->log_metrics(m);
      parent_->flush();
    }
    if (store_) {
      std::vector<tracking::Metric> pts;
      for (const auto& [k, v] : m) pts.push_back(tracking::Metric{k, v, tracking::now_ms(), 0});
      guarded([&] { store_->log_batch(run_id_, pts, {}, {}); });
    }
  }
  void log_artifact(const std::string& path, const std::string& dir) {
    if (parent_) parent_->log_artifact(path, dir);
    if (store_) guarded([&] { store_->log_artifact(run_id_, path, dir); });
  }
  std::unique_ptr<RunRecorder> child(const std::string& name, const std::map<std::string, std::string>& tags) {
    if (parent_) return parent_->child(name, tags);
    RunOptions o = child_opts_;
    o.enabled = enabled_;
    o.run_name = name;
    o.tags = tags;
    return std::make_unique<RunRecorder>(o);
  }
  void finish() {
    if (parent_) parent_->finish();
    if (store_) guarded([&] { store_->set_terminated(run_id_, tracking::RunStatus::kFinished); });
    ended_ = true;
  }
  void fail(const std::string& e) {
    if (parent_) parent_->fail(e);
    if (store_) guarded([&] {
        store_->log_batch(run_id_, {}, {}, {{"canopy.error", e.substr(0, 5000)}});
        store_->set_terminated(run_id_, tracking::RunStatus::kFailed);
      });
    ended_ = true;
  }

 private:
  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      if (!warned_) std::fprintf(stderr, "canopy: warning: tracking: %s\n", e.what());
      warned_ = true;
    }
  }
  bool enabled_ = false, warned_ = false, ended_ = false;
  std::unique_ptr<RunRecorder> parent_;
  std::unique_ptr<tracking::RunStore> store_;
  RunOptions child_opts_;
  std::string run_id_;
};

// One evaluated (candidate, round).
struct Row {
  int64_t candidate = 0;
  int32_t round = 0;
  int64_t n_resources = 0;
  ParamValues params;  // the candidate's searched parameters
  SweepUnit unit;
  std::string key;
  UnitResult result;
  bool reused = false;
  std::map<std::string, int64_t> rank;
};

// Results recorded by the child runs of a sweep: key -> result.
std::map<std::string, UnitResult> read_finished_children(tracking::RunStore& store, const tracking::Run& parent,
                                                         Task task, int32_t n_splits) {
  std::map<std::string, UnitResult> out;
  const std::string filter = std::string("tags.") + tracking::kTagParentRunId + " = '" + parent.info.run_id + "'";
  const std::vector<std::string> names = metric_names(task);
  for (const tracking::Run& c : store.search_runs({parent.info.experiment_id}, filter, {}, 0)) {
    auto key = c.tags.find(kKeyTag);
    auto st = c.tags.find(kStatusTag);
    if (key == c.tags.end() || st == c.tags.end()) continue;
    if (c.info.status != tracking::RunStatus::kFinished && c.info.status != tracking::RunStatus::kFailed) continue;
    UnitResult r;
    if (st->second == "failed") {
      auto e = c.tags.find("canopy.error");
      r.error = e != c.tags.end() ? e->second : "failed";
    } else if (st->second == "ok") {
      CvResult cv;
      cv.folds = n_splits;
      cv.per_fold.assign(n_splits, {});
      bool complete = true;
      for (const std::string& m : names) {
        std::vector<double> v(n_splits, kNaN);
        std::vector<bool> seen(n_splits, false);
        for (const tracking::Metric& p : store.get_metric_history(c.info.run_id, "test_" + m))
          if (p.step >= 0 && p.step < n_splits) v[p.step] = p.value, seen[p.step] = true;
        for (int32_t s = 0; s < n_splits; ++s) {
          if (!seen[s] && m == names[0]) complete = false;
          cv.per_fold[s].push_back({m, v[s]});
        }
      }
      if (!complete) continue;
      summarise_folds(cv);
      r.ok = true;
      r.per_split = std::move(cv.per_fold);
      r.mean = std::move(cv.mean);
      r.std = std::move(cv.std);
      auto ft = c.metrics.find("fit_time");
      r.fit_seconds = ft != c.metrics.end() ? ft->second.value : 0;
      r.score_seconds.assign(n_splits, 0);
      for (const tracking::Metric& p : store.get_metric_history(c.info.run_id, "score_time"))
        if (p.step >= 0 && p.step < n_splits) r.score_seconds[p.step] = p.value;
    } else {
      continue;
    }
    out[key->second] = std::move(r);
  }
  return out;
}

void record_child(SweepTracker& t, const Row& row, Task task, ValidationMode mode) {
  if (!t.enabled()) return;
  std::map<std::string, std::string> tags = {{kKeyTag, row.key},
                                             {kIndexTag, std::to_string(row.candidate)},
                                             {kRoundTag, std::to_string(row.round)},
                                             {kResourcesTag, std::to_string(row.n_resources)},
                                             {kStatusTag, row.result.ok ? "ok" : "failed"},
                                             {kKindTag, "candidate"}};
  std::string name = "candidate-" + std::to_string(row.candidate);
  if (row.round > 0) name += "-round-" + std::to_string(row.round);
  auto c = t.child(name, tags);
  ParamValues v = row.unit.values;
  if (mode == ValidationMode::kOob) v["oob_score"] = "true";
  try {
    c->log_params(effective_params(v, task));
  } catch (const std::exception&) {
    c->log_params(v);
  }
  if (!row.result.ok) {
    c->fail(row.result.error);
    return;
  }
  for (std::size_t s = 0; s < row.result.per_split.size(); ++s) {
    c->log_metrics(row.result.per_split[s], "test_", static_cast<int64_t>(s));
    if (s < row.result.score_seconds.size())
      c->log_metric("score_time", row.result.score_seconds[s], static_cast<int64_t>(s));
  }
  c->log_metrics(row.result.mean, "mean_test_");
  c->log_metrics(row.result.std, "std_test_");
  c->log_metric("fit_time", row.result.fit_seconds);
  c->finish();
}

// Rough upper bound of a unit's model memory, to cap a chunk (bytes).
double model_bytes(const SweepUnit& u, Task task, std::size_t n_rows, int32_t n_outputs, int32_t n_splits) {
  ForestParams p;
  try {
    p = resolve_params(u.values, task);
  } catch (...) {
    return 0;
  }
  const double rows = static_cast<double>(u.row_limit > 0 ? u.row_limit : static_cast<int64_t>(n_rows));
  double nodes = 2.0 * rows / static_cast<double>(std::max<int64_t>(1, p.min_samples_leaf_count(n_rows)));
  if (p.max_depth >= 0 && p.max_depth < 40) nodes = std::min(nodes, std::ldexp(1.0, p.max_depth + 1));
  const int32_t trees = p.trees_per_member(task, n_outputs);  // one-vs-rest trees hold one value a node
  const double per_member = trees > 1 ? trees * (32.0 + 4.0) : 32.0 + 4.0 * n_outputs;
  return nodes * per_member * static_cast<double>(p.n_estimators) * n_splits;
}

}  // namespace

// ---------------------------------------------------------------------------

std::vector<int64_t> rank_min(const std::vector<double>& values, bool higher_first) {
  const std::size_t n = values.size();
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  auto better = [&](std::size_t a, std::size_t b) {
    const bool na = std::isnan(values[a]), nb = std::isnan(values[b]);
    if (na || nb) return !na && nb;
    return higher_first ? values[a] > values[b] : values[a] < values[b];
  };
  std::stable_sort(idx.begin(), idx.end(), better);
  std::vector<int64_t> rank(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0 && !better(idx[i - 1], idx[i]) && !better(idx[i], idx[i - 1]))
      rank[idx[i]] = rank[idx[i - 1]];
    else
      rank[idx[i]] = static_cast<int64_t>(i) + 1;
  }
  return rank;
}

ojson TuneConfig::to_json() const {
  ojson j;
  j["data"] = data_path;
  j["label"] = label;
  j["features"] = features;
  j["weight_column"] = weight_column;
  j["task"] = task;
  j["grids"] = space.to_json();
  ojson f = ojson::object();
  for (const auto& [k, v] : fixed) f[k] = v;
  j["fixed"] = f;
  j["strategy"] = strategy;
  j["n_iter"] = n_iter;
  j["seed"] = search_seed;
  j["validation"] = validation.mode == ValidationMode::kOob       ? "oob"
                    : validation.mode == ValidationMode::kHoldout ? "holdout"
                                                                  : "kfold";
  j["folds"] = validation.folds;
  j["shuffle"] = validation.shuffle;
  j["shuffle_seed"] = validation.shuffle_seed;
  j["holdout"] = validation.holdout;
  j["scoring"] = scoring;
  j["refit"] = refit;
  j["halving"] = {{"factor", halving_factor}, {"resource", halving_resource}, {"min_resources", min_resources}};
  return j;
}

TuneConfig TuneConfig::from_json(const nlohmann::json& j) {
  TuneConfig c;
  c.data_path = j.at("data").get<std::string>();
  c.label = j.at("label").get<std::string>();
  c.features = j.at("features").get<std::string>();
  c.weight_column = j.at("weight_column").get<std::string>();
  c.task = j.at("task").get<std::string>();
  c.space = SearchSpace::from_json(j.at("grids"));
  for (auto it = j.at("fixed").begin(); it != j.at("fixed").end(); ++it) c.fixed[it.key()] = it.value();
  c.strategy = j.at("strategy").get<std::string>();
  c.n_iter = j.at("n_iter").get<int64_t>();
  c.search_seed = j.at("seed").get<uint64_t>();
  const std::string mode = j.at("validation").get<std::string>();
  c.validation.mode = mode == "oob" ? ValidationMode::kOob : mode == "holdout" ? ValidationMode::kHoldout
                                                                               : ValidationMode::kKFold;
  c.validation.folds = j.at("folds").get<int32_t>();
  c.validation.shuffle = j.at("shuffle").get<bool>();
  c.validation.shuffle_seed = j.at("shuffle_seed").get<uint64_t>();
  c.validation.holdout = j.at("holdout").get<double>();
  c.scoring = j.at("scoring").get<std::vector<std::string>>();
  c.refit = j.at("refit").get<std::string>();
  c.halving_factor = j.at("halving").at("factor").get<double>();
  c.halving_resource = j.at("halving").at("resource").get<std::string>();
  c.min_resources = j.at("halving").at("min_resources").get<int64_t>();
  return c;
}

void TuneConfig::apply_sweep_file(const nlohmann::json& j) {
  static const std::set<std::string> known = {"grid",    "grids",        "strategy", "n_iter",  "seed",
                                              "folds",   "shuffle_seed", "holdout",  "oob",     "scoring",
                                              "refit",   "fixed",        "halving",  "data",    "label",
                                              "task",    "validation"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key()))
      throw ParamError("unknown key \"" + it.key() + "\" in the sweep file (known: grid, grids, strategy, n_iter, "
                       "seed, folds, shuffle_seed, holdout, oob, scoring, refit, fixed, halving, data, label, task)");
  if (j.contains("grid") && j.contains("grids")) throw ParamError("the sweep file has both grid and grids");
  if (j.contains("grid")) space = SearchSpace::from_json(j["grid"]);
  if (j.contains("grids")) space = SearchSpace::from_json(j["grids"]);
  if (j.contains("strategy")) strategy = json_scalar_text(j["strategy"], "strategy");
  if (j.contains("n_iter")) n_iter = json_int(j["n_iter"], "n_iter");
  if (j.contains("seed")) search_seed = static_cast<uint64_t>(json_int(j["seed"], "seed"));
  if (j.contains("folds")) validation.folds = static_cast<int32_t>(json_int(j["folds"], "folds"));
  if (j.contains("shuffle_seed")) {
    const int64_t s = json_int(j["shuffle_seed"], "shuffle_seed");
    validation.shuffle = s >= 0;
    validation.shuffle_seed = s >= 0 ? static_cast<uint64_t>(s) : 0;
  }
  if (j.contains("holdout") && !j["holdout"].is_null()) {
    validation.mode = ValidationMode::kHoldout;
    validation.holdout = json_double(j["holdout"], "holdout");
  }
  if (j.contains("oob") && json_bool(j["oob"], "oob")) validation.mode = ValidationMode::kOob;
  if (j.contains("validation")) {
    const std::string v = json_scalar_text(j["validation"], "validation");
    if (v == "oob") validation.mode = ValidationMode::kOob;
    else if (v == "holdout") validation.mode = ValidationMode::kHoldout;
    else if (v == "kfold" || v == "cv") validation.mode = ValidationMode::kKFold;
    else throw ParamError("invalid value \"" + v + "\" for validation: expected kfold, holdout or oob");
  }
  if (j.contains("scoring")) scoring = json_names(j["scoring"], "scoring");
  if (j.contains("refit")) refit = json_scalar_text(j["refit"], "refit");
  if (j.contains("fixed")) {
    if (!j["fixed"].is_object()) throw ParamError("fixed: expected a mapping of parameter names to values");
    for (auto it = j["fixed"].begin(); it != j["fixed"].end(); ++it) {
      const ParamSpec* p = find_param(it.key());
      if (!p) throw ParamError("unknown parameter \"" + it.key() + "\" in fixed");
      fixed[p->name] = json_scalar_text(it.value(), "the value of parameter " + std::string(p->name));
    }
  }
  if (j.contains("halving")) {
    const auto& h = j["halving"];
    if (!h.is_object()) throw ParamError("halving: expected a mapping (factor, resource, min_resources)");
    for (auto it = h.begin(); it != h.end(); ++it) {
      if (it.key() == "factor") halving_factor = json_double(it.value(), "halving.factor");
      else if (it.key() == "resource") halving_resource = json_scalar_text(it.value(), "halving.resource");
      else if (it.key() == "min_resources") min_resources = json_int(it.value(), "halving.min_resources");
      else throw ParamError("unknown key \"" + it.key() + "\" in halving (known: factor, resource, min_resources)");
    }
  }
  if (j.contains("data")) data_path = json_scalar_text(j["data"], "data");
  if (j.contains("label")) label = json_scalar_text(j["label"], "label");
  if (j.contains("task")) task = json_scalar_text(j["task"], "task");
}

int run_tune(TuneConfig cfg, const TuneRuntime& rt) {
  const auto t_start = Clock::now();
  const bool say = !rt.json;

  // --- Resume: the recorded spec and finished children.
  std::unique_ptr<tracking::RunStore> resume_store;
  tracking::Run resume_run;
  std::string resume_experiment;
  if (!rt.resume_run_id.empty()) {
    if (!rt.tracking) throw ParamError("--resume needs tracking (it reads the sweep's runs): drop --no-tracking");
    resume_store = tracking::open_store(tracking::resolve_tracking_uri(rt.tracking_uri));
    resume_run = resume_store->get_run(rt.resume_run_id);
    auto spec = resume_run.params.find(kSpecParam);
    if (spec == resume_run.params.end())
      throw ParamError("run " + rt.resume_run_id + " is not a canopy tune sweep (no param " + kSpecParam + ")");
    TuneConfig recorded = TuneConfig::from_json(nlohmann::json::parse(spec->second));
    if (!cfg.data_path.empty() && cfg.data_path != recorded.data_path)
      recorded.data_path = cfg.data_path;  // the data may have moved; its fingerprint is checked below
    cfg = recorded;
    resume_experiment = resume_store->get_experiment(resume_run.info.experiment_id).name;
  }

  // --- Validate everything that does not need the data.
  if (cfg.data_path.empty()) throw ParamError("--data is required");
  if (cfg.space.empty()) throw ParamError("no grid: give --grid PARAM=V1,V2,... or --sweep FILE");
  if (cfg.strategy != "grid" && cfg.strategy != "random" && cfg.strategy != "halving")
    throw ParamError("invalid value \"" + cfg.strategy + "\" for --strategy: expected grid, random or halving");
  if (cfg.validation.mode == ValidationMode::kKFold && cfg.validation.folds < 2)
    throw ParamError("invalid value \"" + std::to_string(cfg.validation.folds) + "\" for --folds: expected >= 2");
  if (cfg.strategy == "halving" && cfg.halving_resource != "n_estimators" && cfg.halving_resource != "rows")
    throw ParamError("invalid value \"" + cfg.halving_resource +
                     "\" for --halving-resource: expected n_estimators or rows");
  for (const auto& [k, v] : cfg.fixed)
    for (const ParamGrid& g : cfg.space.grids)
      if (g.count(k)) throw ParamError("parameter " + k + " is both fixed and searched");
  if (cfg.strategy == "halving" && cfg.halving_resource == "n_estimators")
    for (const ParamGrid& g : cfg.space.grids)
      if (g.count("n_estimators"))
        throw ParamError("parameter n_estimators cannot be searched while it is the halving resource");

  DataArgs da;
  da.path = cfg.data_path;
  da.label = cfg.label;
  da.features = cfg.features;
  da.weight_column = cfg.weight_column;
  Dataset d = da.read(true);
  ParamArgs pa;
  pa.task = cfg.task;
  const TaskChoice choice = pa.task_choice();
  const Task task = pa.resolve_task(d);

  // Scoring metrics and refit.
  const std::vector<std::string> all_metrics = metric_names(task);
  if (cfg.scoring.empty()) cfg.scoring = {all_metrics[0]};
  for (const std::string& m : cfg.scoring)
    if (std::find(all_metrics.begin(), all_metrics.end(), m) == all_metrics.end())
      throw ParamError("unknown metric \"" + m + "\" in --scoring for " + task_name(task) + " (known: " +
                       join(all_metrics, ", ") + ")");
  if (cfg.refit.empty()) cfg.refit = cfg.scoring[0];
  if (std::find(cfg.scoring.begin(), cfg.scoring.end(), cfg.refit) == cfg.scoring.end())
    throw ParamError("--refit " + cfg.refit + " is not one of the scoring metrics (" + join(cfg.scoring, ", ") + ")");
  const bool refit_higher = greater_is_better(cfg.refit);

  // Every value of every domain, then every candidate, must resolve.
  (void)resolve_params(cfg.fixed, task);
  for (const ParamGrid& g : cfg.space.grids)
    for (const auto& [name, dom] : g) {
      std::vector<std::string> probe = dom.values;
      if (dom.kind == ParamDomain::Kind::kInt)
        probe = {std::to_string(static_cast<long long>(dom.lo)), std::to_string(static_cast<long long>(dom.hi))};
      else if (!dom.is_list())
        probe = {format_double_param(dom.lo), format_double_param(dom.hi)};
      for (const std::string& v : probe) {
        ParamValues pv = cfg.fixed;
        pv[name] = v;
        (void)resolve_params(pv, task);
      }
    }
  std::vector<ParamValues> candidates;
  const bool has_dist = grid_size(cfg.space) == 0;
  if (cfg.strategy == "grid") candidates = expand_grid(cfg.space);
  else if (cfg.strategy == "random" || has_dist) candidates = sample_candidates(cfg.space, cfg.n_iter, cfg.search_seed);
  else candidates = expand_grid(cfg.space);
  for (const ParamValues& c : candidates) {
    ParamValues pv = cfg.fixed;
    for (const auto& [k, v] : c) pv[k] = v;
    try {
      (void)resolve_params(pv, task);
    } catch (const ParamError& e) {
      throw ParamError(std::string(e.what()) + " (candidate " + candidate_key(c) + ")");
    }
  }
  if (candidates.empty()) throw ParamError("the grid has no candidates");

  // --- The engine and the rounds.
  set_threads(rt.threads);
  auto backend = make_backend(rt.device);
  SweepEngine eng(d, choice, task, cfg.validation, *backend);
  const int32_t ns = cfg.validation.n_splits();
  const std::size_t n_rows = d.n_rows();

  HalvingSchedule sched;
  if (cfg.strategy == "halving") {
    if (cfg.halving_resource == "n_estimators") {
      const int64_t max_r = resolve_params(cfg.fixed, task).n_estimators;
      sched = halving_schedule(static_cast<int64_t>(candidates.size()), cfg.halving_factor, cfg.min_resources, max_r,
                               1);
    } else {
      const int64_t smallest = std::max<int64_t>(2 * ns, 2) *
                               (task == Task::kClassification ? eng.data(resolve_params(cfg.fixed, task).max_bins).n_classes : 1);
      sched = halving_schedule(static_cast<int64_t>(candidates.size()), cfg.halving_factor, cfg.min_resources,
                               static_cast<int64_t>(n_rows), std::min<int64_t>(smallest, n_rows));
    }
  } else {
    sched.resources = {0};
    sched.candidates = {static_cast<int64_t>(candidates.size())};
  }

  // --- Tracking.
  std::map<std::string, UnitResult> finished;
  std::unique_ptr<SweepTracker> tracker;
  const std::string fingerprint = eng.data(resolve_params(cfg.fixed, task).max_bins).fingerprint;
  if (resume_store) {
    auto fp = resume_run.tags.find(kFingerprintTag);
    if (fp != resume_run.tags.end() && fp->second != fingerprint)
      throw ParamError("the data of " + cfg.data_path + " differs from the data sweep " + rt.resume_run_id +
                       " was started on (content hash changed)");
    finished = read_finished_children(*resume_store, resume_run, task, ns);
    auto store_for_tracker = tracking::open_store(resume_store->uri());
    tracker = std::make_unique<SweepTracker>(rt, std::move(store_for_tracker), resume_run, resume_experiment);
  } else {
    std::map<std::string, std::string> tags;
    if (rt.tracking) {
      tags = dataset_tags(cfg.data_path);
      tags[kFingerprintTag] = fingerprint;
      tags[kKindTag] = "sweep";
    }
    tracker = std::make_unique<SweepTracker>(rt, tags);
    if (tracker->enabled()) {
      std::map<std::string, std::string> p;
      p[kSpecParam] = cfg.to_json().dump();
      p["sweep.strategy"] = cfg.strategy;
      p["sweep.grid"] = cfg.space.to_json().dump();
      p["sweep.validation"] = cfg.validation.describe();
      p["sweep.folds"] = std::to_string(ns);
      p["sweep.scoring"] = join(cfg.scoring, ",");
      p["sweep.refit"] = cfg.refit;
      p["sweep.n_candidates"] = std::to_string(candidates.size());
      if (cfg.strategy == "random") p["sweep.n_iter"] = std::to_string(cfg.n_iter);
      if (cfg.strategy == "halving") {
        p["sweep.halving_factor"] = format_double_param(cfg.halving_factor);
        p["sweep.halving_resource"] = cfg.halving_resource;
      }
      for (const auto& [k, v] : cfg.fixed) p["fixed." + k] = v;
      p["task"] = task_name(task);
      tracker->log_params(p);
    }
  }
  if (say) {
    std::printf("canopy %s tune: %s on %s (%zu rows, %zu features)\n", CANOPY_VERSION, task_name(task),
                d.source.c_str(), n_rows, d.n_features());
    std::printf("%s search, %zu candidates, %s, scoring %s (refit %s), on %s\n", cfg.strategy.c_str(),
                candidates.size(), cfg.validation.describe().c_str(), join(cfg.scoring, ",").c_str(),
                cfg.refit.c_str(), backend->name());
    if (tracker->enabled())
      std::printf("sweep run %s%s\n", tracker->run_id().c_str(), resume_store ? " (resumed)" : "");
    std::fflush(stdout);
  }

  std::vector<Row> rows;
  std::vector<int64_t> alive(candidates.size());
  std::iota(alive.begin(), alive.end(), 0);
  int64_t trained_units = 0, reused_units = 0, chunks_run = 0;
  std::string first_error;
  try {
    for (std::size_t round = 0; round < sched.resources.size(); ++round) {
      const int64_t res = sched.resources[round];
      std::vector<std::size_t> round_rows;
      for (int64_t ci : alive) {
        Row r;
        r.candidate = ci;
        r.round = static_cast<int32_t>(round);
        r.params = candidates[ci];
        r.unit.values = cfg.fixed;
        for (const auto& [k, v] : candidates[ci]) r.unit.values[k] = v;
        r.key = candidate_key(candidates[ci]);
        if (cfg.strategy == "halving") {
          r.n_resources = res;
          if (cfg.halving_resource == "n_estimators") {
            r.unit.values["n_estimators"] = std::to_string(res);
            r.key += "|n_estimators=" + std::to_string(res);
          } else {
            r.unit.row_limit = res;
            r.key += "|rows=" + std::to_string(res);
          }
        }
        auto f = finished.find(r.key);
        if (f != finished.end()) {
          r.result = f->second;
          r.reused = true;
          ++reused_units;
        }
        round_rows.push_back(rows.size());
        rows.push_back(std::move(r));
      }
      // Chunks of the rows still to train.
      std::vector<std::size_t> pending;
      for (std::size_t i : round_rows)
        if (!rows[i].reused) pending.push_back(i);
      std::size_t chunk = rt.batch_candidates > 0 ? static_cast<std::size_t>(rt.batch_candidates)
                          : tracker->enabled()    ? std::max<std::size_t>(1, (pending.size() + 3) / 4)
                                                  : std::max<std::size_t>(1, pending.size());
      {
        // Cap by model memory: a quarter of the machine's memory.
        const double budget = 0.25 * static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
        double worst = 0;
        for (std::size_t i : pending)
          worst = std::max(worst, model_bytes(rows[i].unit, task, n_rows,
                                              task == Task::kClassification ? 2 : 1, ns));
        if (worst > 0) chunk = std::min(chunk, std::max<std::size_t>(1, static_cast<std::size_t>(budget / worst)));
      }
      const std::size_t n_chunks = (pending.size() + chunk - 1) / chunk;
      for (std::size_t c0 = 0, ci = 0; c0 < pending.size(); c0 += chunk, ++ci) {
        const std::size_t c1 = std::min(pending.size(), c0 + chunk);
        std::vector<SweepUnit> units;
        for (std::size_t i = c0; i < c1; ++i) units.push_back(rows[pending[i]].unit);
        const auto tc = Clock::now();
        std::vector<UnitResult> res_units = eng.evaluate(units, rt.json ? ProgressFn{} : progress_bar("tuning"));
        for (std::size_t i = c0; i < c1; ++i) {
          Row& r = rows[pending[i]];
          r.result = std::move(res_units[i - c0]);
          record_child(*tracker, r, task, cfg.validation.mode);
          ++trained_units;
        }
        ++chunks_run;
        if (say) {
          std::printf("%sbatch %zu/%zu: %zu candidates x %d %s trained and scored in %.2fs\n",
                      sched.resources.size() > 1 ? ("round " + std::to_string(round + 1) + ", ").c_str() : "", ci + 1,
                      n_chunks, c1 - c0, ns, cfg.validation.mode == ValidationMode::kKFold ? "folds" : "splits",
                      seconds_since(tc));
          std::fflush(stdout);
        }
      }
      if (say && pending.size() < round_rows.size())
        std::printf("%zu candidates already finished in sweep %s: not retrained\n", round_rows.size() - pending.size(),
                    tracker->run_id().c_str());
      // Successive halving: keep the best 1/factor (by the refit metric).
      if (round + 1 < sched.resources.size()) {
        std::vector<double> score;
        for (std::size_t i : round_rows)
          score.push_back(rows[i].result.ok ? metric_of(rows[i].result.mean, cfg.refit) : kNaN);
        const auto rk = rank_min(score, refit_higher);
        std::vector<std::size_t> order(round_rows.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rk[a] < rk[b]; });
        alive.clear();
        for (std::size_t k = 0; k < order.size() && static_cast<int64_t>(alive.size()) < sched.candidates[round + 1];
             ++k)
          if (rows[round_rows[order[k]]].result.ok) alive.push_back(rows[round_rows[order[k]]].candidate);
        std::sort(alive.begin(), alive.end());
        if (alive.empty()) break;
      }
    }
    bool any_ok = false;
    for (const Row& r : rows) {
      any_ok = any_ok || r.result.ok;
      if (!r.result.ok && first_error.empty()) first_error = candidate_key(r.params) + ": " + r.result.error;
    }
    if (!any_ok) throw std::runtime_error("every candidate failed; first error: " + first_error);
  } catch (const std::exception& e) {
    tracker->fail(e.what());
    throw;
  }

  // --- Ranking (halving: later rounds rank ahead of earlier ones).
  const int32_t last_round = rows.back().round;
  for (const std::string& m : cfg.scoring) {
    std::vector<double> v;
    for (const Row& r : rows) {
      const double s = r.result.ok ? metric_of(r.result.mean, m) : kNaN;
      // Offset by round so that a later round always ranks first; NaN stays last.
      v.push_back(s);
    }
    std::vector<int64_t> rk(rows.size(), 0);
    int64_t base = 0;
    for (int32_t round = last_round; round >= 0; --round) {
      std::vector<double> sub;
      std::vector<std::size_t> at;
      for (std::size_t i = 0; i < rows.size(); ++i)
        if (rows[i].round == round) sub.push_back(v[i]), at.push_back(i);
      const auto r = rank_min(sub, greater_is_better(m));
      for (std::size_t k = 0; k < at.size(); ++k) rk[at[k]] = base + r[k];
      base += static_cast<int64_t>(at.size());
    }
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i].rank[m] = rk[i];
  }
  std::size_t best = 0;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i].rank[cfg.refit] < rows[best].rank[cfg.refit]) best = i;
  const Row& b = rows[best];
  const double best_score = metric_of(b.result.mean, cfg.refit);

  // --- cv_results_.
  std::set<std::string> param_names;
  for (const Row& r : rows)
    for (const auto& [k, v] : r.params) param_names.insert(k);
  const bool halving = cfg.strategy == "halving";
  ojson res = ojson::object();
  {
    ojson params = ojson::array();
    for (const Row& r : rows) {
      ojson p = ojson::object();
      for (const auto& [k, v] : r.params) p[k] = v;
      params.push_back(p);
    }
    res["params"] = params;
    for (const std::string& name : param_names) {
      ojson col = ojson::array();
      for (const Row& r : rows) {
        auto it = r.params.find(name);
        col.push_back(it == r.params.end() ? ojson(nullptr) : ojson(it->second));
      }
      res["param_" + name] = col;
    }
    for (const std::string& m : cfg.scoring) {
      for (int32_t s = 0; s < ns; ++s) {
        ojson col = ojson::array();
        for (const Row& r : rows) col.push_back(r.result.ok ? num_or_null(metric_of(r.result.per_split[s], m)) : nullptr);
        res["split" + std::to_string(s) + "_test_" + m] = col;
      }
      ojson mean = ojson::array(), sd = ojson::array(), rk = ojson::array();
      for (const Row& r : rows) {
        mean.push_back(r.result.ok ? num_or_null(metric_of(r.result.mean, m)) : nullptr);
        sd.push_back(r.result.ok ? num_or_null(metric_of(r.result.std, m)) : nullptr);
        rk.push_back(r.rank.at(m));
      }
      res["mean_test_" + m] = mean;
      res["std_test_" + m] = sd;
      res["rank_test_" + m] = rk;
    }
    ojson mf = ojson::array(), sf = ojson::array(), msc = ojson::array(), ssc = ojson::array();
    for (const Row& r : rows) {
      mf.push_back(r.result.fit_seconds / ns);
      sf.push_back(0.0);
      double m = 0, v = 0;
      for (double x : r.result.score_seconds) m += x;
      m = r.result.score_seconds.empty() ? 0 : m / r.result.score_seconds.size();
      for (double x : r.result.score_seconds) v += (x - m) * (x - m);
      msc.push_back(m);
      ssc.push_back(r.result.score_seconds.empty() ? 0 : std::sqrt(v / r.result.score_seconds.size()));
    }
    res["mean_fit_time"] = mf;
    res["std_fit_time"] = sf;
    res["mean_score_time"] = msc;
    res["std_score_time"] = ssc;
    if (halving) {
      ojson it = ojson::array(), nr = ojson::array();
      for (const Row& r : rows) it.push_back(r.round), nr.push_back(r.n_resources);
      res["iter"] = it;
      res["n_resources"] = nr;
    }
    ojson st = ojson::array(), er = ojson::array(), ru = ojson::array();
    for (const Row& r : rows) {
      st.push_back(r.result.ok ? "ok" : "failed");
      er.push_back(r.result.error);
      ru.push_back(r.reused);
    }
    res["status"] = st;
    res["error"] = er;
    res["reused"] = ru;
  }

  std::string results_artifact;
  if (!rt.results_path.empty()) {
    std::string lp = rt.results_path;
    for (char& c : lp) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool is_json = lp.size() >= 5 && lp.compare(lp.size() - 5, 5, ".json") == 0;
    const bool is_csv = lp.size() >= 4 && lp.compare(lp.size() - 4, 4, ".csv") == 0;
    if (!is_json && !is_csv) throw ParamError("--results " + rt.results_path + ": expected a .csv or .json file");
    if (is_json) {
      write_atomic(rt.results_path, res.dump(2) + "\n");
    } else {
      std::vector<std::string> cols;
      for (auto it = res.begin(); it != res.end(); ++it) cols.push_back(it.key());
      std::string text;
      for (std::size_t c = 0; c < cols.size(); ++c) text += (c ? "," : "") + csv_field(cols[c]);
      text += "\n";
      for (std::size_t i = 0; i < rows.size(); ++i) {
        for (std::size_t c = 0; c < cols.size(); ++c) {
          const ojson& v = res[cols[c]][i];
          std::string f;
          if (v.is_null()) f = cols[c].rfind("param_", 0) == 0 ? "" : "NaN";
          else if (v.is_string()) f = v.get<std::string>();
          else if (v.is_boolean()) f = v.get<bool>() ? "True" : "False";
          else if (v.is_number_float()) f = csv_number(v.get<double>());
          else if (v.is_object()) f = v.dump();
          else f = v.dump();
          text += (c ? "," : "") + csv_field(f);
        }
        text += "\n";
      }
      write_atomic(rt.results_path, text);
    }
    results_artifact = rt.results_path;
  }

  // --- Refit the best candidate on every row.
  std::string model_path = rt.out_path;
  std::string tmp_model;
  double refit_seconds = 0;
  if (rt.refit && (!rt.out_path.empty() || tracker->enabled())) {
    if (model_path.empty()) {
      tmp_model = (std::filesystem::temp_directory_path() /
                   ("canopy-tune-" + std::to_string(getpid()) + "-model.h5")).string();
      model_path = tmp_model;
    }
    const auto tr = Clock::now();
    try {
      const TrainingData* td = nullptr;
      SweepUnit u = b.unit;
      u.row_limit = 0;
      TrainedForest f = eng.refit(u, &td);
      ParamValues v = u.values;
      if (cfg.validation.mode == ValidationMode::kOob) v["oob_score"] = "true";
      Model model = make_model(*td, std::move(f), effective_params(v, task));
      save_model(model, model_path);
    } catch (const std::exception& e) {
      tracker->fail(std::string("refit failed: ") + e.what());
      throw;
    }
    refit_seconds = seconds_since(tr);
  }

  // --- Parent run: best params and scores, artifacts.
  if (tracker->enabled()) {
    MetricList best_metrics;
    for (const std::string& m : cfg.scoring) best_metrics.push_back({"best_" + m, metric_of(b.result.mean, m)});
    best_metrics.push_back({"best_score", best_score});
    best_metrics.push_back({"n_failed", 0});
    for (const Row& r : rows) best_metrics.back().second += r.result.ok ? 0 : 1;
    tracker->log_metrics(best_metrics);
    std::map<std::string, std::string> bp;
    for (const auto& [k, v] : b.unit.values) bp["best." + k] = v;
    tracker->log_params(bp);
    ojson bj = ojson::object();
    for (const auto& [k, v] : b.params) bj[k] = v;
    tracker->set_tags({{"canopy.best_params", bj.dump()},
                       {"canopy.best_candidate_key", b.key},
                       {"canopy.sweep.trained_last_session", std::to_string(trained_units)},
                       {"canopy.sweep.reused_last_session", std::to_string(reused_units)}});
    const std::string rdir = (std::filesystem::temp_directory_path() /
                              ("canopy-tune-" + std::to_string(getpid()) + "-results")).string();
    std::filesystem::create_directories(rdir);
    const std::string rfile = rdir + "/cv_results.json";
    write_atomic(rfile, res.dump(2) + "\n");
    tracker->log_artifact(rfile, "");
    if (!results_artifact.empty()) tracker->log_artifact(results_artifact, "results");
    if (!model_path.empty() && std::filesystem::exists(model_path)) tracker->log_artifact(model_path, "model");
    std::filesystem::remove_all(rdir);
    tracker->finish();
  }
  if (!tmp_model.empty()) std::filesystem::remove(tmp_model);

  // --- Report.
  const double total = seconds_since(t_start);
  if (rt.json) {
    ojson j;
    j["task"] = task_name(task);
    j["strategy"] = cfg.strategy;
    j["validation"] = cfg.validation.describe();
    j["scoring"] = cfg.scoring;
    j["refit_metric"] = cfg.refit;
    j["n_candidates"] = candidates.size();
    j["best_index"] = best;
    ojson bp = ojson::object();
    for (const auto& [k, v] : b.params) bp[k] = v;
    if (halving) bp[cfg.halving_resource == "rows" ? "n_resources" : "n_estimators"] = std::to_string(b.n_resources);
    j["best_params"] = bp;
    j["best_score"] = num_or_null(best_score);
    j["trained"] = trained_units;
    j["reused"] = reused_units;
    j["batches"] = chunks_run;
    j["device"] = backend->name();
    if (tracker->enabled()) j["sweep_run_id"] = tracker->run_id(), j["tracking_uri"] = tracker->uri();
    if (!rt.out_path.empty()) j["model"] = rt.out_path;
    if (!rt.results_path.empty()) j["results_file"] = rt.results_path;
    j["timing"] = {{"total_s", total}, {"train_s", eng.train_seconds()}, {"refit_s", refit_seconds}};
    j["trees_trained"] = eng.trees_trained();
    j["results"] = res;
    std::cout << j.dump() << "\n";
    return 0;
  }
  // Table: rank order.
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t c) { return rows[a].rank.at(cfg.refit) < rows[c].rank.at(cfg.refit); });
  std::vector<std::string> head = {"rank"};
  for (const std::string& p : param_names) head.push_back(p);
  if (halving) head.push_back(cfg.halving_resource == "rows" ? "rows" : "trees");
  for (const std::string& m : cfg.scoring) head.push_back(m + " (mean +/- std)");
  head.push_back("fit s");
  head.push_back("status");
  std::vector<std::vector<std::string>> cells;
  for (std::size_t i : order) {
    const Row& r = rows[i];
    std::vector<std::string> line = {std::to_string(r.rank.at(cfg.refit))};
    for (const std::string& p : param_names) {
      auto it = r.params.find(p);
      line.push_back(it == r.params.end() ? "-" : it->second);
    }
    if (halving) line.push_back(std::to_string(r.n_resources));
    for (const std::string& m : cfg.scoring)
      line.push_back(r.result.ok ? fmt(metric_of(r.result.mean, m)) + " +/- " + fmt(metric_of(r.result.std, m))
                                 : "nan");
    line.push_back(r.result.ok ? fmt(r.result.fit_seconds, "%.2f") : "-");
    line.push_back(r.result.ok ? (r.reused ? "ok (resumed)" : "ok") : "failed: " + r.result.error);
    cells.push_back(line);
  }
  std::vector<std::size_t> width(head.size());
  for (std::size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& l : cells)
      if (c + 1 < head.size()) width[c] = std::max(width[c], l[c].size());
  }
  auto print_line = [&](const std::vector<std::string>& l) {
    std::string s;
    for (std::size_t c = 0; c < l.size(); ++c)
      s += (c ? "  " : "") + (c + 1 < l.size() ? l[c] + std::string(width[c] - l[c].size(), ' ') : l[c]);
    std::printf("%s\n", s.c_str());
  };
  std::printf("\n");
  print_line(head);
  for (const auto& l : cells) print_line(l);
  std::printf("\nbest %s %.4f with %s\n", cfg.refit.c_str(), best_score, candidate_key(b.params).c_str());
  std::printf("%lld trees trained in %.2fs (%lld candidates trained, %lld reused); total %.2fs\n",
              static_cast<long long>(eng.trees_trained()), eng.train_seconds(), static_cast<long long>(trained_units),
              static_cast<long long>(reused_units), total);
  if (!rt.results_path.empty()) std::printf("results written to %s\n", rt.results_path.c_str());
  if (!rt.out_path.empty()) std::printf("refitted model saved to %s\n", rt.out_path.c_str());
  if (tracker->enabled()) std::printf("sweep run %s in %s\n", tracker->run_id().c_str(), tracker->uri().c_str());
  return 0;
}

}  // namespace canopy
