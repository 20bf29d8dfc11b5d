#include "io/hash.h"

#include <cstdio>

namespace canopy {

std::string Fnv1a64::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

std::string dataset_fingerprint(const Dataset& d) {
  Fnv1a64 h;
  for (const auto& name : d.feature_names) h.update(name);
  for (const auto& col : d.columns) h.update(col.data(), col.size() * sizeof(float));
  h.update(d.label_name);
  h.update(d.label_numeric.data(), d.label_numeric.size() * sizeof(double));
  for (const auto& s : d.label_text) h.update(s);
  h.update(d.sample_weight.data(), d.sample_weight.size() * sizeof(double));
  return h.hex();
}

}  // namespace canopy
