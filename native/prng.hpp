// A pseudo-random number generator with the same algorithm and seeding rules as Lua 5.4's
// math.random (xoshiro256**, lmathlib.c), as our own code: the sandbox gives each job and
// each context a state of its own instead of the one per lua_State that lmathlib keeps.
// A given seed produces the same numbers as plain Lua's math.randomseed(seed).
#pragma once

#include <cstdint>

namespace luapool {

struct Prng {
  uint64_t s[4] = {0, 0, 0, 0};

  static uint64_t rotl(uint64_t x, int n) { return (x << n) | (x >> (64 - n)); }

  uint64_t next() {
    uint64_t s0 = s[0], s1 = s[1], s2 = s[2] ^ s0, s3 = s[3] ^ s1;
    uint64_t res = rotl(s1 * 5, 7) * 9;
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ (s1 << 17);
    s[3] = rotl(s3, 45);
    return res;
  }

  // lmathlib's setseed: (n1, 0xff, n2, 0), then 16 values discarded.
  void seed(uint64_t n1, uint64_t n2) {
    s[0] = n1;
    s[1] = 0xff;  // avoid a zero state
    s[2] = n2;
    s[3] = 0;
    for (int i = 0; i < 16; ++i) next();
  }

  // A float in [0, 1) from the 53 high bits (lmathlib's I2d for doubles).
  static double toDouble(uint64_t x) { return static_cast<double>(x >> 11) * (0.5 / (uint64_t{1} << 52)); }

  // A uniform value in [0, n] from `ran` (lmathlib's project).
  uint64_t project(uint64_t ran, uint64_t n) {
    if ((n & (n + 1)) == 0) return ran & n;  // n + 1 is a power of 2
    uint64_t lim = n;
    lim |= lim >> 1;
    lim |= lim >> 2;
    lim |= lim >> 4;
    lim |= lim >> 8;
    lim |= lim >> 16;
    lim |= lim >> 32;
    while ((ran &= lim) > n) ran = next();
    return ran;
  }
};

// splitmix64: spreads a counter, a clock reading or an address over 64 bits.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace luapool
