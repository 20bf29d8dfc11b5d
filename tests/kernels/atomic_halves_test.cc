// 64-bit counters added to with 32-bit atomics (kernels/atomic_halves.h):
// many adds of random signed values, their two atomic steps interleaved in a
// random order as concurrent threads could run them, and then run by real
// threads with hardware atomics, leave the exact sum mod 2^64; and the high
// word is only touched where the add needs it.
#include "kernels/atomic_halves.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace canopy {
namespace {

// One add split at its atomics: step 0 adds the low word (and decides the
// high add), step 1 the high word. The host's "atomic" add is a plain one.
struct PendingAdd {
  uint64_t x;
  uint32_t high_add = 0;
  int step = 0;
};

uint64_t value_of(const uint32_t (&c)[2]) {
  uint64_t v = 0;
  std::memcpy(&v, c, sizeof v);  // little-endian words, as on the device
  return v;
}

TEST(AtomicHalves, InterleavedAddsGiveTheExactSum) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    // Values near the low word's wrap, small of either sign, and wide ones.
    std::vector<PendingAdd> adds(1 + rng() % 64);
    uint64_t start = trial % 3 == 0 ? 0 : rng(), expected = start;
    for (PendingAdd& a : adds) {
      switch (rng() % 4) {
        case 0:
          a.x = rng() % 1000;
          break;
        case 1:
          a.x = static_cast<uint64_t>(-static_cast<int64_t>(rng() % 1000));
          break;
        case 2:
          a.x = 0xffffffffu - rng() % 3;
          break;
        default:
          a.x = rng();
          break;
      }
      expected += a.x;
    }
    uint32_t counter[2];
    std::memcpy(counter, &start, sizeof start);
    // Run the adds' steps in a random interleaving: each add's low step
    // before its high step, the adds otherwise in any order.
    std::vector<std::size_t> live(adds.size());
    for (std::size_t i = 0; i < adds.size(); ++i) live[i] = i;
    while (!live.empty()) {
      const std::size_t pick = rng() % live.size();
      PendingAdd& a = adds[live[pick]];
      if (a.step == 0) {
        // add_in_halves with an add that stops after the low word: its high
        // add is recorded here and done later.
        add_in_halves(counter, a.x, [&](uint32_t* word, uint32_t v) {
          if (word == counter) {
            const uint32_t old = *word;
            *word += v;
            return old;
          }
          a.high_add = v;
          return 0u;
        });
        a.step = 1;
      } else {
        counter[1] += a.high_add;
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(pick));
      }
    }
    ASSERT_EQ(value_of(counter), expected) << "trial " << trial;
  }
}

// Threads racing on one counter with the CPU's atomic add: a helper that
// decided the carry from anything but its own atomic's old value (say, by
// reading the counter again) would lose carries here.
TEST(AtomicHalves, RacingThreadsGiveTheExactSum) {
  constexpr int kThreads = 4, kAdds = 50000;
  const uint64_t edges[] = {0,
                            1,
                            0xffffffffu,
                            uint64_t{1} << 32,
                            static_cast<uint64_t>(-1),
                            static_cast<uint64_t>(INT64_MIN),
                            static_cast<uint64_t>(INT64_MAX)};
  for (int trial = 0; trial < 10; ++trial) {
    std::vector<std::vector<uint64_t>> values(kThreads);
    uint64_t expected = 0;
    std::mt19937_64 rng(100 + trial);
    for (auto& v : values)
      for (int i = 0; i < kAdds; ++i) {
        const uint64_t r = rng();
        v.push_back(r % 3 == 0   ? edges[r % 7]
                    : r % 3 == 1 ? static_cast<uint64_t>(static_cast<int64_t>(r % 2001) - 1000)
                                 : r);
        expected += v.back();
      }
    alignas(8) uint32_t counter[2] = {0, 0};
    std::atomic<bool> go{false};  // the threads start together, so their adds overlap
    std::vector<std::thread> threads;
    for (const auto& v : values)
      threads.emplace_back([&counter, &v, &go] {
        while (!go.load()) std::this_thread::yield();
        for (uint64_t x : v)
          add_in_halves(counter, x,
                        [](uint32_t* word, uint32_t add) { return __atomic_fetch_add(word, add, __ATOMIC_RELAXED); });
      });
    go = true;
    for (std::thread& t : threads) t.join();
    ASSERT_EQ(value_of(counter), expected) << "trial " << trial;
  }
}

TEST(AtomicHalves, TheHighWordIsAddedOnlyWhereItChanges) {
  int high_adds = 0;
  auto add = [&](uint32_t(&c)[2], uint64_t x) {
    add_in_halves(c, x, [&](uint32_t* word, uint32_t v) {
      high_adds += word != c;
      const uint32_t old = *word;
      *word += v;
      return old;
    });
  };
  uint32_t c[2] = {10, 0};
  add(c, 5);                          // no carry: the low word only
  add(c, static_cast<uint64_t>(-3));  // a carry out of the low word: high 0xffffffff + 1 = 0
  EXPECT_EQ(high_adds, 0);
  EXPECT_EQ(value_of(c), 12u);
  add(c, static_cast<uint64_t>(-20));  // below zero: no carry, the high word takes -1
  EXPECT_EQ(high_adds, 1);
  EXPECT_EQ(static_cast<int64_t>(value_of(c)), -8);
  add(c, uint64_t{3} << 32);
  EXPECT_EQ(high_adds, 2);
  EXPECT_EQ(static_cast<int64_t>(value_of(c)), (int64_t{3} << 32) - 8);
}

}  // namespace
}  // namespace canopy
