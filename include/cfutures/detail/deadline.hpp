// Internal: a point in time after which a blocking call gives up, or "never".
// Durations are measured from the moment the deadline is made (Python's monotonic end_time).
// A zero or negative duration is a deadline that has already passed (a non-blocking poll);
// durations too large to add to the clock mean "never".
#pragma once

#include <chrono>
#include <optional>

namespace cfutures::detail {

using clock = std::chrono::steady_clock;

class deadline {
 public:
  static deadline never() noexcept { return deadline{}; }

  template <class Rep, class Period>
  static deadline after(std::chrono::duration<Rep, Period> timeout) noexcept {
    using namespace std::chrono;
    const auto now = clock::now();
    if (timeout <= timeout.zero()) return deadline{now};
    constexpr auto horizon = hours(24 * 365 * 100);
    if (timeout >= duration_cast<duration<Rep, Period>>(horizon)) return never();
    return deadline{now + ceil<clock::duration>(timeout)};
  }

  static deadline after(const std::optional<std::chrono::nanoseconds>& timeout) noexcept {
    return timeout ? after(*timeout) : never();
  }

  bool is_never() const noexcept { return !at_; }
  bool passed() const noexcept { return at_ && clock::now() >= *at_; }
  const clock::time_point* time_point() const noexcept { return at_ ? &*at_ : nullptr; }

 private:
  deadline() = default;
  explicit deadline(clock::time_point at) : at_(at) {}
  std::optional<clock::time_point> at_;
};

}  // namespace cfutures::detail
