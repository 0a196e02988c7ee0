// The process pool: its core (queue, shutdown) and the manager thread's loop (batches to
// workers, replies, deaths). Starting and reaping workers: worker_processes.cpp.
#include "cfutures/process_pool_executor.hpp"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "../remote/protocol.hpp"
#include "../remote/worker.hpp"
#include "cfutures/detail/futex.hpp"
#include "process_pool_core.hpp"

namespace cfutures {
namespace detail {

bool serving_as_worker = false;

namespace {

constexpr int forgot_serve_exit_code = 86;
// After its last activity the manager polls without sleeping this long (see
// process_pool_core.hpp).
constexpr std::chrono::microseconds spin_window(100);
// How long a thread waiting for a future of the pool receives replies itself before it
// sleeps (and leaves that to the manager).
constexpr std::chrono::microseconds help_window(100);
// A submitter that dispatched its calls itself is expected to wait for them within this
// time (and so to receive their replies); until then the manager does not watch the
// sockets, or only so long (see "Who drives").
constexpr std::chrono::milliseconds lease_window(1);
// A batch given to an idle worker at once: at most this many jobs, and it stops growing
// once its arguments pass this size (so a write to an idle worker never blocks for long).
constexpr std::size_t max_batch_jobs = 64;
constexpr std::size_t max_batch_bytes = 64 << 10;

std::size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::size_t checked_max_workers(const std::optional<std::size_t>& requested) {
  if (!requested) return usable_cpus();
  if (*requested == 0) throw std::invalid_argument("max_workers must be greater than 0");
  return *requested;
}

std::optional<std::size_t> checked_max_tasks(const std::optional<std::size_t>& requested) {
  if (requested && *requested == 0) {
    throw std::invalid_argument("max_tasks_per_child must be greater than 0");
  }
  return requested;
}

std::exception_ptr broken(const std::string& message) {
  return std::make_exception_ptr(broken_process_pool(message));
}

// The core whose driver_ this thread holds, if any (see "Who drives").
thread_local const process_pool_core* driven_by_this_thread = nullptr;

}  // namespace

process_pool_core::process_pool_core(process_pool_options options)
    : max_workers_(checked_max_workers(options.max_workers)),
      initializer_(std::move(options.initializer)),
      max_tasks_per_child_(checked_max_tasks(options.max_tasks_per_child)),
      method_(options.method) {
  if (std::getenv(worker_fd_variable) && !serving_as_worker) {
    std::fprintf(stderr,
                 "cfutures: this process was started as a process_pool_executor worker "
                 "(start_method::spawn), but its main() did not call "
                 "cfutures::serve_if_worker(argc, argv) first\n");
    std::fflush(nullptr);
    _exit(forgot_serve_exit_code);
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw error(std::string("eventfd: ") + std::strerror(errno));
}

process_pool_core::~process_pool_core() {
  unregister_shared_wait_helper(this);
  close_if_open(wake_fd_);
}

void process_pool_core::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void process_pool_core::enqueue(std::vector<remote_job> jobs) {
  std::unique_lock lock(mutex_);
  if (broken_) {
    throw broken_process_pool(
        "A child process terminated abruptly, the process pool is not "
        "usable anymore (" +
        *broken_ + ")");
  }
  if (shutdown_) throw shutdown_error();
  for (auto& job : jobs) {
    for (auto& item : job.items) item.state->origin = this;
    queue_.push_back(std::move(job));
  }
  if (!manager_.joinable()) {
    register_shared_wait_helper(this, weak_from_this());
    manager_ = std::thread([self = shared_from_this()] { self->manage(); });
  }
  lock.unlock();
  // An idle worker takes the calls at once from this thread when nobody else drives; what
  // is left (no worker idle, none started yet, or driver_ busy) goes through the manager.
  if (try_drive()) {
    run_driven(false);
    stop_driving();
    std::lock_guard check(mutex_);
    if (queue_.empty()) {
      lease_until_.store((clock::now() + lease_window).time_since_epoch().count(),
                         std::memory_order_relaxed);
      return;
    }
  }
  // Pairs with wait_for_events(): post first, then look whether the manager sleeps.
  posted_.fetch_add(1);
  if (sleeping_.load()) wake();
}

bool process_pool_core::closed() {
  std::lock_guard lock(mutex_);
  return shutdown_;
}

bool process_pool_core::driving() const noexcept { return driven_by_this_thread == this; }

bool process_pool_core::others_receive() const noexcept {
  return helpers_.load() > 0 ||
         clock::now().time_since_epoch().count() < lease_until_.load(std::memory_order_relaxed);
}

bool process_pool_core::try_drive() noexcept {
  if (driving() || !driver_.try_lock()) return false;
  driven_by_this_thread = this;
  return true;
}

void process_pool_core::drive() noexcept {
  driver_.lock();
  driven_by_this_thread = this;
}

void process_pool_core::stop_driving() noexcept {
  driven_by_this_thread = nullptr;
  driver_.unlock();
}

// With driver_ held by a thread other than the manager: dispatches (after reading the busy
// workers' replies, with `receive`); a failure there breaks the pool, as in the manager.
void process_pool_core::run_driven(bool receive) noexcept {
  try {
    if (receive) {
      receive_replies();
    } else {
      dispatch();
    }
  } catch (const std::exception& e) {
    try {
      break_pool(std::string("the process pool failed to reach its workers: ") + e.what());
    } catch (...) {
      // Out of memory while failing the pool: the manager will find the workers gone.
    }
  }
}

// Reads what the busy workers have sent (but those whose replies are the manager's:
// large_in_flight), then hands queued calls to the workers that became idle. With driver_
// held; only help_briefly calls it.
void process_pool_core::receive_replies() {
  for (auto& w : workers_) {
    if (w.link.fd() >= 0 && !w.jobs.empty() && !w.large_in_flight) handle_input(w);
  }
  dispatch();
}

bool process_pool_core::help_briefly(help_target& target, const deadline& until) noexcept {
  if (driving()) return target.ready();  // a done-callback of this pool: the driver is us
  helpers_.fetch_add(1);
  lease_until_.store(0, std::memory_order_relaxed);  // whoever dispatched is now waiting
  auto give_up = clock::now() + help_window;
  if (until.time_point()) give_up = std::min(give_up, *until.time_point());
  while (!target.ready()) {
    // Only while the manager sleeps: an awake manager receives as fast, and taking driver_
    // from it would only make the two hand it back and forth (relaxed: a hint).
    if (sleeping_.load(std::memory_order_relaxed) && try_drive()) {
      run_driven(true);
      // Once shut down, the manager sleeps until nothing is in flight: if this thread read
      // the last reply, only it knows.
      const bool manager_can_finish = !work_left() && closed();
      stop_driving();
      if (manager_can_finish) wake();
      if (target.ready()) break;
    }
    // Every round: on a busy machine one sched_yield may last a whole time slice.
    if (clock::now() >= give_up) break;
    sched_yield();
  }
  // seq_cst, with the manager's store to blind_ then load of helpers_ (Dekker): either the
  // manager sees this helper gone, or this thread sees it blind — and then wakes it if calls
  // are in flight that nobody watches any more.
  helpers_.fetch_sub(1);
  if (blind_.load()) {
    bool unwatched = true;
    if (try_drive()) {
      unwatched = work_left();
      stop_driving();
    }
    if (unwatched) wake();
  }
  return target.ready();
}

void process_pool_core::shutdown(bool wait, bool cancel_futures) noexcept {
  close(wait, cancel_futures, 0);
}

void process_pool_core::force_shutdown(int signal) noexcept { close(false, true, signal); }

// One critical section closes the queue, takes the calls to cancel and asks for the signal,
// so the manager cannot signal the workers (and fail the queued calls as broken) before
// they are cancelled.
void process_pool_core::close(bool wait, bool cancel_futures, int signal) noexcept {
  std::deque<remote_job> dropped;
  std::thread::id manager_id;
  {
    std::lock_guard lock(mutex_);
    shutdown_ = true;
    if (cancel_futures) dropped.swap(queue_);
    if (signal) kill_signal_ = signal;
    manager_id = manager_.get_id();
  }
  wake();
  for (auto& job : dropped) cancel_job(job);
  // From a done-callback (in the manager or in a driving thread), the manager needs driver_
  // back to finish: it is not waited for.
  if (!wait || manager_id == std::this_thread::get_id() || driving()) return;
  std::lock_guard lock(join_mutex_);
  if (manager_.joinable()) manager_.join();
}

void process_pool_core::detach_if_manager() noexcept {
  std::lock_guard lock(join_mutex_);
  if (manager_.joinable() && (manager_.get_id() == std::this_thread::get_id() || driving())) {
    manager_.detach();
  }
}

// ---- manager thread ------------------------------------------------------------------

const code_ref& process_pool_core::portable(const void* code) {
  auto it = addresses_.find(code);
  if (it == addresses_.end()) it = addresses_.emplace(code, portable_address(code)).first;
  return it->second;
}

// Fails everything and ends every worker. The workers stay in workers_ (closed) until the
// manager loop erases them, so that references held by its callers stay valid.
void process_pool_core::break_pool(const std::string& message) {
  std::deque<remote_job> queued;
  {
    std::lock_guard lock(mutex_);
    if (!broken_) broken_ = message;
    queued.swap(queue_);
  }
  const std::exception_ptr error = broken(message);
  for (auto& w : workers_) {
    for (auto& job : w.jobs) fail_job(job, error);
    w.jobs.clear();
    if (w.link.fd() >= 0) {
      kill(w.pid, SIGKILL);
      reap(w, std::chrono::milliseconds(0));
    }
    w.state = phase::exiting;
  }
  for (auto& job : queued) fail_job(job, error);
  wake();  // a driving thread may have broken it: the manager is to finish
}

// The next batch for an idle worker: one job, or (when many wait) a fair share of the queue
// of up to max_batch_jobs jobs and about max_batch_bytes of arguments, so that a long queue
// of small calls costs one write and one read per batch. Calls that are not taken stay
// cancellable.
std::vector<remote_job> process_pool_core::next_jobs(std::size_t call_limit) {
  std::vector<remote_job> batch;
  std::size_t calls = 0;
  std::size_t bytes = 0;
  std::lock_guard lock(mutex_);
  const std::size_t share =
      std::clamp<std::size_t>(queue_.size() / (2 * max_workers_), 1, max_batch_jobs);
  while (!queue_.empty() && batch.size() < share && calls < call_limit && bytes < max_batch_bytes) {
    remote_job job = std::move(queue_.front());
    queue_.pop_front();
    const std::size_t limit = call_limit - calls;
    if (job.items.size() > limit) {
      remote_job rest;
      rest.entry = job.entry;
      rest.fn = job.fn;
      rest.complete = job.complete;
      rest.items.assign(
          std::make_move_iterator(job.items.begin() + static_cast<std::ptrdiff_t>(limit)),
          std::make_move_iterator(job.items.end()));
      job.items.resize(limit);
      queue_.push_front(std::move(rest));
    }
    // From here the calls are RUNNING; cancelled ones are dropped.
    std::erase_if(job.items, [](const remote_job::item& item) { return !item.state->try_start(); });
    if (job.items.empty()) continue;
    calls += job.items.size();
    for (const auto& item : job.items) bytes += item.args.size();
    batch.push_back(std::move(job));
  }
  return batch;
}

void process_pool_core::send_job(worker_process& w, remote_job& job) {
  const code_ref& entry = portable(reinterpret_cast<const void*>(job.entry));
  const code_ref* fn = job.fn ? &portable(job.fn) : nullptr;
  std::string body = wire::encode_call_head(next_id_++, entry, fn, job.items.size());
  std::vector<shared_block> attachments;
  wire::writer out(body);
  // Large arguments are in shared memory already: their blocks go with the frame.
  for (auto& item : job.items) wire::put_item(out, item.args, attachments);
  if (!attachments.empty()) w.large_in_flight = true;
  w.link.put(wire::kind::call, {body}, std::move(attachments));
}

// Returns whether it sent anything.
bool process_pool_core::dispatch() {
  bool sent = false;
  for (auto& w : workers_) {
    if (w.state != phase::ready || !w.jobs.empty() || w.link.fd() < 0) continue;
    const std::size_t limit =
        max_tasks_per_child_ ? *max_tasks_per_child_ - w.calls_done : static_cast<std::size_t>(-1);
    std::vector<remote_job> batch = next_jobs(limit);
    if (batch.empty()) return sent;
    sent = true;
    w.large_in_flight = false;
    try {
      for (auto& job : batch) {
        w.jobs.push_back(std::move(job));
        send_job(w, w.jobs.back());
      }
      w.link.flush();
    } catch (const std::exception& e) {
      // Usually the worker died (its status tells how); otherwise it cannot be reached any
      // more: either way its calls would never come back, so the pool breaks here.
      lost(w, e.what());
      return sent;
    }
  }
  return sent;
}

void process_pool_core::retire(worker_process& w) {
  w.state = phase::exiting;
  try {
    w.link.put(wire::kind::exit, {});
    w.link.flush();
  } catch (const std::exception&) {
    // Already gone: reaping tells.
  }
}

// Returns whether anything arrived.
bool process_pool_core::handle_input(worker_process& w, bool polled) {
  bool open = false;
  bool frames = false;
  try {
    open = polled ? w.link.receive_polled() : w.link.receive(false);
    wire::frame f;
    while (w.link.fd() >= 0 && w.link.next(f)) {
      frames = true;
      handle_frame(w, f);
    }
  } catch (const std::exception& e) {
    if (w.link.fd() >= 0) lost(w, e.what());
    return true;
  }
  if (!open && w.link.fd() >= 0) lost(w, "");
  return frames || !open;
}

void process_pool_core::handle_frame(worker_process& w, wire::frame& f) {
  switch (f.kind) {
    case wire::kind::hello:
      w.greeted = true;
      return;
    case wire::kind::init_ok:
      if (w.state == phase::initializing) w.state = phase::ready;
      return;
    case wire::kind::init_failed: {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(decode_exception(f.payload));
      } catch (const std::exception& e) {
        what = e.what();
      }
      w.state = phase::exiting;
      reap(w, exit_grace);
      break_pool("A process in the process pool failed to run its initializer (" + what +
                 "); the process pool is not usable anymore");
      return;
    }
    case wire::kind::reply: {
      if (w.jobs.empty()) {
        lost(w, "a reply without a call");
        return;
      }
      remote_job job = std::move(w.jobs.front());
      w.jobs.pop_front();
      try {
        const wire::reply_message reply = wire::decode_reply(f.payload, f);
        if (reply.items.size() != job.items.size()) throw protocol_error("reply size mismatch");
        for (std::size_t i = 0; i < job.items.size(); ++i) {
          job.complete(*job.items[i].state, reply.items[i].ok, f.input(reply.items[i].bytes));
        }
      } catch (const std::exception& e) {
        fail_job(job, std::current_exception());
      }
      w.calls_done += job.items.size();
      if (w.jobs.empty() && max_tasks_per_child_ && w.calls_done >= *max_tasks_per_child_) {
        retire(w);
      }
      return;
    }
    default:
      lost(w, "unexpected message from a worker");
  }
}

bool process_pool_core::work_left() const {
  return std::any_of(workers_.begin(), workers_.end(),
                     [](const worker_process& w) { return !w.jobs.empty(); });
}

// Waits for a socket, a pidfd, the wake-up eventfd or bytes in the rings of the watched
// workers (`rings`: those whose sockets are in `fds`); returns whether anything is ready.
// With `spin` (the manager has just been busy), polls without blocking for spin_window
// first, unless or until a waiting thread receives replies itself (helpers_); then sleeps
// in poll, the rings marked so that their writers wake it through wake_fd_.
bool process_pool_core::wait_for_events(std::vector<pollfd>& fds,
                                        const std::vector<wire::shared_ring*>& rings,
                                        int timeout_ms, bool spin) {
  const auto has_bytes = [](const wire::shared_ring* r) { return r->has_bytes(); };
  const auto spin_until = std::chrono::steady_clock::now() + spin_window;
  while (spin) {
    if (std::any_of(rings.begin(), rings.end(), has_bytes)) return true;
    const int rc = poll(fds.data(), fds.size(), 0);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) throw error(std::string("poll: ") + std::strerror(errno));
    if (posted_.load(std::memory_order_relaxed) != seen_posted_) return false;
    if (helpers_.load(std::memory_order_relaxed) > 0) break;  // a miss costs a spin, no more
    if (std::chrono::steady_clock::now() >= spin_until) break;
    sched_yield();
  }
  struct awake_rings {
    const std::vector<wire::shared_ring*>& rings;
    ~awake_rings() {
      for (auto* r : rings) r->awake();
    }
  } clear_marks{rings};
  bool bytes = false;
  for (auto* r : rings) bytes = r->sleep_for_bytes() || bytes;  // every ring marked
  if (bytes) return true;
  // Pairs with enqueue(): it bumps posted_ and then reads sleeping_ (both seq_cst), so either
  // it sees sleeping_ and writes wake_fd_, or this load sees its post.
  sleeping_.store(true);
  if (posted_.load() != seen_posted_) {
    sleeping_.store(false);
    return false;
  }
  const int rc = poll(fds.data(), fds.size(), timeout_ms);
  sleeping_.store(false);
  if (rc < 0 && errno != EINTR) throw error(std::string("poll: ") + std::strerror(errno));
  return rc > 0;
}

void process_pool_core::manage() noexcept {
  drive();
  try {
    std::vector<pollfd> fds;
    std::vector<wire::shared_ring*> rings;  // of the workers whose sockets are in fds
    bool busy = true;  // the last round did work: spin before sleeping
    for (;;) {
      bool stop;
      std::size_t queued;
      int signal;
      seen_posted_ = posted_.load();
      {
        std::lock_guard lock(mutex_);
        stop = shutdown_;
        queued = queue_.size();
        signal = kill_signal_;
        if (broken_) break;
      }
      if (signal && !signal_sent_) {
        signal_sent_ = true;
        for (auto& w : workers_) kill(w.pid, signal);
      }
      // Workers start on demand, up to max_workers (as CPython does for spawn): one per
      // queued job that no free worker will take (so retired workers are replaced while
      // there is work). Each gets its first calls at once, before the next one is started.
      const auto live = static_cast<std::size_t>(
          std::count_if(workers_.begin(), workers_.end(),
                        [](const worker_process& w) { return w.state != phase::exiting; }));
      const auto free = static_cast<std::size_t>(std::count_if(
          workers_.begin(), workers_.end(),
          [](const worker_process& w) { return w.state != phase::exiting && w.jobs.empty(); }));
      if (!signal && queued > free) {
        for (std::size_t i = live, wanted = queued - free; i < max_workers_ && wanted > 0;
             ++i, --wanted) {
          start_worker();
          dispatch();
        }
      }
      busy = dispatch() || busy;
      if (stop && !signal_sent_ && !work_left()) {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) break;  // dispatch() may have dropped cancelled calls
      }
      if (signal_sent_ && workers_.empty()) break;

      // Blind while others receive the replies, nothing is queued and no worker is starting
      // (its hello and init_ok are for the manager): the sockets are left out (fd -1), for at
      // most a lease.
      bool blind = false;
      const auto starting = [](const worker_process& w) {
        return !w.greeted || w.state == phase::initializing;
      };
      if (queued == 0 && std::none_of(workers_.begin(), workers_.end(), starting)) {
        blind_.store(true);  // seq_cst: see help_briefly()
        blind = others_receive();
        if (!blind) blind_.store(false);
      }
      fds.clear();
      rings.clear();
      fds.push_back({wake_fd_, POLLIN, 0});
      int timeout_ms = blind ? static_cast<int>(lease_window.count()) : -1;
      const auto now = std::chrono::steady_clock::now();
      for (auto& w : workers_) {
        const bool watched = !blind || w.large_in_flight;
        fds.push_back({watched ? w.link.fd() : -1, POLLIN, 0});
        if (watched) rings.push_back(&w.link.ring());
        fds.push_back({w.pidfd, POLLIN, 0});
        if (!w.greeted) {
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              w.started + hello_timeout - now);
          timeout_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()));
        }
      }
      stop_driving();
      const bool ready = wait_for_events(fds, rings, timeout_ms, busy && !blind);
      blind_.store(false, std::memory_order_relaxed);
      drive();
      if (!ready) {  // woken by a post, or the lease ran out
        busy = posted_.load(std::memory_order_relaxed) != seen_posted_;
        continue;
      }
      busy = false;
      if (fds[0].revents) {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &count, sizeof count);
      }
      const std::size_t n_workers = workers_.size();
      for (std::size_t i = 0; i < n_workers; ++i) {
        worker_process& w = workers_[i];
        if (w.link.fd() < 0) continue;
        const short sock = fds[1 + 2 * i].revents;
        const short died = fds[2 + 2 * i].revents;
        if (sock || w.link.input_waiting()) {
          busy = handle_input(w, sock != 0) || busy;
        } else if (died) {
          lost(w, "");
        } else if (!w.greeted && std::chrono::steady_clock::now() - w.started > hello_timeout) {
          kill(w.pid, SIGKILL);
          lost(w, "it did not start serving within 20 s");
        }
      }
      std::erase_if(workers_, [](const worker_process& w) { return w.link.fd() < 0; });
    }
  } catch (const std::exception& e) {
    if (!driving()) drive();
    break_pool(std::string("the process pool's manager failed: ") + e.what());
  }
  finish();
  stop_driving();
}

