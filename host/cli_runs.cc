#include "host/cli_runs.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "tracking/filter.h"
#include "tracking/mlflow_client.h"
#include "tracking/sqlite_store.h"
#include "tracking/store_factory.h"
#include "tracking/sync.h"

namespace canopy {
namespace {

using namespace tracking;
using nlohmann::ordered_json;

struct State {
  CLI::App* runs = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* compare = nullptr;
  CLI::App* sync = nullptr;
  CLI::App* experiments = nullptr;
  CLI::App* exp_list = nullptr;
  CLI::App* exp_create = nullptr;
  std::string uri;
  std::string experiment, filter, order_by, to, from, name;
  int64_t max_results = 1000;
  bool json = false;
  std::string run_id;
  std::vector<std::string> run_ids;
};

std::unique_ptr<State>& state() {
  static std::unique_ptr<State> s;
  return s;
}

std::string format_time(int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string format_duration(const RunInfo& i) {
  if (i.end_time <= 0 || i.end_time < i.start_time) return "-";
  const double s = (i.end_time - i.start_time) / 1000.0;
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  return buf;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

ordered_json number(double v) { return std::isfinite(v) ? ordered_json(v) : ordered_json(format_value(v)); }

ordered_json info_json(const RunInfo& i) {
  ordered_json j;
  j["run_id"] = i.run_id;
  j["run_name"] = i.run_name;
  j["experiment_id"] = i.experiment_id;
  j["status"] = status_name(i.status);
  j["start_time"] = i.start_time;
  j["end_time"] = i.end_time > 0 ? ordered_json(i.end_time) : ordered_json(nullptr);
  j["user_id"] = i.user_id;
  j["artifact_uri"] = i.artifact_uri;
  j["lifecycle_stage"] = i.lifecycle_stage;
  return j;
}

ordered_json run_json(const Run& r) {
  ordered_json j;
  j["info"] = info_json(r.info);
  ordered_json d;
  d["params"] = ordered_json::object();
  for (const auto& [k, v] : r.params) d["params"][k] = v;
  d["metrics"] = ordered_json::object();
  for (const auto& [k, m] : r.metrics)
    d["metrics"][k] = {{"value", number(m.value)}, {"step", m.step}, {"timestamp", m.timestamp}};
  d["tags"] = ordered_json::object();
  for (const auto& [k, v] : r.tags) d["tags"][k] = v;
  j["data"] = d;
  return j;
}

// Prints rows as left-aligned columns.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], r[c].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      std::string cell = r[c];
      if (c + 1 < r.size()) cell.resize(width[c] + 2, ' ');
      line += cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
}

std::string experiment_id_for(RunStore& store, const std::string& name) {
  auto e = store.get_experiment_by_name(name);
  if (!e) throw NotFoundError("no experiment named '" + name + "' in " + store.uri());
  return e->experiment_id;
}

int cmd_list(State& s) {
  auto store = open_store(s.uri);
  std::vector<std::string> ids;
  if (!s.experiment.empty()) ids.push_back(experiment_id_for(*store, s.experiment));
  const std::vector<std::string> order = split_order_by(s.order_by);
  std::vector<Run> runs = store->search_runs(ids, s.filter, order, s.max_results);
  if (s.json) {
    ordered_json a = ordered_json::array();
    for (const Run& r : runs) a.push_back(run_json(r));
    std::cout << a.dump() << "\n";
    return 0;
  }
  // Metric columns: those named in the filter and order-by, else a few common ones.
  std::vector<std::string> cols;
  auto add_col = [&](const std::string& k) {
    if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
  };
  for (const Comparison& c : Filter::parse(s.filter).clauses())
    if (c.type == EntityType::kMetric) add_col(c.key);
  for (const OrderKey& k : parse_order_by(order))
    if (k.type == EntityType::kMetric) add_col(k.key);
  if (cols.empty()) {
    std::map<std::string, int> seen;
    for (const Run& r : runs)
      for (const auto& kv : r.metrics)
        if (kv.first.rfind("system/", 0) != 0) ++seen[kv.first];
    for (const auto& kv : seen)
      if (cols.size() < 4) add_col(kv.first);
  }
  std::map<std::string, std::string> exp_names;
  for (const Experiment& e : store->list_experiments()) exp_names[e.experiment_id] = e.name;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head{"RUN ID", "EXPERIMENT", "NAME", "STATUS", "STARTED", "DURATION"};
  for (const auto& c : cols) head.push_back(c);
  rows.push_back(head);
  for (const Run& r : runs) {
    auto en = exp_names.find(r.info.experiment_id);
    std::vector<std::string> row{r.info.run_id, en != exp_names.end() ? en->second : r.info.experiment_id,
                                 r.info.run_name, status_name(r.info.status), format_time(r.info.start_time),
                                 format_duration(r.info)};
    for (const auto& c : cols) {
      auto m = r.metrics.find(c);
      row.push_back(m == r.metrics.end() ? "-" : format_value(m->second.value));
    }
    rows.push_back(row);
  }
  if (runs.empty()) {
    std::printf("no runs in %s%s\n", store->uri().c_str(), s.filter.empty() ? "" : " match the filter");
    return 0;
  }
  print_table(rows);
  return 0;
}

int cmd_show(State& s) {
  auto store = open_store(s.uri);
  const Run r = store->get_run(s.run_id);
  std::vector<FileInfo> artifacts;
  try {
    artifacts = store->list_all_artifacts(r.info.run_id);
  } catch (const std::exception&) {
  }
  std::map<std::string, std::vector<Metric>> histories;
  for (const auto& kv : r.metrics) histories[kv.first] = store->get_metric_history(r.info.run_id, kv.first);
  std::string exp_name = r.info.experiment_id;
  try {
    exp_name = store->get_experiment(r.info.experiment_id).name;
  } catch (const std::exception&) {
  }
  if (s.json) {
    ordered_json j = run_json(r);
    j["info"]["experiment_name"] = exp_name;
    ordered_json h = ordered_json::object();
    for (const auto& [k, pts] : histories) {
      ordered_json a = ordered_json::array();
      for (const Metric& m : pts) a.push_back({{"step", m.step}, {"value", number(m.value)}, {"timestamp", m.timestamp}});
      h[k] = a;
    }
    j["metric_history"] = h;
    ordered_json a = ordered_json::array();
    for (const FileInfo& f : artifacts) a.push_back({{"path", f.path}, {"file_size", f.file_size}});
    j["artifacts"] = a;
    std::cout << j.dump() << "\n";
    return 0;
  }
  const RunInfo& i = r.info;
  std::printf("run %s (%s)\n", i.run_id.c_str(), i.run_name.c_str());
  print_table({{"  experiment", exp_name + " (" + i.experiment_id + ")"},
               {"  status", status_name(i.status)},
               {"  started", format_time(i.start_time)},
               {"  ended", format_time(i.end_time)},
               {"  duration", format_duration(i)},
               {"  user", i.user_id},
               {"  artifacts", i.artifact_uri}});
  auto parent = r.tags.find(kTagParentRunId);
  if (parent != r.tags.end()) std::printf("  parent run   %s\n", parent->second.c_str());
  std::printf("params:\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : r.params) rows.push_back({"  " + k, v});
  print_table(rows);
  std::printf("metrics:\n");
  rows.clear();
  for (const auto& [k, m] : r.metrics) {
    const auto& h = histories[k];
    std::string extra = "step " + std::to_string(m.step);
    if (h.size() > 1)
      extra = std::to_string(h.size()) + " points, steps " + std::to_string(h.front().step) + ".." +
              std::to_string(h.back().step);
    rows.push_back({"  " + k, format_value(m.value), "(" + extra + ")"});
  }
  print_table(rows);
  std::printf("tags:\n");
  rows.clear();
  for (const auto& [k, v] : r.tags) rows.push_back({"  " + k, v});
  print_table(rows);
  if (!artifacts.empty()) {
    std::printf("artifacts:\n");
    rows.clear();
    for (const FileInfo& f : artifacts) rows.push_back({"  " + f.path, std::to_string(f.file_size) + " bytes"});
    print_table(rows);
  }
  return 0;
}

int cmd_compare(State& s) {
  auto store = open_store(s.uri);
  std::vector<Run> runs;
  for (const std::string& id : s.run_ids) runs.push_back(store->get_run(id));
  std::set<std::string> pkeys, mkeys;
  for (const Run& r : runs) {
    for (const auto& kv : r.params) pkeys.insert(kv.first);
    for (const auto& kv : r.metrics) mkeys.insert(kv.first);
  }
  auto param_of = [](const Run& r, const std::string& k) -> std::optional<std::string> {
    auto it = r.params.find(k);
    if (it == r.params.end()) return std::nullopt;
    return it->second;
  };
  auto metric_of = [](const Run& r, const std::string& k) -> std::optional<std::string> {
    auto it = r.metrics.find(k);
    if (it == r.metrics.end()) return std::nullopt;
    return format_value(it->second.value);
  };
  auto differs = [&](const std::string& k, auto get) {
    std::optional<std::string> first = get(runs[0], k);
    for (const Run& r : runs)
      if (get(r, k) != first) return true;
    return false;
  };
  if (s.json) {
    ordered_json j;
    j["runs"] = ordered_json::array();
    for (const Run& r : runs) j["runs"].push_back({{"run_id", r.info.run_id}, {"run_name", r.info.run_name},
                                                   {"status", status_name(r.info.status)}});
    auto section = [&](const std::set<std::string>& keys, auto get, bool numeric) {
      ordered_json o = ordered_json::object();
      for (const auto& k : keys) {
        ordered_json vals = ordered_json::array();
        for (const Run& r : runs) {
          if (numeric) {
            auto it = r.metrics.find(k);
            vals.push_back(it == r.metrics.end() ? ordered_json(nullptr) : number(it->second.value));
          } else {
            auto v = get(r, k);
            vals.push_back(v ? ordered_json(*v) : ordered_json(nullptr));
          }
        }
        o[k] = {{"values", vals}, {"differs", differs(k, get)}};
      }
      return o;
    };
    j["params"] = section(pkeys, param_of, false);
    j["metrics"] = section(mkeys, metric_of, true);
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head{"", ""}, names{"", ""};
  for (const Run& r : runs) {
    head.push_back(r.info.run_id.substr(0, 12));
    names.push_back(r.info.run_name);
  }
  rows.push_back(head);
  rows.push_back(names);
  auto section = [&](const char* title, const std::set<std::string>& keys, auto get) {
    rows.push_back({title});
    for (const auto& k : keys) {
      std::vector<std::string> row{differs(k, get) ? "*" : "", k};
      for (const Run& r : runs) {
        auto v = get(r, k);
        row.push_back(v ? *v : "-");
      }
      rows.push_back(row);
    }
  };
  section("params", pkeys, param_of);
  section("metrics", mkeys, metric_of);
  print_table(rows);
  std::printf("(* marks values that differ)\n");
  return 0;
}

int cmd_sync(State& s) {
  if (!is_remote_uri(s.to))
    throw TrackingError("--to must be an MLflow server URL (http://HOST:PORT), not \"" + s.to + "\"");
  std::string from_uri = s.from;
  if (from_uri.empty()) {
    const std::string env = resolve_tracking_uri("");
    from_uri = is_remote_uri(env) ? default_local_uri() : env;
  }
  if (!is_sqlite_uri(from_uri)) throw TrackingError("--from must be a SQLite store (sqlite:///PATH)");
  SqliteStore from(sqlite_path_from_uri(from_uri));
  MlflowClient to(s.to);
  SyncOptions o;
  o.experiment = s.experiment;
  o.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  SyncResult r = sync_runs(from, to, o);
  std::printf("synced %s to %s: %d created, %d updated, %d unchanged, %d failed\n", from.uri().c_str(),
              s.to.c_str(), r.created, r.updated, r.unchanged, r.failed);
  for (const auto& e : r.errors) std::fprintf(stderr, "canopy: error: %s\n", e.c_str());
  return r.failed ? 1 : 0;
}

int cmd_exp_list(State& s) {
  auto store = open_store(s.uri);
  auto exps = store->list_experiments();
  if (s.json) {
    ordered_json a = ordered_json::array();
    for (const Experiment& e : exps)
      a.push_back({{"experiment_id", e.experiment_id},
                   {"name", e.name},
                   {"artifact_location", e.artifact_location},
                   {"lifecycle_stage", e.lifecycle_stage},
                   {"creation_time", e.creation_time}});
    std::cout << a.dump() << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"ID", "NAME", "ARTIFACT LOCATION"}};
  for (const Experiment& e : exps) rows.push_back({e.experiment_id, e.name, e.artifact_location});
  print_table(rows);
  return 0;
}

int cmd_exp_create(State& s) {
  auto store = open_store(s.uri);
  const std::string id = store->create_experiment(s.name);
  std::printf("created experiment '%s' with id %s in %s\n", s.name.c_str(), id.c_str(), store->uri().c_str());
  return 0;
}

}  // namespace

void add_tracking_commands(CLI::App& app) {
  state() = std::make_unique<State>();
  State& s = *state();
  auto uri_opt = [&s](CLI::App* c) {
    c->add_option("--tracking-uri", s.uri, "run store: sqlite:///PATH or http://HOST:PORT (default ./canopy.db)");
  };
  s.runs = app.add_subcommand("runs", "list, show, compare and sync recorded runs");
  s.runs->require_subcommand(1);
  s.list = s.runs->add_subcommand("list", "list runs (MLflow search syntax)");
  s.list->add_option("--experiment", s.experiment, "only runs of this experiment");
  s.list->add_option("--filter", s.filter, "e.g. \"metrics.r2 > 0.4 and params.max_depth = '8'\"");
  s.list->add_option("--order-by", s.order_by, "e.g. \"metrics.r2 DESC, attributes.start_time DESC\"");
  s.list->add_option("--max-results", s.max_results, "at most this many runs")->capture_default_str();
  s.list->add_flag("--json", s.json, "print JSON");
  uri_opt(s.list);
  s.show = s.runs->add_subcommand("show", "show one run: params, metrics, tags, artifacts");
  s.show->add_option("run_id", s.run_id, "run id")->required();
  s.show->add_flag("--json", s.json, "print JSON");
  uri_opt(s.show);
  s.compare = s.runs->add_subcommand("compare", "params and metrics of runs side by side (* marks differences)");
  s.compare->add_option("run_ids", s.run_ids, "two or more run ids")->required()->expected(2, -1);
  s.compare->add_flag("--json", s.json, "print JSON");
  uri_opt(s.compare);
  s.sync = s.runs->add_subcommand("sync", "push local runs to an MLflow tracking server (idempotent)");
  s.sync->add_option("--to", s.to, "MLflow server, http://HOST:PORT")->required();
  s.sync->add_option("--experiment", s.experiment, "only runs of this experiment");
  s.sync->add_option("--from", s.from, "local store (default: $CANOPY_TRACKING_URI or ./canopy.db)");
  s.experiments = app.add_subcommand("experiments", "list or create experiments");
  s.experiments->require_subcommand(1);
  s.exp_list = s.experiments->add_subcommand("list", "list experiments");
  s.exp_list->add_flag("--json", s.json, "print JSON");
  uri_opt(s.exp_list);
  s.exp_create = s.experiments->add_subcommand("create", "create an experiment");
  s.exp_create->add_option("name", s.name, "experiment name")->required();
  uri_opt(s.exp_create);
}

bool run_tracking_commands(CLI::App& app, int& exit_code) {
  (void)app;
  State* s = state().get();
  if (!s || !(s->runs->parsed() || s->experiments->parsed())) return false;
  try {
    if (s->list->parsed()) exit_code = cmd_list(*s);
    else if (s->show->parsed()) exit_code = cmd_show(*s);
    else if (s->compare->parsed()) exit_code = cmd_compare(*s);
    else if (s->sync->parsed()) exit_code = cmd_sync(*s);
    else if (s->exp_list->parsed()) exit_code = cmd_exp_list(*s);
    else if (s->exp_create->parsed()) exit_code = cmd_exp_create(*s);
    else exit_code = 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "canopy: error: %s\n", e.what());
    exit_code = 1;
  }
  return true;
}

}  // namespace canopy
