// Internal: how executors record calls into the trace (trace.hpp). Off, a call costs one
// relaxed load and one predictable branch at its start (trace_session() == 0) and one at
// its end.
//
//   trace_to ──▶ session n (trace_session_ = n) ──▶ spans recorded with session n are kept
//   trace_stop ─▶ trace_session_ = 0; a span that began in session n and ends later is
//                 dropped (only calls that ran inside the window are in the file)
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <typeinfo>

namespace cfutures::detail {

extern std::atomic<std::uint32_t> trace_session_;  // 0: no trace

inline std::uint32_t trace_session() noexcept {
  // relaxed: a call racing trace_to may miss the trace; trace_record re-checks the session.
  return trace_session_.load(std::memory_order_relaxed);
}

std::uint64_t trace_now_ns() noexcept;  // CLOCK_MONOTONIC, in ns

// One call that ran.
struct trace_event {
  std::uint32_t session = 0;  // trace_session() when it started
  int pid = 0;
  int tid = 0;
  std::uint64_t start_ns = 0;  // on this process's CLOCK_MONOTONIC
  std::uint64_t end_ns = 0;
  const char* executor = "";  // "thread_pool", "process_pool", "mpi"
  std::uint64_t id = 0;
  std::uint32_t attempt = 1;
};

// Adds the event (named `name`) if its session is still the current one; never throws.
void trace_record(const trace_event& event, const std::string& name) noexcept;
// The name of a thread pool's callable: the symbol of `code` if set (by the namer, else
// dladdr), else the type's name.
const std::string& trace_callable_name(const std::type_info& type, const void* code) noexcept;
// Names code addresses from the program's symbols (the remote layer registers one, with
// libdw, when an out-of-process executor is created); "" if it cannot.
using trace_code_namer = std::string (*)(const void* code);
void set_trace_code_namer(trace_code_namer namer) noexcept;
// A unique call id for executors that have none of their own.
std::uint64_t trace_next_id() noexcept;
// Names a process in the trace (process_name metadata), once per pid and session.
void trace_name_process(int pid, const std::string& name) noexcept;
// A process that serves calls (a worker, an MPI rank): a trace started by CFUTURES_TRACE
// is dropped without touching its file.
void trace_leave_to_parent() noexcept;

// The thread pool's span: started if a trace runs, recorded by record() before the result is
// published (a waiter that saw the result finds the call in the trace).
class thread_pool_span {
 public:
  thread_pool_span() noexcept : session_(trace_session()) {
    if (session_ != 0) [[unlikely]]
      start_ns_ = trace_now_ns();
  }
  bool on() const noexcept { return session_ != 0; }
  // Records the call (on() only), named by trace_callable_name(type, code).
  void record(const std::type_info& type, const void* code) const noexcept;

 private:
  std::uint32_t session_;
  std::uint64_t start_ns_ = 0;
};

}  // namespace cfutures::detail
