// Randomized stress (issue 6): 4 threads submit, cancel, wait, iterate as_completed and map,
// request stops and shut down at random moments, against every executor. The executor's
// stats() must then add up (submitted == completed + failed + cancelled). Afterwards every
// future is in exactly one terminal state with the right value or exception, and every
// done-callback ran exactly once. A watchdog turns a deadlock into a failure with a dump.
// CFUTURES_STRESS_OPS sets the number of operations per executor (default 2000; the long
// form, CFUTURES_STRESS_LONG, runs 10^6).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "executor_traits.hpp"
#include "ledger.hpp"
#include "stress_support.hpp"
#include "watchdog.hpp"

using namespace std::chrono_literals;

namespace {

using stress::ledger;
using stress::task_kind;
using stress::tracked;

// What a finished future may hold, given what it ran.
void check_outcome(const tracked& t) {
  ASSERT_TRUE(t.future.done());
  if (t.future.cancelled()) {
    EXPECT_THROW((void)t.future.result(), cfutures::cancelled_error);
    return;
  }
  if (t.what == task_kind::throws) {
    EXPECT_THROW((void)t.future.result(), std::out_of_range);
  } else {
    EXPECT_EQ(t.future.result(), t.expected);
  }
}

// Runs `ops` random operations; at operation `shutdown_at` (if reached, and if no other
// thread did it first) shuts the executor down with random options.
template <class Executor>
void random_operations(Executor& ex, ledger& book, long ops, unsigned seed, long shutdown_at,
                       std::atomic<bool>& shutdown_done, std::atomic<long>& refused) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> percent(0, 99);
  for (long i = 0; i < ops; ++i) {
    const int roll = percent(rng);
    try {
      if (roll < 40) {
        const int v = static_cast<int>(rng() % 1000);
        const auto what = static_cast<task_kind>(rng() % 3);
        if (what == task_kind::doubled) {
          book.track(ex.submit(conformance::tasks::mul, v, 2), what, 2 * v);
        } else if (what == task_kind::sleeps) {
          book.track(ex.submit(conformance::tasks::sleep_ms, v % 2), what, v % 2);
        } else {
          book.track(ex.submit(conformance::tasks::throw_out_of_range, std::string("stress")),
                     what, 0);
        }
      } else if (roll < 50) {
        for (auto& f : book.sample(rng, 1)) f.cancel();
      } else if (roll < 60) {
        for (auto& f : book.sample(rng, 1)) {
          try {
            (void)f.result(1ms);
          } catch (const cfutures::timeout_error&) {
          } catch (const cfutures::cancelled_error&) {
          } catch (const std::out_of_range&) {
          }
        }
      } else if (roll < 70) {
        auto fs = book.sample(rng, 8);
        (void)cfutures::wait(fs, 1ms, cfutures::return_when::first_completed);
      } else if (roll < 80) {
        auto fs = book.sample(rng, 8);
        try {
          for (const auto& f : cfutures::as_completed(fs, 2ms)) EXPECT_TRUE(f.done());
        } catch (const cfutures::timeout_error&) {
        }
      } else if (roll < 85) {
        for (auto& f : book.sample(rng, 1)) (void)f.request_stop();
      } else if (roll < 95) {
        std::vector<int> in{1, 2, 3, 4, 5};
        auto results = ex.map(conformance::tasks::mul, in, in);
        int position = 0;
        const int stop_after = static_cast<int>(rng() % 6);  // destroying early cancels the rest
        for (int r : results) {
          ++position;
          EXPECT_EQ(r, position * position);
          if (position == stop_after) break;
        }
      }
      if (i == shutdown_at && !shutdown_done.exchange(true)) {
        ex.shutdown({.wait = rng() % 2 == 0, .cancel_futures = rng() % 2 == 0});
      }
    } catch (const cfutures::shutdown_error&) {
      ++refused;  // submit or map after the random shutdown: refused, as it must be
    } catch (const cfutures::cancelled_error&) {
      // a map() call cancelled by a shutdown with cancel_futures, met while iterating
    }
  }
}

template <class Traits>
class RandomOperations : public stress::typed_suite<Traits> {};
TYPED_TEST_SUITE(RandomOperations, conformance::executor_types, conformance::executor_names);

}  // namespace

TYPED_TEST(RandomOperations, EveryFutureEndsOnceAndEveryCallbackRunsOnce) {
  const long ops =
      stress::count_from_env("CFUTURES_STRESS_OPS", stress::long_form ? 1000000 : 2000);
  const stress::watchdog guard(TypeParam::name() + " random operations",
                               std::chrono::seconds(ops > 100000 ? 3600 : 240));
  ledger book;
  std::atomic<long> refused{0};
  {
    auto ex = TypeParam::make(2);
    std::atomic<bool> shutdown_done{false};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        // Each thread picks a moment in the last quarter of its operations to shut the
        // executor down; the first to get there does.
        const long mine = std::max(1L, ops / 4);
        std::mt19937 rng(3000 + t);
        const long shutdown_at = mine * 3 / 4 + static_cast<long>(rng() % (mine / 4 + 1));
        random_operations(*ex, book, mine, 1000 + t, shutdown_at, shutdown_done, refused);
      });
    }
    for (auto& t : threads) t.join();
    // stats() at quiescence (stats.hpp): every future counted once, in its final state.
    ex->shutdown({.wait = true});
    const cfutures::executor_stats s = ex->stats();
    std::size_t completed = 0, failed = 0, cancelled = 0;
    for (const auto& t : book.all()) {
      ASSERT_TRUE(t->future.done());
      if (t->future.cancelled()) {
        ++cancelled;
      } else if (t->future.exception()) {
        ++failed;
      } else {
        ++completed;
      }
    }
    EXPECT_EQ(s.submitted, s.completed + s.failed + s.cancelled) << TypeParam::name();
    EXPECT_EQ(s.queued, 0u) << TypeParam::name();
    EXPECT_EQ(s.running, 0u) << TypeParam::name();
    EXPECT_EQ(s.workers, 0u) << TypeParam::name();
    // map()'s calls are counted too, and are not in the ledger.
    EXPECT_GE(s.submitted, book.all().size()) << TypeParam::name();
    EXPECT_GE(s.completed, completed) << TypeParam::name();
    EXPECT_GE(s.failed, failed) << TypeParam::name();
    EXPECT_GE(s.cancelled, cancelled) << TypeParam::name();
    std::printf("%s stats: %zu submitted, %zu completed, %zu failed, %zu cancelled\n",
                TypeParam::name().c_str(), s.submitted, s.completed, s.failed, s.cancelled);
  }  // the destructor waits for whatever is still queued
  conformance::eventually(
      [&] {
        for (const auto& t : book.all()) {
          if (t->callbacks.load() == 0) return false;
        }
        return true;
      },
      30s);
  for (const auto& t : book.all()) {
    EXPECT_EQ(t->callbacks_added.load(), 1);
    EXPECT_EQ(t->callbacks.load(), 1);
    EXPECT_FALSE(t->callback_saw_not_done.load());
    check_outcome(*t);
  }
  std::printf("%zu futures, %ld refused after the random shutdown\n", book.all().size(),
              refused.load());
}
