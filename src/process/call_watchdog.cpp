// The process pool's timer: timeouts and the SIGTERM → SIGKILL of stopped workers
// (call_watchdog.hpp).
#include "process/call_watchdog.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

namespace cfutures::detail {
namespace {

void send_signal(int pidfd, int sig) noexcept {
  syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
}

}  // namespace

call_watchdog::~call_watchdog() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& w : workers_) ::close(w.pidfd);
}

call_watchdog::watched* call_watchdog::find(pid_t pid) {
  const auto it = std::find_if(workers_.begin(), workers_.end(),
                               [pid](const watched& w) { return w.pid == pid; });
  return it == workers_.end() ? nullptr : &*it;
}

void call_watchdog::watch(pid_t pid, int pidfd, const worker_status& status) {
  const int copy = pidfd >= 0 ? fcntl(pidfd, F_DUPFD_CLOEXEC, 0) : -1;
  std::lock_guard lock(mutex_);
  watched w;
  w.pid = pid;
  w.pidfd = copy;
  w.status = &status;
  workers_.push_back(std::move(w));
}

void call_watchdog::start_thread() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void call_watchdog::expect(pid_t pid, std::uint64_t id, std::chrono::nanoseconds limit) {
  {
    std::lock_guard lock(mutex_);
    watched* w = find(pid);
    if (!w) return;
    w->timed.emplace_back(id, limit);
    start_thread();
  }
  changed_.notify_all();
}

void call_watchdog::settled(pid_t pid, std::uint64_t id) {
  std::lock_guard lock(mutex_);
  if (watched* w = find(pid)) {
    std::erase_if(w->timed, [id](const auto& t) { return t.first == id; });
  }
}

void call_watchdog::stop_locked(watched& w, stop_reason why, const running_call& call,
                                std::chrono::nanoseconds limit) {
  w.stopped = {why, call, limit};
  w.kill_at = clock::now() + stop_grace;
  if (w.pidfd >= 0) send_signal(w.pidfd, SIGTERM);
}

bool call_watchdog::stop(pid_t pid, stop_reason why, const running_call& call,
                         std::chrono::nanoseconds limit) {
  {
    std::lock_guard lock(mutex_);
    watched* w = find(pid);
    if (!w || w->stopped.reason != stop_reason::none) return false;
    stop_locked(*w, why, call, limit);
    start_thread();
  }
  changed_.notify_all();
  return true;
}

stop_record call_watchdog::forget(pid_t pid) {
  std::lock_guard lock(mutex_);
  watched* w = find(pid);
  if (!w) return {};
  const stop_record record = w->stopped;
  ::close(w->pidfd);
  workers_.erase(workers_.begin() + (w - workers_.data()));
  return record;
}

call_watchdog::clock::time_point call_watchdog::check(watched& w, clock::time_point now) {
  if (w.stopped.reason != stop_reason::none) {
    if (w.killed) return clock::time_point::max();
    if (now < w.kill_at) return w.kill_at;
    if (w.pidfd >= 0) send_signal(w.pidfd, SIGKILL);
    w.killed = true;
    return clock::time_point::max();
  }
  if (w.timed.empty()) return clock::time_point::max();
  const worker_status::view running = w.status->snapshot();
  auto next = clock::time_point::max();
  for (const auto& [id, limit] : w.timed) {
    if (id != running.call.id) {
      next = std::min(next, now + limit);  // not started yet (or done): no end before that
      continue;
    }
    const auto deadline = running.started + limit;
    if (now >= deadline) {
      stop_locked(w, stop_reason::timeout, running.call, limit);
      return w.kill_at;
    }
    next = std::min(next, deadline);
  }
  return next;
}

void call_watchdog::run() {
  std::unique_lock lock(mutex_);
  while (!quit_) {
    const auto now = clock::now();
    auto next = clock::time_point::max();
    for (auto& w : workers_) next = std::min(next, check(w, now));
    if (next == clock::time_point::max()) {
      changed_.wait(lock);
    } else {
      changed_.wait_until(lock, next);
    }
  }
}

}  // namespace cfutures::detail
