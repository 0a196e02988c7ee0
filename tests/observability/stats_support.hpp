// tests/observability/stats_support.hpp — what the stats tests share: the futures' own final
// states counted, to compare with an executor's stats().
#pragma once

#include <gtest/gtest.h>

#include <cfutures/cfutures.hpp>
#include <ostream>
#include <vector>

// For the failure messages (found by ADL).
namespace cfutures {
inline std::ostream& operator<<(std::ostream& out, const executor_stats& s) {
  return out << "{submitted " << s.submitted << ", queued " << s.queued << ", running "
             << s.running << ", completed " << s.completed << ", failed " << s.failed
             << ", cancelled " << s.cancelled << ", workers " << s.workers << ", started "
             << s.workers_started << ", died " << s.workers_died << ", retried " << s.retried
             << ", timed_out " << s.timed_out << "}";
}
}  // namespace cfutures

namespace observability {

// The futures' final states, as stats() should count them.
struct outcomes {
  std::size_t completed = 0, failed = 0, cancelled = 0;

  template <class T>
  void add(const cfutures::future<T>& f) {
    if (f.cancelled()) {
      ++cancelled;
    } else if (f.exception()) {
      ++failed;
    } else {
      ++completed;
    }
  }
  std::size_t total() const { return completed + failed + cancelled; }
};

// Every future done: the executor's counts are the futures' own.
inline void expect_quiescent(const cfutures::executor_stats& s, const outcomes& o) {
  EXPECT_EQ(s.submitted, o.total()) << s;
  EXPECT_EQ(s.completed, o.completed) << s;
  EXPECT_EQ(s.failed, o.failed) << s;
  EXPECT_EQ(s.cancelled, o.cancelled) << s;
  EXPECT_EQ(s.queued, 0u) << s;
  EXPECT_EQ(s.running, 0u) << s;
  EXPECT_EQ(s.submitted, s.completed + s.failed + s.cancelled) << s;
}

}  // namespace observability
