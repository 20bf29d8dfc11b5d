#include "host/model_ops.h"

#include <canopy/version.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "host/metrics.h"
#include "kernels/predict.h"

namespace canopy {

Model make_model(const TrainingData& data, TrainedForest&& forest, const std::map<std::string, std::string>& params) {
  const Dataset& d = *data.dataset;
  Model m;
  m.task = data.task;
  m.feature_names = d.feature_names;
  m.class_labels = data.class_labels;
  m.label_name = d.label_name;
  m.forest = std::move(forest.nodes);
  m.feature_importances = std::move(forest.importances);
  nlohmann::ordered_json p = nlohmann::ordered_json::object();
  // Only what shapes the model: the thread count never changes it.
  for (const auto& [k, v] : params)
    if (k != "threads") p[k] = v;
  m.params_json = p.dump();
  m.data_fingerprint = data.fingerprint;
  m.canopy_version = CANOPY_VERSION;
  m.n_train_rows = static_cast<int64_t>(data.n_rows());
  return m;
}

std::vector<const float*> align_features(const Model& m, const Dataset& d) {
  std::vector<const float*> cols;
  for (const std::string& name : m.feature_names) {
    auto it = std::find(d.feature_names.begin(), d.feature_names.end(), name);
    if (it == d.feature_names.end()) break;
    cols.push_back(d.columns[it - d.feature_names.begin()].data());
  }
  if (cols.size() == m.feature_names.size()) return cols;
  if (d.n_features() != m.feature_names.size())
    throw DataError(d.source + ": wrong number of features: the model expects " +
                    std::to_string(m.feature_names.size()) + " but the file has " +
                    std::to_string(d.n_features()));
  cols.clear();
  for (const auto& c : d.columns) cols.push_back(c.data());
  return cols;
}

std::vector<double> predict_model(const Model& m, const Dataset& d, const TreeBackend& backend) {
  std::vector<const float*> cols = align_features(m, d);
  const std::size_t n = d.n_rows();
  std::vector<double> out(n * m.forest.n_outputs);
  backend.predict(m.forest, ColumnsView{cols.data(), n, cols.size()}, 0, m.forest.n_trees(), out.data());
  return out;
}

std::vector<std::pair<std::string, double>> evaluate_model(const Model& m, const Dataset& d, const TreeBackend& backend) {
  if (!d.has_label()) throw DataError(d.source + ": evaluation needs a label column");
  const std::vector<double> pred = predict_model(m, d, backend);
  if (m.task == Task::kClassification) {
    return metric_list(classification_metrics(encode_classes(d, m.class_labels), pred,
                                              static_cast<int>(m.class_labels.size()), d.sample_weight));
  }
  if (d.label_is_text()) throw DataError(d.source + ": label column \"" + d.label_name + "\" is not numeric");
  return metric_list(regression_metrics(d.label_numeric, pred, d.sample_weight));
}

}  // namespace canopy
