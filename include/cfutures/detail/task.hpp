// Internal: an executor's task — the shared state, the callable and its arguments in one
// allocation. Created with two references: the future's and the executor queue's.
//
// Life of a task: make_task() → queued → run(): try_start() (PENDING → RUNNING, or the
// call is dropped if it was cancelled) → call → result constructed in place → callable and
// arguments destroyed → published (FINISHED) → the queue's reference released. A task that
// will never run is abandon()ed instead (cancelled, or failed with the executor's error).
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <tuple>
#include <typeinfo>
#include <type_traits>
#include <utility>

#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/shared_state.hpp"
#include "cfutures/detail/trace_span.hpp"
#include "cfutures/future.hpp"

namespace cfutures::detail {

template <class F, class... Args>
struct call_traits {
  static constexpr bool takes_stop_token =
      std::is_invocable_v<std::decay_t<F>, std::stop_token, std::decay_t<Args>...>;
  static constexpr bool callable =
      takes_stop_token || std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>;
};

template <class F, class... Args>
struct call_result {
  using type = std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;
};
template <class F, class... Args>
requires call_traits<F, Args...>::takes_stop_token struct call_result<F, Args...> {
  using type = std::remove_cvref_t<
      std::invoke_result_t<std::decay_t<F>, std::stop_token, std::decay_t<Args>...>>;
};

// The decayed result type of submit(f, args...) (references are copied into the future).
template <class F, class... Args>
using call_result_t = typename call_result<F, Args...>::type;

template <bool TakesStopToken>
struct stop_slot {
  bool request() noexcept { return false; }
};
template <>
struct stop_slot<true> {
  std::stop_source source;
  bool request() noexcept {
    source.request_stop();
    return true;
  }
};

// A thread pool counts a task cancelled while queued (`origin`: the pool; null: a task the
// pool rejected, not counted). Defined by the thread layer, the only user of task.
void count_cancelled_task(const void* origin, int delta) noexcept;

template <class R, class Fn, class... Args>
class task final : public shared_state<R> {
  static constexpr bool takes_stop_token = call_traits<Fn, Args...>::takes_stop_token;

 public:
  template <class F, class... A>
  explicit task(F&& f, A&&... args)
      : shared_state<R>(2), call_(std::in_place, std::forward<F>(f), std::forward<A>(args)...) {}

  bool request_stop() noexcept override { return stop_.request(); }

  void run(const run_context& context) noexcept override {
    if (!this->try_start()) {
      call_.reset();
      context.finishing(run_outcome::dropped);
      return;
    }
    const thread_pool_span span;  // trace.hpp: one branch while no trace runs
    bool failed = false;
    try {
      if constexpr (std::is_void_v<R>) {
        invoke(context.executor_stop);
      } else {
        this->construct_value([&]() -> R { return invoke(context.executor_stop); });
      }
    } catch (...) {
      this->error_ = std::current_exception();
      failed = true;
    }
    if (span.on()) [[unlikely]]
      span.record(typeid(Fn), code_of());
    call_.reset();
    context.finishing(failed ? run_outcome::failed : run_outcome::completed);
    this->lock();
    this->publish_locked(status::finished, failed);
  }

  void abandon(std::exception_ptr reason) noexcept override {
    state_base::abandon(std::move(reason));
    call_.reset();
  }

 protected:
  void cancelling(int delta) noexcept override { count_cancelled_task(this->origin, delta); }

 private:
  // A function pointer's address, for the trace's name (the callable's type otherwise).
  const void* code_of() const noexcept {
    if constexpr (std::is_pointer_v<Fn> && std::is_function_v<std::remove_pointer_t<Fn>>) {
      return call_ ? reinterpret_cast<const void*>(std::get<0>(*call_)) : nullptr;
    } else {
      return nullptr;
    }
  }

  decltype(auto) invoke(const std::stop_token& executor_stop) {
    return std::apply(
        [&](Fn& fn, Args&... args) -> decltype(auto) {
          if constexpr (takes_stop_token) {
            // The task's own token, also stopped when the executor asks for a stop.
            std::stop_callback link(executor_stop,
                                    [this]() noexcept { stop_.source.request_stop(); });
            return std::invoke(std::move(fn), stop_.source.get_token(), std::move(args)...);
          } else {
            return std::invoke(std::move(fn), std::move(args)...);
          }
        },
        *call_);
  }

  std::optional<std::tuple<Fn, Args...>> call_;
  [[no_unique_address]] stop_slot<takes_stop_token> stop_;
};

// A new task for f(args...) and its future. The caller owns the task's second reference
// (the queue's) and must eventually call run() or abandon() and then release().
template <class F, class... Args>
auto make_task(F&& f, Args&&... args) {
  using R = call_result_t<F, Args...>;
  auto* t = new task<R, std::decay_t<F>, std::decay_t<Args>...>(std::forward<F>(f),
                                                                std::forward<Args>(args)...);
  return std::pair{future_access::make<R>(ref_ptr<shared_state<R>>::adopt(t)),
                   static_cast<state_base*>(t)};
}

}  // namespace cfutures::detail
