#pragma once
// parallel_for(n, max_threads, fn): fn(i) for every i in [0, n), on up to
// max_threads plain std::threads taking indices in turn (inline when one
// suffices); the first exception a call throws is rethrown after all join.
// Unlike an OpenMP region it also works in a process forked from one that
// already ran OpenMP (libgomp's thread pool does not survive fork, and a
// region there waits for it forever), so file reading and writing use it.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace canopy {

template <typename Fn>
void parallel_for(std::size_t n, std::size_t max_threads, Fn fn) {
  const std::size_t threads = std::min(n, std::max<std::size_t>(1, max_threads));
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (std::size_t i = next++; i < n; i = next++) fn(i);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace canopy
