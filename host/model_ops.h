#pragma once
// Turning trained forests into models, and applying models to datasets.
#include <map>
#include <string>
#include <vector>

#include "host/forest_trainer.h"
#include "host/training_data.h"
#include "io/dataset.h"
#include "io/model.h"

namespace canopy {

Model make_model(const TrainingData& data, TrainedForest&& forest, const std::map<std::string, std::string>& params);

// Feature columns of `d` in the model's order: matched by name when every
// model feature is present, else by position when the counts agree; otherwise
// a DataError naming both counts.
std::vector<const float*> align_features(const Model& m, const Dataset& d);

// n_rows x n_outputs: class probabilities or regression values, predicted by
// `backend` (the CPU or a GPU: the same values bit for bit).
std::vector<double> predict_model(const Model& m, const Dataset& d, const TreeBackend& backend);

// Metrics of the model on a labelled dataset, in metric_list order.
std::vector<std::pair<std::string, double>> evaluate_model(const Model& m, const Dataset& d,
                                                            const TreeBackend& backend);

}  // namespace canopy
