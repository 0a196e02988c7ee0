// What the stress tests share: their sizes from the environment, the check that an executor
// left no thread, child process or descriptor behind (leak_check), and the typed suites' base.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <string>

#include "test_support.hpp"

namespace stress {

// Whether this is the long form of the stress tests (the CMake option CFUTURES_STRESS_LONG);
// each test picks its size from it, and an environment variable overrides that size.
#ifdef CFUTURES_STRESS_LONG_FORM
inline constexpr bool long_form = true;
#else
inline constexpr bool long_form = false;
#endif

// Whether a forked worker can hang in this build (ASan, TSan: test_support.hpp). The stress
// tests then use spawn pools in place of fork pools.
using conformance::forked_workers_can_hang;

// Base of the typed stress suites: their fork-pool variants are skipped where forked workers
// can hang (above).
template <class Traits>
class typed_suite : public ::testing::Test {
 protected:
  void SetUp() override {
    if (forked_workers_can_hang && Traits::name() == std::string("process_pool_fork")) {
      GTEST_SKIP() << "a sanitizer's allocator is not fork-safe (stress_support.hpp)";
    }
  }
};

// The positive number in environment variable `name`, else `fallback`.
inline long count_from_env(const char* name, long fallback) {
  const char* text = std::getenv(name);
  return text ? std::max(1L, std::atol(text)) : fallback;
}

// Whether any child process, running or zombie, is left: waitpid() reports ECHILD when there
// is none (WNOHANG: it never blocks; a zombie it finds is reaped, and still reported).
inline bool has_children() {
  const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
  return !(pid == -1 && errno == ECHILD);
}

// No thread, child process or descriptor left since the baseline taken at construction.
class leak_check {
 public:
  void expect_nothing_left(const std::string& where = "") const {
    EXPECT_FALSE(has_children()) << "a worker process (or its zombie) outlived its pool " << where;
    // A joined thread may be listed in /proc for a moment after the join.
    conformance::eventually([&] { return conformance::count_threads() <= threads_; },
                            std::chrono::seconds(5));
    EXPECT_EQ(conformance::count_threads(), threads_) << where;
    EXPECT_EQ(conformance::open_descriptors(), descriptors_) << where;
  }

 private:
  std::size_t threads_ = conformance::baseline_threads();
  std::size_t descriptors_ = conformance::open_descriptors();
};

}  // namespace stress
