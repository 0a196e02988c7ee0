// The MPI executor's root: the MPI transport's hooks of the remote core (comm_core.hpp).
#include "mpi/comm_core.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "mpi/mpi_environment.hpp"
#include "mpi/rank_server.hpp"

namespace cfutures::detail {
namespace {

// After its last activity the manager probes without blocking this long (see
// comm_core.hpp): replies that follow quickly are taken without a round through MPI_Mprobe
// and without the submitters having to send a wake.
constexpr std::chrono::microseconds spin_window(100);

broken_executor broken(const std::string& why) {
  return broken_executor("the MPI executor cannot run work any more (" + why + ")");
}

}  // namespace

comm_core::comm_core(MPI_Comm comm, int root, bool serialized, MPI_Comm spawned)
    : remote_core(traits{.store = nullptr,  // bytes cross to other machines: in memory
                         .barrier = nullptr,
                         .splits_chunks = false,
                         .lazy_start = false,
                         .origin = nullptr,
                         .executor_name = "mpi"}),
      comm_(comm),
      spawned_(spawned),
      root_(root),
      serialized_(serialized) {
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  for (int r = 0; r < size_; ++r) {
    if (r != root_) ranks_.push_back({r, {}});
  }
  // The ranks serving this executor (the root itself in a communicator of one).
  remote_counters::add(counters_.workers, ranks_.empty() ? 1 : ranks_.size());
}

comm_core::~comm_core() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  MPI_Comm_free(&comm_);
  if (spawned_ == MPI_COMM_NULL) return;
  // Collective with the spawned ranks, which disconnect once told to exit (finish()); after
  // an MPI error some may never do so: then only freed.
  if (look().broken) {
    MPI_Comm_free(&spawned_);
  } else {
    MPI_Comm_disconnect(&spawned_);
  }
}

std::size_t comm_core::max_workers() const noexcept { return ranks_.empty() ? 1 : ranks_.size(); }

std::exception_ptr comm_core::broken_error(const std::string& why) const {
  return std::make_exception_ptr(broken(why));
}

void comm_core::throw_broken(const std::string& why) const { throw broken(why); }

// Pairs with wait_for_message(): post first, then take sleeping_; whoever takes it sends the
// one wake the manager then owes itself.
void comm_core::post() noexcept {
  posted_.fetch_add(1);
  posted_.notify_one();
  if (serialized_) return;
  if (sleeping_.load() && sleeping_.exchange(false)) {
    MPI_Send(nullptr, 0, MPI_BYTE, root_, mpi_messages::tag_wake, comm_);
  }
}

void comm_core::enqueue(std::vector<remote_job> jobs) {
  push(jobs);
  post();
}

// ---- manager thread ------------------------------------------------------------------

mpi_messages::outgoing_frame comm_core::call_frame(remote_job& job, bool attach_large) {
  mpi_messages::outgoing_frame frame(attach_large);
  frame.bytes() += encode_call(job, frame);
  frame.seal(wire::kind::call);
  return frame;
}

void comm_core::send_held(std::size_t i) {
  call_frame(ranks_[i].slot.held.front(), true).send(ranks_[i].rank, comm_);
}

// Any MPI failure breaks the executor.
void comm_core::lost(std::size_t, const std::string& why) { break_executor(why); }

// A communicator of one rank: the root runs each call itself, as a rank would.
void comm_core::run_here() {
  mpi_messages::incoming_attachments none;  // frames that stay here: their regions alone
  call_answer answer;
  for (;;) {
    std::vector<remote_job> batch = take(static_cast<std::size_t>(-1));
    if (batch.empty()) return;
    worker_slot here;
    here.held.push_back(std::move(batch.front()));
    try {
      const mpi_messages::outgoing_frame call = call_frame(here.held.front(), false);
      none.expect_local(call.regions());
      answer_call(call.payload(), none, false, answer);
    } catch (...) {
      settle(here.held.front(), std::current_exception(), false);
      continue;
    }
    none.expect_local(answer.reply.regions());
    take_reply(here, answer.reply.payload(), none).complete();
  }
}

bool comm_core::dispatch() {
  if (ranks_.empty()) {
    run_here();
    return false;
  }
  return remote_core::dispatch();
}

bool comm_core::ranks_all_busy() const {
  return std::all_of(ranks_.begin(), ranks_.end(),
                     [](const worker_rank& w) { return !w.slot.held.empty(); });
}

