#include "cfutures/process_pool_executor.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cfutures/wait.hpp"

using namespace std::chrono_literals;
using cfutures::process_pool_executor;
using cfutures::process_pool_options;
using cfutures::start_method;

namespace {

int mul(int a, int b) { return a * b; }
int get_pid() { return static_cast<int>(getpid()); }
std::string echo(std::string s) { return s; }
void nothing() {}
int raise_out_of_range(int) { throw std::out_of_range("index 7"); }
struct custom_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
int raise_custom() { throw custom_error("custom what"); }
int raise_int() { throw 42; }
int die_by(int sig) {
  if (sig == 0) _exit(3);
  if (sig == SIGABRT) std::abort();
  kill(getpid(), sig);
  std::this_thread::sleep_for(10s);
  return 0;
}
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int init_value = 0;
void set_init_value(int v) { init_value = v; }
int read_init_value() { return init_value; }
void failing_init() { throw std::runtime_error("no database"); }

std::size_t open_fds() {
  std::size_t n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

bool has_children() { return waitpid(-1, nullptr, WNOHANG) != -1 || errno != ECHILD; }

class ProcessPool : public testing::TestWithParam<start_method> {
 protected:
  process_pool_options options(std::size_t workers) {
    process_pool_options o;
    o.max_workers = workers;
    o.method = GetParam();
    return o;
  }
};

}  // namespace

TEST_P(ProcessPool, SubmitRunsInAnotherProcess) {
  process_pool_executor pool(options(2));
  EXPECT_EQ(pool.submit(mul, 6, 7).result(10s), 42);
  EXPECT_NE(pool.submit(get_pid).result(10s), static_cast<int>(getpid()));
  EXPECT_EQ(pool.submit(echo, std::string("hello")).result(10s), "hello");
  pool.submit(nothing).result(10s);
  EXPECT_EQ(pool.submit([](int x) { return x + 1; }, 1).result(10s), 2);
}

TEST_P(ProcessPool, ExceptionsKeepTheirTypeOrBecomeRemoteError) {
  process_pool_executor pool(options(1));
  EXPECT_THROW(pool.submit(raise_out_of_range, 1).result(10s), std::out_of_range);
  try {
    pool.submit(raise_custom).result(10s);
    FAIL();
  } catch (const cfutures::remote_error& e) {
    EXPECT_STREQ(e.what(), "custom what");
    EXPECT_NE(e.type_name().find("custom_error"), std::string::npos);
  }
  try {
    pool.submit(raise_int).result(10s);
    FAIL();
  } catch (const cfutures::remote_error& e) {
    EXPECT_EQ(e.type_name(), "int");
  }
}

TEST_P(ProcessPool, BigArgumentsAndResults) {
  process_pool_executor pool(options(1));
  std::string big(16 << 20, 'x');
  big[12345] = 'y';
  EXPECT_EQ(pool.submit(echo, big).result(30s), big);
}

TEST_P(ProcessPool, MapWithChunks) {
  process_pool_executor pool(options(2));
  std::vector<int> a(100), b(100);
  for (int i = 0; i < 100; ++i) a[i] = i, b[i] = 2;
  auto out = pool.map(mul, a, b, cfutures::map_options{.chunksize = 7}).to_vector();
  ASSERT_EQ(out.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(out[i], 2 * i);
}

TEST_P(ProcessPool, WorkerKilledBreaksThePool) {
  for (int sig : {SIGKILL, SIGSEGV, SIGABRT, 0}) {
    process_pool_executor pool(options(2));
    auto f = pool.submit(die_by, sig);
    try {
      f.result(20s);
      FAIL() << "expected broken_process_pool";
    } catch (const cfutures::broken_process_pool& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("worker process"), std::string::npos) << what;
      if (sig == 0) EXPECT_NE(what.find("exited with code 3"), std::string::npos) << what;
      if (sig == SIGKILL) EXPECT_NE(what.find("SIGKILL"), std::string::npos) << what;
    }
    EXPECT_THROW(pool.submit(mul, 1, 1), cfutures::broken_process_pool);
  }
  EXPECT_FALSE(has_children());
}

TEST_P(ProcessPool, InitializerRunsInEveryWorker) {
  process_pool_options o = options(2);
  o.initializer = {&set_init_value, 17};
  process_pool_executor pool(o);
  EXPECT_EQ(pool.submit(read_init_value).result(10s), 17);
}

TEST_P(ProcessPool, FailingInitializerBreaksThePool) {
  process_pool_options o = options(1);
  o.initializer = &failing_init;
  process_pool_executor pool(o);
  auto f = pool.submit(mul, 1, 2);
  try {
    f.result(20s);
    FAIL();
  } catch (const cfutures::broken_process_pool& e) {
    EXPECT_NE(std::string(e.what()).find("no database"), std::string::npos) << e.what();
  }
}

TEST_P(ProcessPool, MaxTasksPerChildReplacesWorkers) {
  process_pool_options o = options(1);
  o.max_tasks_per_child = 1;
  process_pool_executor pool(o);
  std::set<int> pids;
  for (int i = 0; i < 4; ++i) pids.insert(pool.submit(get_pid).result(20s));
  EXPECT_EQ(pids.size(), 4u);
}

TEST_P(ProcessPool, QueuedCallsAreCancellableNotRunning) {
  process_pool_executor pool(options(1));
  auto first = pool.submit(sleep_ms, 300);
  std::vector<cfutures::future<int>> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(pool.submit(sleep_ms, 1));
  for (auto& f : queued) EXPECT_FALSE(f.running());
  EXPECT_TRUE(queued.back().cancel());
  EXPECT_EQ(first.result(20s), 300);
  EXPECT_EQ(queued[0].result(20s), 1);
}

TEST_P(ProcessPool, KillWorkersFailsRunningCalls) {
  process_pool_executor pool(options(2));
  auto f = pool.submit(sleep_ms, 5000);
  std::this_thread::sleep_for(300ms);
  pool.kill_workers();
  EXPECT_THROW(f.result(20s), cfutures::broken_process_pool);
}

TEST_P(ProcessPool, NothingLeftBehind) {
  const std::size_t fds = open_fds();
  {
    process_pool_executor pool(options(3));
    std::vector<cfutures::future<int>> fs;
    for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(mul, i, i));
    for (auto& f : fs) f.result(20s);
  }
  EXPECT_FALSE(has_children());
  EXPECT_EQ(open_fds(), fds);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPool,
                         testing::Values(start_method::fork, start_method::spawn),
                         [](const auto& info) {
                           return info.param == start_method::fork ? "fork" : "spawn";
                         });

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
