// The chaos test (issue 6): everything at once, as an outside tester would try it. Each
// cycle draws an executor at random (thread pool, process pool forking or spawning, 1–4
// workers, sometimes max_tasks_per_child, sometimes an initializer, which sometimes fails),
// drives it from 3–4 threads with random operations (chaos_cycle.hpp), including tasks that
// kill their worker process, and ends it at a random moment from a random place, or lets the
// destructor do it. After each cycle every future is in one terminal state that API.md
// allows, every done-callback ran exactly once and no child process is left; after all
// cycles no thread and no descriptor is left. A watchdog turns a hang into a failure with a
// thread dump. CFUTURES_STRESS_CHAOS_CYCLES sets the number of cycles (default 60; the long
// form, CFUTURES_STRESS_LONG, runs 1000), CFUTURES_STRESS_CHAOS_SEED the first seed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <cfutures/callback_errors.hpp>

#include "chaos_cycle.hpp"
#include "stress_support.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int max_ops_per_driver = 200;

// Counts the exceptions of throwing done-callbacks, while it exists.
class callback_error_counter {
 public:
  callback_error_counter()
      : previous_(cfutures::set_callback_error_handler([this](std::exception_ptr) { ++count_; })) {}
  ~callback_error_counter() { cfutures::set_callback_error_handler(std::move(previous_)); }
  long count() const { return count_.load(); }

 private:
  std::atomic<long> count_{0};
  cfutures::callback_error_handler previous_;
};

// A run of cycles: its size and first seed from the environment, and when it started.
struct chaos_run {
  const long cycles =
      stress::count_from_env("CFUTURES_STRESS_CHAOS_CYCLES", stress::long_form ? 1000 : 60);
  const unsigned first_seed =
      static_cast<unsigned>(stress::count_from_env("CFUTURES_STRESS_CHAOS_SEED", 1));
  const std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();

  void print(const char* what, const stress::chaos_figures& f) const {
    std::printf(
        "%s: %ld cycles in %.1f s: %ld futures (%ld cancelled, %ld broken), %ld submits "
        "refused, %ld throwing callbacks\n",
        what, cycles, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
        f.futures, f.cancelled, f.broken, f.refused, f.throwing_callbacks);
  }
};

}  // namespace

TEST(Chaos, RandomExecutorsLoadsAndEndingsLeaveNothingBehind) {
  const chaos_run run;
  const stress::leak_check leaks;
  stress::chaos_figures figures;
  {
    const callback_error_counter callback_errors;
    for (long i = 0; i < run.cycles && !HasFatalFailure(); ++i) {
      figures +=
          stress::run_random_cycle(run.first_seed + static_cast<unsigned>(i), max_ops_per_driver);
      ASSERT_FALSE(stress::has_children())
          << "cycle of seed " << run.first_seed + i << ": a worker outlived its pool";
    }
    EXPECT_EQ(callback_errors.count(), figures.throwing_callbacks);
  }
  leaks.expect_nothing_left();
  run.print("chaos", figures);
}

// Several threads create, drive and destroy executors of their own at the same time (forks
// then happen while other pools start, stop and break).
TEST(Chaos, ExecutorsCreatedAndDestroyedFromSeveralThreadsAtOnce) {
  const chaos_run run;
  const stress::leak_check leaks;
  constexpr int owners = 3;
  std::mutex figures_mutex;
  stress::chaos_figures figures;
  {
    const callback_error_counter callback_errors;
    std::vector<std::thread> threads;
    for (int owner = 0; owner < owners; ++owner) {
      threads.emplace_back([&, owner] {
        for (long i = owner; i < run.cycles; i += owners) {
          // Seeds of their own, so these cycles are not the first test's.
          const auto seed = 1000003u * run.first_seed + static_cast<unsigned>(i);
          const auto f = stress::run_random_cycle(seed, max_ops_per_driver / 3);
          const std::lock_guard lock(figures_mutex);
          figures += f;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(callback_errors.count(), figures.throwing_callbacks);
  }
  leaks.expect_nothing_left();
  run.print("concurrent chaos", figures);
}
