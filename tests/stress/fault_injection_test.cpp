// Fault injection for the process pool (issue 6): workers die by SIGKILL, SIGSEGV, abort()
// and _exit() at random moments — before, during and after calls, and while large values
// are in flight. Every future must end (a value, or broken_process_pool naming the dead
// process and how it ended), and once the pool is gone no child process, zombie, thread or
// descriptor may be left. CFUTURES_STRESS_FAULT_TASKS sets the number of tasks (default
// 2000; the long form runs 10^4), in rounds of a fresh pool each.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "executor_traits.hpp"
#include "stress_support.hpp"
#include "watchdog.hpp"
#include "worker_deaths.hpp"

using namespace std::chrono_literals;

namespace {

std::string echo(std::string s) { return s; }

template <class Traits>
class FaultInjection : public stress::typed_suite<Traits> {};
using process_pools =
    ::testing::Types<conformance::process_pool_fork_traits, conformance::process_pool_spawn_traits,
                     conformance::process_pool_forkserver_traits>;
TYPED_TEST_SUITE(FaultInjection, process_pools, conformance::executor_names);

}  // namespace

TYPED_TEST(FaultInjection, EveryFutureEndsAndNothingLeaks) {
  const long total =
      stress::count_from_env("CFUTURES_STRESS_FAULT_TASKS", stress::long_form ? 10000 : 2000);
  const stress::watchdog guard(TypeParam::name() + " fault injection",
                               std::chrono::seconds(total > 5000 ? 3600 : 600));
  const stress::leak_check leaks;
  std::mt19937 rng(42);
  const std::string big(1 << 20, 'b');  // large enough to travel through shared memory
  long submitted = 0, broken = 0, rounds = 0;
  while (submitted < total) {
    ++rounds;
    std::vector<cfutures::future<std::string>> echoes;
    std::vector<cfutures::future<int>> calls;
    std::vector<int> expected;
    {
      auto ex = TypeParam::make(2);
      const int death_at = static_cast<int>(rng() % 40);
      for (int i = 0; i < 40 && submitted < total; ++i, ++submitted) {
        try {
          if (i == death_at) {
            const int how = static_cast<int>(rng() % stress::death_kinds);
            if (rng() % 2) {
              calls.push_back(ex->submit(stress::arm_death, how, static_cast<int>(rng() % 3000)));
            } else {
              calls.push_back(ex->submit(stress::die_now, how));
            }
            expected.push_back(0);
          } else if (i % 8 == 0) {
            echoes.push_back(ex->submit(echo, big));
          } else {
            calls.push_back(ex->submit(conformance::tasks::mul, i, 3));
            expected.push_back(3 * i);
          }
        } catch (const cfutures::broken_process_pool&) {
          ++broken;  // a submit after the pool broke is refused with the reason
        }
      }
      for (std::size_t i = 0; i < calls.size(); ++i) {
        ASSERT_TRUE(calls[i].wait_for(60s)) << "round " << rounds << ": a call never ended";
        try {
          EXPECT_EQ(calls[i].result(), expected[i]);
        } catch (const cfutures::broken_process_pool& e) {
          ++broken;
          const std::string what = e.what();
          EXPECT_TRUE(stress::names_how_a_worker_ended(what)) << what;
        }
      }
      for (auto& f : echoes) {
        ASSERT_TRUE(f.wait_for(60s)) << "round " << rounds << ": an echo never ended";
        try {
          EXPECT_EQ(f.result().size(), big.size());
        } catch (const cfutures::broken_process_pool&) {
          ++broken;
        }
      }
    }
    ASSERT_FALSE(stress::has_children()) << "round " << rounds << ": a worker outlived its pool";
  }
  leaks.expect_nothing_left();
  EXPECT_GT(broken, 0) << "no worker death was observed: the injection did not happen";
  std::printf("%ld tasks in %ld pools, %ld ended in broken_process_pool\n", submitted, rounds,
              broken);
}