void process_pool_core::finish() noexcept {
  for (auto& w : workers_) {
    if (w.link.fd() < 0) continue;
    if (w.state != phase::exiting) retire(w);
  }
  for (auto& w : workers_) {
    if (w.link.fd() >= 0) reap(w, exit_grace);
  }
  workers_.clear();
}

}  // namespace detail

process_pool_executor::process_pool_executor(std::size_t max_workers)
    : process_pool_executor(process_pool_options{.max_workers = max_workers}) {}

process_pool_executor::process_pool_executor(process_pool_options options)
    : core_(std::make_shared<detail::process_pool_core>(std::move(options))) {}

process_pool_executor::~process_pool_executor() {
  core_->shutdown(true, false);
  core_->detach_if_manager();
  detail::release_block_pool();
}

std::size_t process_pool_executor::max_workers() const noexcept { return core_->max_workers(); }

void process_pool_executor::enqueue(detail::remote_job job) {
  std::vector<detail::remote_job> jobs;
  jobs.push_back(std::move(job));
  core_->enqueue(std::move(jobs));
}

void process_pool_executor::enqueue_all(std::vector<detail::remote_job> jobs) {
  core_->enqueue(std::move(jobs));
}

bool process_pool_executor::limits_tasks_per_child() const noexcept {
  return core_->limits_tasks_per_child();
}

void process_pool_executor::shutdown(shutdown_options options) noexcept {
  core_->shutdown(options.wait, options.cancel_futures);
}

void process_pool_executor::terminate_workers() noexcept { core_->force_shutdown(SIGTERM); }

void process_pool_executor::kill_workers() noexcept { core_->force_shutdown(SIGKILL); }

void serve_if_worker(int, char**) {
  const char* fd_text = std::getenv(detail::worker_fd_variable);
  if (!fd_text) return;
  const int fd = std::atoi(fd_text);
  unsetenv(detail::worker_fd_variable);
  if (fd <= 2) {
    std::fprintf(stderr, "cfutures: invalid %s=%s\n", detail::worker_fd_variable, fd_text);
    _exit(2);
  }
  detail::serving_as_worker = true;
  const int code = detail::serve_worker(fd);
  std::fflush(nullptr);
  _exit(code);
}

}  // namespace cfutures
