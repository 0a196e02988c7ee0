// What the tests of the thread pool's lock-free queues share: a queue node carrying a number,
// a set of nodes that counts how often each was taken, and a start line for racing threads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

#include "cfutures/detail/shared_state.hpp"

namespace cfutures::test {

// A task as the queues see it: only its intrusive link (next_in_queue) is used.
struct item final : detail::state_base {
  std::uint64_t value = 0;
  std::atomic<int> taken{0};  // how many times a consumer got it
};

// n items numbered 0 … n-1.
class items {
 public:
  explicit items(std::size_t n) : items_(new item[n]), size_(n) {
    for (std::size_t i = 0; i < n; ++i) items_[i].value = i;
  }
  item* operator[](std::size_t i) const noexcept { return &items_[i]; }
  std::size_t size() const noexcept { return size_; }
  // Whether every item was taken exactly once.
  bool each_taken_once() const noexcept {
    for (std::size_t i = 0; i < size_; ++i) {
      if (items_[i].taken.load(std::memory_order_relaxed) != 1) return false;
    }
    return true;
  }
  // 0 + 1 + … + (n-1): what the values of every item add up to.
  std::uint64_t checksum() const noexcept { return size_ * (size_ - 1) / 2; }

 private:
  std::unique_ptr<item[]> items_;
  std::size_t size_;
};

// The value of a task the queues handed out, counting the take.
inline std::uint64_t take(detail::state_base* task) noexcept {
  auto* it = static_cast<item*>(task);
  it->taken.fetch_add(1, std::memory_order_relaxed);
  return it->value;
}

// Threads wait at the line until go(), so that they start racing together.
class start_line {
 public:
  void wait() const noexcept {
    while (!go_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  void go() noexcept { go_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> go_{false};
};

}  // namespace cfutures::test
