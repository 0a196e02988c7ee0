// The remote-executor core: what every executor that runs calls in other processes shares,
// written once. A transport — process_pool_core (src/process: sockets, shared rings, child
// processes) or comm_core (src/mpi: MPI messages to ranks) — derives from it and fills in
// the hooks marked [transport]; the core owns:
//   - the queue of calls (remote_job), shutdown and the broken state (any thread, mutex_);
//   - the manager thread and its loop, in named steps (below);
//   - the per-worker bookkeeping (worker_slot): which calls a worker holds, which one it is
//     running, how it ended;
//   - the code-address cache, the call frames' head, and replies decoded into futures.
//
// One call's way through the core:
//
//   submit (remote_executor.hpp) ─ encode ─▶ enqueue ─▶ push(): queue_ (PENDING, cancellable)
//   manager or a driving thread ─▶ dispatch(): an idle worker's slot takes a batch (take():
//     RUNNING from here, cancelled calls dropped) ─▶ send_held() [transport] ─▶ worker
//   worker's reply ─▶ [transport] receives it ─▶ take_reply(): the slot's oldest held job,
//     decoded ─▶ received_reply::complete(): set_result / set_exception (callbacks run here)
//
// The manager loop (manage()), one thread per executor:
//
//   ┌─▶ look():             the queue's length and the shutdown/broken/forced-stop flags
//   │   prepare():          [transport] act on a forced stop, start workers for the queue
//   │   dispatch():         every idle worker gets its next batch
//   │   end?                shut down, nothing queued, no call held (or, after a forced
//   │                       stop, every worker gone)
//   └── wait_and_receive(): [transport] sleep until a post or worker input; handle replies
//                           (take_reply → complete) and deaths (lost → break_executor)
//       finish():           [transport] end the workers
//   An exception in the loop breaks the executor: every held and queued call fails.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cfutures/detail/remote_executor.hpp"
#include "cfutures/stats.hpp"
#include "remote/protocol.hpp"

namespace cfutures::detail {

// How a worker ended (or, once asked to exit, is ending), as far as the core knows.
enum class worker_end : std::uint8_t {
  serving,      // has not ended
  retired,      // asked to exit at shutdown, and did
  recycled,     // asked to exit after max_tasks_per_child calls
  over_memory,  // asked to exit: its resident memory passed max_worker_memory
  idle,         // asked to exit: idle for idle_timeout
  died,         // ended without being asked: a signal, an exit, a lost connection
  timed_out,    // stopped by the executor: its call overran its timeout
  stopped,      // stopped by the executor: future::request_stop() of its call
  killed,       // ended by the executor: a forced stop, or the executor broke
};

// One worker's bookkeeping.
struct worker_slot {
  std::deque<remote_job> held;  // sent; replies come in this order; the front one is running
  std::size_t calls_done = 0;   // calls whose replies arrived
  worker_end end = worker_end::serving;
  int exit_code = -1;   // when it exited
  int term_signal = 0;  // when a signal ended it

  const remote_job* running() const noexcept { return held.empty() ? nullptr : &held.front(); }
};

// Where a worker was when it ended: the call frame (job id) and the item it was running;
// id 0: none (or not known).
struct running_call {
  std::uint64_t id = 0;
  std::size_t item = 0;
};

// The counters behind stats() (executor_stats): the core counts every call as it enters,
// starts and ends, before its future is published (a waiter that saw it done finds it
// counted); the transport counts its workers. Relaxed: nothing is published through them.
//
//   submitted  push()                     started   take() (PENDING → RUNNING)
//   completed / failed   received_reply::complete, settle() (every other end: a broken
//              executor, a death, a timeout, a forced stop)
//   cancelled  take() (dropped, cancelled while queued), close(cancel_futures), settle(),
//              the transport's stop of a running call; stats() adds the cancelled calls
//              still in the queue
//   ended_started: the completed, failed and cancelled that had started (running =
//              started - ended_started)
struct remote_counters {
  std::atomic<std::size_t> submitted{0}, started{0}, completed{0}, failed{0}, cancelled{0},
      ended_started{0};
  std::atomic<std::size_t> workers{0}, workers_started{0}, workers_died{0}, retried{0},
      timed_out{0};
  static void add(std::atomic<std::size_t>& c, std::size_t n = 1) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  static void take_back(std::atomic<std::size_t>& c, std::size_t n = 1) noexcept {
    c.fetch_sub(n, std::memory_order_relaxed);
  }
};

class remote_core;

// A reply matched with the job it answers and decoded; the items' bytes are views into the
// frame it came in (valid until the transport receives again).
struct received_reply {
  remote_job job;
  wire::reply_message reply;
  std::exception_ptr error;  // set: the reply was malformed, the job fails with this
  wire::attachment_source* from = nullptr;
  remote_core* core = nullptr;   // counts the calls and records their spans
  std::uint64_t received_ns = 0;  // when traced: when the reply arrived

