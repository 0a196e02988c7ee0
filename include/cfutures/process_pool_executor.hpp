// cfutures/process_pool_executor.hpp — a pool of worker processes (Python's
// ProcessPoolExecutor).
//
// What: runs submitted calls in up to max_workers child processes, so a crash, a leak or a
// non-thread-safe library stays in the child.
//   process_pool_executor pool;                       // CPUs this process may use
//   process_pool_executor pool(4);
//   process_pool_executor pool({.max_workers = 4, .initializer = &init,
//                               .max_tasks_per_child = 100,
//                               .method = start_method::spawn});
// Calls that can be sent: `f` is a plain function (any linkage) or a lambda without captures; its
// arguments and result are serializable (<cfutures/serialization.hpp>) and the arguments
// default-constructible. Anything else — a capturing lambda, a std::function, a pointer
// argument, a type without a cereal serialize() — is a compile-time error naming the type.
// Functions that take a std::stop_token are rejected at compile time (a stop cannot be
// delivered into another process).
// Options:
//   max_workers          unset: the CPUs this process may run on; 0: std::invalid_argument
//   initializer          process_initializer: a function (and its arguments, Python's
//                        initargs) run first in every worker: `.initializer = &init` or
//                        `.initializer = {&init_with, 42, std::string("db")}`. If it throws,
//                        the pool is broken (broken_process_pool, with the exception's text)
//   max_tasks_per_child  a worker is replaced by a fresh process after this many calls
//                        (the pool keeps its size); 0: std::invalid_argument
//   on_worker_death      worker_death::break_pool (default, Python's) or fail_call (below)
//   max_retries          fail_call: runs of a call whose worker died, beyond the first
//   call_timeout         per call, from when a worker starts it (below)
//   max_worker_memory    bytes, soft: a worker above it after a call is replaced
//   worker_memory_limit  bytes, hard: the call that would pass it gets std::bad_alloc
//   idle_timeout         an idle worker exits (workers start again on demand)
//   method               start_method::fork (default; needs nothing), start_method::spawn
//                        (runs this program again; its main() must call serve_if_worker
//                        first — forgetting it is reported as broken_process_pool naming
//                        the fix, never a hang) or start_method::forkserver (CPython's
//                        default on Linux from 3.14). As in Python, a forked child keeps any
//                        lock another thread of the parent held at the moment of fork;
//                        cfutures forks only while no thread is inside its own submit, but a
//                        program whose other threads hold locks of their own should use
//                        spawn or forkserver. forkserver: one server process per pool,
//                        started like spawn (main() must call serve_if_worker first, and
//                        forgetting it is reported the same way) when the pool's first
//                        worker starts; it forks every worker of that pool on request.
//                        Workers start fast and from a single-threaded process, so no lock
//                        another thread of this program held is ever inherited; like
//                        spawn's, they do not share this process's memory. A worker is the
//                        server's child, watched and stopped by the pool as its own (exit
//                        codes and signals are reported the same way); the server ends with
//                        its pool, or with this process: once the pool is destroyed,
//                        neither the server nor a worker is left
// Semantics: as thread_pool_executor (executor.hpp), plus:
//   - A call is running() only while a worker process has it; until then cancel() succeeds
//     (CPython marks up to max_workers + 1 queued calls running).
//   - An exception thrown by a call comes back as the same type when its exact dynamic type
//     is one of <stdexcept>'s, std::bad_alloc or cfutures' errors; any other as remote_error
//     with the type's name and what().
//   - A worker that dies abruptly (signal, exit, abort, out of memory) breaks the pool: every
//     pending future fails with broken_process_pool naming the process, how it ended and
//     the function it was running; later submits throw broken_process_pool. The other
//     workers are terminated. (worker_death::break_pool, the default: Python's behaviour.)
// Resilience (pebble, loky, Dask; docs/reliability.md):
//   - worker_death::fail_call: a worker that dies fails only the call it was running (its
//     status page tells which), with worker_died_error (pid, signal or exit code, attempts,
//     the function, and the worker's stack when a signal ended it); with max_retries = n
//     (or call_options::max_retries) that call first runs again up to n times, each time on
//     a fresh worker. The calls it had received but not started — and any whose reply had
//     not left it yet — go back to the front of the queue (they may run twice); a new worker
//     replaces it. A worker that dies before it could serve still breaks the pool.
//   - call_timeout / call_options::timeout: a call still running that long after its worker
//     started it has that worker stopped (SIGTERM, then SIGKILL 200 ms later) by the pool's
//     own watchdog thread (never delayed by a done-callback) and fails with
//     call_timeout_error; the worker is replaced; the pool goes on under either policy.
//     Time spent queued does not count.
//   - future::request_stop() on a call a worker holds stops that worker the same way and
//     cancels the future (true); the other calls it held run elsewhere. On a call no worker
//     holds it returns false and changes nothing (cancel() is for those). It may wait for
//     the pool's manager thread to let go of the workers for a moment.
//   - max_worker_memory: after a call, a worker whose resident set exceeds it exits cleanly
//     and is replaced; no call fails. worker_memory_limit: an address-space limit (RLIMIT_AS)
//     the pool sets on each worker when it says hello, at its size then plus the limit (so
//     the pages a forked worker shares with this process count once); an allocation past it
//     throws std::bad_alloc in the call, which fails with it; the worker goes on. Workers
//     take calls only once the limit is set. Under AddressSanitizer or ThreadSanitizer the
//     limit also counts their reservations.
//   - idle_timeout: a worker that had nothing to do for that long exits; a call queued later
//     starts workers again.
//   - Spare worker: once a worker was lost (a death, a timeout, a stop request), the pool
//     keeps one more worker started ahead, which takes no call until it replaces the next
//     lost worker (then the next spare starts). So after a loss up to max_workers + 1
//     processes live (a deviation: CPython and pebble start the replacement after the
//     death); the spare exits with the last serving worker (idle_timeout) and at shutdown.
//   - map(f, ranges..., {.chunksize = n}) sends n calls as one remote call (Python's
//     _process_chunk): they run in order in one worker, stop at the first exception, and
//     come back in one message; the range yields the values before the failing position and
//     rethrows its exception there. submit_chunked() keeps one future per call for callers
//     that need them.
//   - terminate_workers() / kill_workers() (Python 3.14): shutdown({.wait = false,
//     .cancel_futures = true}), then SIGTERM / SIGKILL every worker: running calls fail with
//     broken_process_pool, whose message names the method and the signal, and the pool is
//     broken.
//   - Workers start on demand, up to max_workers: one more whenever a call is queued and no
//     worker is free (CPython does so for spawn).
//   - Done-callbacks of process-pool futures run in the thread that received the reply: the
//     pool's manager thread, or a thread blocked in result(), wait(), exception(),
//     cfutures::wait() or as_completed() on one of the pool's futures. Keep them short; a
//     callback that waits for another future of the same pool deadlocks; one that shuts the
//     pool down or destroys it does not wait for the pool's thread (as from the manager
//     thread).
//   - Process-wide side effect (glibc): at the first value over 64 KiB, the process (and each
//     worker) sets malloc's mmap threshold to 32 MiB and its trim threshold to 64 MiB; skipped
//     if MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or a glibc.malloc tunable is set.
//   - A pool runs a manager thread in this process; the first value over 64 KiB also starts
//     a copy helper thread (one per process). The destructor joins both (no thread is left).
// How calls and replies travel, who receives them, polling and large values:
//   docs/performance-notes.md.
//
// Thread safety: every member may be called from any thread concurrently.
// Blocking: submit never blocks; shutdown({.wait = true}) and the destructor wait for running
//   calls and for every worker process to be reaped (no zombie is left behind).
// Throws: the constructors: std::invalid_argument for a max_workers, max_tasks_per_child,
//   max_worker_memory or worker_memory_limit of 0, a call_timeout or idle_timeout that is
//   not positive, or max_retries above 0 with worker_death::break_pool (submit with
//   call_options: the same for its timeout and max_retries). submit/map: shutdown_error after shutdown, broken_process_pool once broken; what
//   cannot be sent is a compile-time error. A result that cannot be decoded fails its future
//   with protocol_error. shutdown, terminate_workers, kill_workers and the destructor never
//   throw.
// Python counterpart: concurrent.futures.ProcessPoolExecutor (max_workers, initializer and
//   initargs, max_tasks_per_child, mp_context's start method (fork, spawn, forkserver);
//   terminate_workers and kill_workers from 3.14); the resilience options are pebble's
//   (schedule's timeout, ProcessExpired), loky's (memory-leak protection,
//   idle_worker_timeout) and Dask's (rescheduling a dead worker's tasks, KilledWorker after
//   allowed failures).
// Deviations: functions cross as code addresses of the same binary, not pickled by name;
//   forkserver runs one server per pool (CPython: one per program);
//   exceptions of other types come back as remote_error; a queued call stays cancellable
//   until a worker has it (above).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/remote_call.hpp"
#include "cfutures/detail/remote_executor.hpp"
#include "cfutures/executor.hpp"
#include "cfutures/future.hpp"
#include "cfutures/serialization.hpp"
#include "cfutures/stats.hpp"

