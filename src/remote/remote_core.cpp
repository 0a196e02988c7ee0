// The remote-executor core: queue, manager loop, dispatch and replies (remote_core.hpp).
#include "remote/remote_core.hpp"

#include <algorithm>
#include <csignal>
#include <iterator>
#include <mutex>

#include "cfutures/detail/trace_span.hpp"

namespace cfutures::detail {

remote_core::remote_core(traits t) noexcept : traits_(t) {}

remote_core::~remote_core() = default;

// ---- the queue ---------------------------------------------------------------------------

void remote_core::push(std::span<remote_job> jobs) {
  std::lock_guard lock(mutex_);
  if (broken_) throw_broken(*broken_);
  if (shutdown_) throw shutdown_error();
  for (auto& job : jobs) {
    if (traits_.origin) {
      for (auto& item : job.items) item.state->origin = traits_.origin;
    }
    remote_counters::add(counters_.submitted, job.items.size());
    queue_.push_back(std::move(job));
  }
  if (traits_.lazy_start && !manager_.joinable()) {
    on_manager_start();
    manager_ = std::thread([self = shared_from_this()] { self->manage(); });
  }
}

void remote_core::start_manager() {
  std::lock_guard lock(mutex_);
  on_manager_start();
  manager_ = std::thread([self = shared_from_this()] { self->manage(); });
}

void remote_core::close(bool wait, bool cancel_futures, int signal) noexcept {
  std::deque<remote_job> dropped;
  std::deque<remote_job> running;  // back from a worker that ended: they run to the end
  std::thread::id manager_id;
  {
    std::lock_guard lock(mutex_);
    shutdown_ = true;
    if (cancel_futures) {
      std::deque<remote_job> queued;
      queued.swap(queue_);
      for (auto& job : queued) {
        // Started calls stay queued, unless a forced stop (signal) ends every call.
        auto& to = !job.started ? dropped : (signal ? running : queue_);
        to.push_back(std::move(job));
      }
    }
    if (signal) kill_signal_ = signal;
    manager_id = manager_.get_id();
  }
  wake_manager();
  for (auto& job : dropped) settle(job, nullptr, true);
  if (!running.empty()) {
    const std::exception_ptr error =
        broken_error_or_oom(std::string("the pool's workers were ended by ") +
                            (signal == SIGKILL ? "kill_workers() (signal SIGKILL)"
                                               : "terminate_workers() (signal SIGTERM)"));
    for (auto& job : running) settle(job, error, true);
  }
  // From a done-callback (in the manager or in a thread acting for it), the manager needs
  // the caller to return first: it is not waited for.
  if (!wait || manager_id == std::this_thread::get_id() || acting_for_manager()) return;
  std::lock_guard lock(join_mutex_);
  if (manager_.joinable()) manager_.join();
}

void remote_core::detach_if_manager() noexcept {
  std::lock_guard lock(join_mutex_);
  if (manager_.joinable() &&
      (manager_.get_id() == std::this_thread::get_id() || acting_for_manager())) {
    manager_.detach();
  }
}

bool remote_core::closed() {
  std::lock_guard lock(mutex_);
  return shutdown_;
}

bool remote_core::queue_empty() {
  std::lock_guard lock(mutex_);
  return queue_.empty();
}

remote_core::snapshot remote_core::look() {
  std::lock_guard lock(mutex_);
  return {shutdown_, queue_.size(), kill_signal_, broken_.has_value()};
}

void remote_core::take(std::size_t call_limit, std::deque<remote_job>& into) {
  std::size_t taken = 0;
  std::size_t calls = 0;
  std::size_t bytes = 0;
  const std::size_t max_bytes = batch_bytes();
  std::lock_guard lock(mutex_);
  const std::size_t share = batch_jobs(queue_.size());
  while (!queue_.empty() && taken < share && calls < call_limit && bytes < max_bytes) {
    remote_job job = std::move(queue_.front());
    queue_.pop_front();
    const std::size_t limit = call_limit - calls;
    if (job.items.size() > limit) {
      remote_job rest = job_like(job);
      rest.items.reserve(job.items.size() - limit);
      for (std::size_t k = limit; k < job.items.size(); ++k) {
        rest.items.push_back(std::move(job.items[k]));
      }
      job.items.truncate(limit);
      queue_.push_front(std::move(rest));
    }
    // From here the calls are RUNNING; cancelled ones are dropped (and calls back from a
    // worker that ended, RUNNING already, if a stop request finished them meanwhile).
    if (job.started) {
      job.items.erase_if([](const remote_job::item& item) { return item.state->done(); });
    } else {
      const std::size_t dropped =
          job.items.erase_if([](const remote_job::item& item) { return !item.state->try_start(); });
      remote_counters::add(counters_.cancelled, dropped);
      remote_counters::add(counters_.started, job.items.size());
    }
    if (job.items.empty()) continue;
    calls += job.items.size();
    for (const auto& item : job.items) bytes += item.args.size();
    into.push_back(std::move(job));
    ++taken;
  }
}

// ---- manager side ------------------------------------------------------------------------

const code_ref& remote_core::portable(const void* code) {
  auto it = addresses_.find(code);
  if (it == addresses_.end()) it = addresses_.emplace(code, portable_address(code)).first;
  return it->second;
}

void remote_core::encode_call(remote_job& job, wire::item_sink& items, std::string& out) {
  const code_ref& entry = portable(reinterpret_cast<const void*>(job.entry));
  const code_ref* fn = job.fn ? &portable(job.fn) : nullptr;
  job.id = next_id_++;
  const bool traced = trace_session() != 0;
  job.sent_ns = traced ? trace_now_ns() : 0;
  wire::encode_call_head(out, job.id, entry, fn, job.items.size(), traced);
  wire::writer w(out);
  for (auto& item : job.items) items.put(w, item.args);
}

std::string remote_core::call_head(const encoded_call& call, std::size_t n_items) {
  const code_ref& entry = portable(reinterpret_cast<const void*>(call.entry));
  const code_ref* fn = call.fn ? &portable(call.fn) : nullptr;
  std::string out;
  wire::encode_call_head(out, 0, entry, fn, n_items);
  return out;
}

std::string remote_core::initializer_failure(std::string_view payload) {
  try {
    std::rethrow_exception(decode_exception(payload));
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

bool remote_core::dispatch() {
  bool sent = false;
  for (std::size_t i = 0; i < slot_count(); ++i) {
    worker_slot& w = slot(i);
    if (!w.held.empty() || !accepts_calls(i)) continue;
    take(call_limit(i), w.held);
    if (w.held.empty()) return sent;
    sent = true;
    try {
      send_held(i);
    } catch (const std::exception& e) {
      // Usually the worker died (the transport tells how); otherwise it cannot be reached
      // any more: either way its calls would never come back.
      lost(i, e.what());
      return sent;
    }
  }
  return sent;
}

received_reply remote_core::take_reply(worker_slot& w, std::string_view payload,
                                       wire::attachment_source& from) {
  if (w.held.empty()) throw protocol_error("a reply without a call");
  received_reply r{std::move(w.held.front()), {}, nullptr, &from, this};
  w.held.pop_front();
  try {
    r.reply = wire::decode_reply(payload, from);
    if (r.reply.pid != 0) r.received_ns = trace_now_ns();
    if (r.reply.items.size() != r.job.items.size()) throw protocol_error("reply size mismatch");
  } catch (...) {
    r.error = std::current_exception();
  }
  w.calls_done += r.job.items.size();
  return r;
}

void remote_core::requeue(std::vector<remote_job> jobs) {
  if (jobs.empty()) return;
  std::optional<std::string> broken;
  {
    std::lock_guard lock(mutex_);
    broken = broken_;
    if (!broken) {
      for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
        it->started = true;
        queue_.push_front(std::move(*it));
      }
    }
  }
  if (broken) {
    // Failed outside the lock: their done-callbacks may submit.
    const std::exception_ptr error = broken_error_or_oom(*broken);
    for (auto& job : jobs) settle(job, error, false);
    return;
  }
  posted_.fetch_add(1);
  wake_manager();
}

std::exception_ptr remote_core::broken_error_or_oom(const std::string& why) const noexcept {
  try {
    return broken_error(why);
  } catch (...) {
    return std::current_exception();  // out of memory: the futures fail with that
  }
}

void remote_core::give_back(worker_slot& w, const running_call& at, const blame_fn& blame) {
  std::vector<remote_job> back;
  for (auto& job : w.held) {
    if (job.id != at.id || at.item >= job.items.size()) {
      back.push_back(std::move(job));
      continue;
    }
    // The running call is blamed alone; the calls of its job before and after it go back.
    remote_job before = job_like(job);
    remote_job blamed = job_like(job);
    remote_job after = job_like(job);
    for (std::size_t k = 0; k < job.items.size(); ++k) {
      remote_job& to = k < at.item ? before : (k == at.item ? blamed : after);
      to.items.push_back(std::move(job.items[k]));
    }
    if (!before.items.empty()) back.push_back(std::move(before));
    blamed.started = true;
    if (const std::exception_ptr error = blame(blamed)) {
      settle(blamed, error, false);
    } else {
      back.push_back(std::move(blamed));
    }
    if (!after.items.empty()) back.push_back(std::move(after));
  }
  w.held.clear();
  requeue(std::move(back));
}

bool remote_core::calls_held() noexcept {
  for (std::size_t i = 0; i < slot_count(); ++i) {
    if (!slot(i).held.empty()) return true;
  }
  return false;
}

void remote_core::break_executor(const std::string& why) noexcept {
  std::deque<remote_job> queued;
  {
    std::lock_guard lock(mutex_);
    if (!broken_) broken_ = why;
    queued.swap(queue_);
  }
  const std::exception_ptr error = broken_error_or_oom(why);
  for (std::size_t i = 0; i < slot_count(); ++i) {
    for (auto& job : slot(i).held) settle(job, error, false);
    slot(i).held.clear();
    on_broken(i);
  }
  for (auto& job : queued) settle(job, error, true);
  after_broken();
}

void remote_core::manage() noexcept {
  begin_managing();
  try {
    bool busy = true;  // the last round did work: the transport may spin before sleeping
    for (;;) {
      seen_posted_ = posted_.load();
      const snapshot s = look();
      if (s.broken) break;
      busy = prepare(s) || busy;
      busy = dispatch() || busy;
      if (stopping_by_force()) {
        if (slot_count() == 0) break;
      } else if (s.stop && !calls_held() && queue_empty()) {
        break;  // dispatch() may have dropped cancelled calls: the queue is looked at again
      }
      busy = wait_and_receive(s, busy);
    }
  } catch (const std::exception& e) {
    break_executor(on_manager_failure(e.what()));
  }
  finish();
  end_managing();
}

}  // namespace cfutures::detail
