#include "host/cli_tune.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <memory>
#include <sstream>

#include "host/cli_common.h"
#include "host/run_recorder.h"
#include "host/search.h"
#include "host/tune.h"

namespace canopy {
namespace {

struct TuneArgs {
  DataArgs data;
  ParamArgs params;
  std::vector<std::string> grid;
  std::string sweep, strategy = "grid", scoring, refit, results, out, resume, halving_resource = "n_estimators";
  int64_t n_iter = 10, min_resources = 0, batch_candidates = 0, shuffle_seed = -1;
  int32_t folds = 5;
  double holdout = 0, halving_factor = 3;
  bool oob = false, json = false, no_refit = false;
  CLI::App* cmd = nullptr;
  bool given(const char* flag) const { return cmd->count(flag) > 0; }
};

// The command line of this process, for the run's canopy.command tag.
std::string own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string raw = ss.str();
  std::vector<std::string> args;
  std::string cur;
  for (char c : raw) {
    if (c == '\0') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) args.push_back(cur);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return command_line_string(static_cast<int>(argv.size()), argv.data());
}

int cmd_tune(TuneArgs& a) {
  TuneConfig cfg;
  // 1. A sweep file, then 2. flags given on the command line override it.
  if (!a.sweep.empty()) cfg.apply_sweep_file(read_sweep_file(a.sweep));
  if (!a.data.path.empty()) cfg.data_path = a.data.path;
  if (!a.data.label.empty()) cfg.label = a.data.label;
  cfg.features = a.data.features;
  cfg.weight_column = a.data.weight_column;
  if (a.given("--task")) cfg.task = a.params.task;
  if (!a.grid.empty()) {
    if (!a.sweep.empty() && !cfg.space.empty())
      throw ParamError("give the grid either with --grid or in the sweep file, not both");
    cfg.space.grids = {parse_grid_flags(a.grid)};
  }
  for (const auto& [k, v] : a.params.collect()) {
    if (k == "threads") continue;  // a runtime setting, not a model parameter
    cfg.fixed[k] = v;
  }
  if (a.given("--strategy")) cfg.strategy = a.strategy;
  if (a.given("--n-iter")) cfg.n_iter = a.n_iter;
  if (a.given("--folds")) cfg.validation.folds = a.folds;
  if (a.given("--shuffle-seed")) {
    cfg.validation.shuffle = a.shuffle_seed >= 0;
    cfg.validation.shuffle_seed = a.shuffle_seed >= 0 ? static_cast<uint64_t>(a.shuffle_seed) : 0;
  }
  // Random search is seeded by --seed (the forest seed) unless the sweep file has its own.
  if (a.sweep.empty() || cfg.search_seed == 0) {
    auto s = cfg.fixed.find("seed");
    if (s != cfg.fixed.end()) cfg.search_seed = std::strtoull(s->second.c_str(), nullptr, 10);
    else if (cfg.validation.shuffle) cfg.search_seed = cfg.validation.shuffle_seed;
  }
  const int modes = (a.given("--holdout") ? 1 : 0) + (a.oob ? 1 : 0);
  if (modes > 1) throw ParamError("choose one of --holdout and --oob");
  if (a.given("--holdout")) {
    cfg.validation.mode = ValidationMode::kHoldout;
    cfg.validation.holdout = a.holdout;
  }
  if (a.oob) cfg.validation.mode = ValidationMode::kOob;
  if (a.given("--scoring")) {
    cfg.scoring.clear();
    for (const std::string& s : split_top_level(a.scoring, ','))
      if (!s.empty()) cfg.scoring.push_back(s);
  }
  if (a.given("--refit")) cfg.refit = a.refit;
  if (a.given("--halving-factor")) cfg.halving_factor = a.halving_factor;
  if (a.given("--halving-resource")) cfg.halving_resource = a.halving_resource;
  if (a.given("--min-resources")) cfg.min_resources = a.min_resources;

  TuneRuntime rt;
  rt.results_path = a.results;
  rt.out_path = a.out;
  rt.device = a.params.device;
  auto th = a.params.raw.find("threads");
  if (th != a.params.raw.end() && !th->second.empty()) rt.threads = std::stoi(th->second);
  rt.json = a.json;
  rt.refit = !a.no_refit;
  rt.batch_candidates = a.batch_candidates;
  rt.tracking = !a.params.no_tracking;
  rt.tracking_uri = a.params.tracking_uri;
  rt.experiment = a.params.experiment;
  rt.resume_run_id = a.resume;
  rt.command_line = own_command_line();
  if (!a.resume.empty() && (!a.grid.empty() || !a.sweep.empty()))
    throw ParamError("--resume continues a recorded sweep: do not give --grid or --sweep with it");
  return run_tune(cfg, rt);
}

}  // namespace

CLI::App* add_tune_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<TuneArgs>();
  auto* c = app.add_subcommand("tune", "hyperparameter search with cross-validation (grid, random, halving)");
  a->cmd = c;
  a->data.add(c, false);
  a->params.add(c);
  c->add_option("--grid", a->grid,
                "searched parameter: PARAM=V1,V2,... or PARAM=uniform(a,b)|loguniform(a,b)|int(a,b) (repeatable)");
  c->add_option("--sweep", a->sweep, "sweep file (.yaml, .yml or .json): grid(s), strategy, validation, scoring");
  c->add_option("--strategy", a->strategy, "grid, random or halving")->capture_default_str();
  c->add_option("--n-iter", a->n_iter, "candidates sampled by random search")->capture_default_str();
  c->add_option("--folds", a->folds, "k of k-fold cross-validation (stratified for classification)")
      ->capture_default_str();
  c->add_option("--shuffle-seed", a->shuffle_seed, "shuffle rows with this seed before making folds / the holdout");
  c->add_option("--holdout", a->holdout, "validate on one held-out fraction of the rows instead of k folds");
  c->add_flag("--oob", a->oob, "validate on out-of-bag predictions (no per-fold refits)");
  c->add_option("--scoring", a->scoring, "metrics to report, comma-separated (default accuracy or r2)");
  c->add_option("--refit", a->refit, "metric choosing the best candidate (default: the first scoring metric)");
  c->add_option("--results", a->results, "write scikit-learn style cv_results to FILE.csv or FILE.json");
  c->add_option("--out", a->out, "save the best candidate refitted on all rows (HDF5 model)");
  c->add_flag("--no-refit", a->no_refit, "do not refit the best candidate");
  c->add_option("--resume", a->resume, "continue the sweep recorded as run SWEEP_RUN_ID");
  c->add_option("--halving-factor", a->halving_factor, "successive halving: keep 1/factor per round")
      ->capture_default_str();
  c->add_option("--halving-resource", a->halving_resource, "successive halving resource: n_estimators or rows")
      ->capture_default_str();
  c->add_option("--min-resources", a->min_resources, "successive halving: resource of the first round (default: "
                                                     "exhaust)");
  c->add_option("--batch-candidates", a->batch_candidates,
                "candidates per training batch (default: a quarter of the sweep when tracking, else all)");
  c->add_flag("--json", a->json, "print one JSON object on stdout");
  c->callback([a, &exit_code]() {
    exit_code = cmd_tune(*a);
    throw CLI::RuntimeError(exit_code);
  });
  return c;
}

}  // namespace canopy
