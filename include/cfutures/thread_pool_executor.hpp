// cfutures/thread_pool_executor.hpp — a pool of worker threads (Python's ThreadPoolExecutor).
//
// What: runs submitted calls on up to max_workers threads. Workers start on demand, one per
// submit while no idle worker is available, and idle ones are reused before new ones start.
//   thread_pool_executor pool;                        // min(32, hardware_concurrency() + 4)
//   thread_pool_executor pool(4);
//   thread_pool_executor pool({.max_workers = 4, .thread_name_prefix = "io",
//                              .initializer = &init, .max_pending = 1000});
// Options:
//   max_workers        unset: min(32, hardware_concurrency() + 4); 0: std::invalid_argument
//   thread_name_prefix workers are named "<prefix>_<n>" (n from 0; the OS keeps 15 chars);
//                      default prefix "cfutures"
//   initializer        runs first in every worker; if it throws, the pool is broken: pending
//                      and later work fails with broken_thread_pool
//   max_pending        0: unbounded; N: submit() blocks while N tasks wait to start (a submit
//                      from one of the pool's own workers never blocks)
// submit(f, args...): arguments are decay-copied now; f may take a std::stop_token first,
//   which future::request_stop() and shutdown({.cancel_futures = true}) stop. The result type
//   is f's, with references and cv-qualifiers removed (the value is copied into the future).
// map(f, ranges..., [map_options]): see executor.hpp (chunksize is accepted and ignored, as
//   in Python's thread pool).
// stats(): futures by state and workers alive (stats.hpp); cheap enough to poll.
// shutdown(options): stops accepting work; cancel_futures cancels what has not started and
//   requests a stop of running stop_token tasks; wait blocks until every worker has finished
//   (from one of the pool's own workers it does not wait for that worker). Queued work still
//   runs unless cancelled. Idempotent. The destructor is shutdown({.wait = true}).
// Order: with one worker, tasks run in submission order; with more, no order is promised.
// Workers' CPU and policy: tasks, and the threads they start, see the CPU affinity and
//   scheduling policy the pool was created with (a task that changes its worker's affinity or
//   policy keeps that change); between tasks the pool moves and pins its workers itself.
// Waiting inside the pool: a task that waits for futures of its own pool (future::result(),
//   wait(), exception(), and the free functions wait() and as_completed()) runs that pool's
//   queued tasks while it waits, so recursive submit-and-wait patterns finish even when
//   every worker is waiting (CPython deadlocks there). Such a task may thus run other tasks
//   of the pool on its own stack: do not hold a lock that those tasks take while you wait,
//   and expect a timeout to be overrun by the queued task it is running when it passes.
// How it schedules, spins and sleeps: docs/performance-notes.md.
//
// Thread safety: every member may be called from any thread concurrently, including from
//   tasks running in the pool.
// Blocking: submit blocks only under max_pending (above); shutdown({.wait = true}) and the
//   destructor join the workers; the rest returns at once.
// Throws: the constructors: std::invalid_argument for max_workers 0. submit/map:
//   shutdown_error after shutdown, broken_thread_pool once broken, std::system_error if not
//   even one worker thread can be started; a call that is not invocable with the arguments is
//   a compile-time error. shutdown and the destructor never throw.
// Python counterpart: concurrent.futures.ThreadPoolExecutor (max_workers, thread_name_prefix,
//   initializer; initargs are a lambda's captures here).
// Deviations: waiting inside the pool runs queued work (above) instead of deadlocking; at
//   most 65 536 threads are started whatever max_workers says; max_pending and stop tokens
//   are C++ additions; the pool never deadlocks at interpreter exit because there is none —
//   the destructor joins.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "cfutures/detail/task.hpp"
#include "cfutures/executor.hpp"
#include "cfutures/future.hpp"
#include "cfutures/stats.hpp"

namespace cfutures {

struct thread_pool_options {
  // Default member initializers ({}) keep -Wmissing-field-initializers quiet for users who
  // write designated initializers naming only some fields.
  // unset: min(32, hardware_concurrency() + 4); 0: std::invalid_argument.
  std::optional<std::size_t> max_workers{};
  // Workers are named "<prefix>_<n>"; empty: "cfutures".
  std::string thread_name_prefix{};
  // Runs first in every worker; if it throws, the pool is broken (broken_thread_pool).
  std::function<void()> initializer{};
  // 0: unbounded; N: submit() blocks while N tasks wait to start.
  std::size_t max_pending = 0;
};

namespace detail {
class thread_pool_core;
}

class thread_pool_executor {
 public:
  // A pool of min(32, hardware_concurrency() + 4) workers.
  thread_pool_executor();
  // A pool of max_workers workers (0: std::invalid_argument).
  explicit thread_pool_executor(std::size_t max_workers);
  // A pool configured by `options` (see thread_pool_options).
  explicit thread_pool_executor(thread_pool_options options);
  // shutdown({.wait = true}): waits for queued and running work, joins the workers.
  ~thread_pool_executor();
  // Neither copyable nor movable.
  thread_pool_executor(const thread_pool_executor&) = delete;
  thread_pool_executor& operator=(const thread_pool_executor&) = delete;

  // The most workers this pool runs at once.
  std::size_t max_workers() const noexcept;

  // Schedules f(args...) (decay-copied; f may take a std::stop_token first): its future.
  template <class F, class... Args>
  auto submit(F&& f, Args&&... args) {
    constexpr bool callable = detail::call_traits<F, Args...>::callable;
    static_assert(callable,
                  "thread_pool_executor::submit(f, args...): f is not callable with these "
                  "arguments (they are decay-copied and passed as rvalues, like std::thread)");
    if constexpr (callable) {
      auto [fut, task] = detail::make_task(std::forward<F>(f), std::forward<Args>(args)...);
      enqueue(task);
      return std::move(fut);
    }
  }

  // Python's Executor.map: f over the zipped ranges, in input order (see executor.hpp).
  template <class F, class... Args>
  auto map(F&& f, Args&&... args) {
    submit_batch batch(*this);
    auto results = detail::executor_map(*this, std::forward<F>(f), std::forward<Args>(args)...);
    batch.flush();
    return results;
  }

  // Stops accepting work; optionally cancels queued work and waits for the workers.
  void shutdown(shutdown_options options = {}) noexcept;

  // Counts of futures by state and workers alive (stats.hpp).
  executor_stats stats() const noexcept;

 private:
  // While one is open on a thread, that thread's submits to this pool are queued together,
  // `size` at a time (one push and one wake-up per batch). The destructor queues what is
  // left (if the pool has closed meanwhile, that is cancelled).
  class submit_batch {
   public:
    static constexpr std::size_t size = 256;
    explicit submit_batch(thread_pool_executor& pool);
    ~submit_batch();
    submit_batch(const submit_batch&) = delete;
    submit_batch& operator=(const submit_batch&) = delete;
    void flush();  // throws as submit() does

   private:
    friend class thread_pool_executor;
    thread_pool_executor* pool_;
    submit_batch* outer_;
    detail::state_base* first_ = nullptr;
    detail::state_base* last_ = nullptr;
    std::size_t count_ = 0;
  };
  static thread_local submit_batch* current_batch_;

  // Takes over the task's queue reference; on failure abandons it and throws.
  void enqueue(detail::state_base* task);

  std::shared_ptr<detail::thread_pool_core> core_;
};

}  // namespace cfutures
