// Resource hygiene (issue 6): creating and destroying executors, each after a call, leaves no
// thread, no child process and no file descriptor behind. CFUTURES_STRESS_CYCLES sets the
// number of cycles (default 100 per executor; the long form runs 1000).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "executor_traits.hpp"
#include "stress_support.hpp"

namespace {

template <class Traits>
class Hygiene : public stress::typed_suite<Traits> {};
TYPED_TEST_SUITE(Hygiene, conformance::executor_types, conformance::executor_names);

std::string echo(std::string s) { return s; }

template <class Traits>
class LargeValueHygiene : public stress::typed_suite<Traits> {};
using process_pools =
    ::testing::Types<conformance::process_pool_fork_traits, conformance::process_pool_spawn_traits,
                     conformance::process_pool_forkserver_traits>;
TYPED_TEST_SUITE(LargeValueHygiene, process_pools, conformance::executor_names);

}  // namespace

TYPED_TEST(Hygiene, CreateUseDestroyLeavesNothingBehind) {
  const stress::leak_check leaks;
  const long n = stress::count_from_env("CFUTURES_STRESS_CYCLES", stress::long_form ? 1000 : 100);
  for (int i = 0; i < n; ++i) {
    auto ex = TypeParam::make(2);
    ASSERT_EQ(ex->submit(conformance::tasks::mul, i, 3).result(), 3 * i) << "cycle " << i;
  }
  leaks.expect_nothing_left("after " + std::to_string(n) + " cycles");
}

TYPED_TEST(Hygiene, CreateAndDestroyWithoutUseLeavesNothingBehind) {
  const std::size_t threads_before = conformance::baseline_threads();
  const std::size_t fds_before = conformance::open_descriptors();
  const long n = stress::count_from_env("CFUTURES_STRESS_CYCLES", stress::long_form ? 1000 : 100);
  for (long i = 0; i < n; ++i) {
    auto ex = TypeParam::make(2);
  }
  EXPECT_FALSE(stress::has_children());
  EXPECT_EQ(conformance::count_threads(), threads_before);
  EXPECT_EQ(conformance::open_descriptors(), fds_before);
}

// Values large enough for the copy helper (4 MiB and more: src/process/copy_helper.hpp) from 3
// threads at once, each creating and destroying pools of its own — every destructor stops the
// process's helper while the other threads' copies may be using it, and their next large
// value starts it again: every value comes back exact, and nothing is left behind (the
// helper's thread included). CFUTURES_STRESS_CYCLES sets the pools per thread (default 10;
// the long form runs 100).
TYPED_TEST(LargeValueHygiene, LargeValuesFromSeveralThreadsWhilePoolsComeAndGo) {
  const stress::leak_check leaks;
  const long n = stress::count_from_env("CFUTURES_STRESS_CYCLES", stress::long_form ? 100 : 10);
  std::atomic<long> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::string big((std::size_t{5} << 20) + static_cast<std::size_t>(t), static_cast<char>('a' + t));
      for (long i = 0; i < n; ++i) {
        auto ex = TypeParam::make(2);
        for (int k = 0; k < 3; ++k) {
          big[static_cast<std::size_t>(k)] = static_cast<char>(i + k);
          if (ex->submit(echo, big).result() != big) wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  leaks.expect_nothing_left("after " + std::to_string(3 * n) + " pools");
}
