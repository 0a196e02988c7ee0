// One cycle of the chaos test: an executor made from a cycle_plan (chaos_plan.hpp), driven by
// 3–4 threads at once with random operations — submits of ordinary, throwing and sleeping
// tasks, of stoppable and submit-and-wait tasks (thread pool), of self-killing ones (process
// pools), map, cancel, result / exception with timeouts, wait and as_completed with and
// without timeouts, request_stop, done-callbacks that count their runs, submit more work or
// throw — and ended the way the plan says. Then the executor is destroyed and every future
// it returned is checked (chaos_outcomes.hpp).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <unordered_set>
#include <vector>

#include <cfutures/cfutures.hpp>

#include "chaos_outcomes.hpp"
#include "chaos_plan.hpp"
#include "ledger.hpp"
#include "tasks.hpp"
#include "test_support.hpp"
#include "watchdog.hpp"
#include "worker_deaths.hpp"

namespace stress {

// Thread pool only: runs until a stop is requested (returns 1) or `ms` pass (returns 0).
inline int stoppable(std::stop_token token, int ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!token.stop_requested() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return token.stop_requested() ? 1 : 0;
}

// What a cycle adds to the run's totals.
struct chaos_figures {
  long futures = 0, cancelled = 0, broken = 0, refused = 0, throwing_callbacks = 0;
  chaos_figures& operator+=(const chaos_figures& o) {
    futures += o.futures;
    cancelled += o.cancelled;
    broken += o.broken;
    refused += o.refused;
    throwing_callbacks += o.throwing_callbacks;
    return *this;
  }
};

template <class Executor>
class chaos_cycle {
  static constexpr bool thread_pool = std::is_same_v<Executor, cfutures::thread_pool_executor>;

 public:
  chaos_cycle(const cycle_plan& plan, Executor& ex)
      : plan_(plan), ex_(ex), pool_may_break_(plan.initializer_fails) {}

  // The body of driving thread `driver`.
  void drive(int driver) {
    SCOPED_TRACE(plan_.describe());
    std::mt19937 rng(plan_.seed * 31 + static_cast<unsigned>(driver));
    for (int i = 0; i < plan_.ops_per_driver; ++i) {
      counting_refusals([&] { one_operation(rng); });
      if (ops_done_.fetch_add(1) + 1 == plan_.end_at) counting_refusals([&] { end_now(rng); });
    }
  }

  // The body of the thread that shuts the executor down for ending::from_other_thread.
  void shut_down_when_due() {
    conformance::eventually(
        [&] { return ops_done_.load() >= plan_.end_at || drivers_finished_.load(); },
        std::chrono::minutes(10));
    ex_.shutdown(plan_.shutdown);
  }
  void drivers_finished() { drivers_finished_ = true; }

  // Once the executor is destroyed.
  chaos_figures check() const {
    SCOPED_TRACE(plan_.describe());
    chaos_figures figures;
    for (const auto& t : book_.all()) {
      expect_terminal(*t, pool_may_break_.load());
      ++figures.futures;
      if (t->future.cancelled()) {
        ++figures.cancelled;
      } else if (auto e = t->future.exception()) {
        try {
          std::rethrow_exception(e);
        } catch (const cfutures::broken_executor&) {
          ++figures.broken;
        } catch (...) {
        }
      }
    }
    figures.refused = refused_.load();
    figures.throwing_callbacks = throwing_callbacks_.load();
    return figures;
  }

 private:
  // Runs `operation`; a submit refused after the shutdown, or once the pool is broken, is
  // counted (and must have a reason).
  template <class F>
  void counting_refusals(F operation) {
    try {
      operation();
    } catch (const cfutures::shutdown_error&) {
      ++refused_;
    } catch (const cfutures::broken_executor& e) {
      ++refused_;
      EXPECT_TRUE(pool_may_break_.load()) << "refused as broken with no death: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected " << typeid(e).name() << ": " << e.what();
    }
  }

  void one_operation(std::mt19937& rng) {
    const int roll = static_cast<int>(rng() % 100);
    if (roll < 30) {
      submit_random_task(rng);
    } else if (roll < 36) {
      if (tracked* t = book_.pick(rng); t && t->future.cancel()) t->cancel_succeeded = true;
    } else if (roll < 42) {
      result_with_timeout(rng);
    } else if (roll < 47) {
      exception_with_timeout(rng);
    } else if (roll < 55) {
      random_wait(rng);
    } else if (roll < 62) {
      random_as_completed(rng);
    } else if (roll < 66) {
      if (tracked* t = book_.pick(rng)) {
        const bool accepts = t->future.request_stop();
        // The thread pool stops only tasks that take a stop_token; the process pool stops
        // the worker running the call, and the future is then cancelled.
        if (thread_pool && t->what != task_kind::stoppable) EXPECT_FALSE(accepts);
        if (!thread_pool && accepts) EXPECT_TRUE(t->future.cancelled());
      }
    } else if (roll < 74) {
      random_map(rng);
    } else if (roll < 80) {
      if (tracked* t = book_.pick(rng)) add_counting_callback(*t);
    } else if (roll < 84) {
      if (tracked* t = book_.pick(rng)) add_submitting_callback(*t);
    } else if (roll < 86) {
      if (tracked* t = book_.pick(rng)) add_throwing_callback(*t);
    } else if (roll < 90) {
      if (tracked* t = book_.pick(rng)) {
        (void)t->future.wait_for(std::chrono::microseconds(rng() % 2000));
      }
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    }
  }