namespace cfutures {

// How worker processes start. fork: fork() this process (the default; needs nothing).
// spawn: run this program again, whose main() must call serve_if_worker first.
// forkserver: run this program again once per pool, as a server (serve_if_worker first,
// likewise) that forks each worker.
enum class start_method { fork, spawn, forkserver };

// What the death of a worker process does. break_pool (Python's behaviour): every pending
// call fails with broken_process_pool and the pool is unusable. fail_call (pebble, loky,
// Dask): only the call the worker was running fails (worker_died_error), after max_retries
// further runs; the calls it held but had not started go back to the queue; a new worker
// replaces it.
enum class worker_death { break_pool, fail_call };

namespace detail {

class process_pool_core;

// Held (shared) by threads while they serialize calls for a process pool; held exclusively
// around fork(). A forked child inherits only the forking thread, so any lock another thread
// held at that moment (the allocator's, the iostream locale's) would stay locked in the
// child forever: forking only while no thread is inside submit keeps the library's own work
// out of that window.
std::shared_mutex& fork_barrier() noexcept;

}  // namespace detail

// The initializer of worker processes: a function and its arguments, sent like a call.
class process_initializer : public detail::initializer_call {
 public:
  // No initializer.
  process_initializer() = default;
  // f(args...) run first in every worker; f and args are checked and encoded as a call's.
  template <class F, class... Args>
  requires(!std::is_same_v<std::remove_cvref_t<F>, process_initializer>)
      process_initializer(F&& f, Args&&... args)  // NOLINT(google-explicit-constructor)
  {
    std::shared_lock no_fork(detail::fork_barrier());
    set(std::forward<F>(f), std::forward<Args>(args)...);
  }
};

struct process_pool_options {
  // unset: the CPUs this process may run on; 0: std::invalid_argument.
  std::optional<std::size_t> max_workers{};
  // Run first in every worker process; if it throws, the pool is broken.
  process_initializer initializer{};
  // A worker is replaced by a fresh process after this many calls; 0: std::invalid_argument.
  std::optional<std::size_t> max_tasks_per_child{};
  // How workers start (start_method::fork, spawn or forkserver).
  start_method method = start_method::fork;
  // What a worker's death does (worker_death::break_pool, or fail_call).
  worker_death on_worker_death = worker_death::break_pool;
  // fail_call only: runs of a call whose worker died, beyond the first (above 0 with
  // break_pool: std::invalid_argument).
  std::size_t max_retries = 0;
  // A call still running this long after a worker started it: its worker is stopped
  // (SIGTERM, then SIGKILL) and replaced, and the call fails with call_timeout_error.
  std::optional<std::chrono::nanoseconds> call_timeout{};
  // Bytes, soft: after a call, a worker whose resident memory exceeds it exits and is
  // replaced (no call fails).
  std::optional<std::size_t> max_worker_memory{};
  // Bytes, hard: a call whose allocations would take its worker past it (beyond the size the
  // worker had when it became ready) fails with std::bad_alloc; the worker goes on.
  std::optional<std::size_t> worker_memory_limit{};
  // A worker with nothing to do for this long exits; workers start again on demand.
  std::optional<std::chrono::nanoseconds> idle_timeout{};
};

class process_pool_executor {
 public:
  static constexpr bool batches_map_calls = true;  // map's chunksize is honoured

