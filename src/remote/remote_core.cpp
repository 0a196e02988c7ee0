// The remote-executor core: queue, manager loop, dispatch and replies (remote_core.hpp).
#include "remote/remote_core.hpp"

#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <mutex>
#include <unordered_map>

#include "cfutures/detail/trace_span.hpp"
#include "remote/code_modules.hpp"
#include "remote/stack_symbols.hpp"

namespace cfutures::detail {
namespace {
std::string name_code(const void* code) noexcept;
}  // namespace

void received_reply::complete() noexcept {
  if (error) {
    core->settle(job, error, false);
    return;
  }
  if (reply.pid != 0) core->record_spans(*this);
  remote_counters& c = core->counters_;
  for (std::size_t i = 0; i < job.items.size(); ++i) {
    state_base& state = *job.items[i].state;
    // Done already: cancelled by a stop request, which counted it.
    const bool counted = !state.done();
    const bool ok = reply.items[i].ok;
    if (counted) {
      remote_counters::add(ok ? c.completed : c.failed);
      remote_counters::add(c.ended_started);
    }
    encoded_input in = from->input(reply.items[i].bytes);
    in.regions = &reply.items[i].regions;
    job.complete(state, ok, in);
    if (counted && ok && state.finished_with_exception()) {  // the value failed to decode
      remote_counters::take_back(c.completed);
      remote_counters::add(c.failed);
    }
  }
}

// Thread-pool callables are named with the program's symbols too, in programs that link this.
const bool names_thread_pool_calls = (set_trace_code_namer(&name_code), true);

remote_core::remote_core(traits t) noexcept : traits_(t) {}

void remote_core::record_spans(const received_reply& r) noexcept {
  try {
    const std::uint32_t session = trace_session();
    if (session == 0) return;
    const std::string name = function_name(r.job);
    for (std::size_t i = 0; i < r.reply.items.size(); ++i) {
      const wire::reply_item& item = r.reply.items[i];
      if (!item.traced) continue;
      trace_event e;
      e.session = session;
      e.pid = static_cast<int>(r.reply.pid);
      e.tid = static_cast<int>(r.reply.tid);
      e.start_ns = item.start_ns;
      e.end_ns = item.end_ns;
      // Another host's clock: a span outside the call's round trip is moved into it (its
      // middle on the round trip's).
      if (r.job.sent_ns != 0 && r.received_ns != 0 &&
          (e.start_ns < r.job.sent_ns || e.end_ns > r.received_ns)) {
        const std::uint64_t length = e.end_ns - std::min(e.start_ns, e.end_ns);
        const std::uint64_t middle = r.job.sent_ns + (r.received_ns - r.job.sent_ns) / 2;
        e.start_ns = middle - std::min(middle, length / 2);
        e.end_ns = e.start_ns + length;
      }
      e.executor = traits_.executor_name;
      e.id = r.job.id;
      e.attempt = static_cast<std::uint32_t>(r.job.deaths + 1);
      trace_record(e, name);
    }
  } catch (...) {
    // Out of memory naming the function: the spans are lost, the calls are not.
  }
}

namespace {

// The function at `code`, from the program's symbols (libdw); "" if it has none. Named once
// per address; any thread. Also the trace's namer of thread-pool callables.
std::string name_code(const void* code) noexcept {
  static std::mutex mutex;
  static auto* names = new std::unordered_map<const void*, std::string>;  // never destroyed
  try {
    std::lock_guard lock(mutex);
    auto [it, fresh] = names->try_emplace(code);
    if (!fresh) return it->second;
    std::uintptr_t ip = reinterpret_cast<std::uintptr_t>(code);
    code_frame frame;
    code_module module{};
    std::size_t modules = 0;
    locate_code(&ip, 1, &frame, &module, &modules, 1);
    frame.exact = 1;
    // A symbolizer of its own, closed at once: no file stays open behind the executors.
    stack_symbolizer symbols;
    const std::vector<std::string> lines = symbols.describe(&frame, 1, &module, modules);
    if (!lines.empty() && lines.back().rfind("??", 0) != 0) {
      // "fn (file:line)": the function alone.
      const std::string& full = lines.back();
      const std::size_t place = full.rfind(" (");
      it->second =
          place != std::string::npos && full.back() == ')' ? full.substr(0, place) : full;
    }
    return it->second;
  } catch (...) {
    return {};
  }
}

}  // namespace

std::string remote_core::function_name(const remote_job& job) {
  std::string name = name_code(job.fn ? job.fn : reinterpret_cast<const void*>(job.entry));
  return name.empty() ? "the submitted function" : name;
}

void remote_core::settle(remote_job& job, const std::exception_ptr& error,
                         bool from_queue) noexcept {
  remote_counters& c = counters_;
  const bool pending = from_queue && !job.started;
  for (auto& item : job.items) {
    state_base& state = *item.state;
    if (state.done()) {
      if (pending) remote_counters::add(c.cancelled);  // cancelled while queued
      continue;
    }
    remote_counters::add(error ? c.failed : c.cancelled);
    if (!pending) remote_counters::add(c.ended_started);
    const bool ended = error ? state.try_set_exception(error) : state.cancel();
    if (!ended || (error && !state.finished_with_exception())) {
      // Done meanwhile: a queued call cancelled by its future (counted here instead), or a
      // running one stopped (counted by the stop).
      remote_counters::take_back(error ? c.failed : c.cancelled);
      if (pending) {
        remote_counters::add(c.cancelled);
      } else {
        remote_counters::take_back(c.ended_started);
      }
    }
  }
}

executor_stats remote_core::stats() noexcept {
  executor_stats s;
  const remote_counters& c = counters_;
  std::size_t queued = 0;
  std::size_t cancelled_in_queue = 0;
  {
    std::lock_guard lock(mutex_);
    for (const auto& job : queue_) {
      if (job.started) continue;  // RUNNING already: counted in running
      for (const auto& item : job.items) ++(item.state->done() ? cancelled_in_queue : queued);
    }
    s.submitted = c.submitted.load(std::memory_order_relaxed);
    s.completed = c.completed.load(std::memory_order_relaxed);
    s.failed = c.failed.load(std::memory_order_relaxed);
    s.cancelled = c.cancelled.load(std::memory_order_relaxed) + cancelled_in_queue;
    const std::size_t started = c.started.load(std::memory_order_relaxed);
    const std::size_t ended = c.ended_started.load(std::memory_order_relaxed);
    s.running = started > ended ? started - ended : 0;
  }
  s.queued = queued;
  s.workers = c.workers.load(std::memory_order_relaxed);
  s.workers_started = c.workers_started.load(std::memory_order_relaxed);
  s.workers_died = c.workers_died.load(std::memory_order_relaxed);
  s.retried = c.retried.load(std::memory_order_relaxed);
  s.timed_out = c.timed_out.load(std::memory_order_relaxed);
  return s;
}

remote_core::~remote_core() = default;

// ---- the queue ---------------------------------------------------------------------------

void remote_core::push(std::vector<remote_job>& jobs) {
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
    const std::exception_ptr error = broken_error_or_oom("the pool's workers were terminated");
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

std::vector<remote_job> remote_core::take(std::size_t call_limit) {
  std::vector<remote_job> batch;
  std::size_t calls = 0;
  std::size_t bytes = 0;
  const std::size_t max_bytes = batch_bytes();
  std::lock_guard lock(mutex_);
  const std::size_t share = batch_jobs(queue_.size());
  while (!queue_.empty() && batch.size() < share && calls < call_limit && bytes < max_bytes) {
    remote_job job = std::move(queue_.front());
    queue_.pop_front();
    const std::size_t limit = call_limit - calls;
    if (job.items.size() > limit) {
      remote_job rest = job_like(job);
      rest.items.assign(
          std::make_move_iterator(job.items.begin() + static_cast<std::ptrdiff_t>(limit)),
          std::make_move_iterator(job.items.end()));
      job.items.resize(limit);
      queue_.push_front(std::move(rest));
    }
    // From here the calls are RUNNING; cancelled ones are dropped (and calls back from a
    // worker that ended, RUNNING already, if a stop request finished them meanwhile).
    if (job.started) {
      std::erase_if(job.items, [](const remote_job::item& item) { return item.state->done(); });
    } else {
      const std::size_t before = job.items.size();
      std::erase_if(job.items,
                    [](const remote_job::item& item) { return !item.state->try_start(); });
      remote_counters::add(counters_.cancelled, before - job.items.size());
      remote_counters::add(counters_.started, job.items.size());
    }
    if (job.items.empty()) continue;
    calls += job.items.size();
    for (const auto& item : job.items) bytes += item.args.size();
    batch.push_back(std::move(job));
  }
  return batch;
}

// ---- manager side ------------------------------------------------------------------------

const code_ref& remote_core::portable(const void* code) {
  auto it = addresses_.find(code);
  if (it == addresses_.end()) it = addresses_.emplace(code, portable_address(code)).first;
  return it->second;
}

std::string remote_core::encode_call(remote_job& job, wire::item_sink& items) {
  const code_ref& entry = portable(reinterpret_cast<const void*>(job.entry));
  const code_ref* fn = job.fn ? &portable(job.fn) : nullptr;
  job.id = next_id_++;
  const bool traced = trace_session() != 0;
  job.sent_ns = traced ? trace_now_ns() : 0;
  std::string body = wire::encode_call_head(job.id, entry, fn, job.items.size(), traced);
  wire::writer out(body);
  for (auto& item : job.items) items.put(out, item.args);
  return body;
}

std::string remote_core::call_head(const encoded_call& call, std::size_t n_items) {
  const code_ref& entry = portable(reinterpret_cast<const void*>(call.entry));
  const code_ref* fn = call.fn ? &portable(call.fn) : nullptr;
  return wire::encode_call_head(0, entry, fn, n_items);
}

bool remote_core::dispatch() {
  bool sent = false;
  for (std::size_t i = 0; i < slot_count(); ++i) {
    worker_slot& w = slot(i);
    if (!w.held.empty() || !accepts_calls(i)) continue;
    std::vector<remote_job> batch = take(call_limit(i));
    if (batch.empty()) return sent;
    sent = true;
    for (auto& job : batch) w.held.push_back(std::move(job));
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
