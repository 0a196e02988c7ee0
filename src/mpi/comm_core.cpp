// The MPI executor's root: the MPI transport's hooks of the remote core (comm_core.hpp).
#include "mpi/comm_core.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "cfutures/detail/futex.hpp"
#include "mpi/backoff.hpp"
#include "mpi/mpi_environment.hpp"
#include "mpi/rank_server.hpp"

namespace cfutures::detail {
namespace {

// With no call out, the manager polls posted_ this long after its last activity before it
// sleeps on it.
constexpr std::chrono::microseconds spin_window(100);
// With calls out, it probes for replies this long before it pauses between probes
// (backoff.hpp): a reply that follows quickly is taken at MPI's latency, even when the
// manager lost its CPU meanwhile (the job's processes outnumber the cores).
constexpr std::chrono::microseconds reply_spin_window(1000);

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
      serialized_(serialized) {
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  for (int r = 0; r < size_; ++r) {
    if (r != root) ranks_.push_back({r, {}});
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
  // Collective with the spawned ranks, which disconnect once told to exit (finish()) or once
  // their initializer failed; after an MPI error some may never do so: then only freed.
  if (look().broken && !initializer_failed_) {
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

// Pairs with wait_for_message(): posted_ first, then pausing_ (seq_cst both sides: either the
// manager sees the post before it sleeps, or this sees it pausing and wakes it).
void comm_core::post() noexcept {
  posted_.fetch_add(1);
  posted_.notify_one();
  if (pausing_.load()) {
    wake_word_.fetch_add(1);
    futex_wake_one(wake_word_);
  }
}

void comm_core::enqueue(std::span<remote_job> jobs) {
  push(jobs);
  post();
}

void comm_core::initialize(const encoded_call& init) noexcept {
  try {
    run_initializer(init);
  } catch (const std::exception& e) {
    break_executor(e.what());  // as any MPI failure (the ranks are then only freed)
  }
}

void comm_core::run_initializer(const encoded_call& init) {
  const std::string head = call_head(init, 1);
  for (const auto& r : ranks_) {
    payload args = init.args;  // the frame's item, alive until sent
    mpi_messages::outgoing_frame frame;
    frame.bytes() += head;
    wire::writer w(frame.bytes());
    frame.put(w, args);
    frame.seal(wire::kind::init);
    frame.send(r.rank, comm_);
  }
  std::string failure;
  for (auto& r : ranks_) {
    MPI_Message message;
    MPI_Status status;
    check_mpi(MPI_Mprobe(r.rank, mpi_messages::tag_frame, comm_, &message, &status), "MPI_Mprobe");
    std::string_view payload;
    const wire::kind kind =
        mpi_messages::open_frame(mpi_messages::receive_matched(message, status, buffer_), payload);
    if (kind == wire::kind::init_ok) continue;
    if (kind != wire::kind::init_failed) {
      throw protocol_error("a message other than the initializer's outcome from rank " +
                           std::to_string(r.rank));
    }
    r.ended = true;
    if (failure.empty()) failure = initializer_failure(payload);
  }
  if (failure.empty()) return;
  initializer_failed_ = true;
  break_executor("a worker failed to run its initializer: " + failure);
}

// ---- manager thread ------------------------------------------------------------------

mpi_messages::outgoing_frame comm_core::call_frame(remote_job& job, bool attach_large) {
  mpi_messages::outgoing_frame frame(attach_large);
  encode_call(job, frame, frame.bytes());
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
    worker_slot here;
    take(static_cast<std::size_t>(-1), here.held);  // one job (batch_jobs)
    if (here.held.empty()) return;
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
// futex), never touching MPI. Otherwise it probes with backoff (backoff.hpp), its pauses
// ended early by a post — except below MPI_THREAD_MULTIPLE with every rank busy, where a
// post cannot be acted on before a reply anyway.
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
  const bool posts_count = !serialized_ || !ranks_all_busy();
  mpi_backoff backoff(reply_spin_window);
  for (;;) {
    int found = 0;
    check_mpi(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &found, &message, &status),
              "MPI_Improbe");
    if (found) return true;
    if (posts_count && posted_.load() != seen_posted_) return false;
    const std::chrono::microseconds pause = backoff.next();
    if (pause.count() == 0) continue;
    if (!posts_count) {
      std::this_thread::sleep_for(pause);
      continue;
    }
    const std::uint32_t word = wake_word_.load();
    pausing_.store(true);
    if (posted_.load() != seen_posted_) {
      pausing_.store(false);
      return false;
    }
    const clock::time_point until = clock::now() + pause;
    futex_wait(wake_word_, word, &until);
    pausing_.store(false);
  }
}

void comm_core::handle_message(MPI_Message& message, const MPI_Status& status) {
  const std::string_view bytes = mpi_messages::receive_matched(message, status, buffer_);
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

// Tells every rank to return from its constructor.
void comm_core::finish() noexcept {
  mpi_messages::outgoing_frame exit_frame;
  exit_frame.seal(wire::kind::exit);
  for (const auto& w : ranks_) {
    if (w.ended) continue;
    try {
      exit_frame.send(w.rank, comm_);
    } catch (const std::exception&) {
      // That rank cannot be reached; the others are still told.
    }
  }
  counters_.workers.store(0, std::memory_order_relaxed);  // the ranks serve no more
}

}  // namespace cfutures::detail