  void complete() noexcept;
};

class remote_core : public remote_queue, public std::enable_shared_from_this<remote_core> {
 public:
  // What the transport decides for the submitting side (remote_queue).
  struct traits {
    block_store* store = nullptr;          // where large arguments go (null: in memory)
    std::shared_mutex* barrier = nullptr;  // held (shared) while a call is encoded
    bool splits_chunks = false;            // map's chunks travel as one call per item
    bool lazy_start = true;                // the manager starts with the first call
    const void* origin = nullptr;          // put in every state (shared_wait_helper)
    const char* executor_name = "process_pool";  // the trace's "executor"
  };

  remote_core(const remote_core&) = delete;
  remote_core& operator=(const remote_core&) = delete;
  virtual ~remote_core();

  block_store* payload_store() const noexcept final { return traits_.store; }
  std::shared_mutex* submit_barrier() const noexcept final { return traits_.barrier; }
  bool splits_chunks() const noexcept final { return traits_.splits_chunks; }

  void shutdown(bool wait, bool cancel_futures) noexcept { close(wait, cancel_futures, 0); }
  // The counters, with the queue looked at (stats.hpp).
  executor_stats stats() noexcept;
  // Detaches the manager thread if the caller is it, or drives for it (the executor is
  // destroyed in a done-callback).
  void detach_if_manager() noexcept;
  void start_manager();

 protected:
  explicit remote_core(traits t) noexcept;
  friend struct received_reply;

  struct snapshot {
    bool stop = false;
    std::size_t queued = 0;
    int signal = 0;  // a forced stop's signal (terminate_workers / kill_workers)
    bool broken = false;
  };

  // ---- the queue (any thread) ----
  // Queues `jobs` (or throws shutdown_error / the transport's broken error); starts the
  // manager with the first call when lazy_start.
  void push(std::span<remote_job> jobs);
  // Closes the queue, cancels what is queued if asked, asks for a forced stop with `signal`
  // (0: none) — one critical section, so the manager cannot fail queued calls as broken
  // before they are cancelled — wakes the manager, and joins it if `wait`.
  void close(bool wait, bool cancel_futures, int signal) noexcept;
  bool closed();
  bool queue_empty();
  snapshot look();
  std::atomic<std::uint64_t> posted_{0};  // push()/close() calls so far: the manager spins on it
  std::uint64_t seen_posted_ = 0;         // manager thread only

