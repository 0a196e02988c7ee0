// The root's side of the MPI executor: the queue and the manager thread.
//
// Message flow (who sends what to whom, in which thread; messages: messages.hpp):
//
//   user threads (root)            manager thread (root, one per executor)      ranks ≠ root
//   ───────────────────            ───────────────────────────────────────      ────────────
//   submit/map ─ serialize args
//     (inline, never shared
//     memory), push remote_job
//     on queue_; bump posted_
//     (futex wake), and if the
//     manager blocks in
//     MPI_Mprobe: wake (empty
//     message to itself) ────────▶ for each idle rank, while jobs are queued:
//                                    try_start() the job's calls (RUNNING from
//                                    here; cancelled calls are dropped), then
//                                    MPI_Send call {id, invoker, fn, args} ────▶ run_calls
//                                      (+ large args as attachments)
//                                  no call out: polls posted_ for 100 µs,
//                                    then sleeps on it (futex), MPI untouched;
//                                  calls out: MPI_Improbe(ANY_SOURCE) for
//                                    100 µs, then MPI_Mprobe (blocks):
//                                    wake ─ nothing to receive but the wake
//                                    reply from rank r ◀─────────────────────── reply
//                                      r is idle again: its next call leaves,
//                                      then set_result / set_exception (done-
//                                      callbacks run here)
//   shutdown ─ flag, wake ───────▶ queue empty, no call out: exit to every
//                                    rank ────────────────────────────────────▶ constructor
//                                    returns
//   An MPI error (MPI_ERRORS_RETURN on the executor's communicator) breaks the executor:
//   running and queued calls fail with broken_executor; the manager tells the ranks to
//   exit (as far as it can) and ends.
//
// On a communicator of one rank there is no other rank: the manager runs each call itself
// (answer_call, as a rank would), one at a time.
//
// Wake-ups without lost or stray messages: the manager sets sleeping_ before it blocks; a
// submitter that takes sleeping_ (exchange to false) sends exactly one wake. When the manager
// finds sleeping_ already taken, it owes itself the receipt of that wake (owed_wakes_), and
// receives every owed one before it ends, so the communicator is freed with nothing pending.
//
// Below MPI_THREAD_MULTIPLE (the program initialised MPI so; mpi4py serializes likewise) only
// the manager thread calls MPI on the root while the executor runs, and no wake is ever sent:
// with no call out it waits as above (posted_, no MPI); with every rank busy, it blocks in
// MPI_Mprobe (a post cannot be acted on before a reply anyway); with calls out and a rank idle, it
// polls MPI_Improbe and posted_ in turn (MPI yields between its polls when the job oversubscribes
// the cores), so a submit still reaches the idle rank.
//
// Only the manager thread touches ranks_ and the members after it; queue_ and the flags are
// guarded by mutex_.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cfutures/detail/remote_executor.hpp"
#include "messages.hpp"

namespace cfutures::detail {

class comm_core : public std::enable_shared_from_this<comm_core> {
 public:
  // Takes ownership of `comm`, the executor's own duplicate of the user's communicator.
  // serialized: MPI was initialised below MPI_THREAD_MULTIPLE (see below).
  comm_core(MPI_Comm comm, int root, bool serialized);
  ~comm_core();
  comm_core(const comm_core&) = delete;
  comm_core& operator=(const comm_core&) = delete;

  void start();  // starts the manager thread
  std::size_t max_workers() const noexcept;
  void enqueue(remote_job job);
  void shutdown(bool wait, bool cancel_futures) noexcept;
  // Detaches the manager thread if the caller is it (the executor dies in a callback).
  void detach_if_manager() noexcept;

 private:
  struct worker_rank {
    int rank = -1;
    std::optional<remote_job> job;  // sent, awaiting its reply
  };

  void manage() noexcept;
  std::optional<remote_job> next_job();
  void dispatch();
  mpi_messages::outgoing_frame call_frame(remote_job& job, bool attach_large);
  // The reply to `job`, decoded (its attachments received), or the error to fail it with.
  static std::exception_ptr decode(const remote_job& job, std::string_view reply_payload,
                                   wire::attachment_source& attachments,
                                   wire::reply_message& reply) noexcept;
  static void complete(remote_job& job, const wire::reply_message& reply,
                       const std::exception_ptr& error) noexcept;
  bool calls_out() const;
  bool ranks_all_busy() const;
  bool wait_serialized(MPI_Message& message, MPI_Status& status);
  bool wait_for_message(MPI_Message& message, MPI_Status& status);
  void handle_message(MPI_Message& message, const MPI_Status& status);
  void break_executor(const std::string& why) noexcept;
  void stop_ranks() noexcept;
  void post() noexcept;
  const code_ref& portable(const void* code);

  MPI_Comm comm_;
  const int root_;
  const bool serialized_;
  int size_ = 1;

  std::mutex mutex_;
  std::deque<remote_job> queue_;
  bool shutdown_ = false;
  std::optional<std::string> broken_;
  std::thread manager_;
  std::mutex join_mutex_;  // serializes joiners of manager_

  std::atomic<std::uint64_t> posted_{0};  // enqueue/shutdown calls so far
  std::atomic<bool> sleeping_{false};     // the manager is (about to be) blocked in MPI_Mprobe
  std::uint64_t seen_posted_ = 0;         // manager thread only, as everything below
  int owed_wakes_ = 0;
  std::vector<worker_rank> ranks_;
  std::unordered_map<const void*, code_ref> addresses_;
  std::uint64_t next_id_ = 1;
  mpi_messages::receive_buffer buffer_;
  mpi_messages::incoming_attachments attachments_;
};

}  // namespace cfutures::detail
