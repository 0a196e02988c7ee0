// Large copies with a second thread: see copy_helper.hpp.
#include "process/copy_helper.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>

#include "cfutures/detail/futex.hpp"

namespace cfutures::detail {
namespace {

constexpr std::size_t min_shared_copy = std::size_t{4} << 20;
constexpr std::size_t chunk = std::size_t{256} << 10;
// How long the helper polls for the next job before sleeping (a large echo's next copy into
// shared memory, in the same process, comes a few milliseconds later: not worth polling for).
constexpr auto helper_spin = std::chrono::microseconds(20);

class helper {
 public:
  bool running() const noexcept { return running_.load(std::memory_order_relaxed); }
  std::uint64_t helped() const noexcept { return helped_.load(std::memory_order_relaxed); }

  explicit helper(bool may_start) noexcept : may_start_(may_start) {}

  void start() noexcept {
    std::lock_guard lock(busy_);
    if (thread_.joinable() || !may_start_) return;
    stopping_.store(false, std::memory_order_relaxed);
    try {
      // The jobs so far are not the new thread's (a stop() right after this must be seen).
      thread_ = std::thread([this, seen = jobs_.load(std::memory_order_relaxed)] { serve(seen); });
      running_.store(true, std::memory_order_relaxed);
    } catch (...) {
      // No thread: copies go on alone.
    }
  }

  void stop() noexcept {
    std::lock_guard lock(busy_);
    if (!thread_.joinable()) return;
    running_.store(false, std::memory_order_relaxed);
    stopping_.store(true, std::memory_order_relaxed);
    jobs_.fetch_add(1, std::memory_order_release);
    futex_wake_all(jobs_);
    thread_.join();
  }

  void copy(char* to, const char* from, std::size_t n) noexcept {
    std::unique_lock lock(busy_, std::try_to_lock);
    if (!lock.owns_lock() || !thread_.joinable()) {
      std::memcpy(to, from, n);
      return;
    }
    to_ = to;
    from_ = from;
    size_ = n;
    next_.store(0, std::memory_order_relaxed);
    open_.store(true);
    jobs_.fetch_add(1, std::memory_order_release);
    futex_wake_one(jobs_);
    claim_chunks();
    open_.store(false);
    while (inside_.load()) cpu_relax();
  }

 private:
  // Returns how many chunks it copied.
  std::uint64_t claim_chunks() noexcept {
    for (std::uint64_t copied = 0;; ++copied) {
      const std::size_t at = next_.fetch_add(chunk, std::memory_order_relaxed);
      if (at >= size_) return copied;
      std::memcpy(to_ + at, from_ + at, std::min(chunk, size_ - at));
    }
  }

  void serve(std::uint32_t seen) noexcept {
    for (;;) {
      spin_wait spin(helper_spin);
      std::uint32_t now;
      while ((now = jobs_.load(std::memory_order_acquire)) == seen) {
        if (!spin.next()) futex_wait(jobs_, seen, nullptr);
      }
      seen = now;
      if (stopping_.load(std::memory_order_relaxed)) return;
      inside_.store(true);
      if (open_.load()) helped_.fetch_add(claim_chunks(), std::memory_order_relaxed);
      inside_.store(false);
    }
  }

  const bool may_start_;
  std::mutex busy_;  // held by the copy using the helper, and by start() and stop()
  std::thread thread_;
  std::atomic<bool> running_{false};  // a hint for copy_bytes: thread_ is joinable
  std::atomic<bool> stopping_{false};
  alignas(64) std::atomic<std::uint32_t> jobs_{0};  // futex word: bumped for each job
  std::atomic<bool> open_{false};
  std::atomic<bool> inside_{false};
  // The job: written by the copying thread before open_ is set, read by the helper after it
  // saw open_ set, unchanged until the copying thread saw inside_ clear.
  char* to_ = nullptr;
  const char* from_ = nullptr;
  std::size_t size_ = 0;
  alignas(64) std::atomic<std::size_t> next_{0};
  std::atomic<std::uint64_t> helped_{0};  // chunks the helper copied, ever
};

// Never destroyed (a detached pool may copy during exit); a forked child gets a new one.
helper*& current() {
  static helper* h = new helper(true);
  return h;
}

// ThreadSanitizer cannot start a thread in a child forked from a multi-threaded process (it
// kills the child): built with it, a forked child copies alone.
#if defined(__SANITIZE_THREAD__)
constexpr bool forked_child_may_start = false;
#else
constexpr bool forked_child_may_start = true;
#endif

// At load time: every forked child forgets the parent's helper, whether or not it had
// started yet; and the helper object exists before any fork (a child forked while another
// thread was constructing it would find current()'s guard taken for ever).
[[maybe_unused]] const bool forget_in_children = [] {
  current();
  pthread_atfork(nullptr, nullptr, [] { copy_helper::forget_inherited(); });
  return true;
}();

bool several_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 1;
}

}  // namespace

void copy_bytes(char* to, const char* from, std::size_t n) noexcept {
  if (n < min_shared_copy || !current()->running()) {
    std::memcpy(to, from, n);
    return;
  }
  current()->copy(to, from, n);
}

namespace copy_helper {

void prepare() noexcept {
  if (!current()->running() && several_cpus()) current()->start();
}

void stop() noexcept { current()->stop(); }

std::uint64_t helped_chunks() noexcept { return current()->helped(); }

void forget_inherited() noexcept {
  // The inherited one (its mutex, its thread's state) is left alone.
  current() = new helper(forked_child_may_start);
}

}  // namespace copy_helper
}  // namespace cfutures::detail
