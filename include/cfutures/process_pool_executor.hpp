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
// What can be sent: `f` is a plain function (any linkage) or a lambda without captures; its
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
//   method               start_method::fork (default; needs nothing) or start_method::spawn
//                        (runs this program again; its main() must call serve_if_worker
//                        first — forgetting it is reported as broken_process_pool naming
//                        the fix, never a hang). As in Python, a forked child keeps any lock
//                        another thread of the parent held at the moment of fork; cfutures
//                        forks only while no thread is inside its own submit, but a program
//                        whose other threads hold locks of their own should use spawn
// Semantics: as thread_pool_executor (executor.hpp), plus:
//   - A call is running() only while a worker process has it; until then cancel() succeeds
//     (CPython marks up to max_workers + 1 queued calls running).
//   - An exception thrown by a call comes back as the same type when its exact dynamic type
//     is one of <stdexcept>'s, std::bad_alloc or cfutures' errors; any other as remote_error
//     with the type's name and what().
//   - A worker that dies abruptly (signal, exit, abort, out of memory) breaks the pool: every
//     pending future fails with broken_process_pool naming the process and how it ended;
//     later submits throw broken_process_pool. The other workers are terminated.
//   - map(f, ranges..., {.chunksize = n}) sends n calls as one remote call (Python's
//     _process_chunk): they run in order in one worker, stop at the first exception, and
//     come back in one message; the range yields the values before the failing position and
//     rethrows its exception there. submit_chunked() keeps one future per call for callers
//     that need them.
//   - terminate_workers() / kill_workers() (Python 3.14): shutdown({.wait = false,
//     .cancel_futures = true}), then SIGTERM / SIGKILL every worker: running calls fail with
//     broken_process_pool, and the pool is broken.
//   - Workers start on demand, up to max_workers: one more whenever a call is queued and no
//     worker is free (CPython does so for spawn).
//   - Done-callbacks of process-pool futures run in the thread that received the reply: the
//     pool's manager thread, or a thread blocked in result(), wait(), exception(),
//     cfutures::wait() or as_completed() on one of the pool's futures (such a thread receives
//     the pool's replies itself for a short while: the reply of a quick call then needs no
//     hand-over between threads). The replies of calls whose arguments crossed through
//     shared memory (over 64 KiB) are always received by the manager thread: see
//     Performance. Keep them short; a callback that waits for another future
//     of the same pool deadlocks, as before; one that shuts the pool down or destroys it does
//     not wait for the pool's thread (as from the manager thread).
// Performance: a call submitted while a worker is idle is written to that worker by submit
// itself, and a thread waiting for its result reads the reply itself (100 µs at most, then
// it sleeps and the manager thread takes over), so a round trip involves two threads, not
// three. Calls and replies cross through a shared-memory ring per worker (no system call
// while both sides are awake; a sleeping side is woken through a socket or an eventfd).
// Calls travel in batches (many queued calls cost one write and one read per batch),
// arguments and results over 64 KiB cross through shared memory (encoded into a memfd that
// the worker maps: one copy each way; strings are decoded from it without being zero-filled
// first), and the manager thread and the workers poll briefly (100 µs) after their last
// activity before they sleep, so an idle pool uses no CPU. While threads receive replies
// themselves the manager sleeps without watching the workers' sockets, for at most 1 ms at a
// time; a call whose result nobody waits for (done-callbacks only) may so be completed up to
// about 1 ms later than it could be. Shared memory blocks are recycled while a process pool
// exists and freed with it: one block carries a large argument to the worker and its result
// back. Strings and vectors of numbers or std::byte decode with one copy, no zero-fill.
// Values of 4 MiB or more are copied into shared memory by two threads: the encoding one
// (submit, or the worker) and a copy helper, one thread per process, started with the
// first value over 64 KiB and stopped (joined) by every process pool's destructor (the
// next large value starts it again); it sleeps on a futex between copies. Large results
// are decoded in one thread, the manager: the replies of calls whose
// arguments crossed through shared memory are left to it by waiting threads. A thread
// allocates from its own malloc arena, so a 16 MiB result decoded now by the manager and
// now by a waiter made the first one in each arena fault all its pages in (~9 ms, at a
// random call); the manager's wake-up costs little beside a large transfer.
// Process-wide side effect (glibc): at the first value over 64 KiB, the process (and each
// worker) sets malloc's mmap threshold to 32 MiB and its trim threshold to 64 MiB, so that
// large values reuse warm heap memory instead of faulting fresh pages in every time; skipped
// if MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or a glibc.malloc tunable is set.
// Thread safety: every member may be called from any thread concurrently.
// Blocking: submit never blocks; shutdown({.wait = true}) and the destructor wait for running
// calls and for every worker process to be reaped (no zombie is left behind).
#pragma once

#include <atomic>
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

namespace cfutures {

enum class start_method { fork, spawn };

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
class process_initializer {
 public:
  process_initializer() = default;
  template <class F, class... Args>
  requires(!std::is_same_v<std::remove_cvref_t<F>, process_initializer>)
      process_initializer(F&& f, Args&&... args)  // NOLINT(google-explicit-constructor)
  {
    static_assert(detail::check_remote_call<F, Args...>());
    std::shared_lock no_fork(detail::fork_barrier());
    call_ = detail::encode_call(nullptr, std::decay_t<F>(std::forward<F>(f)),
                                std::decay_t<Args>(args)...);
    set_ = true;
  }
  explicit operator bool() const noexcept { return set_; }

 private:
  friend class detail::process_pool_core;
  detail::encoded_call call_;
  bool set_ = false;
};

struct process_pool_options {
  std::optional<std::size_t> max_workers{};
  process_initializer initializer{};
  std::optional<std::size_t> max_tasks_per_child{};
  start_method method = start_method::fork;
};

class process_pool_executor {
 public:
  static constexpr bool batches_map_calls = true;  // map's chunksize is honoured

  explicit process_pool_executor(std::size_t max_workers);
  explicit process_pool_executor(process_pool_options options = {});
  ~process_pool_executor();
  process_pool_executor(const process_pool_executor&) = delete;
  process_pool_executor& operator=(const process_pool_executor&) = delete;

  std::size_t max_workers() const noexcept;

  template <class F, class... Args>
  auto submit(F&& f, Args&&... args) {
    return detail::remote_submit(queue(), std::forward<F>(f), std::forward<Args>(args)...);
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

  template <class F, class... Args>
  auto map(F&& f, Args&&... args) {
    return detail::executor_map(*this, std::forward<F>(f), std::forward<Args>(args)...);
  }

  void shutdown(shutdown_options options = {}) noexcept;
  void terminate_workers() noexcept;
  void kill_workers() noexcept;

 private:
  detail::remote_queue& queue() noexcept;

  std::shared_ptr<detail::process_pool_core> core_;
};

// For start_method::spawn: call first in main(). In an ordinary run it returns at once; in a
// worker started by a process pool it serves calls and then ends the process.
void serve_if_worker(int argc, char** argv);

}  // namespace cfutures
