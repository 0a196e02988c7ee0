// What the process pool does when a worker ends without being asked to, and the options that
// stop workers on purpose (process_pool_executor.hpp, "Resilience"):
//
//   a worker ends ─▶ lost() ─▶ reaped: exit code or signal; forget(): did the watchdog stop it?
//     stopped for a timeout ──▶ the call it overran fails (call_timeout_error)   ┐ every other
//     stopped by request_stop ▶ that call is cancelled already                   │ call it held
//     died, worker_death::fail_call ▶ the call it ran (its status page says     │ goes back to
//        which) runs again up to max_retries times, then fails (worker_died_error)┘ the queue
//     died, break_pool (Python's behaviour), or before it greeted ──▶ the pool breaks
//   a replacement starts on demand (start_workers: the queue is not empty).
//
// Spare worker: a worker's start-up costs milliseconds (fork or exec, then the page faults
// of its first steps), far more than a call. Once a worker was lost (settle_lost sets
// keep_spare_), the pool keeps one more worker started ahead: it says hello (and runs the
// initializer) but takes no call (accepts_calls) until start_workers promotes it in place
// of a new one; the next spare starts then, in the same round of the manager. It is not
// counted in max_workers, is not started while the pool stops, and is retired with the
// last serving worker (idle_timeout) or at the end.
//
// Memory: worker_memory_limit is an address-space limit (RLIMIT_AS) the parent sets on the
// worker at its hello, above the size it had then — so the pages a forked worker shares with
// its parent count once, in that base; max_worker_memory is checked (resident set, from
// /proc) after each reply that leaves the worker idle. idle_timeout retires idle workers.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "process/crash_report.hpp"
#include "process/process_pool_core.hpp"

