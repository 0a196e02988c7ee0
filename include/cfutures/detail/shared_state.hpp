// Internal: the shared state behind future<T>, promise<T> and every executor's tasks.
//
// One 32-bit word holds the state machine and two flags, so a completed future can be read
// with one acquire load and a blocked reader sleeps on the word itself (futex):
//
//   bits 0-1  status:   PENDING ──try_start / set_running_or_notify_cancel──▶ RUNNING
//                          │  │                                                 │
//                          │  └────────── set_result / set_exception ───────┐   │
//                          │                                                ▼   ▼
//                          └──cancel()──▶ CANCELLED                          FINISHED
//             CANCELLED and FINISHED are terminal ("done"). cancel() of a FINISHED
//             state fails, of a RUNNING one too (unless the state says otherwise:
//             cancel_running_locked, a coroutine's); of a CANCELLED one succeeds again.
//   bit 2     EXCEPTION: FINISHED by an exception (error_ is set, value_ is not)
//   bit 3     LOCK:      a tiny spin lock guarding the callback and waiter lists and the
//                        one-time write of the value; held for a few instructions only
//   bit 4     SLEEPERS:  someone is (about to be) blocked in futex_wait on the word, so the
//                        completer must issue a wake-up
//
// Completion (publish): with LOCK held, the value or exception is written, then one CAS
// moves the status to its terminal value (release: pairs with the acquire loads of readers).
// Waiter nodes (wait / as_completed) are notified while LOCK is still held, so a waiter that
// removes its node under LOCK can never be notified after it has gone. Done-callbacks are
// detached under LOCK and run after it is released, in registration order, in the
// completing thread. A callback added to a done state runs at once in the adding thread.
//
// Waiting (wait_until): wait_before_sleeping (executor_hooks.hpp) — the executor's hooks, or
// a spin for a short window (a wake-up across CPUs costs 15-70 µs) — then sleep on the word.
//
// Pending -> running is a CAS that ignores LOCK (it preserves the bit), so cancel() also
// transitions by CAS and loses cleanly to a worker that has just started the call.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <stop_token>
#include <utility>

#include "cfutures/detail/deadline.hpp"
#include "cfutures/detail/executor_hooks.hpp"

namespace cfutures::detail {

enum class status : std::uint32_t { pending = 0, running = 1, finished = 2, cancelled = 3 };

class state_base;

// A done-callback, type-erased. The state hands it back exactly once: to invoke() once done
// (which runs it and then disposes of the node: a heap node deletes itself, a node that
// lives inside another object, such as a continuation's state or a coroutine frame, lets
// go of it), or to discard() if the state dies without completing.
struct callback_node {
  callback_node* next = nullptr;
  virtual void invoke(state_base& state) noexcept = 0;
  virtual void discard() noexcept = 0;

 protected:
  ~callback_node() = default;
};

// Calls the process-wide callback-error handler; never throws.
void report_callback_error(std::exception_ptr error) noexcept;

class state_base {
 public:
  state_base(const state_base&) = delete;
  state_base& operator=(const state_base&) = delete;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: the last owner must see every other owner's writes before destroying.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
  }

  status get_status() const noexcept { return status_of(word_.load(std::memory_order_acquire)); }
  bool done() const noexcept { return is_done(word_.load(std::memory_order_acquire)); }
  bool finished_with_exception() const noexcept {
    return (word_.load(std::memory_order_acquire) & exception_bit) != 0;
  }

  bool cancel() noexcept;
  // Python's set_running_or_notify_cancel: false if cancelled, true if it moved PENDING to
  // RUNNING, invalid_state_error if it was already RUNNING or FINISHED.
  bool set_running_or_notify_cancel();
  // The executor's form: PENDING -> RUNNING (true), or false for any other state.
  bool try_start() noexcept;

  // PENDING or RUNNING -> CANCELLED, for a state the library runs itself (a continuation
  // waiting for the future its function returned, which was cancelled; a process-pool call
  // whose worker is stopped); false if done.
  bool cancel_open() noexcept;

  void set_exception(std::exception_ptr error);               // invalid_state_error if done
  bool try_set_exception(std::exception_ptr error) noexcept;  // false if done

  // Blocks until done or the deadline passes; returns done().
  bool wait_until(const deadline& until) const noexcept;
  // Throws cancelled_error if cancelled; the stored exception (or null) if finished.
  // Precondition: done().
  std::exception_ptr exception_of_done() const;
  // Rethrows the stored exception or throws cancelled_error. Precondition: done().
  void throw_if_failed() const;

