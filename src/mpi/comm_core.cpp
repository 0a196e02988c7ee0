// The MPI executor's root: queue, shutdown and the manager thread's loop (comm_core.hpp).
#include "comm_core.hpp"

#include <algorithm>
#include <chrono>

#include "mpi_environment.hpp"
#include "rank_server.hpp"

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

comm_core::comm_core(MPI_Comm comm, int root, bool serialized)
    : comm_(comm), root_(root), serialized_(serialized) {
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  for (int r = 0; r < size_; ++r) {
    if (r != root_) ranks_.push_back({r, std::nullopt});
  }
}

comm_core::~comm_core() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);
}

void comm_core::start() {
  manager_ = std::thread([self = shared_from_this()] { self->manage(); });
}

std::size_t comm_core::max_workers() const noexcept { return ranks_.empty() ? 1 : ranks_.size(); }

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

void comm_core::enqueue(remote_job job) {
  {
    std::lock_guard lock(mutex_);
    if (broken_) throw broken(*broken_);
    if (shutdown_) throw shutdown_error();
    queue_.push_back(std::move(job));
  }
  post();
}

void comm_core::shutdown(bool wait, bool cancel_futures) noexcept {
  std::deque<remote_job> dropped;
  std::thread::id manager_id;
  {
    std::lock_guard lock(mutex_);
    shutdown_ = true;
    if (cancel_futures) dropped.swap(queue_);
    manager_id = manager_.get_id();
  }
  post();
  for (auto& job : dropped) cancel_job(job);
  if (!wait || manager_id == std::this_thread::get_id()) return;
  std::lock_guard lock(join_mutex_);
  if (manager_.joinable()) manager_.join();
}

void comm_core::detach_if_manager() noexcept {
  std::lock_guard lock(join_mutex_);
  if (manager_.joinable() && manager_.get_id() == std::this_thread::get_id()) manager_.detach();
}

// ---- manager thread ------------------------------------------------------------------

const code_ref& comm_core::portable(const void* code) {
  auto it = addresses_.find(code);
  if (it == addresses_.end()) it = addresses_.emplace(code, portable_address(code)).first;
  return it->second;
}

// The next queued job whose calls are not all cancelled, its calls now RUNNING.
std::optional<remote_job> comm_core::next_job() {
  std::lock_guard lock(mutex_);
  while (!queue_.empty()) {
    remote_job job = std::move(queue_.front());
    queue_.pop_front();
    std::erase_if(job.items, [](const remote_job::item& item) { return !item.state->try_start(); });
    if (!job.items.empty()) return job;
  }
  return std::nullopt;
}

mpi_messages::outgoing_frame comm_core::call_frame(remote_job& job, bool attach_large) {
  const code_ref& entry = portable(reinterpret_cast<const void*>(job.entry));
  const code_ref* fn = job.fn ? &portable(job.fn) : nullptr;
  mpi_messages::outgoing_frame frame(attach_large);
  frame.bytes() += wire::encode_call_head(next_id_++, entry, fn, job.items.size());
  for (const auto& item : job.items) frame.put_item(item.args.view());
  frame.seal(wire::kind::call);
  return frame;
}

std::exception_ptr comm_core::decode(const remote_job& job, std::string_view reply_payload,
                                     wire::attachment_source& attachments,
                                     wire::reply_message& reply) noexcept {
  try {
    reply = wire::decode_reply(reply_payload, attachments);
    if (reply.items.size() != job.items.size()) throw protocol_error("reply size mismatch");
    return nullptr;
  } catch (...) {
    return std::current_exception();
  }
}

void comm_core::complete(remote_job& job, const wire::reply_message& reply,
                         const std::exception_ptr& error) noexcept {
  if (error) {
    fail_job(job, error);
    return;
  }
  for (std::size_t i = 0; i < job.items.size(); ++i) {
    job.complete(*job.items[i].state, reply.items[i].ok, encoded_input{reply.items[i].bytes});
  }
}

