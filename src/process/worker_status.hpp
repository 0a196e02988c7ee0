// Internal: what a process-pool worker tells its parent through shared memory, without a
// message: which call it is running and since when (the parent's timeouts count from there,
// and the death of a worker blames that call), and the record of its crash, if a signal
// ended it (crash_report.hpp). It lives in the status page of the worker's shared ring
// (shared_ring.hpp), so it outlives the worker until the parent lets go of the channel.
//
// The worker writes (one thread: the serve loop), the parent reads at any time: a sequence
// count makes the parent's snapshot consistent (odd while the worker writes; the parent
// reads again if it changed).
//
//   worker: running(id, item) before each call ─▶ idle() after it ─▶ running(...) ...
//   parent: snapshot() ─▶ {id, item, started} (id 0: between calls)
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "remote/remote_core.hpp"

namespace cfutures::detail {

class worker_status {
 public:
  struct view {
    running_call call;                               // id 0: no call running
    std::chrono::steady_clock::time_point started;  // when the worker started it
  };

  // The status in the shared page at `area` (worker_status fits in shared_ring::status_page).
  static worker_status& at(void* area) noexcept;

  // Worker side.
  void running(std::uint64_t id, std::size_t item) noexcept;
  void idle() noexcept;
  // Parent side.
  view snapshot() const noexcept;
  // Where the worker's crash handler writes (crash_report.hpp), crash_bytes long.
  static constexpr std::size_t crash_bytes = 3072;
  unsigned char* crash_area() noexcept { return crash_; }
  const unsigned char* crash_area() const noexcept { return crash_; }

 private:
  void write(std::uint64_t id, std::size_t item, std::int64_t started_ns) noexcept;

  std::atomic<std::uint64_t> sequence_{0};
  std::atomic<std::uint64_t> id_{0};
  std::atomic<std::uint64_t> item_{0};
  std::atomic<std::int64_t> started_ns_{0};  // steady_clock (CLOCK_MONOTONIC: every process's)
  alignas(64) unsigned char crash_[crash_bytes];
};

}  // namespace cfutures::detail
