#pragma once
// 64-bit content hashing for fingerprints: FNV-1a's xor-multiply step applied
// to 8-byte little-endian words (bytes for the tail), which is fast enough
// to fingerprint gigabytes of training data.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "io/dataset.h"

namespace canopy {

class Fnv1a64 {
 public:
  void update(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      h_ = (h_ ^ w) * 0x100000001b3ull;
    }
    for (; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ull;
  }
  void update(const std::string& s) {
    uint64_t n = s.size();
    update(&n, sizeof n);
    update(s.data(), s.size());
  }
  uint64_t digest() const { return h_; }
  std::string hex() const;

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

// Hash of a dataset's feature names, values, label and weights (hex).
std::string dataset_fingerprint(const Dataset& d);

}  // namespace canopy
