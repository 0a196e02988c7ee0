// The process pool's transport of the remote-executor core (remote/remote_core.hpp): child
// processes, each reached through a channel (a shared ring beside a socket), and the manager
// thread's steps for them. Files: process_pool_core.cpp (the pool's state and hooks),
// manager_steps.cpp (what the manager does each round), driving.cpp ("Who drives"),
// worker_processes.cpp (starting, reaping, and how a worker ended), worker_link.cpp (what
// goes to and comes from one worker).
//
// Message flow (who sends what to whom, in which thread):
//
//   user threads                 manager thread (one per pool)           worker processes
//   ────────────                 ─────────────────────────────           ────────────────
//   submit/map ─ serialize args,
//     push remote_job on queue_,
//     dispatch it to an idle
//     worker itself if driver_
//     is free (below, "Who
//     drives"); else write
//     wake_fd_ only if the
//     manager sleeps ──────────▶ poll(wake_fd_, worker sockets, pidfds)
//                                  (rings marked: a worker's write wakes it
//                                  through wake_fd_)
//                                starts a worker (fork/spawn/forkserver) ─▶ hello {pid}
//                                  when a job is queued and none is free   (first message;
//                                  (up to max_workers); it takes calls at  read whenever)
//                                  once (they wait in its ring until
//                                  it serves)
//                                init {initializer call} (if any) ─────▶ runs it
//                                ◀──────────────────────────── init_ok | init_failed
//                                idle worker + queued jobs:
//                                  take a batch (1 job, or up to 64 when
//                                  many are queued), try_start() each
//                                  call (RUNNING from here; cancelled
//                                  calls are dropped), one write of
//                                  n × call {id, invoker, fn, args},
//                                  memfds of args > 64 KiB attached ───▶ runs them in order,
//                                                                          results > 64 KiB
//                                                                          into memfds
//                                ◀──────────── n × reply {id, n × (ok, bytes)}, sent together
//                                  set_result / set_exception             (a reply waits for
//                                  (done-callbacks run here — or in the   the rest of its batch
//                                  waiting thread that received the       only behind calls
//                                  reply, see "Who drives")               known to be quick,
//                                                                         and at most 50 µs)
//                                after max_tasks_per_child calls:
//                                  exit ───────────────────────────────▶ ends (code 0)
//                                  reap (a replacement starts with work)
//   shutdown ─ flag, wake ─────▶ queue drained and workers idle:
//                                  exit to every worker, reap all, return
//                                socket EOF / pidfd readable without an
//                                  exit request: the worker died — reap it,
//                                  fail every pending call with
//                                  broken_process_pool, kill and reap the rest
//
// Frames go through wire::channel (channel.hpp): buffered reads, one write per batch. Their
// bytes cross through a shared-memory ring per worker (shared_ring.hpp), so sending and
// polling for replies are memory operations; the worker's socket carries the memfds of
// large values, wake-ups for a sleeping worker, and the end of stream when it dies. A worker
// wakes a sleeping manager through wake_fd_ (the same eventfd a post writes), never through
// its socket, which waiting threads read too. Values over 64 KiB are encoded straight into
// a shared memory block (payload.hpp) by the thread that serializes them (submit, or the
// worker), cross as a memfd with their frame, and are decoded in place; the block then
// belongs to the receiver, which reuses it.
// Wake-ups: the manager and the workers each poll their rings for a short window after
// their last activity (a sleeping thread takes 15-70 µs to wake on a busy machine) and then
// sleep in poll / recvmsg, so an idle pool uses no CPU.
//
// Who drives: the workers (workers_, their channels and in-flight jobs) are driven by one
// thread at a time, whoever holds driver_:
//   - the manager thread, for everything above; it lets go of driver_ only while it waits
//     for events (poll), and it alone starts, erases and reaps workers;
//   - a submitting thread, right after queuing its calls, if driver_ is free: it hands them
//     to an idle worker itself (dispatch) instead of waking the manager, and leaves a lease
//     (lease_until_): it is expected to wait for them within lease_window (1 ms);
//   - a thread blocked on one of the pool's futures (help_briefly: result(), wait(),
//     as_completed()...), for up to 100 µs: it takes driver_ when free, reads the replies of
//     busy workers itself (completing futures, and so running their done-callbacks, in its
//     own thread) and dispatches queued calls; then it sleeps on the future as usual. After
//     shutdown, if it read the last reply in flight, it wakes the manager, which waits
//     for exactly that to finish.
//     It leaves alone a worker whose calls in flight carried large values in shared memory
//     (large_in_flight; a shared_buffer's memfd does not count: no large value comes back
//     of it): their replies are likely large too, and are always received and decoded by
//     the manager, even while it is blind. The thread decoding a large value allocates it
//     from its own malloc arena; when that thread changed between the manager and a waiter,
//     the first value in the other arena faulted all its pages in (~9 ms per 16 MiB), at a
//     random call. One thread keeps one warm arena; a large call takes milliseconds, so
//     the manager's wake-up costs little.
// So a quick call's round trip involves two threads, the caller and the worker, which are the
// only ones spinning (2 CPUs can hold them):
//   caller ─ submit: queue, dispatch ───────────────▶ worker ─ runs ─┐
//   caller ◀─ help_briefly: ring read, set_result ◀───── reply ──────┘    (manager asleep)
// The manager's view of the sockets, decided before each sleep:
//   watching ──(a helper or a lease, nothing queued, every worker greeted and
//               initialised)──▶ blind: sleeps in poll without the sockets (fd -1) of the
//                               workers a helper may read (not large_in_flight), their rings
//                               unmarked (their writes do not wake it), ≤ 1 ms
//   blind ──(the lease ran out, a post, a pidfd, or the last helper leaving while calls are
//            in flight and nobody drives: it wakes the manager)──▶ decides again
// so that a reply read by a helper does not also wake the manager for nothing.
// A thread that drives marks itself (thread-local), so that a done-callback run under
// driver_ that submits, waits or shuts the pool down does not take driver_ again.
// Lock order: driver_, then the core's queue lock.
#pragma once

