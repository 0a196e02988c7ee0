// Internal: what the executors that run calls in other processes (process_pool_executor,
// mpi::comm_executor) share on the submitting side: the compile-time check of a remote call,
// the unit of work queued for a worker (remote_job) and the completion of a map() chunk's
// future from its reply.
#pragma once

#include <cstdint>
#include <exception>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/remote_call.hpp"
#include "cfutures/detail/shared_state.hpp"
#include "cfutures/executor.hpp"
#include "cfutures/serialization.hpp"

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
  std::vector<item> items;
};

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
    });
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

}  // namespace cfutures::detail
