// The process pool's shared core and its manager thread.
//
// Message flow (who sends what to whom, in which thread):
//
//   user threads                 manager thread (one per pool)           worker processes
//   ────────────                 ─────────────────────────────           ────────────────
//   submit/map ─ serialize args,
//     push remote_job on queue_,
//     write wake_fd_ ──────────▶ poll(wake_fd_, worker sockets, pidfds)
//                                starts workers (fork, or fork+exec)  ──▶ hello {pid}
//                                ◀──────────────────────────────────────── (first message)
//                                init {initializer call} (if any) ─────▶ runs it
//                                ◀──────────────────────────── init_ok | init_failed
//                                idle worker + queued job:
//                                  try_start() each call (RUNNING from
//                                  here; cancelled calls are dropped),
//                                  call {id, invoker, fn, n × args} ───▶ runs the n calls
//                                ◀──────────────────────── reply {id, n × (ok, bytes)}
//                                  set_result / set_exception
//                                  (done-callbacks run here)
//                                after max_tasks_per_child calls:
//                                  exit ───────────────────────────────▶ ends (code 0)
//                                  reap, start a replacement
//   shutdown ─ flag, wake ─────▶ queue drained and workers idle:
//                                  exit to every worker, reap all, return
//                                socket EOF / pidfd readable without an
//                                  exit request: the worker died — reap it,
//                                  fail every pending call with
//                                  broken_process_pool, kill and reap the rest
//
// Only the manager thread touches workers_; queue_ and the flags are guarded by mutex_.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cfutures/process_pool_executor.hpp"

namespace cfutures::detail {

class process_pool_core : public std::enable_shared_from_this<process_pool_core> {
 public:
  explicit process_pool_core(process_pool_options options);
  ~process_pool_core();
  process_pool_core(const process_pool_core&) = delete;
  process_pool_core& operator=(const process_pool_core&) = delete;

  std::size_t max_workers() const noexcept { return max_workers_; }
  void enqueue(std::vector<remote_job> jobs);
  void shutdown(bool wait, bool cancel_futures) noexcept;
  void force_shutdown(int signal) noexcept;
  // Detaches the manager thread if the caller is it (the executor dies in a callback).
  void detach_if_manager() noexcept;

 private:
  enum class phase { starting, initializing, idle, busy, exiting };
  struct worker_process {
    pid_t pid = -1;
    int fd = -1;
    int pidfd = -1;
    phase state = phase::starting;
    std::optional<remote_job> job;
    std::size_t calls_done = 0;
    std::chrono::steady_clock::time_point started;
  };

  void close(bool wait, bool cancel_futures, int signal) noexcept;
  void manage() noexcept;
  void start_worker();
  void handle_message(worker_process& w);
  void dispatch();
  std::optional<remote_job> next_job(std::size_t limit);
  void send_job(worker_process& w);
  void retire(worker_process& w);
  int reap(worker_process& w, std::chrono::milliseconds grace) noexcept;
  void lost(worker_process& w, const std::string& why);
  void break_pool(const std::string& message);
  void finish() noexcept;
  bool work_left() const;
  const code_ref& portable(const void* code);
  void wake() noexcept;

  const std::size_t max_workers_;
  const process_initializer initializer_;
  const std::optional<std::size_t> max_tasks_per_child_;
  const start_method method_;

  std::mutex mutex_;
  std::deque<remote_job> queue_;
  bool shutdown_ = false;
  std::optional<std::string> broken_;
  int kill_signal_ = 0;
  std::thread manager_;
  std::mutex join_mutex_;  // serializes joiners of manager_

  int wake_fd_ = -1;
  std::vector<worker_process> workers_;  // manager thread only
  std::unordered_map<const void*, code_ref> addresses_;
  std::uint64_t next_id_ = 1;
  bool signal_sent_ = false;
};

}  // namespace cfutures::detail
