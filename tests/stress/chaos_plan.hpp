// One cycle of the chaos test, drawn at random from a seed: which executor (thread pool, or
// process pool forking or spawning its workers), its options, how many threads drive it for
// how many operations, whether process-pool tasks kill their worker, and how the executor
// ends: who shuts it down (nobody but the destructor, a driving thread, a thread of its own,
// a done-callback, one of the pool's tasks, kill_workers, terminate_workers), after how many
// operations, with which options.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include <cfutures/process_pool_executor.hpp>
#include <cfutures/thread_pool_executor.hpp>

#include "stress_support.hpp"

namespace stress {

enum class pool_kind { threads, fork, spawn };

enum class ending {
  destructor,
  from_driver,
  from_other_thread,
  from_callback,
  from_task,  // thread pool only
  kill_workers,
  terminate_workers,
};

struct cycle_plan {
  unsigned seed = 0;
  pool_kind kind = pool_kind::threads;
  std::size_t max_workers = 1;
  std::optional<std::size_t> max_tasks_per_child;  // process pools
  bool with_initializer = false;
  bool initializer_fails = false;
  bool deaths = false;  // process pools: some tasks kill their worker
  int drivers = 3;
  int ops_per_driver = 1;
  ending end = ending::destructor;
  int end_at = 0;  // the executor ends once the drivers have run this many operations together
  cfutures::shutdown_options shutdown;

  bool processes() const { return kind != pool_kind::threads; }

  std::string describe() const {
    static const char* const kinds[] = {"thread_pool", "process_pool_fork", "process_pool_spawn"};
    static const char* const endings[] = {"destructor",
                                          "shutdown from a driver",
                                          "shutdown from another thread",
                                          "shutdown from a callback",
                                          "shutdown from a task",
                                          "kill_workers",
                                          "terminate_workers"};
    std::string s = "seed " + std::to_string(seed) + ": " + kinds[static_cast<int>(kind)] + " of " +
                    std::to_string(max_workers) + " workers";
    if (max_tasks_per_child) s += ", max_tasks_per_child " + std::to_string(*max_tasks_per_child);
    if (with_initializer) s += initializer_fails ? ", failing initializer" : ", initializer";
    if (deaths) s += ", workers kill themselves";
    s += ", " + std::to_string(drivers) + " drivers x " + std::to_string(ops_per_driver) +
         " operations, ends by " + endings[static_cast<int>(end)] + " after " +
         std::to_string(end_at);
    if (end != ending::destructor && end != ending::kill_workers &&
        end != ending::terminate_workers) {
      s += std::string(" (wait ") + (shutdown.wait ? "true" : "false") + ", cancel_futures " +
           (shutdown.cancel_futures ? "true" : "false") + ")";
    }
    return s;
  }
};

// A plan for `seed`; each driver runs up to `max_ops_per_driver` operations.
inline cycle_plan draw_plan(unsigned seed, int max_ops_per_driver) {
  std::mt19937 rng(seed);
  auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  cycle_plan p;
  p.seed = seed;
  p.kind = static_cast<pool_kind>(rng() % 3);
  // Forked workers can hang under GCC 12's sanitizers (stress_support.hpp).
  if (forked_workers_can_hang && p.kind == pool_kind::fork) p.kind = pool_kind::spawn;
  p.max_workers = 1 + rng() % 4;
  if (p.processes() && chance(30)) p.max_tasks_per_child = 1 + rng() % 3;
  p.with_initializer = chance(30);
  p.initializer_fails = p.with_initializer && chance(20);
  p.deaths = p.processes() && chance(40);
  p.drivers = 3 + static_cast<int>(rng() % 2);
  p.ops_per_driver = max_ops_per_driver / 4 +
                     static_cast<int>(rng() % (max_ops_per_driver - max_ops_per_driver / 4 + 1));
  const int roll = static_cast<int>(rng() % 100);
  p.end = roll < 20   ? ending::destructor
          : roll < 40 ? ending::from_driver
          : roll < 55 ? ending::from_other_thread
          : roll < 75 ? ending::from_callback
          : roll < 85 ? ending::from_task
          : roll < 93 ? ending::kill_workers
                      : ending::terminate_workers;
  if (!p.processes() && (p.end == ending::kill_workers || p.end == ending::terminate_workers)) {
    p.end = ending::from_other_thread;
  }
  if (p.processes() && p.end == ending::from_task) p.end = ending::from_driver;
  const int total = p.drivers * p.ops_per_driver;  // the end comes in the last two thirds
  p.end_at = total / 3 + static_cast<int>(rng() % static_cast<unsigned>(total - total / 3));
  p.shutdown = {.wait = chance(50), .cancel_futures = chance(50)};
  return p;
}

// The initializer of the plans that have one; it throws when the plan says it fails.
inline void chaos_initializer(int fails) {
  if (fails) throw std::runtime_error("chaos initializer fails");
}

inline std::unique_ptr<cfutures::thread_pool_executor> make_thread_pool(const cycle_plan& p) {
  cfutures::thread_pool_options options{.max_workers = p.max_workers};
  if (p.with_initializer) {
    options.initializer = [fails = p.initializer_fails] { chaos_initializer(fails); };
  }
  return std::make_unique<cfutures::thread_pool_executor>(std::move(options));
}

inline std::unique_ptr<cfutures::process_pool_executor> make_process_pool(const cycle_plan& p) {
  cfutures::process_pool_options options{.max_workers = p.max_workers,
                                         .max_tasks_per_child = p.max_tasks_per_child,
                                         .method = p.kind == pool_kind::fork
                                                       ? cfutures::start_method::fork
                                                       : cfutures::start_method::spawn};
  if (p.with_initializer) options.initializer = {&chaos_initializer, int{p.initializer_fails}};
  return std::make_unique<cfutures::process_pool_executor>(std::move(options));
}

}  // namespace stress
