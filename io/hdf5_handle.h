#pragma once
// RAII ownership of HDF5 identifiers (hid_t) plus the two error helpers every
// HDF5-touching file in io/ needs:
//  - silence_hdf5_errors(): turns off HDF5's automatic printing of its error
//    stack to stderr (per thread in a thread-safe HDF5 build, so call it at the
//    top of every public entry point that uses HDF5);
//  - throw_hdf5_error(what): throws canopy::DataError("<what>: <most specific
//    message on the HDF5 error stack>") and clears the stack.
#include <hdf5.h>

#include <string>
#include <utility>

#include "io/dataset.h"

namespace canopy {

// Owns one hid_t and closes it with the matching H5?close function. Move-only.
// An invalid handle (id < 0) owns nothing.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  H5Handle() = default;
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  H5Handle(H5Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) {
    other.id_ = H5I_INVALID_HID;
  }
  H5Handle& operator=(H5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      closer_ = other.closer_;
    }
    return *this;
  }
  ~H5Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Closes now; returns false when the close itself failed (e.g. a file whose
  // final flush failed), which writers must treat as an error.
  bool close() {
    if (id_ < 0) return true;
    herr_t rc = closer_ ? closer_(id_) : 0;
    id_ = H5I_INVALID_HID;
    return rc >= 0;
  }
  void reset() { close(); }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Named constructors: wrap the id returned by an H5?create/H5?open call.
inline H5Handle h5_file(hid_t id) { return {id, H5Fclose}; }
inline H5Handle h5_group(hid_t id) { return {id, H5Gclose}; }
inline H5Handle h5_dataset(hid_t id) { return {id, H5Dclose}; }
inline H5Handle h5_space(hid_t id) { return {id, H5Sclose}; }
inline H5Handle h5_type(hid_t id) { return {id, H5Tclose}; }
inline H5Handle h5_plist(hid_t id) { return {id, H5Pclose}; }
inline H5Handle h5_attr(hid_t id) { return {id, H5Aclose}; }
inline H5Handle h5_object(hid_t id) { return {id, H5Oclose}; }

// Disables HDF5's automatic error printing for the calling thread.
inline void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace detail {
inline herr_t h5_first_error(unsigned n, const H5E_error2_t* err, void* out) {
  // Walking upward, entry 0 is the most specific error (where it was detected).
  if (n == 0 && err && err->desc) *static_cast<std::string*>(out) = err->desc;
  return 0;
}
}  // namespace detail

// The most specific message on the current thread's HDF5 error stack ("" when
// the stack is empty); clears the stack.
inline std::string hdf5_error_message() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, detail::h5_first_error, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

// Throws DataError("<what>: <HDF5 message>"), or just <what> when HDF5 left no
// message.
[[noreturn]] inline void throw_hdf5_error(const std::string& what) {
  std::string detail = hdf5_error_message();
  throw DataError(detail.empty() ? what : what + ": " + detail);
}

// Returns `id` wrapped with `closer`, or throws throw_hdf5_error(what) when the
// call that produced it failed (id < 0).
inline H5Handle h5_check(hid_t id, H5Handle::Closer closer, const std::string& what) {
  if (id < 0) throw_hdf5_error(what);
  return {id, closer};
}

// Throws throw_hdf5_error(what) when an herr_t/htri_t status is negative.
inline void h5_check_status(herr_t status, const std::string& what) {
  if (status < 0) throw_hdf5_error(what);
}

}  // namespace canopy
