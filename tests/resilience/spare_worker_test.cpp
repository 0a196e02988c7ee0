// The spare worker (src/process/resilience.cpp, "Spare worker"): once a worker was lost, the
// pool keeps one more started ahead, which takes no call until it replaces the next lost
// worker; none before a loss, and nothing of it outlives the pool.
#include <algorithm>
#include <set>

#include "resilience_support.hpp"

namespace resilience {
namespace {

class SpareWorker : public resilience_test {
 protected:
  // The pids of the pool's worker processes (the server's children with forkserver).
  std::set<pid_t> worker_pids() const {
    std::set<pid_t> pids;
    if (GetParam() != start_method::forkserver) {
      for (const pid_t p : conformance::live_children()) pids.insert(p);
      return pids;
    }
    for (const pid_t server : conformance::live_children()) {
      for (const pid_t p : conformance::live_children(server)) pids.insert(p);
    }
    return pids;
  }
};

TEST_P(SpareWorker, NoneBeforeAWorkerIsLost) {
  nothing_left_behind clean;
  process_pool_executor pool(fail_call(2));
  std::vector<future<int>> fs;
  for (int i = 0; i < 200; ++i) fs.push_back(pool.submit(&twice_or_die, i, none));
  for (auto& f : fs) (void)f.result(60s);
  std::this_thread::sleep_for(100ms);
  EXPECT_LE(worker_pids().size(), 2u);
}

TEST_P(SpareWorker, AfterADeathTheNextReplacementWasStartedAhead) {
  nothing_left_behind clean;
  process_pool_executor pool(fail_call(1));
  const int first = pool.submit(&pid_of, 0).result(60s);
  EXPECT_THROW(pool.submit(&twice_or_die, 1, sigkill).result(60s), cfutures::worker_died_error);
  const int second = pool.submit(&pid_of, 0).result(60s);
  EXPECT_NE(second, first);
  std::set<pid_t> spares;
  ASSERT_TRUE(conformance::eventually([&] {
    spares = worker_pids();
    spares.erase(second);
    return spares.size() == 1;
  }, 30s)) << "no spare worker after a death";
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(pool.submit(&pid_of, i).result(60s), second) << "the spare took a call";
  }
  EXPECT_THROW(pool.submit(&twice_or_die, 2, sigkill).result(60s), cfutures::worker_died_error);
  const int third = pool.submit(&pid_of, 0).result(60s);
  EXPECT_EQ(third, *spares.begin()) << "the replacement was not the spare";
  EXPECT_EQ(pool.submit(&twice_or_die, 21, none).result(60s), 42);
}

TEST_P(SpareWorker, EveryCallOfABatchWithCrashesEnds) {
  nothing_left_behind clean;
  process_pool_executor pool(fail_call(2));
  std::vector<future<int>> fs;
  for (int i = 0; i < 400; ++i) {
    fs.push_back(pool.submit(&twice_or_die, i, i % 40 == 7 ? sigkill : none));
  }
  for (int i = 0; i < 400; ++i) {
    const auto& f = fs[static_cast<std::size_t>(i)];
    if (i % 40 == 7) {
      EXPECT_THROW(f.result(60s), cfutures::worker_died_error) << i;
    } else {
      EXPECT_EQ(f.result(60s), 2 * i);
    }
  }
  EXPECT_LE(worker_pids().size(), 3u) << "two workers and one spare at most";
}

CFUTURES_START_METHODS(SpareWorker);

}  // namespace
}  // namespace resilience