namespace cfutures::detail {
namespace {

std::string milliseconds(std::chrono::nanoseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g ms", std::chrono::duration<double, std::milli>(d).count());
  return text;
}

// /proc/<pid>/statm's field `index` (0: size, 1: resident), in bytes; 0 if unreadable.
std::size_t statm_bytes(pid_t pid, int index) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  std::size_t pages = 0;
  for (int i = 0; i <= index && statm >> pages; ++i) {
  }
  return statm ? pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

void process_pool_core::check_options(const remote_job& job) const {
  const call_options o = job.options();
  if (o.timeout && o.timeout->count() <= 0) {
    throw std::invalid_argument("call_options::timeout must be positive");
  }
  if (o.max_retries && *o.max_retries > 0 && on_worker_death_ == worker_death::break_pool) {
    throw std::invalid_argument(
        "call_options::max_retries needs a pool with on_worker_death = worker_death::fail_call");
  }
}

void process_pool_core::expect_timeouts(worker_process& w, const remote_job& job) {
  const std::optional<std::chrono::nanoseconds> timeout = job.options().timeout;
  const auto limit = timeout ? timeout : call_timeout_;
  if (limit) watchdog_.expect(w.pid, job.id, *limit);
}

void process_pool_core::after_reply(worker_process& w, const remote_job& job) {
  if (job.options().timeout || call_timeout_) watchdog_.settled(w.pid, job.id);
  if (!w.slot.held.empty()) return;
  w.idle_since = std::chrono::steady_clock::now();
  if (w.state != phase::ready) return;
  if (max_tasks_per_child_ && w.slot.calls_done >= *max_tasks_per_child_) {
    retire(w, worker_end::recycled);
  } else if (max_worker_memory_ && statm_bytes(w.pid, 1) > *max_worker_memory_) {
    retire(w, worker_end::over_memory);
  }
}

void process_pool_core::on_hello(worker_process& w) {
  if (!worker_memory_limit_) return;
  const std::size_t base = statm_bytes(w.pid, 0);
  const rlimit limit{base + *worker_memory_limit_, base + *worker_memory_limit_};
  if (base == 0 || prlimit(w.pid, RLIMIT_AS, &limit, nullptr) != 0) {
    kill(w.pid, SIGKILL);
    lost(w, "its memory limit could not be set");
  }
}

process_pool_core::worker_process* process_pool_core::spare_worker() noexcept {
  for (auto& w : workers_) {
    if (w.spare && w.state != phase::exiting && w.link.fd() >= 0) return &w;
  }
  return nullptr;
}

bool process_pool_core::any_serving() const noexcept {
  return std::any_of(workers_.begin(), workers_.end(), serving);
}

void process_pool_core::keep_a_spare() {
  if (!any_serving() || spare_worker()) return;
  const std::size_t before = workers_.size();
  start_worker();
  if (workers_.size() > before) workers_.back().spare = true;
}

int process_pool_core::retire_idle(bool work_queued) {
  if (!idle_timeout_ || work_queued) return -1;
  const auto now = std::chrono::steady_clock::now();
  auto next = std::chrono::steady_clock::time_point::max();
  for (auto& w : workers_) {
    if (w.spare || w.state != phase::ready || !w.greeted || !w.slot.held.empty() ||
        w.link.fd() < 0) {
      continue;
    }
    const auto until = w.idle_since + *idle_timeout_;
    if (now >= until) {
      retire(w, worker_end::idle);
    } else {
      next = std::min(next, until);
    }
  }
  if (worker_process* spare = spare_worker(); spare && !any_serving()) {
    retire(*spare, worker_end::idle);  // nothing left to replace
  }
  if (next == std::chrono::steady_clock::time_point::max()) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::min<std::int64_t>(left, 1 << 30));
}

std::string process_pool_core::job_function(const remote_job& job) {
  try {
    return function_name(job);
  } catch (const std::exception&) {
    return "the submitted function";  // out of memory while naming
  }
}

std::string process_pool_core::crash_stack(worker_process& w, int status) {
  if (status < 0 || !WIFSIGNALED(status)) return {};
  try {
    const auto crash = read_crash(
        *reinterpret_cast<const crash_record*>(w.status().crash_area()), symbols_);
    return crash ? format_stack(crash->frames) : std::string();
  } catch (const std::exception&) {
    return {};
  }
}

std::string process_pool_core::running_function(worker_process& w) {
  const running_call at = w.status().snapshot().call;
  for (const auto& job : w.slot.held) {
    if (job.id == at.id) return " while running " + job_function(job);
  }
  return {};
}

void process_pool_core::settle_lost(worker_process& w, int status, const std::string& how) {
  // Workers die in this pool and are replaced: a forkserver keeps one forked ahead from now.
  keep_spare_ = true;
  const stop_record stopped = w.stopped;
  const int pid = w.pid;
  if (stopped.reason == stop_reason::timeout) {
    w.slot.end = worker_end::timed_out;
    remote_counters::add(counters_.timed_out);
    give_back(w.slot, stopped.call, [&](remote_job& job) {
      return std::make_exception_ptr(call_timeout_error(
          "the call to " + job_function(job) + " overran its timeout of " +
              milliseconds(stopped.limit) + ": worker process " + std::to_string(pid) +
              " was stopped",
          stopped.limit, pid));
    });
    return;
  }
  if (stopped.reason == stop_reason::stop_request) {
    // The call asked to stop is cancelled already (dropped when taken again).
    w.slot.end = worker_end::stopped;
    give_back(w.slot, stopped.call, [](remote_job&) { return std::exception_ptr(); });
    return;
  }
  w.slot.end = worker_end::died;
  remote_counters::add(counters_.workers_died);
  const running_call at = w.status().snapshot().call;
  const std::string stack = crash_stack(w, status);
  give_back(w.slot, at, [&](remote_job& job) -> std::exception_ptr {
    ++job.deaths;
    const std::size_t retries = job.options().max_retries.value_or(max_retries_);
    if (job.deaths <= retries) {
      remote_counters::add(counters_.retried);
      return nullptr;
    }
    const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::string message = "the call to " + job_function(job) + " failed: " + how;
    if (job.deaths > 1) {
      message += " (it ran " + std::to_string(job.deaths) + " times; each run ended its worker)";
    }
    if (!stack.empty()) message += "; its stack:\n" + stack;
    return std::make_exception_ptr(worker_died_error(message, pid, sig, code, job.deaths, stack));
  });
}

bool process_pool_core::stop_running(state_base& state) noexcept {
  pid_t holder = -1;
  running_call call;
  {
    std::unique_lock<std::mutex> lock(driver_, std::defer_lock);
    if (!driving()) lock.lock();
    for (auto& w : workers_) {
      if (w.link.fd() < 0) continue;
      for (const auto& job : w.slot.held) {
        for (std::size_t k = 0; k < job.items.size(); ++k) {
          if (job.items[k].state.get() == &state) {
            holder = w.pid;
            call = {job.id, k};
          }
        }
      }
    }
  }
  // driver_ is let go first: cancelling runs the future's done-callbacks, which may wait
  // for other futures of this pool.
  if (holder < 0 || state.done()) return false;
  watchdog_.stop(holder, stop_reason::stop_request, call);
  // Counted before it is published; taken back if the call ended meanwhile.
  remote_counters::add(counters_.cancelled);
  remote_counters::add(counters_.ended_started);
  if (state.cancel_open()) return true;
  remote_counters::take_back(counters_.cancelled);
  remote_counters::take_back(counters_.ended_started);
  return false;
}

}  // namespace cfutures::detail