  // ---- manager side (the manager thread, or whoever drives for it) ----
  void manage() noexcept;
  // Gives each idle worker its next batch; returns whether anything was sent.
  virtual bool dispatch();
  // The next batch for worker i: up to batch_jobs() jobs and about batch_bytes() of
  // arguments, at most `call_limit` calls (a job is split past it). RUNNING from here;
  // cancelled calls are dropped; what is not taken stays cancellable.
  // Appended to `into` (a worker's held calls), no allocation of its own.
  void take(std::size_t call_limit, std::deque<remote_job>& into);
  // The reply `payload` to the oldest call held by `w`, decoded; protocol_error if it holds
  // none.
  received_reply take_reply(worker_slot& w, std::string_view payload,
                            wire::attachment_source& from);
  // Appends the body of a call frame for `job`, with a fresh id, to `out`; its items go
  // through `items`.
  void encode_call(remote_job& job, wire::item_sink& items, std::string& out);
  // The head of an init frame's body for the initializer `call` (its n items follow).
  std::string call_head(const encoded_call& call, std::size_t n_items);
  // The what() of the exception an init_failed frame carries (`payload`).
  static std::string initializer_failure(std::string_view payload);
  // Puts calls back at the front of the queue, in this order, marked started (RUNNING
  // already; they stay queued through shutdown(cancel_futures)); fails them if broken.
  void requeue(std::vector<remote_job> jobs);
  // The calls held by worker `w`, which ended without being asked to: the one it was running
  // (`at`), in a job of its own, is passed to `blame`, which returns the exception it fails
  // with (after counting a death against it), or null to run it again; every other held call
  // goes back to the queue (requeue). Empties w.held.
  using blame_fn = std::function<std::exception_ptr(remote_job& running)>;
  void give_back(worker_slot& w, const running_call& at, const blame_fn& blame);
  // The transport's broken error for `why` (or std::bad_alloc's, out of memory).
  std::exception_ptr broken_error_or_oom(const std::string& why) const noexcept;
  // Fails every held and queued call with the transport's broken error; later submits throw.
  void break_executor(const std::string& why) noexcept;
  bool calls_held() noexcept;
  // The job's calls end without a reply: failed with `error`, or cancelled (null); each is
  // counted once (a call already done was counted when it ended; one cancelled while queued,
  // `from_queue` and never started, is counted here).
  void settle(remote_job& job, const std::exception_ptr& error, bool from_queue) noexcept;
  // The name of the function `job` calls: a plain function's symbol, or its invoker's (whose
  // name holds the lambda's type); "the submitted function" if it has none.
  std::string function_name(const remote_job& job);
  remote_counters counters_;

  // ---- [transport] hooks ----
  virtual std::size_t slot_count() const noexcept = 0;
  virtual worker_slot& slot(std::size_t i) noexcept = 0;
  // Worker i may be sent calls (started, initialised, reachable).
  virtual bool accepts_calls(std::size_t i) const noexcept = 0;
  virtual std::size_t call_limit(std::size_t) const noexcept {
    return static_cast<std::size_t>(-1);
  }
  // Called under the queue's lock, with the queue's length.
  virtual std::size_t batch_jobs(std::size_t) const noexcept { return 1; }
  virtual std::size_t batch_bytes() const noexcept { return static_cast<std::size_t>(-1); }
  // Sends every call held by worker i (all just taken); throws if it cannot be reached.
  virtual void send_held(std::size_t i) = 0;
  // Worker i cannot be reached (`why` says why, or is empty): usually breaks the executor.
  virtual void lost(std::size_t i, const std::string& why) = 0;
  virtual void begin_managing() noexcept {}
  virtual void end_managing() noexcept {}
  // Before dispatching in each round; returns whether it did work.
  virtual bool prepare(const snapshot&) { return false; }
  // A forced stop is under way: the loop ends when every worker is gone.
  virtual bool stopping_by_force() const noexcept { return false; }
  // Sleeps until a post or worker input and handles it; returns whether it did work.
  virtual bool wait_and_receive(const snapshot& s, bool busy) = 0;
  virtual void finish() noexcept = 0;
  // Wakes the manager (after close()).
  virtual void wake_manager() noexcept = 0;
  // Called under the queue's lock when the manager starts (lazy_start).
  virtual void on_manager_start() {}
  // The calling thread acts for the manager (a done-callback run while driving).
  virtual bool acting_for_manager() const noexcept { return false; }
  // After break_executor failed worker i's calls: end it if need be.
  virtual void on_broken(std::size_t) noexcept {}
  virtual void after_broken() noexcept {}
  // The loop failed with `what`: the message to break the executor with (the transport may
  // take back what the loop had let go of, such as the process pool's driver_).
  virtual std::string on_manager_failure(const std::string& what) noexcept { return what; }
  virtual std::exception_ptr broken_error(const std::string& why) const = 0;
  [[noreturn]] virtual void throw_broken(const std::string& why) const = 0;

 private:
  const code_ref& portable(const void* code);

  const traits traits_;
  std::mutex mutex_;  // guards what follows
  std::deque<remote_job> queue_;
  bool shutdown_ = false;
  std::optional<std::string> broken_;
  int kill_signal_ = 0;
  std::thread manager_;
  std::mutex join_mutex_;  // serializes joiners of manager_

  // Manager side.
  std::unordered_map<const void*, code_ref> addresses_;
  std::uint64_t next_id_ = 1;

  // Records the trace events of a traced reply's calls.
  void record_spans(const received_reply& r) noexcept;
};

}  // namespace cfutures::detail
