// The thread pool's admission: how a submitted task gets into the pool's queues, and
// max_pending back-pressure (a submit from outside waits while max_pending tasks are queued
// and not yet taken by a worker).
//
//   enqueue() from outside ─▶ reserve_space() (max_pending: wait for room, or reject once
//                             closed) ─▶ push_injected() ─▶ start_workers() ─▶ notify_work()
//   enqueue() from a worker ─▶ its own ring (never waits; the injection queue when the ring
//                              is full) ─▶ start_workers() ─▶ notify_work()
//   enqueue_list() (map, 256 at a time, only without max_pending) ─▶ push_injected() ─▶ …
//
// A submit racing shutdown: push_injected() counts itself in entered_ before it checks
// closed_, and in left_ once its push is done; a worker exits only once it saw closed_
// and no submitter mid-push (thread_pool_core_scheduling.cpp), so a task is either rejected
// (shutdown_error, or broken_thread_pool) or run, never lost.
#include <exception>
#include <mutex>

#include "cfutures/errors.hpp"
#include "thread_pool_core.hpp"

namespace cfutures::detail {

void thread_pool_core::enqueue(state_base* task) {
  task->origin = this;
  worker* self = own_worker();
  if (self) {
    // A worker's own submits never block on max_pending and go to its ring.
    if (closing()) reject(task, 0);
    if (max_pending_ != 0) waiting_.fetch_add(1, std::memory_order_relaxed);
    bool piling_up = false;
    if (self->ring.push(task)) {
      worker_counters::bump(self->counters.submitted);
    } else {
      piling_up = push_injected(task, task, 1);
    }
    start_workers(1);
    notify_work(piling_up);
    return;
  }
  if (max_pending_ != 0 && !reserve_space()) reject(task, 0);
  note_submitter_cpu();
  const bool piling_up = push_injected(task, task, 1);
  // Queued first, then a worker started, as in Python: a worker whose initializer fails
  // right away breaks the pool under this task's future, not under this submit.
  start_workers(1);
  notify_work(piling_up);
}

void thread_pool_core::enqueue_list(state_base* first, state_base* last, std::size_t count) {
  for (state_base* t = first; t; t = t->next_in_queue.load(std::memory_order_relaxed)) {
    t->origin = this;
  }
  if (max_pending_ != 0) waiting_.fetch_add(count, std::memory_order_relaxed);
  if (!own_worker()) note_submitter_cpu();
  const bool piling_up = push_injected(first, last, count) || count > 1;
  start_workers(count);
  notify_work(piling_up);
}

bool thread_pool_core::push_injected(state_base* first, state_base* last, std::size_t count) {
  // seq_cst: Dekker with shutdown()'s store to closed_ and a worker's exit check, which
  // reads closed_ then left_ and entered_: either this push is rejected, or the worker
  // waits for it.
  entered_.fetch_add(count, std::memory_order_seq_cst);
  if (closing()) {
    rejected_.fetch_add(count, std::memory_order_relaxed);
    // release: pairs with the exit check's acquire load of left_.
    left_.fetch_add(count, std::memory_order_release);
    reject(first, count);
  }
  const bool piling_up = injected_.push(first, last);
  left_.fetch_add(count, std::memory_order_release);
  return piling_up;
}

void thread_pool_core::reject(state_base* first, std::size_t count) {
  std::exception_ptr reason;
  {
    std::lock_guard lock(message_mutex_);
    reason = broken_.load(std::memory_order_relaxed)
                 ? std::make_exception_ptr(broken_thread_pool(broken_message_))
                 : std::make_exception_ptr(shutdown_error());
  }
  if (max_pending_ != 0) count_taken(count);
  // Not submitted: their cancellation is not counted (count_cancelled_task).
  for (state_base* t = first; t; t = t->next_in_queue.load(std::memory_order_relaxed)) {
    t->origin = nullptr;
  }
  abandon_all(first, nullptr);
  std::rethrow_exception(reason);
}

// ── max_pending back-pressure ────────────────────────────────────────────────────────────
//
//   waiting_: tasks queued and not yet taken. A submit from outside reserves one
//   (reserve_space: a CAS below max_pending, else sleep on space_cv_); a worker that takes a
//   task, a drain, or a rejected submit gives them back (count_taken), waking the waiters.

bool thread_pool_core::reserve_space() {
  for (;;) {
    std::size_t waiting = waiting_.load(std::memory_order_relaxed);
    while (waiting < max_pending_) {
      if (waiting_.compare_exchange_weak(waiting, waiting + 1, std::memory_order_relaxed)) {
        return true;
      }
    }
    std::unique_lock lock(space_mutex_);
    // seq_cst: Dekker with count_taken()'s decrement, then its load of space_waiters_.
    space_waiters_.fetch_add(1, std::memory_order_seq_cst);
    space_cv_.wait(
        lock, [&] { return waiting_.load(std::memory_order_seq_cst) < max_pending_ || closing(); });
    space_waiters_.fetch_sub(1, std::memory_order_relaxed);
    if (closing()) return false;
  }
}

void thread_pool_core::count_taken(std::size_t count) noexcept {
  if (max_pending_ == 0 || count == 0) return;
  waiting_.fetch_sub(count, std::memory_order_seq_cst);
  if (space_waiters_.load(std::memory_order_seq_cst) != 0) {
    std::lock_guard lock(space_mutex_);
    space_cv_.notify_all();
  }
}

}  // namespace cfutures::detail