  // A pool of max_workers worker processes (0: std::invalid_argument).
  explicit process_pool_executor(std::size_t max_workers);
  // A pool configured by `options` (see process_pool_options).
  explicit process_pool_executor(process_pool_options options = {});
  // shutdown({.wait = true}): waits for the calls and reaps every worker.
  ~process_pool_executor();
  // Neither copyable nor movable.
  process_pool_executor(const process_pool_executor&) = delete;
  process_pool_executor& operator=(const process_pool_executor&) = delete;

  // The most worker processes this pool runs at once.
  std::size_t max_workers() const noexcept;
  // Counts of futures by state, workers alive, started, died, retries and timeouts
  // (stats.hpp).
  executor_stats stats() const noexcept;

  // Schedules f(args...) in a worker process (arguments encoded now): its future.
  template <class F, class... Args>
  requires(!std::is_same_v<std::remove_cvref_t<F>, call_options>) auto submit(F&& f,
                                                                               Args&&... args) {
    return detail::remote_submit(queue(), call_options{}, std::forward<F>(f),
                                 std::forward<Args>(args)...);
  }
  // The same, with this call's timeout and retries (they override the pool's);
  // std::invalid_argument for max_retries above 0 on a worker_death::break_pool pool.
  template <class F, class... Args>
  auto submit(const call_options& options, F&& f, Args&&... args) {
    return detail::remote_submit(queue(), options, std::forward<F>(f),
                                 std::forward<Args>(args)...);
  }