  tracked& submit_random_task(std::mt19937& rng) {
    namespace tasks = conformance::tasks;
    const int v = static_cast<int>(rng() % 1000);
    if (plan_.deaths && rng() % 60 == 0) {
      pool_may_break_ = true;  // before the submit: the pool may break before it returns
      if constexpr (!thread_pool) {
        const int how = static_cast<int>(rng() % death_kinds);
        if (rng() % 2) return book_.track(ex_.submit(die_now, how), task_kind::dies_now, 0);
        return book_.track(ex_.submit(arm_death, how, static_cast<int>(rng() % 3000)),
                           task_kind::arms_death, 0);
      }
    }
    switch (rng() % 4) {
      case 0:
        return book_.track(ex_.submit(tasks::sleep_ms, v % 3), task_kind::sleeps, v % 3);
      case 1:
        return book_.track(ex_.submit(tasks::throw_out_of_range, std::string("chaos")),
                           task_kind::throws, 0);
      case 2:
        if constexpr (thread_pool) {
          if (rng() % 2) return book_.track(ex_.submit(stoppable, v % 5), task_kind::stoppable, 0);
          return book_.track(ex_.submit([this, v] { return submit_and_wait(v); }),
                             task_kind::nested, 2 * v);
        }
        [[fallthrough]];
      default:
        return book_.track(ex_.submit(tasks::mul, v, 2), task_kind::doubled, 2 * v);
    }
  }

  // Thread pool only, in a task: submits 2*v to the same pool and waits for it (the worker
  // runs queued tasks meanwhile); -1 if the pool refuses it or cancels it.
  int submit_and_wait(int v) {
    try {
      return ex_.submit(conformance::tasks::mul, v, 2).result();
    } catch (const cfutures::error&) {
      return -1;
    }
  }

  void result_with_timeout(std::mt19937& rng) {
    tracked* t = book_.pick(rng);
    if (!t) return;
    try {
      expect_value(*t, t->future.result(std::chrono::microseconds(rng() % 3000)));
    } catch (const cfutures::timeout_error&) {
    } catch (const cfutures::cancelled_error&) {
      EXPECT_TRUE(t->future.cancelled());
    } catch (...) {
      expect_allowed_exception(*t, std::current_exception(), pool_may_break_.load());
    }
  }

  void exception_with_timeout(std::mt19937& rng) {
    tracked* t = book_.pick(rng);
    if (!t) return;
    try {
      if (auto e = t->future.exception(std::chrono::microseconds(rng() % 3000))) {
        expect_allowed_exception(*t, e, pool_may_break_.load());
      }
    } catch (const cfutures::timeout_error&) {
    } catch (const cfutures::cancelled_error&) {
      EXPECT_TRUE(t->future.cancelled());
    }
  }

  // wait() on a few futures (duplicates included), with or without a timeout: each distinct
  // future comes back once, and what it calls done is done.
  void random_wait(std::mt19937& rng) {
    auto fs = book_.sample(rng, 1 + rng() % 8);
    const std::unordered_set<cfutures::future<int>> distinct(fs.begin(), fs.end());
    const auto when = static_cast<cfutures::return_when>(rng() % 3);
    const bool unlimited = rng() % 5 == 0;
    auto [done, not_done] = unlimited
                                ? cfutures::wait(fs, when)
                                : cfutures::wait(fs, std::chrono::microseconds(rng() % 3000), when);
    EXPECT_EQ(done.size() + not_done.size(), distinct.size());
    std::unordered_set<cfutures::future<int>> seen;
    for (const auto& f : done) {
      EXPECT_TRUE(f.done());
      EXPECT_TRUE(seen.insert(f).second);
    }
    for (const auto& f : not_done) EXPECT_TRUE(seen.insert(f).second);
    if (unlimited && when == cfutures::return_when::all_completed) {
      EXPECT_TRUE(not_done.empty());
    }
    if (unlimited && !distinct.empty()) {
      EXPECT_FALSE(done.empty());
    }
  }

  // as_completed() with or without a timeout: each distinct future at most once (all of them
  // without a timeout), each done when yielded.
  void random_as_completed(std::mt19937& rng) {
    auto fs = book_.sample(rng, 1 + rng() % 8);
    const std::unordered_set<cfutures::future<int>> distinct(fs.begin(), fs.end());
    std::unordered_set<cfutures::future<int>> yielded;
    if (rng() % 3 == 0) {
      for (const auto& f : cfutures::as_completed(fs)) {
        EXPECT_TRUE(f.done());
        EXPECT_TRUE(yielded.insert(f).second);
      }
      EXPECT_EQ(yielded.size(), distinct.size());
      return;
    }
    try {
      for (const auto& f : cfutures::as_completed(fs, std::chrono::microseconds(rng() % 3000))) {
        EXPECT_TRUE(f.done());
        EXPECT_TRUE(yielded.insert(f).second);
      }
      EXPECT_EQ(yielded.size(), distinct.size());
    } catch (const cfutures::timeout_error& e) {
      EXPECT_NE(std::string(e.what()).find("unfinished"), std::string::npos) << e.what();
      EXPECT_LT(yielded.size(), distinct.size());
    }
  }

