// tests/conformance/executor_traits.hpp — the typed-suite machinery.
//
// The conformance suite is CPython's test_concurrent_futures, run against every cfutures
// executor. Each executor has a traits type:
//
//   struct X_traits {
//     using executor_type = ...;                      // the executor class
//     static std::string name();                      // the gtest type-parameter name
//     static std::unique_ptr<executor_type> make(std::size_t workers);
//   };
//
// and `executor_types` lists them. A typed suite derives its fixture from
// executor_test_base<Traits> and writes
//
//   TYPED_TEST_SUITE(SomeTest, conformance::executor_types, conformance::executor_names);
//
// The suite runs against the thread pool and the process pool with every start method
// (fork, spawn, forkserver); adding an executor means adding a traits type to `executor_types`. Every
// task a typed test submits is a plain function from tasks.hpp (or a captureless lambda)
// taking and returning serializable values — the process pools run it in another process —
// and cross-task coordination goes through files (test_support.hpp). Tests that need shared
// memory, or that check what only threads do, belong in thread_pool_test.cpp; what only
// processes do, in process_pool_test.cpp.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <cfutures/cfutures.hpp>

#include "tasks.hpp"
#include "test_support.hpp"
#ifdef CONFORMANCE_EXECUTORS_HEADER
#include CONFORMANCE_EXECUTORS_HEADER
#endif

namespace conformance {

struct thread_pool_traits {
  using executor_type = cfutures::thread_pool_executor;
  static std::string name() { return "thread_pool"; }
  static std::unique_ptr<executor_type> make(std::size_t workers) {
    return std::make_unique<executor_type>(workers);
  }
};

// The process pool, once per start method. Its workers are processes of the test binary,
// whose main() (main.cpp) calls serve_if_worker first, as spawn and forkserver require.
template <cfutures::start_method Method>
struct process_pool_traits {
  using executor_type = cfutures::process_pool_executor;
  static std::string name() {
    switch (Method) {
      case cfutures::start_method::fork:
        return "process_pool_fork";
      case cfutures::start_method::spawn:
        return "process_pool_spawn";
      case cfutures::start_method::forkserver:
        return "process_pool_forkserver";
    }
    return "process_pool";
  }
  static std::unique_ptr<executor_type> make(std::size_t workers) {
    return std::make_unique<executor_type>(
        cfutures::process_pool_options{.max_workers = workers, .method = Method});
  }
};
using process_pool_fork_traits = process_pool_traits<cfutures::start_method::fork>;
using process_pool_spawn_traits = process_pool_traits<cfutures::start_method::spawn>;
using process_pool_forkserver_traits = process_pool_traits<cfutures::start_method::forkserver>;

// The executors every typed suite runs against. Another test binary may compile the typed
// suites against executors of its own (tests/mpi): it defines CONFORMANCE_EXECUTORS_HEADER,
// a header that declares conformance::executor_types instead. Without the fork pool where
// forked workers can hang (test_support.hpp).
#ifndef CONFORMANCE_EXECUTORS_HEADER
#if CFUTURES_FORKED_WORKERS_CAN_HANG
using executor_types = ::testing::Types<thread_pool_traits, process_pool_spawn_traits,
                                        process_pool_forkserver_traits>;
#else
using executor_types = ::testing::Types<thread_pool_traits, process_pool_fork_traits,
                                        process_pool_spawn_traits, process_pool_forkserver_traits>;
#endif
#endif

// An executor whose size is fixed elsewhere (an MPI communicator's) declares its traits'
// worker_count; the others get 5 workers, CPython's default in these tests.
template <class Traits>
constexpr std::size_t worker_count_of() {
  if constexpr (requires { Traits::worker_count; }) {
    return Traits::worker_count;
  } else {
    return 5;
  }
}

struct executor_names {
  template <class Traits>
  static std::string GetName(int) {
    return Traits::name();
  }
};

// CPython's ExecutorMixin: a fresh executor of `worker_count` workers per test, shut down
// (waiting) after it, and a scratch directory that outlives the executor.
template <class Traits>
class executor_test_base : public ::testing::Test {
 protected:
  using traits = Traits;
  using executor_type = typename Traits::executor_type;
  static constexpr std::size_t worker_count = worker_count_of<Traits>();

  void TearDown() override {
    if (executor) executor->shutdown({.wait = true});
    EXPECT_LT(elapsed_since(t0_), 30s) << "synchronization issue: test lasted too long";
  }

  // Occupies every worker with a call that waits on `g`; returns once all of them have
  // started (so later submissions stay queued until `g` opens). Each blocker returns 0.
  std::vector<cfutures::future<int>> block_all_workers(const gate& g,
                                                       std::string_view tag = "blocker_") {
    std::vector<cfutures::future<int>> blockers;
    for (std::size_t i = 0; i < worker_count; ++i) {
      blockers.push_back(executor->submit(tasks::signal_and_wait,
                                          scratch.path(std::string(tag) + std::to_string(i)),
                                          g.path()));
    }
    EXPECT_TRUE(scratch.wait_for_count(tag, worker_count))
        << "the " << worker_count << " workers did not all start a call";
    return blockers;
  }

  scratch_dir scratch;  // declared first: destroyed after the executor
  std::unique_ptr<executor_type> executor = Traits::make(worker_count);

 private:
  steady::time_point t0_ = steady::now();
};

}  // namespace conformance
