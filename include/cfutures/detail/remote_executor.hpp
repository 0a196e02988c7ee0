// Internal: the submitting side of the remote-executor core, shared by every executor that
// runs calls in other processes (process_pool_executor, mpi::comm_executor): the
// compile-time check of a remote call, the unit of work queued for a worker (remote_job),
// the queue interface their cores implement (remote_queue; src/remote/remote_core.hpp), and
// submit / submit_chunk / submit_chunked written once against it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "cfutures/detail/one_or_many.hpp"
#include "cfutures/detail/payload.hpp"
#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/remote_call.hpp"
#include "cfutures/detail/shared_state.hpp"
#include "cfutures/executor.hpp"
#include "cfutures/future.hpp"
#include "cfutures/serialization.hpp"

namespace cfutures {

// Per-call options, a leading argument of a process pool's submit (they override the pool's
// call_timeout and max_retries for that call): pool.submit(call_options{.timeout = 2s}, f, x).
struct call_options {
  // The call fails with call_timeout_error (its worker stopped) if it still runs this long
  // after a worker started it.
  std::optional<std::chrono::nanoseconds> timeout{};
  // Runs of the call beyond the first when its worker dies (worker_death::fail_call only).
  std::optional<std::size_t> max_retries{};
};

}  // namespace cfutures

namespace cfutures::detail {

template <class F, class... Args>
constexpr bool check_remote_call() {
  using fn = std::decay_t<F>;
  static_assert(is_sendable_function_v<fn>,
                "cfutures: f must be a plain function or a lambda without "
                "captures (a worker process cannot receive captured state; pass it as "
                "arguments instead)");
  static_assert(!std::is_invocable_v<fn, std::stop_token, std::decay_t<Args>...>,
                "cfutures: a function taking a std::stop_token cannot run in "
                "another process");
  static_assert(std::is_invocable_v<fn, std::decay_t<Args>...>,
                "cfutures: f is not callable with these arguments");
  static_assert((require_serializable<std::decay_t<Args>>::value && ...));
  static_assert((std::is_default_constructible_v<std::decay_t<Args>> && ...),
                "cfutures: arguments must be default-constructible (they are "
                "rebuilt in the worker)");
  using R = std::remove_cvref_t<std::invoke_result_t<fn, std::decay_t<Args>...>>;
  if constexpr (!std::is_void_v<R>) {
    static_assert(require_serializable<R>::value);
    static_assert(std::is_default_constructible_v<R>,
                  "cfutures: the result type must be default-constructible");
  }
  return true;
}

// One message's worth of calls to the same function.
struct remote_job {
  struct item {
    ref_ptr<state_base> state;
    payload args;
  };
  invoker entry = nullptr;
  const void* fn = nullptr;
  void (*complete)(state_base&, bool ok, const encoded_input& bytes) noexcept = nullptr;
  one_or_many<item> items;  // most jobs hold one call: it is then held in place
  std::uint64_t id = 0;        // its call frame's id, once sent to a worker
  std::uint64_t sent_ns = 0;   // traced: when its call frame was made (trace_span.hpp)
  std::uint32_t deaths = 0;    // workers that died while running it (its retries so far)
  bool started = false;        // its calls are RUNNING already (back from a worker that ended)

  // This call's limits (unset: the pool's). Kept compact rather than as a call_options: a
  // job is queued per call, and its size is memory touched per call.
  call_options options() const noexcept {
    call_options o;
    if (timeout_ns_ >= 0) o.timeout = std::chrono::nanoseconds(timeout_ns_);
    if (max_retries_ != no_max_retries) o.max_retries = max_retries_;
    return o;
  }
  void set_options(const call_options& o) noexcept {
    // A timeout is positive (check_options refuses others): 0 stands for any that is not.
    timeout_ns_ = o.timeout ? std::max<std::int64_t>(o.timeout->count(), 0) : -1;
    max_retries_ = o.max_retries ? static_cast<std::uint32_t>(std::min<std::size_t>(
                                       *o.max_retries, no_max_retries - 1))
                                 : no_max_retries;
  }

