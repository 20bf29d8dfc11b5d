#pragma once
// 64-bit FNV-1a content hashing for fingerprints and checksums.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/dataset.h"

namespace canopy {

class Fnv1a64 {
 public:
  void update(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001b3ull;
    }
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
