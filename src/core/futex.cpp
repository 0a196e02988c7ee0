#include "cfutures/detail/futex.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

namespace cfutures::detail {
namespace {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

// `op` carries FUTEX_PRIVATE_FLAG unless the word is shared between processes.
long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t val, const timespec* ts,
           std::uint32_t mask) noexcept {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, val, ts, nullptr, mask);
}

bool wait_bitset(std::atomic<std::uint32_t>& word, int flags, std::uint32_t expected,
                 const clock::time_point* until) noexcept {
  timespec ts{};
  if (until) {
    // steady_clock is CLOCK_MONOTONIC on Linux, the clock FUTEX_WAIT_BITSET uses.
    const auto since_epoch = until->time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>((since_epoch - secs).count() * clock::duration::period::num *
                                   1'000'000'000 / clock::duration::period::den);
  }
  const long rc = futex(word, FUTEX_WAIT_BITSET | flags, expected, until ? &ts : nullptr,
                        FUTEX_BITSET_MATCH_ANY);
  if (rc == -1 && errno == ETIMEDOUT) return false;
  return true;
}

}  // namespace

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const clock::time_point* until) noexcept {
  return wait_bitset(word, FUTEX_PRIVATE_FLAG, expected, until);
}

bool futex_wait_shared(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const clock::time_point* until) noexcept {
  return wait_bitset(word, 0, expected, until);
}

bool spin_wait::next() const noexcept {
  ++rounds_;
  if (rounds_ % 16 != 0) {
    cpu_relax();
    return true;
  }
  const auto now = clock::now();
  if (rounds_ == 16) end_ = now + window_;
  if (rounds_ > 64) sched_yield();
  return now < end_;
}

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  futex(word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, nullptr, 0);
}

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
  futex(word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr, 0);
}

void futex_wake_one_shared(std::atomic<std::uint32_t>& word) noexcept {
  futex(word, FUTEX_WAKE, 1, nullptr, 0);
}

}  // namespace cfutures::detail
