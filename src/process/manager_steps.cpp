// The process pool manager's steps in each round of the remote core's loop
// (remote/remote_core.hpp): act on a forced stop and start workers (prepare), then sleep in
// poll until a post, a worker's bytes or a worker's death, and handle what came
// (wait_and_receive); at the end, retire and reap every worker (finish).
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "process/process_pool_core.hpp"

namespace cfutures::detail {

bool process_pool_core::prepare(const snapshot& s) {
  if (s.signal && !signal_sent_) {
    signal_sent_ = true;
    for (auto& w : workers_) kill(w.pid, s.signal);
  }
  if (!s.signal) start_workers(s.queued);
  if (!s.signal && !s.stop && keep_spare_) keep_a_spare();
  return false;
}

// Workers start on demand, up to max_workers (as CPython does for spawn): one per queued job
// that no free worker will take (so retired workers are replaced while there is work). Each
// gets its first calls at once, before the next one is started. A spare, if there is one,
// is the next worker (resilience.cpp).
void process_pool_core::start_workers(std::size_t queued) {
  const auto live =
      static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), serving));
  const auto free = static_cast<std::size_t>(
      std::count_if(workers_.begin(), workers_.end(),
                    [](const worker_process& w) { return serving(w) && w.slot.held.empty(); }));
  if (queued <= free) return;
  for (std::size_t i = live, wanted = queued - free; i < max_workers_ && wanted > 0;
       ++i, --wanted) {
    if (worker_process* spare = spare_worker()) {
      spare->spare = false;
    } else {
      start_worker();
    }
    dispatch();
  }
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

bool process_pool_core::wait_and_receive(const snapshot& s, bool busy) {
  // Blind while others receive the replies, nothing is queued and no worker is starting
  // (its hello and init_ok are for the manager): the sockets are left out (fd -1), for at
  // most a lease.
  bool blind = false;
  const auto starting = [](const worker_process& w) {
    return !w.greeted || w.state == phase::initializing;
  };
  if (s.queued == 0 && std::none_of(workers_.begin(), workers_.end(), starting)) {
    blind_.store(true);  // seq_cst: see help_briefly()
    blind = others_receive();
    if (!blind) blind_.store(false);
  }
  fds_.clear();
  rings_.clear();
  fds_.push_back({wake_fd_, POLLIN, 0});
  int timeout_ms = blind ? static_cast<int>(lease_window.count()) : -1;
  if (const int idle_ms = retire_idle(s.queued > 0); idle_ms >= 0) {
    timeout_ms = timeout_ms < 0 ? idle_ms : std::min(timeout_ms, idle_ms);
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto& w : workers_) {
    const bool watched = !blind || w.large_in_flight;
    fds_.push_back({watched ? w.link.fd() : -1, POLLIN, 0});
    if (watched) rings_.push_back(&w.link.ring());
    fds_.push_back({w.pidfd, POLLIN, 0});
    if (!w.greeted) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(w.started + hello_timeout - now);
      const int hello_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()));
      timeout_ms = timeout_ms < 0 ? hello_ms : std::min(timeout_ms, hello_ms);
    }
  }
  stop_driving();
  const bool ready = wait_for_events(fds_, rings_, timeout_ms, busy && !blind);
  blind_.store(false, std::memory_order_relaxed);
  drive();
  if (!ready)
    return posted_.load(std::memory_order_relaxed) != seen_posted_;  // a post, or the lease ran out
  busy = false;
  if (fds_[0].revents) {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &count, sizeof count);
  }
  const std::size_t n_workers = workers_.size();
  for (std::size_t i = 0; i < n_workers; ++i) {
    worker_process& w = workers_[i];
    if (w.link.fd() < 0) continue;
    const short sock = fds_[1 + 2 * i].revents;
    const short died = fds_[2 + 2 * i].revents;
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
  return busy;
}

void process_pool_core::finish() noexcept {
  for (auto& w : workers_) {
    if (w.link.fd() < 0) continue;
    if (w.state != phase::exiting) retire(w, worker_end::retired);
  }
  for (auto& w : workers_) {
    if (w.link.fd() >= 0) reap(w, exit_grace);
  }
  workers_.clear();
  server_.stop();
}

}  // namespace cfutures::detail
