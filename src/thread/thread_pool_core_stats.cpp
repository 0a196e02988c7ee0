// The thread pool's stats (executor_stats): where each count is kept, and how stats() sums
// them. Nothing on the hot path is a shared read-modify-write:
//
//   submitted  entered_ - rejected_ (the admission counter that push_injected keeps anyway,
//              thread_pool_core_admission.cpp) + each worker's submits into its own ring
//   taken      each worker, as it takes a task not cancelled yet (took_task)
//   completed, failed, dropped   each worker, in before_publish / count_outcome, before the
//              result is published (a waiter that saw it finds it counted)
//   cancelled  cancelled_: task::cancelling, as cancel() moves a queued task to CANCELLED
//              (a worker that takes it later does not count it; one that took it just
//              before the cancel counts it `dropped`, taking back its `taken`)
//   failed     + abandoned_failed_: queued tasks failed by a broken pool (abandon_all)
//
//   running = taken - completed - failed - dropped   (per worker)
//   queued  = submitted - taken - (cancelled - dropped) - abandoned_failed_
// Worker counters are written by their own thread only (load + store, relaxed) and read
// here with relaxed loads: at quiescence, the waits that made it quiescent order them.
#include <algorithm>
#include <mutex>

#include "thread_pool_core.hpp"

namespace cfutures::detail {

void count_cancelled_task(const void* origin, int delta) noexcept {
  if (origin) const_cast<thread_pool_core*>(static_cast<const thread_pool_core*>(origin))
                  ->count_cancelled(delta);
}

bool thread_pool_core::no_submit_in_flight() const noexcept {
  // left_ first: entered_ >= left_ always, so equal values mean no push was in flight when
  // entered_ was read. acquire: pairs with the release increments of left_ (the pushes
  // before them are visible); seq_cst: the Dekker pair with push_injected's increment.
  const std::size_t left = left_.load(std::memory_order_acquire);
  return entered_.load(std::memory_order_seq_cst) == left;
}

void thread_pool_core::count_outcome(void* arg, run_outcome outcome) noexcept {
  worker_counters& c = static_cast<worker*>(arg)->counters;
  switch (outcome) {
    case run_outcome::completed:
      worker_counters::bump(c.completed);
      break;
    case run_outcome::failed:
      worker_counters::bump(c.failed);
      break;
    case run_outcome::dropped:
      if (c.counted_take) worker_counters::bump(c.dropped);
      break;
  }
}

executor_stats thread_pool_core::stats() noexcept {
  executor_stats s;
  std::size_t ring_submits = 0, taken = 0, dropped = 0, running = 0;
  const std::size_t n = started_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    const worker* w = slots_[i].load(std::memory_order_acquire);
    if (!w) continue;
    const worker_counters& c = w->counters;
    const std::size_t t = c.taken.load(std::memory_order_relaxed);
    const std::size_t done = c.completed.load(std::memory_order_relaxed);
    const std::size_t bad = c.failed.load(std::memory_order_relaxed);
    const std::size_t drop = c.dropped.load(std::memory_order_relaxed);
    ring_submits += c.submitted.load(std::memory_order_relaxed);
    taken += t;
    dropped += drop;
    s.completed += done;
    s.failed += bad;
    running += t > done + bad + drop ? t - done - bad - drop : 0;
  }
  const std::size_t rejected = rejected_.load(std::memory_order_relaxed);
  const std::size_t entered = entered_.load(std::memory_order_relaxed);
  const std::size_t abandoned = abandoned_failed_.load(std::memory_order_relaxed);
  s.cancelled = cancelled_.load(std::memory_order_relaxed);
  s.failed += abandoned;
  s.submitted = (entered > rejected ? entered - rejected : 0) + ring_submits;
  s.running = running;
  const std::size_t cancelled_in_queue = s.cancelled > dropped ? s.cancelled - dropped : 0;
  const std::size_t gone = taken + cancelled_in_queue + abandoned;
  s.queued = s.submitted > gone ? s.submitted - gone : 0;
  {
    std::lock_guard lock(exit_mutex_);
    s.workers = running_workers_;
  }
  return s;
}

}  // namespace cfutures::detail
