#include "io/data_source.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "io/csv.h"
#include "io/hdf5_data.h"

namespace canopy {
namespace {

constexpr unsigned char kHdf5Signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

}  // namespace

bool is_hdf5_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char head[8];
  const bool ok = std::fread(head, 1, sizeof head, f) == sizeof head &&
                  std::memcmp(head, kHdf5Signature, sizeof head) == 0;
  std::fclose(f);
  return ok;
}

Dataset read_dataset(const std::string& path, const ReadOptions& opt) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw DataError("cannot open " + path + ": " + std::strerror(errno));
  std::fclose(f);
  return is_hdf5_file(path) ? read_hdf5(path, opt) : read_csv(path, opt);
}

}  // namespace canopy
