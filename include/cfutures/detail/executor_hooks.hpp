// Internal: the core's contract with executors — everything an executor may hook into the
// core, and nothing else about executors is known to the core. Anyone can write an executor
// with promise<T> alone; these hooks only make waiting on its futures cheaper:
//
//   1. Running queued work while a thread waits (wait_helper, per thread): a thread-pool
//      worker that waits for a future of its own pool runs that pool's queued tasks
//      meanwhile, so recursive submit-and-wait cannot deadlock the pool.
//   2. Receiving replies while a thread waits (shared_wait_helper, per executor): any thread
//      about to sleep on a future of an out-of-process executor first receives that
//      executor's replies itself for a short while, which saves the hop through the
//      executor's own thread.
//   3. What a worker hands to a task it runs (run_context).
//   4. Stopping a running call (shared_wait_helper::stop_running): future::request_stop()
//      of a future whose executor runs calls elsewhere (the process pool stops the worker).
//
// An executor marks its futures' states with itself (state_base::origin); wait_before_sleeping
// — the one waiting routine, used by result(), wait() and as_completed() — consults the
// hooks of that origin, or spins briefly, before the caller sleeps on its own futex word.
#pragma once

#include <cstdint>
#include <memory>
#include <stop_token>

#include "cfutures/detail/deadline.hpp"

namespace cfutures::detail {

// Whoever waits through waiter nodes: a multi_waiter (wait / as_completed), or a thread-pool
// worker that runs other work while it waits. notify() is called under the state's LOCK.
class waiter_sink {
 public:
  virtual void notify(std::uint32_t index, bool with_exception) noexcept = 0;

 protected:
  ~waiter_sink() = default;
};

// One future's link to a waiter_sink; owned by the sink.
struct waiter_node {
  waiter_node* prev = nullptr;
  waiter_node* next = nullptr;
  waiter_sink* owner = nullptr;
  std::uint32_t index = 0;
  bool linked = false;  // guarded by the state's LOCK
};

// What a waiting thread waits for: one future's state (result(), wait()) or a multi_waiter
// (the free functions wait() and as_completed()).
class help_target {
 public:
  virtual bool ready() const noexcept = 0;
  // Makes `sink` be notified (through `node` if the target needs one) once ready; false,
  // and nothing subscribed, if it is ready already.
  virtual bool subscribe(waiter_sink& sink, waiter_node& node) noexcept = 0;
  virtual void unsubscribe(waiter_node& node) noexcept = 0;

 protected:
  ~help_target() = default;
};

// Hook 1: a thread that can run other work while it waits for a future of its own executor
// (a thread-pool worker). Installed per thread, with the origin (executor) it helps with.
class wait_helper {
 public:
  // Runs queued work until target.ready() or the deadline; returns target.ready().
  virtual bool help_until(help_target& target, const deadline& until) noexcept = 0;

 protected:
  ~wait_helper() = default;
};

void set_thread_wait_helper(wait_helper* helper, const void* origin) noexcept;
// Whether this thread has a wait_helper for futures of `origin` (non-null).
bool thread_helps_with(const void* origin) noexcept;
// The origin the calling thread helps with (its pool, on a worker), else null: the origin a
// composed future (then, when_all, a coroutine) created on a worker takes.
const void* thread_wait_origin() noexcept;

class state_base;

// Hook 2: an executor whose futures any waiting thread may help to complete. Registered by
// origin, weakly: a helper found by a waiter stays alive while it helps. A process forked
// from the registering one does not see the registrations (their threads are not there):
// the core forgets them in the child by itself.
class shared_wait_helper {
 public:
  // Works toward target.ready() for a short while (never past `until`); returns
  // target.ready().
  virtual bool help_briefly(help_target& target, const deadline& until) noexcept = 0;
  // future::request_stop() on one of its futures (`state`): stops the call if it runs
  // (the process pool stops its worker) and cancels the future; false if it does not run.
  virtual bool stop_running(state_base&) noexcept { return false; }

 protected:
  ~shared_wait_helper() = default;
};

void register_shared_wait_helper(const void* origin, std::weak_ptr<shared_wait_helper> helper);
void unregister_shared_wait_helper(const void* origin) noexcept;
// request_stop() of a state marked with `origin`: its shared_wait_helper's stop_running.
bool stop_through_origin(const void* origin, state_base& state) noexcept;

// How a task's run() ended, as its executor counts it (executor_stats).
enum class run_outcome : std::uint8_t {
  dropped,    // found cancelled: not run
  completed,  // ran and returned
  failed,     // ran and threw
};

// Hook 3: what an executor's worker hands to a task it runs.
struct run_context {
  std::stop_token executor_stop;  // a stop here is forwarded to tasks that take a stop_token
  // Called exactly once by run(), if set: after the call has returned (or was found
  // cancelled), just before its result is published, so the executor can count this worker
  // as available, and the call in its stats, before anyone sees the result.
  void (*before_publish)(void* arg, run_outcome outcome) noexcept = nullptr;
  void* arg = nullptr;

  void finishing(run_outcome outcome) const noexcept {
    if (before_publish) before_publish(arg, outcome);
  }
};

// The one waiting routine, before a thread sleeps on `target`: with the wait_helper of this
// thread for `thread_origin`, runs queued work until ready or the deadline (then the outcome
// is final); else lets the shared_wait_helper of `shared_origin` work briefly, or spins for
// waiter_spin_window. `sleep`: not ready yet, the caller sleeps on its own word.
enum class wait_step { ready, passed, sleep };
wait_step wait_before_sleeping(help_target& target, const void* thread_origin,
                               const void* shared_origin, const deadline& until) noexcept;

}  // namespace cfutures::detail
