// cfutures/dataflow.hpp — dataflow(ex, fn, args...): call fn on an executor once the futures
// among its arguments are done, with their values (Dask's and Ray's futures as arguments).
//
// What:
//   future<R> r = cfutures::dataflow(ex, fn, fa, 3, fb);   // fn(value of fa, 3, value of fb)
// Every argument that is a future<T> is waited for without blocking a thread (one
// done-callback each); once all are done, fn is submitted to ex with each such argument
// replaced by its value, the others as given, and r takes the outcome of that call. A
// future<void> argument is a pure dependency: it is waited for and passes nothing. A future
// passed as an rvalue hands over its value by move (so move-only values travel), one passed
// as an lvalue by copy. If fn returns a future<V>, r is a future<V> (unwrapped, as then).
// Works with every executor: with the process pool or MPI, fn is a plain function and the
// values cross the process boundary as submit's arguments do.
// Failures: if an argument failed or was cancelled, fn is not called and r fails with the
// exception of the first such argument in argument order, or is cancelled if that first one
// was cancelled. What ex.submit throws (shutdown_error, broken_executor) becomes r's
// exception.
// Cancellation: r is PENDING until the call's outcome arrives; cancelling it before the
// arguments are ready keeps fn from being submitted, and afterwards cancels fn's task if it
// has not started. Cancelling r never cancels the arguments.
// Thread safety: may be called from any thread. ex is held by reference: it must outlive
// the call's submission.
// Blocking: never; fn is submitted from the thread that completes the last argument (or
// from this one, if all are done already).
// Throws: invalid_state_error for a future argument without state; nothing else itself.
// Python counterpart: none in concurrent.futures; Dask's client.submit(fn, *futures) and
// Ray's f.remote(*object_refs); HPX's hpx::dataflow.
// Deviations: none beyond the above (where the contract is silent: as HPX's dataflow).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cfutures/future.hpp"

namespace cfutures {
namespace detail {

// What one argument passes to fn: a tuple of one value, or of none (a future<void>).
template <class A, bool Move>
auto dataflow_value(A& arg) {
  if constexpr (!is_future_v<A>) {
    return std::forward_as_tuple(std::move(arg));
  } else if constexpr (std::is_void_v<typename A::value_type>) {
    return std::tuple<>{};
  } else if constexpr (Move) {
    return std::forward_as_tuple(std::move(future_access::state(arg)->value()));
  } else {
    return std::forward_as_tuple(std::as_const(future_access::state(arg)->value()));
  }
}

template <class E, class Fn, class Args, class Moves>
struct dataflow_call;
template <class E, class Fn, class... A, bool... Move>
struct dataflow_call<E, Fn, std::tuple<A...>, std::integer_sequence<bool, Move...>> {
  static auto submit(E& ex, Fn& fn, std::tuple<A...>& args) {
    return std::apply(
        [&](auto&&... values) {
          return ex.submit(std::move(fn), std::forward<decltype(values)>(values)...);
        },
        std::apply([](A&... a) { return std::tuple_cat(dataflow_value<A, Move>(a)...); }, args));
  }
  using submitted =
      decltype(submit(std::declval<E&>(), std::declval<Fn&>(), std::declval<std::tuple<A...>&>()));
  using result = unwrapped_t<typename submitted::value_type>;
};

struct argument_tag {};

template <class E, class Fn, class Args, class Moves>
class dataflow_state;
template <class E, class Fn, class... A, bool... Move>
class dataflow_state<E, Fn, std::tuple<A...>, std::integer_sequence<bool, Move...>> final
    : public submitted_state<typename dataflow_call<E, Fn, std::tuple<A...>,
                                                    std::integer_sequence<bool, Move...>>::result> {
  using call = dataflow_call<E, Fn, std::tuple<A...>, std::integer_sequence<bool, Move...>>;
  using R = typename call::result;
  static constexpr std::size_t futures = (std::size_t{0} + ... + std::size_t{is_future_v<A>});

 public:
  using value_type = R;
  using submitted_state<R>::on_done;

  template <class F, class... B>
  dataflow_state(E& ex, F&& fn, B&&... args)
      : ex_(ex), fn_(std::forward<F>(fn)), args_(std::forward<B>(args)...) {}

  // The first non-null origin among the future arguments.
  const void* inputs_origin() const noexcept {
    const void* origin = nullptr;
    std::apply([&](const A&... a) { (note_origin(a, origin), ...); }, args_);
    return origin;
  }

  void start() noexcept {
    std::size_t next = 0;
    std::apply([&](A&... a) { (attach(a, next), ...); }, args_);
    on_done(argument_tag{}, *this, 0);  // registration is over (left_ counted it)
  }

  void on_done(argument_tag, state_base&, std::size_t) noexcept {
    // acq_rel: the last one sees every argument's completion.
    if (left_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    bool failed = false;
    std::apply([&](const A&... a) { (pass_first_failure(a, failed), ...); }, args_);
    if (failed || this->done()) return;  // failed, or r was cancelled: fn is not submitted
    try {
      this->relay_submitted(call::submit(ex_, fn_, args_));
    } catch (...) {
      this->fail_with_current();
    }
  }

 private:
  template <class X>
  static void note_origin(const X& a, const void*& origin) noexcept {
    if constexpr (is_future_v<X>) {
      if (!origin) origin = future_access::state(a)->origin;
    }
  }
  template <class X>
  void attach(X& a, std::size_t& next) noexcept {
    if constexpr (is_future_v<X>) {
      links_[next].attach(this, *future_access::state(a), next);
      ++next;
    }
  }
  template <class X>
  void pass_first_failure(const X& a, bool& failed) noexcept {
    if constexpr (is_future_v<X>) {
      if (!failed) failed = this->pass_failure(*future_access::state(a));
    }
  }

  E& ex_;
  Fn fn_;
  std::tuple<A...> args_;
  std::array<owner_link<dataflow_state, argument_tag>, futures> links_;
  std::atomic<std::size_t> left_{futures + 1};
};

}  // namespace detail

// fn(args...) submitted to ex once every future argument is done, with their values.
template <class E, class Fn, class... Args>
requires requires(E& ex, void (*f)()) { ex.submit(f); }
auto dataflow(E& ex, Fn&& fn, Args&&... args) {
  using state =
      detail::dataflow_state<E, std::decay_t<Fn>, std::tuple<std::decay_t<Args>...>,
                             std::integer_sequence<bool, (detail::is_future_v<std::decay_t<Args>> &&
                                                          !std::is_lvalue_reference_v<Args>)...>>;
  const auto check = [](const auto& a) {
    if constexpr (detail::is_future_v<std::remove_cvref_t<decltype(a)>>) {
      if (!a.valid()) detail::throw_no_state();
    }
  };
  (check(args), ...);
  auto* s = new state(ex, std::forward<Fn>(fn), std::forward<Args>(args)...);
  s->origin = detail::composed_origin(s->inputs_origin());
  using R = typename state::value_type;
  auto out = detail::future_access::make<R>(detail::ref_ptr<detail::shared_state<R>>::adopt(s));
  s->start();
  return out;
}

}  // namespace cfutures
