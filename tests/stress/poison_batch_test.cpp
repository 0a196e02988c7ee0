// The resilient process pool under poison (issue 16): thousands of calls, 5 % of them bad —
// a segfault, an abort, an exit, a SIGKILL, a hang past the call timeout, an allocation past
// the memory limit, a leak past the soft limit — on a worker_death::fail_call pool with
// retries. Every good call's value must be right, every bad call must fail with the error
// that says what it did (or, for the leak, succeed on a worker that is then replaced), and
// nothing may be left: no child process, no zombie, no descriptor (shared-memory blocks are
// memfds: descriptors). Spawn pools where a sanitizer makes fork unsafe (stress_support.hpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <cfutures/cfutures.hpp>
#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "process_pool_support.hpp"
#include "stress_support.hpp"
#include "worker_deaths.hpp"

namespace stress {
namespace {

using namespace std::chrono_literals;

enum poison : int { good, segv, abrt, exit_3, sigkill, hang, too_big, leak, poison_kinds };

constexpr bool sanitized = forked_workers_can_hang;  // ASan or TSan: no address-space limit

// This worker's resident memory, in bytes.
std::size_t resident_bytes(int) {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

long poisoned(int kind, long x) {
  switch (kind) {
    case segv:
      die(by_sigsegv);
    case abrt:
      conformance::no_core_dump();
      ::signal(SIGABRT, SIG_DFL);
      die(by_abort);
    case exit_3:
      die(by_exit);
    case sigkill:
      die(by_sigkill);
    case hang:
      std::this_thread::sleep_for(std::chrono::hours(1));
      break;
    case too_big: {
      std::vector<char> block(std::size_t{1} << 30, 1);  // past the 256 MiB limit
      return static_cast<long>(block.size());
    }
    case leak: {
      auto* kept = new std::vector<char>(std::size_t{48} << 20, 1);  // past the soft limit
      return x + static_cast<long>(kept->size() > 0);
    }
    default:
      break;
  }
  return x * 3;
}

void check_outcome(int kind, long x, const cfutures::future<long>& f) {
  const std::string where = "kind " + std::to_string(kind) + ", x " + std::to_string(x) + ": " +
                            conformance::outcome(f);
  const auto died_by = [&](int sig, int code) {
    try {
      (void)f.result(0s);
      ADD_FAILURE() << where;
    } catch (const cfutures::worker_died_error& e) {
      EXPECT_EQ(e.term_signal(), sig) << where;
      EXPECT_EQ(e.exit_code(), code) << where;
      EXPECT_EQ(e.attempts(), 2u) << where;  // max_retries = 1
    }
  };
  switch (kind) {
    case segv:
      return died_by(SIGSEGV, -1);
    case abrt:
      return died_by(SIGABRT, -1);
    case exit_3:
      return died_by(0, 3);
    case sigkill:
      return died_by(SIGKILL, -1);
    case hang:
      EXPECT_THROW((void)f.result(0s), cfutures::call_timeout_error) << where;
      return;
    case too_big:
      EXPECT_THROW((void)f.result(0s), std::bad_alloc) << where;
      return;
    case leak:
      EXPECT_TRUE(!f.exception(0s) && f.result(0s) == x + 1) << where;
      return;
    default:
      EXPECT_TRUE(!f.exception(0s) && f.result(0s) == x * 3) << where;
  }
}

class PoisonBatch : public ::testing::TestWithParam<cfutures::start_method> {};

TEST_P(PoisonBatch, EveryCallEndsAsItShouldAndNothingIsLeft) {
  if (GetParam() == cfutures::start_method::fork && forked_workers_can_hang) {
    GTEST_SKIP() << "a sanitizer's allocator is not fork-safe (stress_support.hpp)";
  }
  const long calls = count_from_env("CFUTURES_POISON_CALLS", long_form ? 20000 : sanitized ? 400 : 2000);
  conformance::nothing_left_behind clean;
  std::mt19937 rng(20261204);
  std::vector<int> kinds(static_cast<std::size_t>(calls), good);
  for (auto& k : kinds) {
    if (rng() % 100 < 5) {
      k = 1 + static_cast<int>(rng() % (poison_kinds - 1));
      if (sanitized && k == too_big) k = good;
    }
  }
  std::vector<cfutures::future<long>> futures;
  {
    cfutures::process_pool_options o{.max_workers = 2, .method = GetParam()};
    // The soft limit sits above what a fresh worker of this build holds (a sanitizer's
    // shadow memory included), below it plus one leak.
    const std::size_t fresh = cfutures::process_pool_executor(o).submit(&resident_bytes, 0).result();
    o.on_worker_death = cfutures::worker_death::fail_call;
    o.max_retries = 1;
    o.call_timeout = 60s;  // the pool's limit, which a good call never reaches
    o.max_worker_memory = fresh + (std::size_t{24} << 20);
    if (!sanitized) o.worker_memory_limit = std::size_t{256} << 20;
    cfutures::process_pool_executor pool(o);
    for (long i = 0; i < calls; ++i) {
      const int kind = kinds[static_cast<std::size_t>(i)];
      // A hang has its own, short limit (call_options override the pool's).
      futures.push_back(kind == hang ? pool.submit(cfutures::call_options{.timeout = 300ms},
                                                   &poisoned, kind, i)
                                     : pool.submit(&poisoned, kind, i));
    }
    for (auto& f : futures) (void)f.wait_for(300s);
  }
  for (long i = 0; i < calls; ++i) {
    const auto& f = futures[static_cast<std::size_t>(i)];
    ASSERT_TRUE(f.done()) << "call " << i << " did not end";
    check_outcome(kinds[static_cast<std::size_t>(i)], i, f);
  }
}

INSTANTIATE_TEST_SUITE_P(StartMethods, PoisonBatch,
                         ::testing::Values(cfutures::start_method::fork,
                                           cfutures::start_method::spawn,
                                           cfutures::start_method::forkserver),
                         [](const auto& info) { return conformance::method_name(info.param); });

}  // namespace
}  // namespace stress
