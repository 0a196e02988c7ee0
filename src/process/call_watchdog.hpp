// Internal: the process pool's own timer. It stops a worker whose running call overran its
// timeout, and finishes stopping every worker the pool stops: SIGTERM, then SIGKILL if it is
// still there stop_grace later. It has a thread of its own, started with the first call
// that has a timeout or the first stop: the manager thread runs done-callbacks (user code),
// which must never delay a timeout (pebble#129: a wedged manager stopped enforcing them).
//
//   manager:     watch(pid) when a worker starts ─▶ expect(pid, call, limit) when a timed call
//                is sent ─▶ settled(pid, call) at its reply ─▶ forget(pid) when the worker
//                is reaped: why the watchdog stopped it, if it did (stop_record)
//   any thread:  stop(pid, stop_request, call) (future::request_stop)
//   watchdog:    sleeps until the earliest deadline; reads each timed worker's status page
//                (worker_status.hpp: the call it runs and since when); a call still running
//                at started + limit gets its worker stopped (stop_reason::timeout)
//
// A call not started yet cannot end before now + limit, so the watchdog wakes no earlier
// than it must and is never late: the time a call waits, in the queue or in its worker's
// ring, does not count. Signals go through the worker's pidfd (never to a reused pid).
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "process/worker_status.hpp"

namespace cfutures::detail {

// A worker asked to exit by SIGTERM gets this long before SIGKILL.
inline constexpr std::chrono::milliseconds stop_grace(200);

enum class stop_reason : std::uint8_t { none, timeout, stop_request };

struct stop_record {
  stop_reason reason = stop_reason::none;
  running_call call;                  // the call it was stopped for
  std::chrono::nanoseconds limit{0};  // the limit it overran (timeout)
};

class call_watchdog {
 public:
  call_watchdog() = default;
  call_watchdog(const call_watchdog&) = delete;
  call_watchdog& operator=(const call_watchdog&) = delete;
  ~call_watchdog();

  // A worker to watch: its pid, its pidfd (duplicated here) and its status page.
  void watch(pid_t pid, int pidfd, const worker_status& status);
  // Worker `pid` holds the calls of frame `id`, each limited to `limit`.
  void expect(pid_t pid, std::uint64_t id, std::chrono::nanoseconds limit);
  // Frame `id`'s reply arrived.
  void settled(pid_t pid, std::uint64_t id);
  // Stops worker `pid` for `why` (SIGTERM now, SIGKILL after stop_grace); false if it is not
  // watched or is being stopped already.
  bool stop(pid_t pid, stop_reason why, const running_call& call,
            std::chrono::nanoseconds limit = {});
  // The worker ended: stops watching it; why the watchdog stopped it (reason none: it did not).
  stop_record forget(pid_t pid);

 private:
  struct watched {
    pid_t pid = -1;
    int pidfd = -1;
    const worker_status* status = nullptr;
    std::vector<std::pair<std::uint64_t, std::chrono::nanoseconds>> timed;
    stop_record stopped;
    std::chrono::steady_clock::time_point kill_at;
    bool killed = false;
  };
  using clock = std::chrono::steady_clock;

  void run();
  watched* find(pid_t pid);
  // With mutex_ held: sends SIGTERM and arms the SIGKILL.
  void stop_locked(watched& w, stop_reason why, const running_call& call,
                   std::chrono::nanoseconds limit);
  // With mutex_ held: acts on worker w at `now`; returns when it next needs a look.
  clock::time_point check(watched& w, clock::time_point now);
  void start_thread();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<watched> workers_;
  std::thread thread_;
  bool quit_ = false;
};

}  // namespace cfutures::detail
