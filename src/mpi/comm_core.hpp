// The root's side of the MPI executor: the MPI transport of the remote-executor core
// (remote/remote_core.hpp), whose queue and manager loop it drives with these hooks.
//
// Message flow (who sends what to whom, in which thread; messages: messages.hpp):
//
//   user threads (root)            manager thread (root, one per executor)      ranks ≠ root
//   ───────────────────            ───────────────────────────────────────      ────────────
//   submit/map ─ serialize args
//     (in memory, never shared
//     memory), push remote_job
//     on the queue; bump posted_
//     and, if the manager
//     pauses, wake_word_
//     (futex wakes) ─────────────▶ for each idle rank, while jobs are queued:
//                                    try_start() the job's calls (RUNNING from
//                                    here; cancelled calls are dropped), then
//                                    MPI_Send call {id, invoker, fn, args} ────▶ run_calls
//                                      (+ large args as attachments)
//                                  no call out: polls posted_ for 100 µs,
//                                    then sleeps on it (futex), MPI untouched;
//                                  calls out: MPI_Improbe(ANY_SOURCE) for
//                                    1 ms, then with pauses (backoff.hpp)
//                                    that a post ends at once:
//                                    reply from rank r ◀─────────────────────── reply
//                                      (+ large results as attachments, a
//                                      string or vector result's run put back
//                                      in place in the receive buffer)
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
// pool_executor's initializer goes first, from the constructing thread before the manager
// starts (initialize()): an init frame {initializer call} to every rank, then each rank's
// init_ok or init_failed (remote/serve.hpp); a rank whose initializer failed has left its
// serve loop, so it is not told to exit, and the executor starts broken.
//
// On a communicator of one rank there is no other rank: the manager runs each call itself
// (answer_call, as a rank would), one at a time.
//
// Wake-ups without a lost post: the manager reads wake_word_, sets pausing_, checks posted_,
// and sleeps only while wake_word_ still holds the value read; a submitter bumps posted_ and,
// if pausing_ is set, wake_word_, then wakes it (a submit costs no system call otherwise). Nothing
// is sent over MPI to wake the manager (before round 2's issue 18 a wake was an empty message to
// itself, as the manager blocked in MPI_Mprobe — which Open MPI implements by polling, taking a CPU
// from the ranks).
//
// Below MPI_THREAD_MULTIPLE (the program initialised MPI so; mpi4py serializes likewise) only
// the manager thread calls MPI on the root while the executor runs: the waits are the same,
// but with every rank busy the manager's pauses are plain sleeps (a post cannot be acted on
// before a reply anyway).
//
// Only the manager thread touches ranks_ and the members after it.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "mpi/messages.hpp"
#include "remote/remote_core.hpp"

namespace cfutures::detail {

class comm_core final : public remote_core {
 public:
  // Takes ownership of `comm`, the executor's own duplicate of the user's communicator.
  // serialized: MPI was initialised below MPI_THREAD_MULTIPLE (see below).
  // spawned: for a pool of spawned ranks (pool_executor), the intercommunicator to them
  // (`comm` is its merge), owned too: disconnected after `comm` is freed.
  comm_core(MPI_Comm comm, int root, bool serialized, MPI_Comm spawned = MPI_COMM_NULL);
  ~comm_core() override;

  std::size_t max_workers() const noexcept;
  void enqueue(std::span<remote_job> jobs) override;
  // Before start_manager (this thread alone calls MPI on the communicator then): runs `init`
  // on every rank, waiting for each to answer; if it throws on any, the executor is broken
  // (broken_executor naming its what()) and the ranks that ran it fine are told to exit
  // when the manager starts, the others having ended their serve loop already. An MPI
  // failure meanwhile breaks it too.
  void initialize(const encoded_call& init) noexcept;

 private:
  struct worker_rank {
    int rank = -1;
    worker_slot slot;    // at most one call message held at a time
    bool ended = false;  // its initializer failed: it serves no more, is not told to exit
  };

  // remote_core's hooks
  std::size_t slot_count() const noexcept override { return ranks_.size(); }
  worker_slot& slot(std::size_t i) noexcept override { return ranks_[i].slot; }
  bool accepts_calls(std::size_t) const noexcept override { return true; }
  void send_held(std::size_t i) override;
  void lost(std::size_t i, const std::string& why) override;
  bool dispatch() override;
  bool wait_and_receive(const snapshot& s, bool busy) override;
  void finish() noexcept override;
  void wake_manager() noexcept override { post(); }
  std::exception_ptr broken_error(const std::string& why) const override;
  [[noreturn]] void throw_broken(const std::string& why) const override;

  void run_initializer(const encoded_call& init);
  mpi_messages::outgoing_frame call_frame(remote_job& job, bool attach_large);
  void run_here();
  bool ranks_all_busy() const;
  bool wait_for_message(MPI_Message& message, MPI_Status& status);
  void handle_message(MPI_Message& message, const MPI_Status& status);
  void post() noexcept;

  MPI_Comm comm_;
  MPI_Comm spawned_;
  const bool serialized_;
  int size_ = 1;
  // Broken by a failed initializer, not by MPI: the spawned ranks still disconnect.
  bool initializer_failed_ = false;

  std::atomic<bool> pausing_{false};         // the manager is (about to be) in a pause
  std::atomic<std::uint32_t> wake_word_{0};  // bumped by post() then: the pauses sleep on it
  // Manager thread only, as everything below.
  std::vector<worker_rank> ranks_;
  mpi_messages::receive_buffer buffer_;
  mpi_messages::incoming_attachments attachments_;
};

}  // namespace cfutures::detail
