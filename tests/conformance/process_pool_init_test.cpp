// The process pool's initializer: CPython's test_init.py (InitializerMixin,
// FailingInitializerMixin), for both start methods. It runs first in every worker, takes
// arguments, and one that throws (a std type or a user type) or exits breaks the pool: every
// call fails with broken_process_pool carrying the initializer's error.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "process_pool_support.hpp"

namespace conformance {
namespace {

class ProcessPoolInitTest : public process_pool_test_base {};
CFUTURES_START_METHODS(ProcessPoolInitTest);

bool initialized = false;
int init_value = 0;
void init_mark(std::string dir) {
  create_file(dir + "/init_" + std::to_string(::getpid()));
  initialized = true;
}
void init_set_value(int v, std::string s) { init_value = v + static_cast<int>(s.size()); }
int read_init_value() { return init_value; }
// The pid of the worker once the gate opens, or -1 if its initializer had not run.
int initialized_pid(std::string started, std::string gate_path) {
  create_file(started);
  tasks::wait_for_file(std::move(gate_path));
  return initialized ? static_cast<int>(::getpid()) : -1;
}
struct config_error : std::exception {
  const char* what() const noexcept override { return "bad configuration"; }
};
void failing_init_user_type() { throw config_error(); }

TEST_P(ProcessPoolInitTest, InitializerRunsFirstInEveryWorker) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_options o = options(3);
  o.initializer = {&init_mark, scratch.dir()};
  process_pool_executor pool(o);
  gate g(scratch, "gate");
  std::vector<future<int>> fs;
  for (int i = 0; i < 3; ++i) {
    fs.push_back(
        pool.submit(initialized_pid, scratch.path("started_" + std::to_string(i)), g.path()));
  }
  ASSERT_TRUE(scratch.wait_for_count("started_", 3));
  g.open();
  std::set<int> pids;
  for (auto& f : fs) {
    const int pid = f.result(10s);
    EXPECT_GT(pid, 0) << "a call ran before its worker's initializer";
    pids.insert(pid);
    EXPECT_TRUE(scratch.exists("init_" + std::to_string(pid)));
  }
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_EQ(scratch.count("init_"), 3u);
}

TEST_P(ProcessPoolInitTest, InitializerArguments) {
  process_pool_options o = options(2);
  o.initializer = {&init_set_value, 40, std::string("ab")};
  process_pool_executor pool(o);
  EXPECT_EQ(pool.submit(read_init_value).result(10s), 42);
  process_pool_options plain = options(1);
  plain.initializer = &failing_init;  // `.initializer = &init` compiles
  EXPECT_TRUE(static_cast<bool>(plain.initializer));
  EXPECT_FALSE(static_cast<bool>(options(1).initializer));
}

// CPython's FailingInitializerMixin: every call fails with broken_process_pool carrying the
// initializer's error, and the pool stays broken.
void check_initializer_breaks_the_pool(process_pool_options o, const std::string& expect) {
  nothing_left_behind leaks;
  process_pool_executor pool(std::move(o));
  std::vector<future<int>> fs;
  for (int i = 0; i < 5; ++i) {
    try {
      fs.push_back(pool.submit(mul, i, 2));
    } catch (const cfutures::broken_process_pool&) {
      EXPECT_GT(i, 0) << "the very first submit was refused";
    }
  }
  ASSERT_FALSE(fs.empty());
  for (auto& f : fs) {
    const std::string what = broken_what(f);
    EXPECT_TRUE(contains(what, expect)) << what;
  }
  const std::string later = submit_broken_what([&] { (void)pool.submit(mul, 1, 2); });
  EXPECT_TRUE(contains(later, expect)) << later;
}

TEST_P(ProcessPoolInitTest, FailingInitializerBreaksThePool) {
  process_pool_options o = options(2);
  o.initializer = &failing_init;
  check_initializer_breaks_the_pool(std::move(o), "no database");
}

TEST_P(ProcessPoolInitTest, InitializerThrowingAUserTypeBreaksThePool) {
  process_pool_options o = options(2);
  o.initializer = &failing_init_user_type;
  check_initializer_breaks_the_pool(std::move(o), "bad configuration");
}

TEST_P(ProcessPoolInitTest, InitializerThatExitsBreaksThePool) {
  process_pool_options o = options(2);
  o.initializer = {&exit_with, 5};
  check_initializer_breaks_the_pool(std::move(o), "exited with code 5");
}

}  // namespace
}  // namespace conformance
