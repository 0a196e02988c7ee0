// How a remote call ends, as the core counts and traces it (remote_core.hpp): a reply
// completes its futures (received_reply::complete), a failure or a cancellation settles them
// (settle), each end counted once for stats(); the worker's spans of a traced call go to the
// trace under the function's name (record_spans, function_name).
#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "cfutures/detail/trace_span.hpp"
#include "remote/code_modules.hpp"
#include "remote/remote_core.hpp"
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

}  // namespace cfutures::detail
