// Internal: future<T>::then. A continuation is one object: the returned future's state, the
// function, and the callback node registered on the source (composed_state.hpp).
//
//   then(fn):      source done ─▶ failed: the same failure, fn dropped
//                              ─▶ else PENDING → RUNNING (or dropped if the returned future
//                                 was cancelled) ─▶ fn(value) in the completing thread
//                                 ─▶ value / exception, or relay of the future fn returned
//   then(ex, fn):  source done ─▶ failed: the same failure
//                              ─▶ else ex.submit(fn, value) ─▶ relay of that call's future;
//                                 the returned future stays PENDING until then, and
//                                 cancelling it cancels the call if it has not started
// Included by future.hpp once future<T> is complete (never on its own: this header builds on
// future<T>, which includes it).
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "cfutures/detail/composed_state.hpp"

namespace cfutures::detail {

// How fn receives a finished source: its value (const T& or T&&; nothing for void), or, if fn
// does not take that but takes the future itself, the future whatever its outcome.
template <class T, bool ByMove>
using then_value_arg = std::conditional_t<ByMove, T&&, const T&>;

template <class T, class Fn, bool ByMove>
struct then_call {
  static constexpr bool by_value = [] {
    if constexpr (std::is_void_v<T>) {
      return std::is_invocable_v<Fn>;
    } else {
      return std::is_invocable_v<Fn, then_value_arg<T, ByMove>>;
    }
  }();
  // Asked only if by_value is false (a generic lambda's body is instantiated by the question).
  static constexpr bool by_future = [] {
    if constexpr (by_value) {
      return false;
    } else {
      return std::is_invocable_v<Fn, future<T>>;
    }
  }();
  static constexpr bool valid = by_value || by_future;

  static auto result_probe() {
    if constexpr (by_future) {
      return std::type_identity<std::invoke_result_t<Fn, future<T>>>{};
    } else if constexpr (std::is_void_v<T>) {
      return std::type_identity<std::invoke_result_t<Fn>>{};
    } else {
      return std::type_identity<std::invoke_result_t<Fn, then_value_arg<T, ByMove>>>{};
    }
  }
  // fn's result, decayed (a reference is copied into the future).
  using raw = std::remove_cvref_t<typename decltype(result_probe())::type>;
  using result = unwrapped_t<raw>;

  // Calls fn with what it takes from the finished source `src`.
  static decltype(auto) call(Fn& fn, shared_state<T>& src) {
    if constexpr (by_future) {
      return std::invoke(std::move(fn),
                         future_access::make<T>(ref_ptr<shared_state<T>>::share(&src)));
    } else if constexpr (std::is_void_v<T>) {
      return std::invoke(std::move(fn));
    } else if constexpr (ByMove) {
      return std::invoke(std::move(fn), std::move(src.value()));
    } else {
      return std::invoke(std::move(fn), std::as_const(src.value()));
    }
  }
};

struct source_tag {};

template <class T, class Fn, bool ByMove>
class then_state final : public relay_state<typename then_call<T, Fn, ByMove>::result> {
  using call = then_call<T, Fn, ByMove>;
  using R = typename call::result;

 public:
  using relay_state<R>::on_done;

  template <class F>
  explicit then_state(F&& fn) : fn_(std::in_place, std::forward<F>(fn)) {}

  void start(state_base& source) noexcept {
    this->origin = composed_origin(source.origin);
    source_.attach(this, source);
  }

  void on_done(source_tag, state_base& source, std::size_t) noexcept {
    auto& src = static_cast<shared_state<T>&>(source);
    if (!call::by_future && this->pass_failure(src)) return fn_.reset();
    if (!this->try_start()) return fn_.reset();  // the returned future was cancelled
    try {
      if constexpr (is_future_v<typename call::raw>) {
        const typename call::raw inner = call::call(*fn_, src);
        fn_.reset();
        this->relay_from(inner);
      } else if constexpr (std::is_void_v<R>) {
        call::call(*fn_, src);
        fn_.reset();
        this->try_set_result();
      } else {
        R value = call::call(*fn_, src);
        fn_.reset();
        this->try_set_result(std::move(value));
      }
    } catch (...) {
      fn_.reset();
      this->fail_with_current();
    }
  }

