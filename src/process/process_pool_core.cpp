// The process pool's state and its answers to the remote core's questions: how many
// workers, which may take calls, how large a batch, what "broken" says (process_pool_core.hpp).
#include "process/process_pool_core.hpp"

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
#include <thread>

#include "process/shm_blocks.hpp"

namespace cfutures::detail {

bool serving_as_worker = false;

namespace {

constexpr int forgot_serve_exit_code = 86;
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

std::optional<std::chrono::nanoseconds> checked_duration(
    const std::optional<std::chrono::nanoseconds>& d, const char* name) {
  if (d && d->count() <= 0) throw std::invalid_argument(std::string(name) + " must be positive");
  return d;
}

std::optional<std::size_t> checked_bytes(const std::optional<std::size_t>& bytes,
                                         const char* name) {
  if (bytes && *bytes == 0) throw std::invalid_argument(std::string(name) + " must be positive");
  return bytes;
}

}  // namespace

process_pool_core::process_pool_core(process_pool_options options)
    : remote_core(traits{.store = shm_store(),
                         .barrier = &fork_barrier(),
                         .splits_chunks = options.max_tasks_per_child.has_value(),
                         .lazy_start = true,
                         .origin = this}),
      max_workers_(checked_max_workers(options.max_workers)),
      initializer_(std::move(options.initializer)),
      max_tasks_per_child_(checked_max_tasks(options.max_tasks_per_child)),
      method_(options.method),
      on_worker_death_(options.on_worker_death),
      max_retries_(options.max_retries),
      call_timeout_(checked_duration(options.call_timeout, "call_timeout")),
      max_worker_memory_(checked_bytes(options.max_worker_memory, "max_worker_memory")),
      worker_memory_limit_(checked_bytes(options.worker_memory_limit, "worker_memory_limit")),
      idle_timeout_(checked_duration(options.idle_timeout, "idle_timeout")) {
  if (max_retries_ > 0 && on_worker_death_ == worker_death::break_pool) {
    throw std::invalid_argument(
        "max_retries needs on_worker_death = worker_death::fail_call (with break_pool a "
        "worker's death breaks the pool)");
  }
  if ((std::getenv(worker_fd_variable) || std::getenv(forkserver_fd_variable)) &&
      !serving_as_worker) {
    std::fprintf(stderr,
                 "cfutures: this process was started as a process_pool_executor worker "
                 "(start_method::spawn or forkserver), but its main() did not call "
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

void process_pool_core::wake_manager() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void process_pool_core::on_manager_start() {
  register_shared_wait_helper(this,
                              std::weak_ptr<shared_wait_helper>(
                                  std::static_pointer_cast<process_pool_core>(shared_from_this())));
}

void process_pool_core::enqueue(std::span<remote_job> jobs) {
  for (const auto& job : jobs) check_options(job);
  push(jobs);
  // An idle worker takes the calls at once from this thread when nobody else drives; what
  // is left (no worker idle, none started yet, or driver_ busy) goes through the manager.
  if (try_drive()) {
    run_driven(false);
    stop_driving();
    if (queue_empty()) {
      lease_until_.store((clock::now() + lease_window).time_since_epoch().count(),
                         std::memory_order_relaxed);
      return;
    }
  }
  // Pairs with wait_for_events(): post first, then look whether the manager sleeps.
  posted_.fetch_add(1);
  if (sleeping_.load()) wake_manager();
}

bool process_pool_core::accepts_calls(std::size_t i) const noexcept {
  const worker_process& w = workers_[i];
  // With a memory limit, a worker takes calls once the limit is set (at its hello).
  return w.state == phase::ready && w.link.fd() >= 0 && !w.spare &&
         (w.greeted || !worker_memory_limit_);
}

std::size_t process_pool_core::call_limit(std::size_t i) const noexcept {
  return max_tasks_per_child_ ? *max_tasks_per_child_ - workers_[i].slot.calls_done
                              : static_cast<std::size_t>(-1);
}

// One job, or (when many wait) a fair share of the queue, so that a long queue of small
// calls costs one write and one read per batch.
std::size_t process_pool_core::batch_jobs(std::size_t queued) const noexcept {
  return std::clamp<std::size_t>(queued / (2 * max_workers_), 1, max_batch_jobs);
}

std::size_t process_pool_core::batch_bytes() const noexcept { return max_batch_bytes; }

// The workers stay in workers_ (closed) until the manager loop erases them, so that
// references held by its callers stay valid.
void process_pool_core::on_broken(std::size_t i) noexcept {
  worker_process& w = workers_[i];
  if (w.link.fd() >= 0) {
    kill(w.pid, SIGKILL);
    reap(w, std::chrono::milliseconds(0));
    w.slot.end = worker_end::killed;
  }
  w.state = phase::exiting;
}

std::string process_pool_core::on_manager_failure(const std::string& what) noexcept {
  if (!driving()) drive();
  return "the process pool's manager failed: " + what;
}

std::exception_ptr process_pool_core::broken_error(const std::string& why) const {
  return std::make_exception_ptr(broken_process_pool(why));
}

void process_pool_core::throw_broken(const std::string& why) const {
  throw broken_process_pool(
      "A child process terminated abruptly, the process pool is not usable anymore (" + why + ")");
}

}  // namespace cfutures::detail
