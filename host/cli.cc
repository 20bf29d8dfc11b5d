#include "host/cli.h"

#include <canopy/version.h>
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <cstdio>
#include <iostream>

#include "host/cli_bench.h"
#include "host/cli_common.h"
#include "host/cli_runs.h"
#include "host/cli_tune.h"
#include "host/metrics.h"
#include "host/run_recorder.h"
#include "host/model_ops.h"
#include "host/params.h"
#include "host/training_data.h"
#include "io/data_source.h"
#include "io/hdf5_data.h"
#include "io/inspect.h"
#include "io/model_file.h"
#include "io/model_json.h"
#include "io/predictions.h"
#include "io/synth.h"
#include "kernels/device.h"
#include "kernels/gpu_metrics.h"

namespace canopy {
namespace {

std::string g_command_line;  // for the canopy.command tag

// Starts the run record of a command (a no-op recorder under --no-tracking).
std::unique_ptr<RunRecorder> start_run(const ParamArgs& pa) {
  RunOptions ro;
  ro.enabled = !pa.no_tracking;
  ro.tracking_uri = pa.tracking_uri;
  ro.experiment = pa.experiment;
  ro.command_line = g_command_line;
  return std::make_unique<RunRecorder>(ro);
}

// Tags and parameters every training run records; system metrics (with the
// GPU's through NVML when training on one) sampled while it runs.
void record_setup(RunRecorder& rec, const DataArgs& da, const ParamArgs& pa, const TrainingData& td,
                  const ParamValues& values, const TreeBackend& backend, const char* command) {
  if (!rec.enabled()) return;
  rec.set_tags({{"canopy.command_name", command},
                {"canopy.dataset.path", da.path},
                {"canopy.dataset.fingerprint", td.fingerprint},
                {"canopy.dataset.rows", std::to_string(td.n_rows())},
                {"canopy.dataset.features", std::to_string(td.n_features())},
                {"canopy.label", td.dataset->label_name},
                {"canopy.task", task_name(td.task)},
                {"canopy.device", backend.name()}});
  if (std::string(backend.name()) == "cuda")
    rec.set_tag("canopy.cuda_tuning", describe_cuda_tuning(cuda_tuning_from_environment()));
  rec.log_params(effective_params(values, td.task));
  GpuMetricSource gpu;
  if (std::string(backend.name()) == "cuda") gpu = make_nvml_source(select_device(pa.device).device_index);
  rec.start_system_metrics(5, gpu);
}

// Writes one artifact file into dir and attaches it to the run.
void attach_text(RunRecorder& rec, const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  rec.log_artifact(path);
}

std::string importances_csv(const Model& m) {
  std::string s = "feature,importance\n";
  char buf[64];
  for (std::size_t f = 0; f < m.feature_names.size(); ++f) {
    std::snprintf(buf, sizeof buf, "%.17g", m.feature_importances[f]);
    s += "\"" + m.feature_names[f] + "\"," + buf + "\n";
  }
  return s;
}

std::string confusion_csv(const std::vector<std::vector<int64_t>>& cm, const std::vector<std::string>& labels) {
  std::string s = "true\\predicted";
  for (const auto& l : labels) s += ",\"" + l + "\"";
  s += "\n";
  for (std::size_t i = 0; i < cm.size(); ++i) {
    s += "\"" + labels[i] + "\"";
    for (int64_t v : cm[i]) s += "," + std::to_string(v);
    s += "\n";
  }
  return s;
}

// Model file, metrics JSON, importances and (classification) the confusion
// matrix of the training predictions, attached to the run.
void record_artifacts(RunRecorder& rec, const std::string& model_path, const Model& m,
                      const nlohmann::ordered_json& metrics) {
  if (!rec.enabled()) return;
  rec.log_artifact(model_path, "model");
  char tmpl[] = "/tmp/canopy_artifacts_XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("cannot create a temporary folder for run artifacts");
  const std::string dir = tmpl;
  attach_text(rec, dir, "metrics.json", metrics.dump(2) + "\n");
  attach_text(rec, dir, "feature_importances.csv", importances_csv(m));
  if (metrics.contains("confusion_matrix"))
    attach_text(rec, dir, "confusion_matrix.csv",
                confusion_csv(metrics["confusion_matrix"].get<std::vector<std::vector<int64_t>>>(), m.class_labels));
  std::filesystem::remove_all(dir);
}

void log_cv(RunRecorder& rec, const CvResult& cv) {
  for (std::size_t f = 0; f < cv.per_fold.size(); ++f)
    rec.log_metrics(cv.per_fold[f], "cv_fold_", static_cast<int64_t>(f));
  rec.log_metrics(cv.mean, "cv_mean_");
  rec.log_metrics(cv.std, "cv_std_");
}

// What train and cv share before training: the data read and binned, the
// parameters resolved for its task, the backend chosen.
struct Prepared {
  std::unique_ptr<Dataset> data;  // TrainingData points into it
  ParamValues values;
  Task task = Task::kClassification;
  ForestParams params;
  std::unique_ptr<TreeBackend> backend;
  TrainingData td;
  double load_s = 0, bin_s = 0;
};

Prepared prepare(const DataArgs& da, const ParamArgs& pa) {
  Prepared r;
  const auto t0 = Clock::now();
  r.data = std::make_unique<Dataset>(da.read(true));
  r.load_s = seconds_since(t0);
  r.values = pa.collect();
  r.task = pa.resolve_task(*r.data);
  r.params = resolve_params(r.values, r.task);
  set_threads(r.params.threads);
  r.backend = make_backend(pa.device);
  const auto t1 = Clock::now();
  r.td = prepare_training_data(*r.data, pa.task_choice(), r.params.max_bins, r.backend.get());
  (void)r.params.features_per_node(r.task, static_cast<int32_t>(r.td.n_features()));  // validates max_features
  r.bin_s = seconds_since(t1);
  return r;
}

struct TrainArgs {
  DataArgs data;
  ParamArgs params;
  std::string out;
  int32_t cv_folds = 0;
  uint64_t shuffle_seed = 0;
  bool shuffle = false, json = false;
};

int cmd_train(TrainArgs& a) {
  auto rec = start_run(a.params);
  try {
    Prepared prep = prepare(a.data, a.params);
    const Dataset& d = *prep.data;
    const ParamValues& values = prep.values;
    const Task task = prep.task;
    const ForestParams& p = prep.params;
    const TreeBackend* backend = prep.backend.get();
    const TrainingData& td = prep.td;
    const double t_load = prep.load_s, t_bin = prep.bin_s;
    record_setup(*rec, a.data, a.params, td, values, *backend, "train");

    std::vector<ForestRequest> requests;
    std::vector<int32_t> folds;
    FoldOptions fo;
    if (a.cv_folds > 0) {
      fo.folds = a.cv_folds;
      fo.shuffle = a.shuffle;
      fo.shuffle_seed = a.shuffle_seed;
      folds = assign_folds(td.n_rows(), fo, task == Task::kClassification ? &td.class_id : nullptr);
      requests = fold_requests(p, folds, fo.folds);  // trained in the same batch as the full forest
    }
    requests.push_back(ForestRequest{p, {}});
    const auto t2 = Clock::now();
    auto forests = train_forests(td, requests, *prep.backend, a.json ? ProgressFn{} : progress_bar("training"));
    const double t_train = seconds_since(t2);

    CvResult cv;
    if (a.cv_folds > 0) cv = score_folds(td, forests, folds, fo.folds, *prep.backend);
    TrainedForest& full = forests.back();
    const double oob = full.oob_score;
    const auto oob_steps = full.oob_score_by_trees;
    const bool has_oob = p.oob_score;
    Model model = make_model(td, std::move(full), effective_params(values, task));
    save_model(model, a.out);

    nlohmann::ordered_json metrics;
    if (rec->enabled()) {
      ClassificationMetrics train_cls;
      const MetricList train = evaluate_forest(td, model.forest, {}, *prep.backend, &train_cls);
      rec->log_metrics(train, "train_");
      metrics["train"] = metrics_json(train);
      if (task == Task::kClassification) metrics["confusion_matrix"] = train_cls.confusion;
      if (a.cv_folds > 0) {
        log_cv(*rec, cv);
        metrics["cv"] = cv_json(cv);
      }
      if (has_oob) {
        for (const auto& [trees, score] : oob_steps) rec->log_metric("oob_score", score, trees);
        metrics["oob_score"] = oob;
      }
      rec->log_metrics({{"load_seconds", t_load}, {"bin_seconds", t_bin}, {"train_seconds", t_train}});
      record_artifacts(*rec, a.out, model, metrics);
    }
    rec->finish();

    if (a.json) {
      nlohmann::ordered_json j;
      j["model"] = a.out;
      j["task"] = task_name(task);
      j["rows"] = td.n_rows();
      j["features"] = td.n_features();
      if (task == Task::kClassification) j["classes"] = td.class_labels;
      j["trees"] = model.forest.n_trees();
      j["multi_class"] = multi_class_name(model.forest);
      j["nodes"] = model.forest.n_nodes();
      if (has_oob) j["oob_score"] = oob;
      if (a.cv_folds > 0) j["cv"] = cv_json(cv);
      j["device"] = backend->name();
      j["timing"] = {{"load_s", t_load}, {"bin_s", t_bin}, {"train_s", t_train}};
      j["params"] = nlohmann::ordered_json::parse(model.params_json);
      if (rec->enabled()) j["run_id"] = rec->run_id();
      std::cout << j.dump() << "\n";
      return 0;
    }
    std::printf("canopy %s: %s on %s (%zu rows, %zu features%s)\n", CANOPY_VERSION, task_name(task),
                d.source.c_str(), td.n_rows(), td.n_features(),
                task == Task::kClassification ? (", " + std::to_string(td.n_classes) + " classes").c_str() : "");
    std::printf("trained %zu trees%s (%zu nodes) on %s in %.2fs (load %.2fs, binning %.2fs)\n",
                model.forest.n_trees(), model.forest.one_vs_rest ? ", one per class per member (one-vs-rest)" : "",
                model.forest.n_nodes(), backend->name(), t_train, t_load, t_bin);
    if (a.cv_folds > 0) print_cv(cv);
    if (has_oob) std::printf("out-of-bag score: %.4f (%s)\n", oob, task == Task::kClassification ? "accuracy" : "r2");
    std::printf("model saved to %s\n", a.out.c_str());
    if (rec->enabled()) std::printf("run %s recorded in %s\n", rec->run_id().c_str(), rec->tracking_uri().c_str());
    return 0;
  } catch (const std::exception& e) {
    rec->fail(e.what());
    throw;
  }
}

struct CvArgs {
  DataArgs data;
  ParamArgs params;
  int32_t folds = 5;
  int64_t shuffle_seed = -1;
  bool json = false;
};

int cmd_cv(CvArgs& a) {
  auto rec = start_run(a.params);
  try {
    Prepared prep = prepare(a.data, a.params);
    const Dataset& d = *prep.data;
    const Task task = prep.task;
    const ForestParams& p = prep.params;
    const TrainingData& td = prep.td;
    record_setup(*rec, a.data, a.params, td, prep.values, *prep.backend, "cv");
    FoldOptions fo;
    fo.folds = a.folds;
    fo.shuffle = a.shuffle_seed >= 0;
    fo.shuffle_seed = a.shuffle_seed >= 0 ? static_cast<uint64_t>(a.shuffle_seed) : 0;
    if (rec->enabled())
      rec->log_params({{"cv_folds", std::to_string(fo.folds)},
                       {"cv_shuffle_seed", fo.shuffle ? std::to_string(fo.shuffle_seed) : "none"}});
    const auto t0 = Clock::now();
    CvResult r = cross_validate(td, p, fo, *prep.backend, a.json ? ProgressFn{} : progress_bar("cross-validating"));
    const double secs = seconds_since(t0);
    if (rec->enabled()) {
      log_cv(*rec, r);
      rec->log_metric("fit_seconds", secs);
    }
    rec->finish();
    if (a.json) {
      nlohmann::ordered_json j = cv_json(r);
      j["task"] = task_name(task);
      j["fit_seconds"] = secs;
      j["device"] = prep.backend->name();
      if (rec->enabled()) j["run_id"] = rec->run_id();
      std::cout << j.dump() << "\n";
      return 0;
    }
    std::printf("%s on %s (%zu rows, %zu features), %lld trees per fold, %.2fs\n", task_name(task),
                d.source.c_str(), td.n_rows(), td.n_features(), static_cast<long long>(forest_tree_count(td, p)), secs);
    print_cv(r);
    return 0;
  } catch (const std::exception& e) {
    rec->fail(e.what());
    throw;
  }
}

Dataset read_for_model(const DataArgs& a, const Model& m, bool need_label) {
  DataArgs x = a;
  if (x.label.empty()) x.label = m.label_name;
  return x.read(need_label);
}

int cmd_evaluate(const std::string& model_path, const DataArgs& data, const std::string& device, bool json) {
  Model m = load_model(model_path);
  Dataset d = read_for_model(data, m, true);
  const std::unique_ptr<TreeBackend> backend = make_backend(device);
  MetricList metrics = evaluate_model(m, d, *backend);
  if (json) {
    nlohmann::ordered_json j;
    j["metrics"] = metrics_json(metrics);
    j["device"] = backend->name();
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("%s model on %s (%zu rows):\n", task_name(m.task), d.source.c_str(), d.n_rows());
  print_metrics(metrics);
  return 0;
}

int cmd_predict(const std::string& model_path, const DataArgs& data, const std::string& device,
                const std::string& out, bool proba) {
  Model m = load_model(model_path);
  Dataset d = read_for_model(data, m, false);
  const std::vector<double> pred = predict_model(m, d, *make_backend(device));
  const std::size_t n = d.n_rows();
  std::vector<std::string> names;
  std::vector<std::vector<double>> cols;
  if (m.task == Task::kRegression) {
    names.push_back("prediction");
    cols.push_back(pred);
    write_predictions(out, names, cols, nullptr, "");
  } else {
    const int nc = static_cast<int>(m.class_labels.size());
    std::vector<int32_t> cls = argmax_classes(pred, nc);
    std::vector<std::string> labels(n);
    for (std::size_t r = 0; r < n; ++r) labels[r] = m.class_labels[cls[r]];
    if (proba) {
      for (int c = 0; c < nc; ++c) {
        names.push_back("proba_" + m.class_labels[c]);
        std::vector<double> col(n);
        for (std::size_t r = 0; r < n; ++r) col[r] = pred[r * nc + c];
        cols.push_back(std::move(col));
      }
    }
    write_predictions(out, names, cols, &labels, "prediction");
  }
  std::fprintf(stderr, "wrote %zu predictions to %s\n", n, out.c_str());
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  g_command_line = command_line_string(argc, argv);
  int exit_code = 0;  // set by commands that run from a subcommand callback
  CLI::App app{"canopy: random forests on NVIDIA GPUs and CPUs"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "print the version and exit");

  TrainArgs train;
  auto* c_train = app.add_subcommand("train", "train a forest and save the model");
  train.data.add(c_train);
  train.params.add(c_train);
  c_train->add_option("--out", train.out, "model file to write (HDF5)")->required();
  c_train->add_option("--cv", train.cv_folds, "also report K-fold cross-validated metrics (same batch)");
  c_train->add_option("--shuffle-seed", train.shuffle_seed, "shuffle rows before making CV folds")
      ->each([&](const std::string&) { train.shuffle = true; });
  c_train->add_flag("--json", train.json, "print one JSON object on stdout");

  CvArgs cv;
  auto* c_cv = app.add_subcommand("cv", "k-fold cross-validation");
  cv.data.add(c_cv);
  cv.params.add(c_cv);
  c_cv->add_option("--folds", cv.folds, "number of folds")->capture_default_str();
  c_cv->add_option("--shuffle-seed", cv.shuffle_seed, "shuffle rows with this seed before making folds");
  c_cv->add_flag("--json", cv.json, "print one JSON object on stdout");

  std::string model_path, out_path;
  DataArgs eval_data;
  bool eval_json = false;
  auto* c_eval = app.add_subcommand("evaluate", "metrics of a model on labelled data");
  c_eval->add_option("--model", model_path, "model file")->required();
  eval_data.add(c_eval);
  c_eval->add_flag("--json", eval_json, "print one JSON object on stdout");
  std::string predict_device = "cpu";
  c_eval->add_option("--device", predict_device, "predict on: cpu, auto, cuda or cuda:N (same results)")
      ->capture_default_str();

  DataArgs pred_data;
  bool proba = false;
  auto* c_pred = app.add_subcommand("predict", "predict with a model");
  c_pred->add_option("--model", model_path, "model file")->required();
  pred_data.add(c_pred);
  c_pred->add_option("--out", out_path, "predictions file (.csv or .h5)")->required();
  c_pred->add_flag("--proba", proba, "also write class probabilities");
  c_pred->add_option("--device", predict_device, "predict on: cpu, auto, cuda or cuda:N (same results)")
      ->capture_default_str();

  auto* c_model = app.add_subcommand("model", "model file operations");
  c_model->require_subcommand(1);
  std::string export_format = "json";
  auto* c_export = c_model->add_subcommand("export", "write a model in another format");
  c_export->add_option("model", model_path, "model file")->required();
  c_export->add_option("--format", export_format, "json")->capture_default_str();
  c_export->add_option("--out", out_path, "output file")->required();

  std::string inspect_path, inspect_label;
  bool inspect_json = false;
  auto* c_inspect = app.add_subcommand("inspect", "summarise a CSV or HDF5 data file");
  c_inspect->add_option("file", inspect_path, "data file")->required();
  c_inspect->add_option("--label", inspect_label, "label column (shows the label distribution)");
  c_inspect->add_flag("--json", inspect_json, "print JSON");

  std::string conv_in, conv_out, conv_label;
  auto* c_convert = app.add_subcommand("convert", "convert a CSV file to HDF5 (group of columns)");
  c_convert->add_option("input", conv_in, "CSV file")->required();
  c_convert->add_option("output", conv_out, "HDF5 file")->required();
  c_convert->add_option("--label", conv_label, "label column (kept as text when not numeric)");

  SynthSpec synth;
  std::string synth_out;
  auto* c_synth = app.add_subcommand("synth", "generate synthetic data (HDF5) for benchmarks");
  c_synth->add_option("--task", synth.task, "classification or regression")->capture_default_str();
  c_synth->add_option("--rows", synth.rows, "rows")->required();
  c_synth->add_option("--features", synth.features, "features")->required();
  c_synth->add_option("--classes", synth.classes, "classes (classification)")->capture_default_str();
  c_synth->add_option("--informative", synth.informative, "informative features (default: a third)");
  c_synth->add_option("--missing", synth.missing_fraction, "fraction of values set missing")->capture_default_str();
  c_synth->add_option("--seed", synth.seed, "seed")->capture_default_str();
  c_synth->add_option("--out", synth_out, "output HDF5 file")->required();

  add_tune_command(app, exit_code);
  add_bench_command(app, exit_code);
  add_tracking_commands(app);

  bool devices_json = false;
  auto* c_devices = app.add_subcommand("devices", "list CUDA devices");
  c_devices->add_flag("--json", devices_json, "print JSON");
  c_devices->footer(
      "\nThe CUDA backend's launch choices (none changes a result) come from CANOPY_CUDA_TUNING,\n"
      "e.g. CANOPY_CUDA_TUNING=partition_two_pass=0,histogram_mapping=row_words. Keys:\n" +
      cuda_tuning_help());

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help, --version and the exit codes of commands run during the parse
    // go through CLI11; a usage error is one line in canopy's format, exit 2.
    if (e.get_exit_code() == 0 || dynamic_cast<const CLI::RuntimeError*>(&e) != nullptr) return app.exit(e);
    std::string command;
    for (const CLI::App* sub : app.get_subcommands()) command += " " + sub->get_name();
    std::fprintf(stderr, "canopy: error: %s (see canopy%s --help)\n", e.what(), command.c_str());
    return 2;
  } catch (const std::exception& e) {  // a command run from a subcommand callback
    std::fprintf(stderr, "canopy: error: %s\n", e.what());
    return 1;
  }
  try {
    if (version) {
      std::printf("canopy %s (commit %s%s, CUDA backend %s)\n", CANOPY_VERSION, CANOPY_GIT_COMMIT,
                  CANOPY_GIT_DIRTY ? " with uncommitted changes" : "",
#ifdef CANOPY_WITH_CUDA
                  "compiled in"
#else
                  "not compiled"
#endif
      );
      return 0;
    }
    {
      int rc = 0;
      if (run_tracking_commands(app, rc)) return rc;
    }
    if (app.got_subcommand("tune") || app.got_subcommand("bench")) return exit_code;
    if (c_train->parsed()) return cmd_train(train);
    if (c_cv->parsed()) return cmd_cv(cv);
    if (c_eval->parsed()) return cmd_evaluate(model_path, eval_data, predict_device, eval_json);
    if (c_pred->parsed()) return cmd_predict(model_path, pred_data, predict_device, out_path, proba);
    if (c_export->parsed()) {
      if (export_format != "json")
        throw ParamError("invalid value \"" + export_format + "\" for --format: expected json");
      export_model_json(load_model(model_path), out_path);
      return 0;
    }
    if (c_inspect->parsed()) {
      ReadOptions o;
      o.label = inspect_label;
      o.require_label = !inspect_label.empty();
      DataSummary s = summarize(read_dataset(inspect_path, o));
      s.path = inspect_path;
      if (inspect_json)
        std::cout << summary_json(s).dump() << "\n";
      else
        std::cout << summary_text(s);
      return 0;
    }
    if (c_convert->parsed()) {
      ReadOptions o;
      o.label = conv_label;
      o.require_label = !conv_label.empty();
      Dataset d = read_dataset(conv_in, o);
      write_hdf5_columns(conv_out, d);
      std::fprintf(stderr, "wrote %zu rows x %zu columns to %s\n", d.n_rows(), d.n_features() + (d.has_label() ? 1 : 0),
                   conv_out.c_str());
      return 0;
    }
    if (c_synth->parsed()) {
      const auto t0 = Clock::now();
      write_synthetic_hdf5(synth, synth_out);
      std::fprintf(stderr, "wrote %lld x %d %s data to %s in %.2fs\n", static_cast<long long>(synth.rows),
                   synth.features, synth.task.c_str(), synth_out.c_str(), seconds_since(t0));
      return 0;
    }
    if (c_devices->parsed()) {
      const auto devices = list_devices();
      std::cout << (devices_json ? describe_devices_json(devices) + "\n" : describe_devices(devices));
      return 0;
    }
    std::cout << app.help();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "canopy: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace canopy