  // map() of x*x over 0–6 values, sometimes with a timeout, chunks or a buffer, sometimes
  // abandoned early: the values that come are the right ones, in order.
  void random_map(std::mt19937& rng) {
    std::vector<int> in(rng() % 7);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int>(i);
    cfutures::map_options options{.chunksize = 1 + rng() % 3};
    if (rng() % 3 == 0) options.timeout = std::chrono::microseconds(rng() % 5000);
    if (rng() % 3 == 0) options.buffersize = 1 + rng() % 3;
    const std::size_t stop_after = rng() % (in.size() + 2);
    try {
      std::size_t position = 0;
      for (int r : ex_.map(conformance::tasks::mul, in, in, options)) {
        EXPECT_EQ(r, static_cast<int>(position * position));
        if (++position == stop_after) break;  // destroying the range early cancels the rest
      }
    } catch (const cfutures::timeout_error&) {
    } catch (const cfutures::cancelled_error&) {
      // a shutdown with cancel_futures (or kill_workers) reached the calls not yet started
    }
  }

  void add_submitting_callback(tracked& t) {
    t.future.add_done_callback([this](const cfutures::future<int>&) {
      try {
        book_.track(ex_.submit(conformance::tasks::mul, 21, 2), task_kind::doubled, 42);
      } catch (const cfutures::shutdown_error&) {
        ++refused_;
      } catch (const cfutures::broken_executor&) {
        ++refused_;
      }
    });
  }

  void add_throwing_callback(tracked& t) {
    t.future.add_done_callback([this](const cfutures::future<int>&) {
      ++throwing_callbacks_;
      throw std::runtime_error("chaos callback throws");
    });
  }

  void end_now(std::mt19937& rng) {
    switch (plan_.end) {
      case ending::from_driver:
        ex_.shutdown(plan_.shutdown);
        break;
      case ending::from_callback:
        end_from_a_callback(rng);
        break;
      case ending::from_task:
        if constexpr (thread_pool) {
          book_.track(ex_.submit([this] {
            ex_.shutdown(plan_.shutdown);
            return 0;
          }),
                      task_kind::doubled, 0);
        }
        break;
      case ending::kill_workers:
      case ending::terminate_workers:
        if constexpr (!thread_pool) {
          pool_may_break_ = true;
          plan_.end == ending::kill_workers ? ex_.kill_workers() : ex_.terminate_workers();
        }
        break;
      default:
        break;
    }
  }

  // On a new task's future if the executor still takes one, else on any future.
  void end_from_a_callback(std::mt19937& rng) {
    tracked* t = nullptr;
    try {
      t = &book_.track(ex_.submit(conformance::tasks::sleep_ms, 1), task_kind::sleeps, 1);
    } catch (const cfutures::error&) {
      t = book_.pick(rng);
    }
    if (!t) {
      ex_.shutdown(plan_.shutdown);
      return;
    }
    t->future.add_done_callback(
        [this](const cfutures::future<int>&) { ex_.shutdown(plan_.shutdown); });
  }

  const cycle_plan& plan_;
  Executor& ex_;
  ledger book_;
  std::atomic<bool> pool_may_break_;
  std::atomic<int> ops_done_{0};
  std::atomic<bool> drivers_finished_{false};
  std::atomic<long> refused_{0};
  std::atomic<long> throwing_callbacks_{0};
};

// Runs one cycle of `plan` on `ex`, destroys the executor and checks every future.
template <class Executor>
chaos_figures run_cycle(const cycle_plan& plan, std::unique_ptr<Executor> ex) {
  const watchdog guard("chaos cycle, " + plan.describe(), std::chrono::seconds(120));
  chaos_cycle<Executor> cycle(plan, *ex);  // outlives the executor: its callbacks use it
  std::thread stopper;
  if (plan.end == ending::from_other_thread) {
    stopper = std::thread([&] { cycle.shut_down_when_due(); });
  }
  std::vector<std::thread> drivers;
  for (int d = 0; d < plan.drivers; ++d) drivers.emplace_back([&cycle, d] { cycle.drive(d); });
  for (auto& t : drivers) t.join();
  cycle.drivers_finished();
  if (stopper.joinable()) stopper.join();
  ex.reset();
  return cycle.check();
}

// Draws the plan of `seed` and runs it.
inline chaos_figures run_random_cycle(unsigned seed, int max_ops_per_driver) {
  const cycle_plan plan = draw_plan(seed, max_ops_per_driver);
  if (plan.kind == pool_kind::threads) return run_cycle(plan, make_thread_pool(plan));
  return run_cycle(plan, make_process_pool(plan));
}

}  // namespace stress