  // Takes the node over (see callback_node).
  void add_callback(callback_node* node) noexcept;
  bool add_waiter(waiter_node& node) noexcept;  // false (not linked) if already done
  void remove_waiter(waiter_node& node) noexcept;

  // Asks a running task that accepts a std::stop_token to stop; false if it accepts none.
  // By default, the executor that marked the state (origin) is asked (stop_through_origin).
  virtual bool request_stop() noexcept { return stop_through_origin(origin, *this); }
  // Executor tasks: runs the call (or drops it if cancelled), then releases the callable.
  virtual void run(const run_context& context) noexcept;
  // Executor tasks: the call will never run; fails a pending future with `reason` (or
  // cancels it when reason is null) and releases the callable.
  virtual void abandon(std::exception_ptr reason) noexcept;

  std::atomic<state_base*> next_in_queue{nullptr};  // intrusive link for executors' queues
  const void* origin = nullptr;  // the executor that queued this task, if any (executor_hooks.hpp)

 protected:
  static constexpr std::uint32_t status_mask = 0b11;
  static constexpr std::uint32_t exception_bit = 1u << 2;
  static constexpr std::uint32_t lock_bit = 1u << 3;
  static constexpr std::uint32_t sleepers_bit = 1u << 4;

  explicit state_base(std::uint32_t initial_refs = 1) noexcept : refs_(initial_refs) {}
  virtual ~state_base();
  virtual void destroy() noexcept { delete this; }

  static status status_of(std::uint32_t w) noexcept { return status(w & status_mask); }
  static bool is_done(std::uint32_t w) noexcept {
    return status_of(w) == status::finished || status_of(w) == status::cancelled;
  }
  static bool is_open(std::uint32_t w) noexcept {
    return status_of(w) == status::pending || status_of(w) == status::running;
  }

  std::uint32_t lock() noexcept;  // returns the word as locked
  void unlock() noexcept;
  // With LOCK held and the status PENDING or RUNNING: moves to `to`, notifies waiters,
  // releases LOCK, wakes sleepers and runs the callbacks. The result must already be
  // stored. Returns false (LOCK released, nothing changed) if the status was not open.
  // CANCELLED is reached from PENDING only, unless from_running (cancel_open).
  bool publish_locked(status to, bool with_exception, bool from_running = false) noexcept;
  // cancel() of a RUNNING state, called with LOCK held: must release it. The default
  // refuses (Python: a running call cannot be cancelled); a coroutine's state accepts
  // (coroutine.hpp).
  virtual bool cancel_running_locked() noexcept;
  // cancel() is about to move PENDING to CANCELLED (+1), or failed to after all (-1): an
  // executor's task counts it (executor_stats). Called with LOCK held.
  virtual void cancelling(int) noexcept {}

  std::uint32_t word() const noexcept { return word_.load(std::memory_order_acquire); }

  std::exception_ptr error_;

 private:
  mutable std::atomic<std::uint32_t> word_{0};
  std::atomic<std::uint32_t> refs_;
  callback_node* callbacks_ = nullptr;  // newest first; run oldest first
  waiter_node* waiters_ = nullptr;
};

// The state holding a T (or nothing for void).
template <class T>
class shared_state : public state_base {
 public:
  explicit shared_state(std::uint32_t initial_refs = 1) noexcept : state_base(initial_refs) {}

  template <class... A>
  bool try_set_result(A&&... a) {
    const std::uint32_t w = lock();
    if (!is_open(w)) {
      unlock();
      return false;
    }
    try {
      ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<A>(a)...);
    } catch (...) {
      unlock();
      throw;
    }
    return publish_locked(status::finished, false);
  }

  // Precondition: finished without exception.
  T& value() noexcept { return value_; }

 protected:
  ~shared_state() override {
    const std::uint32_t w = word();
    if (status_of(w) == status::finished && !(w & exception_bit)) value_.~T();
  }

  // For the executor thread that owns a RUNNING task: constructs the value in place.
  template <class Make>
  void construct_value(Make&& make) {
    ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<Make>(make)());
  }

 private:
  union {
    T value_;
  };
};

template <>
class shared_state<void> : public state_base {
 public:
  explicit shared_state(std::uint32_t initial_refs = 1) noexcept : state_base(initial_refs) {}

  bool try_set_result() noexcept {
    const std::uint32_t w = lock();
    if (!is_open(w)) {
      unlock();
      return false;
    }
    return publish_locked(status::finished, false);
  }
};

}  // namespace cfutures::detail
