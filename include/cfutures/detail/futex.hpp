// Internal: sleeping on a 32-bit atomic word (Linux futex), with an optional deadline.
// std::atomic::wait has no timed form; result(timeout), wait and as_completed need one.
// These functions establish no ordering by themselves: callers re-check the word with
// acquire loads, and wakers publish with release stores before calling futex_wake_all.
#pragma once

#include <atomic>
#include <cstdint>

#include "cfutures/detail/deadline.hpp"

namespace cfutures::detail {

// Blocks while word == expected, until woken or `until` passes (nullptr: no limit).
// Returns false only when the deadline has passed; spurious returns are possible.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const clock::time_point* until) noexcept;

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace cfutures::detail