 private:
  static constexpr std::uint32_t no_max_retries = 0xffffffff;
  std::int64_t timeout_ns_ = -1;  // -1: none
  std::uint32_t max_retries_ = no_max_retries;
};

// A job like `job` (same function and options) holding no calls yet.
inline remote_job job_like(const remote_job& job) {
  remote_job copy;
  copy.entry = job.entry;
  copy.fn = job.fn;
  copy.complete = job.complete;
  copy.set_options(job.options());
  copy.deaths = job.deaths;
  copy.started = job.started;
  return copy;
}

// A job of one call: `call`'s function and arguments (moved out), completing `state`.
inline remote_job make_remote_job(encoded_call& call,
                                  void (*complete)(state_base&, bool,
                                                   const encoded_input&) noexcept,
                                  ref_ptr<state_base> state) {
  remote_job job;
  job.entry = call.entry;
  job.fn = call.fn;
  job.complete = complete;
  job.items.push_back({std::move(state), std::move(call.args)});
  return job;
}

inline void fail_job(remote_job& job, const std::exception_ptr& error) noexcept {
  for (auto& item : job.items) item.state->try_set_exception(error);
}

inline void cancel_job(remote_job& job) noexcept {
  for (auto& item : job.items) item.state->cancel();
}

// Completes the future of a map() chunk (a chunk_values<V>) from invoke_chunk's reply.
template <class R>
void complete_chunk(state_base& state, bool ok, const encoded_input& in) noexcept {
  using V = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  auto& typed = static_cast<shared_state<chunk_values<V>>&>(state);
  if (!ok) {
    std::exception_ptr error = decode_exception(in.bytes);
    in.consumed();
    typed.try_set_exception(std::move(error));
    return;
  }
  try {
    chunk_values<V> out;
    std::conditional_t<std::is_void_v<R>, std::uint64_t, std::vector<V>> done{};
    std::uint8_t failed = 0;
    decode_from(in.bytes, [&](cereal::BinaryInputArchive& archive) {
      archive(done, failed);
      if (failed) {
        std::string error;
        archive(error);
        out.error = decode_exception(error);
      }
    }, in.regions);
    if constexpr (std::is_void_v<R>) {
      if (done > in.bytes.size()) throw protocol_error("bad chunk reply: count past the end");
      out.values.resize(done);
    } else {
      out.values = std::move(done);
    }
    in.consumed();
    typed.try_set_result(std::move(out));
  } catch (...) {
    typed.try_set_exception(std::current_exception());
  }
}

// What an out-of-process executor's core offers its public class.
class remote_queue {
 public:
  // Queues the jobs (moved from); throws shutdown_error after shutdown, the executor's
  // broken error once broken.
  virtual void enqueue(std::span<remote_job> jobs) = 0;
  // Where large arguments are encoded (the transport's choice; null: in memory).
  virtual block_store* payload_store() const noexcept = 0;
  // Held (shared) while a call is encoded, if not null (the process pool's fork barrier).
  virtual std::shared_mutex* submit_barrier() const noexcept = 0;
  // map's chunks must travel as one call per item (workers replaced after n calls).
  virtual bool splits_chunks() const noexcept = 0;

 protected:
  ~remote_queue() = default;
};

inline std::shared_lock<std::shared_mutex> submit_lock(remote_queue& q) {
  std::shared_mutex* m = q.submit_barrier();
  return m ? std::shared_lock(*m) : std::shared_lock<std::shared_mutex>();
}

// With splits_chunks, a chunk travels as one call per item (remote_submit_chunked) and this
// joins their futures into the chunk's. Cancelling the chunk's future cancels the calls not
// yet started.
template <class R>
auto join_chunk(std::vector<future<R>> parts) {
  using V = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  using chunk = chunk_values<V>;
  struct joiner {
    std::vector<future<R>> parts;
    std::atomic<std::size_t> left;
    ref_ptr<shared_state<chunk>> state;
    void finish() {
      chunk out;
      for (auto& part : parts) {
        if (part.cancelled()) {  // shutdown({.cancel_futures = true}) dropped it
          state->cancel();
          return;
        }
        if (part.exception()) {
          out.error = part.exception();
          break;
        }
        if constexpr (std::is_void_v<R>) {
          out.values.emplace_back();
        } else {
          out.values.push_back(std::move(part).result());
        }
      }
      state->try_set_result(std::move(out));
    }
  };
  auto state = ref_ptr<shared_state<chunk>>::adopt(new shared_state<chunk>());
  auto j = std::make_shared<joiner>();
  j->left.store(parts.size());
  j->state = state;
  j->parts = std::move(parts);
  future<chunk> joined = future_access::make<chunk>(std::move(state));
  joined.add_done_callback([j](const future<chunk>& f) {
    if (f.cancelled()) {
      for (auto& part : j->parts) part.cancel();
    }
  });
  for (auto& part : j->parts) {
    part.add_done_callback([j](const future<R>&) {
      // acq_rel: the last one sees every part's completion.
      if (j->left.fetch_sub(1, std::memory_order_acq_rel) == 1) j->finish();
    });
  }
  return joined;
}

// What process_initializer and mpi::pool_initializer hold: a function and its arguments,
// checked and encoded as a call's, run first in every worker of the pool.
class initializer_call {
 public:
  // True if an initializer is set.
  explicit operator bool() const noexcept { return set_; }
  const encoded_call& call() const noexcept { return call_; }