 private:
  std::optional<Fn> fn_;
  owner_link<then_state, source_tag> source_;
};

template <class T, class E, class Fn, bool ByMove>
struct then_on_call {
  static auto submit(E& ex, Fn& fn, shared_state<T>& src) {
    if constexpr (then_call<T, Fn, ByMove>::by_future) {
      return ex.submit(std::move(fn),
                       future_access::make<T>(ref_ptr<shared_state<T>>::share(&src)));
    } else if constexpr (std::is_void_v<T>) {
      return ex.submit(std::move(fn));
    } else if constexpr (ByMove) {
      return ex.submit(std::move(fn), std::move(src.value()));
    } else {
      return ex.submit(std::move(fn), std::as_const(src.value()));
    }
  }
  using submitted =
      decltype(submit(std::declval<E&>(), std::declval<Fn&>(), std::declval<shared_state<T>&>()));
  using result = unwrapped_t<typename submitted::value_type>;
};

template <class T, class E, class Fn, bool ByMove>
class then_on_state final
    : public submitted_state<typename then_on_call<T, E, Fn, ByMove>::result> {
  using call = then_on_call<T, E, Fn, ByMove>;
  using R = typename call::result;

 public:
  using submitted_state<R>::on_done;

  template <class F>
  then_on_state(E& ex, F&& fn) : ex_(ex), fn_(std::in_place, std::forward<F>(fn)) {}

  void start(state_base& source) noexcept {
    this->origin = composed_origin(source.origin);
    source_.attach(this, source);
  }

  void on_done(source_tag, state_base& source, std::size_t) noexcept {
    auto& src = static_cast<shared_state<T>&>(source);
    if (!then_call<T, Fn, ByMove>::by_future && this->pass_failure(src)) return fn_.reset();
    if (this->done()) return fn_.reset();  // the returned future was cancelled
    try {
      const auto submitted = call::submit(ex_, *fn_, src);
      fn_.reset();
      this->relay_submitted(submitted);
    } catch (...) {
      fn_.reset();
      this->fail_with_current();
    }
  }

 private:
  E& ex_;
  std::optional<Fn> fn_;
  owner_link<then_on_state, source_tag> source_;
};

template <class State, class... A>
auto start_continuation(state_base& source, A&&... a) {
  auto* s = new State(std::forward<A>(a)...);
  using R = typename State::value_type;
  auto out = future_access::make<R>(ref_ptr<shared_state<R>>::adopt(s));
  s->start(source);
  return out;
}

}  // namespace cfutures::detail

namespace cfutures {

namespace detail {

// A readable error for a continuation that cannot take what the future holds; true if valid.
template <class T, class Fn, bool ByMove>
constexpr bool check_then() {
  constexpr bool valid = then_call<T, std::decay_t<Fn>, ByMove>::valid;
  static_assert(valid,
                "future<T>::then(fn): fn must be callable with the value (const T& on an lvalue "
                "future, T&& on an rvalue one; no argument for future<void>) or with the future<T> "
                "itself");
  return valid;
}

}  // namespace detail

template <class T>
template <class Fn>
auto future<T>::then(Fn&& fn) const& {
  if constexpr (detail::check_then<T, Fn, false>()) {
    using state = detail::then_state<T, std::decay_t<Fn>, false>;
    return detail::start_continuation<state>(checked(), std::forward<Fn>(fn));
  }
}

template <class T>
template <class Fn>
auto future<T>::then(Fn&& fn) && {
  if constexpr (detail::check_then<T, Fn, true>()) {
    using state = detail::then_state<T, std::decay_t<Fn>, true>;
    return detail::start_continuation<state>(checked(), std::forward<Fn>(fn));
  }
}

template <class T>
template <class E, class Fn>
auto future<T>::then(E& ex, Fn&& fn) const& {
  if constexpr (detail::check_then<T, Fn, false>()) {
    using state = detail::then_on_state<T, E, std::decay_t<Fn>, false>;
    return detail::start_continuation<state>(checked(), ex, std::forward<Fn>(fn));
  }
}

template <class T>
template <class E, class Fn>
auto future<T>::then(E& ex, Fn&& fn) && {
  if constexpr (detail::check_then<T, Fn, true>()) {
    using state = detail::then_on_state<T, E, std::decay_t<Fn>, true>;
    return detail::start_continuation<state>(checked(), ex, std::forward<Fn>(fn));
  }
}

}  // namespace cfutures
