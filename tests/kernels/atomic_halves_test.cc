// 64-bit counters added to with 32-bit atomics (kernels/atomic_halves.h):
// many adds of random signed values, their two atomic steps interleaved in a
// random order as concurrent threads could run them, leave the exact sum mod
// 2^64; and the high word is only touched where the add needs it.
#include "kernels/atomic_halves.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
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
