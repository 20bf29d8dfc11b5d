#pragma once
// The rows of one tree job (DESIGN principle 5): every training row once, or
// a bootstrap sample of them. The multiplicity of each row is a pure function
// of (seed, tree, rows, draws), so a backend may materialise it wherever it
// likes: the CPU backend on the host, the CUDA backend on the device.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/host_device.h"
#include "kernels/rng.h"

namespace canopy {

struct RowSample {
  const std::vector<uint32_t>* rows = nullptr;  // training rows; must outlive the batch
  int64_t draws = 0;                            // bootstrap draws among `rows`; 0 = each row once
  bool empty() const { return rows == nullptr; }
};

// Bootstrap draws 4q .. 4q+3 of tree `tree` are the four words of one Philox
// block: draw d picks rows[bounded(bootstrap_block(seed, tree, d / 4).v[d % 4], n)].
CANOPY_HD Philox4 bootstrap_block(uint64_t seed, uint32_t tree, int64_t q) {
  return philox(seed, kStreamBootstrap, tree, static_cast<uint32_t>(q), static_cast<uint32_t>(q >> 32));
}

// Multiplicity of every row (n_rows values; 0 = not in the sample).
std::vector<uint32_t> sample_multiplicity(const RowSample& sample, uint64_t seed, uint32_t tree, std::size_t n_rows);

}  // namespace canopy
