#include "injection_queue.hpp"

#include <sched.h>

#include "cfutures/detail/futex.hpp"

namespace cfutures::detail {

void injection_queue::lock() noexcept {
  for (unsigned spins = 0; !try_lock(); ++spins) {
    if (spins < 64) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}

state_base* injection_queue::pop() noexcept {
  state_base* head = head_;
  state_base* next = head->next_in_queue.load(std::memory_order_acquire);
  if (head == &stub_) {
    if (!next) return nullptr;  // empty, or the first push is half done
    head_ = head = next;
    next = next->next_in_queue.load(std::memory_order_acquire);
  }
  if (next) {
    head_ = next;
    return head;
  }
  // `head` is the last linked task: unless a push is half done, put the stub behind it so
  // that taking it leaves the queue well-formed.
  if (head != tail_.load(std::memory_order_acquire)) return nullptr;
  push(&stub_, &stub_);
  next = head->next_in_queue.load(std::memory_order_acquire);
  if (!next) return nullptr;  // another push got in between; its link is not there yet
  head_ = next;
  return head;
}

}  // namespace cfutures::detail