#include <poll.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cfutures/process_pool_executor.hpp"
#include "process/call_watchdog.hpp"
#include "process/channel.hpp"
#include "process/forkserver.hpp"
#include "process/worker_status.hpp"
#include "remote/stack_symbols.hpp"
#include "remote/remote_core.hpp"

namespace cfutures::detail {

// Spawned workers find their socket in this environment variable (serve_if_worker).
inline constexpr const char* worker_fd_variable = "CFUTURES_WORKER_FD";
// A worker must say hello within this time; one asked to exit must be gone within that one.
inline constexpr auto hello_timeout = std::chrono::seconds(20);
inline constexpr auto exit_grace = std::chrono::milliseconds(5000);
// True in a process serving as a worker: a pool it creates is then not the symptom of a
// main() that forgot serve_if_worker (CFUTURES_WORKER_FD set, yet nobody serving).
extern bool serving_as_worker;

// After its last activity the manager polls without sleeping this long.
inline constexpr std::chrono::microseconds spin_window(100);
// How long a thread waiting for a future of the pool receives replies itself before it
// sleeps (and leaves that to the manager).
inline constexpr std::chrono::microseconds help_window(100);
// A submitter that dispatched its calls itself is expected to wait for them within this
// time (and so to receive their replies); until then the manager does not watch the
// sockets, or only so long (see "Who drives").
inline constexpr std::chrono::milliseconds lease_window(1);

inline void close_if_open(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

class process_pool_core final : public remote_core, public shared_wait_helper {
 public:
  explicit process_pool_core(process_pool_options options);
  ~process_pool_core() override;

  std::size_t max_workers() const noexcept { return max_workers_; }
  void enqueue(std::span<remote_job> jobs) override;
  void force_shutdown(int signal) noexcept { close(false, true, signal); }
  // A thread waiting for one of this pool's futures: receives replies (and dispatches) for
  // up to help_window, so that its call's reply does not have to go through the manager.
  bool help_briefly(help_target& target, const deadline& until) noexcept override;
  // future::request_stop() of one of this pool's calls: stops the worker holding it.
  bool stop_running(state_base& state) noexcept override;

 private:
  enum class phase { initializing, ready, exiting };
  struct worker_process {
    worker_slot slot;  // the core's bookkeeping: held calls, calls done, how it ended
    pid_t pid = -1;
    wire::channel link;
    int pidfd = -1;
    phase state = phase::ready;
    bool greeted = false;          // its hello arrived
    bool spare = false;            // started ahead, takes no call until promoted
    bool large_in_flight = false;  // its calls carried shared memory: see "Who drives"
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point idle_since;  // when it last had no call (idle_timeout)
    stop_record stopped;  // why the watchdog stopped it, once reaped

    worker_status& status() noexcept { return worker_status::at(link.ring().status_area()); }
  };

  // remote_core's hooks (process_pool_core.cpp, manager_steps.cpp)
  std::size_t slot_count() const noexcept override { return workers_.size(); }
  worker_slot& slot(std::size_t i) noexcept override { return workers_[i].slot; }
  bool accepts_calls(std::size_t i) const noexcept override;
  std::size_t call_limit(std::size_t i) const noexcept override;
  std::size_t batch_jobs(std::size_t queued) const noexcept override;
  std::size_t batch_bytes() const noexcept override;
  void send_held(std::size_t i) override;
  void lost(std::size_t i, const std::string& why) override;
  void begin_managing() noexcept override { drive(); }
  void end_managing() noexcept override { stop_driving(); }
  bool prepare(const snapshot& s) override;
  bool stopping_by_force() const noexcept override { return signal_sent_; }
  bool wait_and_receive(const snapshot& s, bool busy) override;
  void finish() noexcept override;
  void wake_manager() noexcept override;
  void on_manager_start() override;
  bool acting_for_manager() const noexcept override { return driving(); }
  void on_broken(std::size_t i) noexcept override;
  void after_broken() noexcept override { wake_manager(); }
  std::string on_manager_failure(const std::string& what) noexcept override;
  std::exception_ptr broken_error(const std::string& why) const override;
  [[noreturn]] void throw_broken(const std::string& why) const override;

  // worker_link.cpp: one worker's frames
  // Asks w to exit (`why`: shutdown's retired, recycled, over_memory or idle).
  void retire(worker_process& w, worker_end why);
  bool handle_input(worker_process& w, bool polled = false);
  void handle_frame(worker_process& w, wire::frame& f);
  // manager_steps.cpp
  void start_workers(std::size_t queued);
  bool wait_for_events(std::vector<pollfd>& fds, const std::vector<wire::shared_ring*>& rings,
                       int timeout_ms, bool spin);
  // driving.cpp
  void run_driven(bool receive) noexcept;
  void receive_replies();
  bool try_drive() noexcept;
  void drive() noexcept;
  void stop_driving() noexcept;
  bool driving() const noexcept;
  bool others_receive() const noexcept;
  // worker_processes.cpp
  void start_worker();
  void add_worker(pid_t pid, wire::channel link);
  int reap(worker_process& w, std::chrono::milliseconds grace) noexcept;
  void lost(worker_process& w, const std::string& why);
  // resilience.cpp: worker_death, timeouts, stop requests, memory and idle workers
  void settle_lost(worker_process& w, int status, const std::string& how);
  // " while running f" for the call worker w was running, or "".
  std::string running_function(worker_process& w);
  // The name of the function `job` calls (remote_core::function_name, named once per address).
  std::string job_function(const remote_job& job);
  // The stack worker w recorded when a signal ended it ("  #0 fn (file:line)" lines), or "".
  std::string crash_stack(worker_process& w, int status);
  void check_options(const remote_job& job) const;
  void expect_timeouts(worker_process& w, const remote_job& job);
  void after_reply(worker_process& w, const remote_job& job);
  void on_hello(worker_process& w);
  // Retires idle workers past idle_timeout; the time until the next one may be (or -1).
  int retire_idle(bool work_queued);
  // The spare worker, if any (else null); starts one if the pool keeps one and has none.
  worker_process* spare_worker() noexcept;
  void keep_a_spare();
  // Takes calls, or will: neither a spare nor on its way out.
  static bool serving(const worker_process& w) noexcept {
    return !w.spare && w.state != phase::exiting && w.link.fd() >= 0;
  }
  bool any_serving() const noexcept;

  const std::size_t max_workers_;
  const process_initializer initializer_;
  const std::optional<std::size_t> max_tasks_per_child_;
  const start_method method_;
  const worker_death on_worker_death_;
  const std::size_t max_retries_;
  const std::optional<std::chrono::nanoseconds> call_timeout_;
  const std::optional<std::size_t> max_worker_memory_;
  const std::optional<std::size_t> worker_memory_limit_;
  const std::optional<std::chrono::nanoseconds> idle_timeout_;
  call_watchdog watchdog_;  // timeouts, and the SIGKILL of stopped workers
  // Names functions and crashed workers' stacks in messages; under driver_ (it keeps the
  // modules' symbols it read for the next failure).
  stack_symbolizer symbols_;
  forkserver server_;  // start_method::forkserver: forks the workers (forkserver.hpp)
  // A worker of this pool was lost and replaced (settle_lost): from then on the pool keeps
  // a spare worker started ahead (see "Spare worker" in resilience.cpp). Under driver_.
  bool keep_spare_ = false;

  int wake_fd_ = -1;
  std::atomic<bool> sleeping_{false};  // the manager is (about to be) blocked in poll
  // Who receives replies besides the manager (see "Who drives"): threads in help_briefly,
  // and the lease of a submitter that dispatched its calls itself (it is expected to wait
  // for them soon). While either lasts, the manager is blind: it sleeps without watching the
  // workers' sockets (blind_), for at most lease_window.
  std::atomic<int> helpers_{0};
  std::atomic<clock::rep> lease_until_{0};  // clock::time_point, as a count
  std::atomic<bool> blind_{false};

  // Held by whoever drives the workers (see "Who drives" above); guards what follows.
  std::mutex driver_;
  std::vector<worker_process> workers_;  // added to and erased from by the manager only
  bool signal_sent_ = false;
  std::vector<pollfd> fds_;                // the manager's poll set, rebuilt every round
  std::vector<wire::shared_ring*> rings_;  // of the workers whose sockets are in fds_
  std::string call_body_;                  // send_held's frame body, reused
};

}  // namespace cfutures::detail
