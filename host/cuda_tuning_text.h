#pragma once
// The CUDA backend's launch choices (kernels/cuda_tuning.h) as text, one
// table (cuda_tuning_text.cc) that feeds parsing, validation, help and logging:
//   CANOPY_CUDA_TUNING="partition_two_pass=0,histogram_mapping=row_words"
#include <string>

#include "kernels/cuda_tuning.h"

namespace canopy {

// The tuning that `spec` ("key=value,key=value", spaces around items
// allowed; empty: the defaults) sets over CudaTuning{}. Throws
// std::invalid_argument naming the key or value and what was expected.
CudaTuning parse_cuda_tuning(const std::string& spec);

// Every key of `tuning` as "key=value,..." in the table's order (parses back
// to the same tuning).
std::string describe_cuda_tuning(const CudaTuning& tuning);

// One line a key: its name, values and meaning.
std::string cuda_tuning_help();

}  // namespace canopy