void comm_core::dispatch() {
  if (ranks_.empty()) {  // a communicator of one rank: the root runs the calls itself
    mpi_messages::incoming_attachments none;  // frames that stay here are whole
    call_answer answer;
    while (std::optional<remote_job> job = next_job()) {
      try {
        answer_call(call_frame(*job, false).payload(), none, false, answer);
      } catch (...) {
        fail_job(*job, std::current_exception());
        continue;
      }
      wire::reply_message reply;
      const std::exception_ptr error = decode(*job, answer.reply.payload(), none, reply);
      complete(*job, reply, error);
    }
    return;
  }
  for (auto& w : ranks_) {
    if (w.job) continue;
    w.job = next_job();
    if (!w.job) return;
    call_frame(*w.job, true).send(w.rank, comm_);
  }
}

bool comm_core::calls_out() const {
  return std::any_of(ranks_.begin(), ranks_.end(), [](const worker_rank& w) { return w.job; });
}

// Waits for a message (returns true, with it matched) or a post (returns false). With no
// call out, only a post can come: it polls posted_ for spin_window, then sleeps on it (a
// futex), never touching MPI. Otherwise it probes without blocking for spin_window, then
// blocks in MPI_Mprobe until a reply or a wake.
bool comm_core::wait_for_message(MPI_Message& message, MPI_Status& status) {
  const auto spin_until = std::chrono::steady_clock::now() + spin_window;
  if (!calls_out()) {  // no reply can come: wait for a post, without MPI
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

bool comm_core::ranks_all_busy() const {
  return std::all_of(ranks_.begin(), ranks_.end(), [](const worker_rank& w) { return w.job; });
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
  if (w == ranks_.end() || !w->job || status.MPI_TAG != mpi_messages::tag_frame) {
    throw protocol_error("a message the MPI executor did not expect, from rank " +
                         std::to_string(status.MPI_SOURCE));
  }
  std::string_view payload;
  if (mpi_messages::open_frame(bytes, payload) != wire::kind::reply) {
    throw protocol_error("a message other than a reply from rank " +
                         std::to_string(status.MPI_SOURCE));
  }
  remote_job job = std::move(*w->job);
  w->job.reset();
  attachments_.expect_from(comm_, w->rank);
  wire::reply_message reply;  // views into buffer_ and attachments_, which dispatch() keeps
  const std::exception_ptr error = decode(job, payload, attachments_, reply);
  // The rank is idle again: its next call leaves before this one's futures complete (waking
  // the waiting threads and running callbacks would keep the rank waiting).
  try {
    dispatch();
  } catch (...) {
    complete(job, reply, error);
    throw;
  }
  complete(job, reply, error);
}

void comm_core::break_executor(const std::string& why) noexcept {
  std::deque<remote_job> queued;
  {
    std::lock_guard lock(mutex_);
    if (!broken_) broken_ = why;
    queued.swap(queue_);
  }
  const std::exception_ptr error = std::make_exception_ptr(broken(why));
  for (auto& w : ranks_) {
    if (w.job) fail_job(*w.job, error);
    w.job.reset();
  }
  for (auto& job : queued) fail_job(job, error);
}

// Tells every rank to return from its constructor, and receives the wakes still owed, so
// that the communicator is freed with no message pending.
void comm_core::stop_ranks() noexcept {
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
}

void comm_core::manage() noexcept {
  try {
    for (;;) {
      seen_posted_ = posted_.load();
      bool stop = false;
      {
        std::lock_guard lock(mutex_);
        if (broken_) break;
        stop = shutdown_;
      }
      dispatch();
      if (stop && !calls_out()) {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) break;
      }
      MPI_Message message;
      MPI_Status status;
      if (wait_for_message(message, status)) handle_message(message, status);
    }
  } catch (const std::exception& e) {
    break_executor(e.what());
  }
  stop_ranks();
}

}  // namespace cfutures::detail
