#include "io/hash.h"

#include <cstdio>
#include <vector>

namespace canopy {

std::string Fnv1a64::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

std::string dataset_fingerprint(const Dataset& d) {
  // Columns hash independently (in parallel), then combine in column order.
  std::vector<uint64_t> column_hash(d.columns.size());
#pragma omp parallel for schedule(dynamic)
  for (std::size_t f = 0; f < d.columns.size(); ++f) {
    Fnv1a64 c;
    c.update(d.columns[f].data(), d.columns[f].size() * sizeof(float));
    column_hash[f] = c.digest();
  }
  Fnv1a64 h;
  for (const auto& name : d.feature_names) h.update(name);
  h.update(column_hash.data(), column_hash.size() * sizeof(uint64_t));
  h.update(d.label_name);
  h.update(d.label_numeric.data(), d.label_numeric.size() * sizeof(double));
  for (const auto& s : d.label_text) h.update(s);
  h.update(d.sample_weight.data(), d.sample_weight.size() * sizeof(double));
  return h.hex();
}

}  // namespace canopy
