// cfutures/trace.hpp — a Chrome trace-event file of the calls every executor runs.
//
// What: trace_to(path) starts a trace; until trace_stop() every call that runs on a thread
// pool, a process pool or an MPI executor adds one complete event ("ph": "X") to it:
//   pid   the process that ran the call (the worker process, the MPI rank's process)
//   tid   the thread that ran it
//   name  the function's name (process pool and MPI: the function, or the lambda's call
//         operator, from the program's symbols; thread pool: the callable's type, or the
//         function's symbol for a function pointer)
//   ts, dur  start and duration in µs, on this process's CLOCK_MONOTONIC (workers' spans
//         are converted to it)
//   args  {"id": the call's id, "executor": "thread_pool" | "process_pool" | "mpi",
//          "attempt": 1 for a first run, 2 for the first retry, …}
// plus process_name / thread_name metadata events. The file is {"traceEvents": [...]}: it
// opens in Perfetto (ui.perfetto.dev) and chrome://tracing. Only calls that started after
// trace_to and finished before trace_stop are in it (a call is recorded as it finishes, by
// the process that waits for it). CFUTURES_TRACE=path in the environment starts a trace at
// start-up that trace_stop() or the program's exit ends; processes that serve calls
// (process-pool workers, MPI ranks other than the root) never write it.
//   cfutures::trace_to("run.json");
//   ... submit, map ...
//   cfutures::trace_stop();
//
// Thread safety: both functions may be called from any thread; calls running meanwhile are
//   recorded or not, never half.
// Blocking: trace_stop writes the events held in memory to the file.
// Throws: trace_to: std::system_error if the file cannot be created (the previous trace, if
//   any, is ended first). trace_stop never throws (a failed write is reported on stderr).
// Python counterpart: none in concurrent.futures; Dask's task stream, `ray timeline()`.
// Deviations: a worker's clock is taken as this process's (CLOCK_MONOTONIC is one clock on
//   a host); MPI ranks on another host are shifted by an offset estimated at the first
//   reply (half a round trip of error).
#pragma once

#include <string>

namespace cfutures {

// Starts a trace into `path` (created or truncated); ends the current one first.
void trace_to(const std::string& path);
// Ends the trace: writes what is held and closes the file. Nothing happens without one.
void trace_stop() noexcept;

}  // namespace cfutures
