#pragma once
// SHA-256 of a file's bytes (lower-case hex), for dataset content hashes and
// artifact checksums. Throws TrackingError when the file cannot be read.
#include <string>

namespace canopy::tracking {

std::string sha256_file(const std::string& path);
std::string sha256_hex(const std::string& bytes);

}  // namespace canopy::tracking