 protected:
  initializer_call() = default;
  template <class F, class... Args>
  void set(F&& f, Args&&... args) {
    static_assert(check_remote_call<F, Args...>());
    call_ = encode_call(nullptr, std::decay_t<F>(std::forward<F>(f)), std::decay_t<Args>(args)...);
    set_ = true;
  }

 private:
  encoded_call call_;
  bool set_ = false;
};

// submit(f, args...) of every remote executor (with the call's options).
template <class F, class... Args>
auto remote_submit(remote_queue& q, const call_options& options, F&& f, Args&&... args) {
  static_assert(check_remote_call<F, Args...>());
  using fn = std::decay_t<F>;
  using R = std::remove_cvref_t<std::invoke_result_t<fn, std::decay_t<Args>...>>;
  const auto lock = submit_lock(q);
  encoded_call call = encode_call(q.payload_store(), fn(std::forward<F>(f)), args...);
  auto state = ref_ptr<shared_state<R>>::adopt(new shared_state<R>());
  remote_job job = make_remote_job(call, &complete_from_reply<R>, state);
  job.set_options(options);
  q.enqueue({&job, 1});
  return future_access::make<R>(std::move(state));
}

// `n` calls of f, one per argument tuple, sent to workers in messages of up to `chunksize`.
template <class F, class... Args>
auto remote_submit_chunked(remote_queue& q, F f, std::vector<std::tuple<Args...>> calls,
                           std::size_t chunksize) {
  static_assert(check_remote_call<F, Args...>());
  using R = std::remove_cvref_t<std::invoke_result_t<F, Args...>>;
  const auto lock = submit_lock(q);
  std::vector<future<R>> futures;
  futures.reserve(calls.size());
  std::vector<remote_job> jobs;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    encoded_call call = std::apply(
        [&](const Args&... a) { return encode_call(q.payload_store(), f, a...); }, calls[i]);
    auto state = ref_ptr<shared_state<R>>::adopt(new shared_state<R>());
    if (i % chunksize == 0) {
      jobs.push_back(make_remote_job(call, &complete_from_reply<R>, state));
    } else {
      jobs.back().items.push_back({state, std::move(call.args)});
    }
    futures.push_back(future_access::make<R>(std::move(state)));
  }
  q.enqueue(jobs);
  return futures;
}

// One remote call running f over every argument tuple of `calls` in order (one chunk of
// map): a single future for their values, ending at the first exception.
template <class F, class... Args>
auto remote_submit_chunk(remote_queue& q, F f, std::vector<std::tuple<Args...>> calls) {
  static_assert(check_remote_call<F, Args...>());
  using R = std::remove_cvref_t<std::invoke_result_t<F, Args...>>;
  using V = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  using chunk = chunk_values<V>;
  if (q.splits_chunks()) {
    const std::size_t n = calls.size();
    return join_chunk(remote_submit_chunked(q, f, std::move(calls), n));
  }
  const auto lock = submit_lock(q);
  encoded_call call = encode_chunk(q.payload_store(), f, calls);
  auto state = ref_ptr<shared_state<chunk>>::adopt(new shared_state<chunk>());
  remote_job job = make_remote_job(call, &complete_chunk<R>, state);
  q.enqueue({&job, 1});
  return future_access::make<chunk>(std::move(state));
}

}  // namespace cfutures::detail
