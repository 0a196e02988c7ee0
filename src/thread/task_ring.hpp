// A worker's own queue of tasks: a bounded FIFO ring with one producer (the owning worker,
// for tasks it submits and batches it takes from the injection queue) and any number of
// consumers (the owner, stealing workers, shutdown's drain). Lock-free.
//
//   slots_:  [ . . . h h+1 . . . t-1 . . . ]   (indices modulo capacity)
//   head_ ── next to take (consumers CAS it forward)
//   tail_ ── next free slot (only the producer stores it)
//
// head_ and tail_ only grow (64-bit, no ABA). A consumer reads the slot at head, then claims
// it with a CAS on head_; if another consumer won, or the producer has since reused the slot
// (possible only after head_ moved past it), the CAS fails and the read value is dropped.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cfutures/detail/shared_state.hpp"

namespace cfutures::detail {

class task_ring {
 public:
  static constexpr std::uint64_t capacity = 256;

  // Owner only. False when full.
  bool push(state_base* task) noexcept {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    // acquire: pairs with a consumer's CAS, so its read of the slot is done before reuse.
    if (tail - head_.load(std::memory_order_acquire) >= capacity) return false;
    slots_[tail % capacity].store(task, std::memory_order_relaxed);
    tail_.store(tail + 1, std::memory_order_release);  // publishes the slot and the task
    return true;
  }

  // Owner only: how many more tasks push() would accept now (at least).
  std::uint64_t room() const noexcept {
    return capacity -
           (tail_.load(std::memory_order_relaxed) - head_.load(std::memory_order_acquire));
  }

  // Any thread. Null when empty.
  state_base* pop() noexcept {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      if (head >= tail_.load(std::memory_order_acquire)) return nullptr;
      state_base* task = slots_[head % capacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(head, head + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return task;
      }
    }
  }

  bool empty() const noexcept {
    return head_.load(std::memory_order_acquire) >= tail_.load(std::memory_order_acquire);
  }

 private:
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  alignas(64) std::array<std::atomic<state_base*>, capacity> slots_{};
};

}  // namespace cfutures::detail
