// The thread pool's shared queue for tasks submitted from outside the pool: an intrusive
// FIFO linked through state_base::next_in_queue. Any number of producers push without a
// lock (one exchange); consumers take turns through a try-lock and pop several at once.
//
//   head_ (consumer side)                       tail_ (producers exchange it)
//     │                                           │
//     ▼                                           ▼
//   [stub] ──next──▶ [task] ──next──▶ [task] ──▶ [task] ──▶ null
//
// A push exchanges tail_ first and links the previous tail second; between the two steps
// the queue looks shorter to the consumer, so pop() can return null while a push is half
// done (non_empty() is already true then: callers retry, they never sleep on it). The stub
// node keeps the queue non-empty for the algorithm: when the consumer is about to take the
// last task it re-inserts the stub behind it. Empty means tail_ == &stub_.
#pragma once

#include <atomic>
#include <cstdint>

#include "cfutures/detail/shared_state.hpp"

namespace cfutures::detail {

class injection_queue {
 public:
  injection_queue() noexcept = default;
  injection_queue(const injection_queue&) = delete;
  injection_queue& operator=(const injection_queue&) = delete;

  // Any thread: appends the chain first → … → last (linked through next_in_queue). Returns
  // whether the queue held tasks already (work is piling up).
  bool push(state_base* first, state_base* last) noexcept {
    last->next_in_queue.store(nullptr, std::memory_order_relaxed);
    // acq_rel: publishes the chain's tasks; orders after the previous pusher's exchange.
    state_base* previous = tail_.exchange(last, std::memory_order_acq_rel);
    previous->next_in_queue.store(first, std::memory_order_release);
    return previous != &stub_;
  }

  bool non_empty() const noexcept { return tail_.load(std::memory_order_acquire) != &stub_; }

  // The consumer lock: one thread pops at a time.
  bool try_lock() noexcept {
    return !consuming_.load(std::memory_order_relaxed) &&
           !consuming_.exchange(true, std::memory_order_acquire);
  }
  void lock() noexcept;
  void unlock() noexcept { consuming_.store(false, std::memory_order_release); }

  // With the consumer lock: the oldest task, or null if empty or a push is half done.
  state_base* pop() noexcept;

 private:
  struct stub_node final : state_base {};

  stub_node stub_;
  state_base* head_ = &stub_;  // consumer side, under the consumer lock
  alignas(64) std::atomic<state_base*> tail_{&stub_};
  alignas(64) std::atomic<bool> consuming_{false};
};

}  // namespace cfutures::detail