// Waits for a message (returns true, with it matched) or a post (returns false). With no
// call out, only a post can come: it polls posted_ for spin_window, then sleeps on it (a
// futex), never touching MPI. Otherwise it probes without blocking for spin_window, then
// blocks in MPI_Mprobe until a reply or a wake.
bool comm_core::wait_for_message(MPI_Message& message, MPI_Status& status) {
  const auto spin_until = std::chrono::steady_clock::now() + spin_window;
  if (!calls_held()) {  // no reply can come: wait for a post, without MPI
    while (posted_.load(std::memory_order_relaxed) == seen_posted_) {
      if (std::chrono::steady_clock::now() >= spin_until) {
        posted_.wait(seen_posted_);
        break;
      }
      std::this_thread::yield();
    }
    return false;
  }
  if (serialized_) return wait_serialized(message, status);
  for (;;) {
    int found = 0;
    check_mpi(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &found, &message, &status),
              "MPI_Improbe");
    if (found) return true;
    if (posted_.load(std::memory_order_relaxed) != seen_posted_) return false;
    if (std::chrono::steady_clock::now() >= spin_until) break;
  }
  sleeping_.store(true);
  if (posted_.load() != seen_posted_) {
    if (!sleeping_.exchange(false)) ++owed_wakes_;
    return false;
  }
  check_mpi(MPI_Mprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &message, &status), "MPI_Mprobe");
  if (!sleeping_.exchange(false)) ++owed_wakes_;
  return true;
}

// wait_for_message below MPI_THREAD_MULTIPLE, with calls out (comm_core.hpp).
bool comm_core::wait_serialized(MPI_Message& message, MPI_Status& status) {
  if (ranks_all_busy()) {
    check_mpi(MPI_Mprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &message, &status), "MPI_Mprobe");
    return true;
  }
  for (;;) {
    int found = 0;
    check_mpi(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &found, &message, &status),
              "MPI_Improbe");
    if (found) return true;
    if (posted_.load() != seen_posted_) return false;
  }
}

void comm_core::handle_message(MPI_Message& message, const MPI_Status& status) {
  const std::string_view bytes = mpi_messages::receive_matched(message, status, buffer_);
  if (status.MPI_TAG == mpi_messages::tag_wake) {
    --owed_wakes_;
    return;
  }
  const auto w = std::find_if(ranks_.begin(), ranks_.end(),
                              [&](const worker_rank& r) { return r.rank == status.MPI_SOURCE; });
  if (w == ranks_.end() || w->slot.held.empty() || status.MPI_TAG != mpi_messages::tag_frame) {
    throw protocol_error("a message the MPI executor did not expect, from rank " +
                         std::to_string(status.MPI_SOURCE));
  }
  std::string_view payload;
  if (mpi_messages::open_frame(bytes, payload) != wire::kind::reply) {
    throw protocol_error("a message other than a reply from rank " +
                         std::to_string(status.MPI_SOURCE));
  }
  attachments_.expect_from(comm_, w->rank);
  // Views into buffer_ and attachments_, which dispatch() keeps.
  received_reply reply = take_reply(w->slot, payload, attachments_);
  // The rank is idle again: its next call leaves before this one's futures complete (waking
  // the waiting threads and running callbacks would keep the rank waiting).
  try {
    dispatch();
  } catch (...) {
    reply.complete();
    throw;
  }
  reply.complete();
}

bool comm_core::wait_and_receive(const snapshot&, bool) {
  MPI_Message message;
  MPI_Status status;
  if (wait_for_message(message, status)) handle_message(message, status);
  return false;
}

// Tells every rank to return from its constructor, and receives the wakes still owed, so
// that the communicator is freed with no message pending.
void comm_core::finish() noexcept {
  mpi_messages::outgoing_frame exit_frame;
  exit_frame.seal(wire::kind::exit);
  for (const auto& w : ranks_) {
    try {
      exit_frame.send(w.rank, comm_);
    } catch (const std::exception&) {
      // That rank cannot be reached; the others are still told.
    }
  }
  for (; owed_wakes_ > 0; --owed_wakes_) {
    MPI_Recv(nullptr, 0, MPI_BYTE, root_, mpi_messages::tag_wake, comm_, MPI_STATUS_IGNORE);
  }
  counters_.workers.store(0, std::memory_order_relaxed);  // the ranks serve no more
}

}  // namespace cfutures::detail
