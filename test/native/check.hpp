// check.hpp: a tiny unit-test harness for the native tests (no third-party framework).
//
//   TEST_CASE("pool: acquire and release") { CHECK(x == 1); CHECK_EQ(a, b); REQUIRE(p); }
//
// CHECK records a failure and carries on; REQUIRE also ends the test case. Both may be
// used from any thread. main.cpp runs every case (or those whose name contains argv[1]).
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace check {

struct Case {
  const char* name;
  void (*fn)();
};

inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

inline std::atomic<int>& failures() {
  static std::atomic<int> count{0};
  return count;
}

inline std::mutex& outputMutex() {
  static std::mutex m;
  return m;
}

// Thrown by REQUIRE to end the current test case.
struct Abort {};

struct Register {
  Register(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

inline void fail(const char* file, int line, const std::string& what) {
  failures().fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(outputMutex());
  std::fprintf(stderr, "    %s:%d: FAILED: %s\n", file, line, what.c_str());
}

template <class A, class B>
std::string describeEq(const char* ea, const char* eb, const A& a, const B& b) {
  std::ostringstream os;
  os << ea << " == " << eb << " (" << a << " vs " << b << ")";
  return os.str();
}

}  // namespace check

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)

#define TEST_CASE(name)                                                            \
  static void CHECK_CAT(check_case_, __LINE__)();                                  \
  static ::check::Register CHECK_CAT(check_reg_, __LINE__)(name,                   \
                                                          &CHECK_CAT(check_case_, __LINE__)); \
  static void CHECK_CAT(check_case_, __LINE__)()

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) ::check::fail(__FILE__, __LINE__, #cond);                         \
  } while (0)

#define CHECK_EQ(a, b)                                                             \
  do {                                                                             \
    const auto& check_a_ = (a);                                                    \
    const auto& check_b_ = (b);                                                    \
    if (!(check_a_ == check_b_))                                                   \
      ::check::fail(__FILE__, __LINE__, ::check::describeEq(#a, #b, check_a_, check_b_)); \
  } while (0)

#define REQUIRE(cond)                                                              \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      ::check::fail(__FILE__, __LINE__, "required: " #cond);                       \
      throw ::check::Abort{};                                                      \
    }                                                                              \
  } while (0)