  // `n` calls of f, one per argument tuple, sent to workers in messages of up to `chunksize`.
  template <class F, class... Args>
  auto submit_chunked(F f, std::vector<std::tuple<Args...>> calls, std::size_t chunksize) {
    return detail::remote_submit_chunked(queue(), f, std::move(calls), chunksize);
  }

  // One remote call running f over every argument tuple of `calls` in order (one chunk of
  // map): a single future for their values, ending at the first exception.
  template <class F, class... Args>
  auto submit_chunk(F f, std::vector<std::tuple<Args...>> calls) {
    return detail::remote_submit_chunk(queue(), f, std::move(calls));
  }

  // Python's Executor.map: f over the zipped ranges, in input order; chunksize batches.
  template <class F, class... Args>
  auto map(F&& f, Args&&... args) {
    return detail::executor_map(*this, std::forward<F>(f), std::forward<Args>(args)...);
  }

  // Stops accepting work; optionally cancels queued calls and waits for the workers.
  void shutdown(shutdown_options options = {}) noexcept;
  // shutdown without waiting, cancelling queued calls, then SIGTERM every worker.
  void terminate_workers() noexcept;
  // The same with SIGKILL.
  void kill_workers() noexcept;

 private:
  detail::remote_queue& queue() noexcept;

  std::shared_ptr<detail::process_pool_core> core_;
};

// For start_method::spawn and forkserver: call first in main(). In an ordinary run it returns
// at once; in a worker started by a process pool it serves calls, and in a pool's forkserver
// it forks workers, and then ends the process.
void serve_if_worker(int argc, char** argv);

}  // namespace cfutures
