// cfutures/errors.hpp — the library's exception types.
//
// What: the exceptions cfutures throws, mirroring concurrent.futures' exception hierarchy.
// clang-format off
//   std::runtime_error
//   └─ error (Error)                           base of the library's own errors
//      ├─ cancelled_error (CancelledError)     result()/exception() of a cancelled future
//      ├─ timeout_error (TimeoutError)         a timeout elapsed (result, exception,
//      │  │                                    as_completed, map; wait never throws it)
//      │  └─ call_timeout_error                a process-pool call overran its call_timeout
//      │                                       (pebble's TimeoutError); its worker was stopped
//      ├─ invalid_state_error                  a promise completed twice, or after its
//      │  (InvalidStateError)                  future was cancelled
//      ├─ shutdown_error (RuntimeError)        submit/map after shutdown ("cannot schedule
//      │                                       new futures after shutdown")
//      ├─ broken_executor (BrokenExecutor)     the executor can no longer run work
//      │  ├─ broken_thread_pool                a worker thread's initializer threw
//      │  │  (BrokenThreadPool)
//      │  └─ broken_process_pool               a worker process died abruptly, or its
//      │     (BrokenProcessPool)               initializer failed
//      ├─ worker_died_error                    the worker running this call died, under
//      │  (pebble's ProcessExpired,            worker_death::fail_call (after its retries):
//      │   Dask's KilledWorker)                pid, signal or exit code, attempts, stack
//      ├─ remote_error                         an exception from another process whose type
//      │                                       cannot be recreated here
//      └─ protocol_error                       bad bytes exchanged with a worker (truncated,
//                                              oversized, forged, wrong version)
// clang-format on
// Invalid arguments (a max_workers, chunksize, buffersize or max_tasks_per_child of 0) throw
// std::invalid_argument, not one of these.
//
// Thread safety: immutable after construction; copy like any std::exception.
// Blocking: never.
// Throws: the constructors may throw std::bad_alloc (the message is a std::string).
// Python counterpart: concurrent.futures' CancelledError, TimeoutError, InvalidStateError,
//   BrokenExecutor, thread.BrokenThreadPool and process.BrokenProcessPool, under Error.
// Deviations: shutdown_error is its own type (Python raises a plain RuntimeError);
//   remote_error stands for an exception type that cannot cross processes (Python pickles
//   the exception itself); protocol_error has no Python counterpart (pickle's errors).
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace cfutures {

// Base of the library's own errors (Python's concurrent.futures.Error).
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// result()/exception() of a cancelled future ("the future was cancelled").
class cancelled_error : public error {
 public:
  cancelled_error();
  using error::error;
};

// A timeout elapsed first ("the timeout elapsed", or as_completed's count of unfinished).
class timeout_error : public error {
 public:
  timeout_error();
  using error::error;
};

// A promise completed twice or after its future was cancelled; a future without state used.
class invalid_state_error : public error {
 public:
  using error::error;
};

// submit/map after shutdown ("cannot schedule new futures after shutdown").
class shutdown_error : public error {
 public:
  shutdown_error();
  using error::error;
};

// The executor can no longer run work; pending and later calls fail with it.
class broken_executor : public error {
 public:
  using error::error;
};

// A worker thread's initializer threw.
class broken_thread_pool : public broken_executor {
 public:
  using broken_executor::broken_executor;
};

// A worker process died abruptly (the message names it and how it ended), or its
// initializer failed.
class broken_process_pool : public broken_executor {
 public:
  using broken_executor::broken_executor;
};

// An exception raised in another process whose dynamic type cannot be recreated here, with
// the worker's stack where it was thrown (traceback()). Exceptions that come back as their own
// type (<stdexcept>'s, std::bad_alloc, cfutures' errors) cannot carry a traceback: throw a type
// of your own to get one.
class remote_error : public error {
 public:
  // The original type's name, its what(), and the worker's traceback (may be empty).
  remote_error(std::string type_name, const std::string& message, std::string traceback = {});
  // The original (demangled) type name, e.g. "my::parse_error".
  const std::string& type_name() const noexcept { return type_name_; }
  // The worker's stack where the exception was thrown, innermost first, a frame a line
  // ("  #0 fn (file:line)"), down to the function the worker ran; empty if none was recorded
  // (an exception made without a throw, as std::make_exception_ptr does, or thrown in another
  // thread of the worker).
  const std::string& traceback() const noexcept { return traceback_; }

 private:
  std::string type_name_;
  std::string traceback_;
};

// The worker process running this call died (worker_death::fail_call; after max_retries
// further runs, each of which also ended its worker). what() names the process, how it
// ended (signal name, or exit code), the function that was running and, when a signal ended
// it, the worker's stack at that moment.
class worker_died_error : public error {
 public:
  worker_died_error(const std::string& message, int pid, int term_signal, int exit_code,
                    std::size_t attempts, std::string backtrace = {});
  // The process id of the (last) worker that died running the call.
  int pid() const noexcept { return pid_; }
  // The signal that ended it; 0 if it exited.
  int term_signal() const noexcept { return term_signal_; }
  // Its exit code; -1 if a signal ended it.
  int exit_code() const noexcept { return exit_code_; }
  // How many times the call ran (1 + the retries it had).
  std::size_t attempts() const noexcept { return attempts_; }
  // The worker's stack when a signal ended it ("  #0 fn (file:line)" lines); may be empty.
  const std::string& backtrace() const noexcept { return backtrace_; }

 private:
  int pid_;
  int term_signal_;
  int exit_code_;
  std::size_t attempts_;
  std::string backtrace_;
};

// A process-pool call still ran `limit()` after a worker started it (call_timeout or
// call_options::timeout): its worker was stopped (SIGTERM, then SIGKILL) and replaced.
class call_timeout_error : public timeout_error {
 public:
  call_timeout_error(const std::string& message, std::chrono::nanoseconds limit, int pid);
  // The limit the call overran.
  std::chrono::nanoseconds limit() const noexcept { return limit_; }
  // The worker process that was stopped.
  int pid() const noexcept { return pid_; }

 private:
  std::chrono::nanoseconds limit_;
  int pid_;
};

// An error in the bytes exchanged with a worker: truncated, oversized, forged, wrong version.
class protocol_error : public error {
 public:
  using error::error;
};

}  // namespace cfutures
