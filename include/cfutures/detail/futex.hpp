// Internal: sleeping on a 32-bit atomic word (Linux futex), with an optional deadline.
// std::atomic::wait has no timed form; result(timeout), wait and as_completed need one.
// These functions establish no ordering by themselves: callers re-check the word with
// acquire loads, and wakers publish with release stores before calling futex_wake_all.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "cfutures/detail/deadline.hpp"

namespace cfutures::detail {

// Blocks while word == expected, until woken or `until` passes (nullptr: no limit).
// Returns false only when the deadline has passed; spurious returns are possible.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const clock::time_point* until) noexcept;

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept;

// The same for a word in memory shared with another process (a MAP_SHARED mapping): the
// functions above key the word by this process's address space, and would miss the other's.
bool futex_wait_shared(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const clock::time_point* until) noexcept;
void futex_wake_one_shared(std::atomic<std::uint32_t>& word) noexcept;

// How long a thread waiting for futures (result(), wait(), as_completed()) spins before it
// sleeps: longer than a short task's round trip, far shorter than a scheduler tick.
inline constexpr clock::duration waiter_spin_window = std::chrono::microseconds(50);

// A bounded spin before sleeping: call next() between checks until it returns false (the
// window has passed). The first rounds only pause the CPU; later ones also yield it, so a
// spinner never starves the very thread it waits for when both share one CPU.
class spin_wait {
 public:
  explicit spin_wait(clock::duration window) noexcept : window_(window) {}
  bool next() const noexcept;

 private:
  clock::duration window_;
  mutable clock::time_point end_{};  // read from the clock at the first check, not before
  mutable unsigned rounds_ = 0;
};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace cfutures::detail
