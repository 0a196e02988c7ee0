#include "cfutures/thread_pool_executor.hpp"

#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <latch>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cfutures/wait.hpp"

using namespace std::chrono_literals;
using cfutures::thread_pool_executor;
using cfutures::thread_pool_options;

static_assert(cfutures::executor<thread_pool_executor>);

namespace concept_check {
// Not executors: a type without shutdown, and one whose shutdown may throw.
struct without_shutdown {
  cfutures::future<int> submit(int (*)());
  std::vector<int> map(int (*)(int), const std::vector<int>&);
  std::size_t max_workers() const noexcept;
};
struct throwing_shutdown : without_shutdown {
  void shutdown(cfutures::shutdown_options);
};
struct complete : without_shutdown {
  void shutdown(cfutures::shutdown_options) noexcept;
};
static_assert(!cfutures::executor<without_shutdown>);
static_assert(!cfutures::executor<throwing_shutdown>);
static_assert(cfutures::executor<complete>);
static_assert(!cfutures::executor<int>);
}  // namespace concept_check

namespace {

std::vector<std::string> thread_names() {
  std::vector<std::string> names;
  DIR* dir = opendir("/proc/self/task");
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    names.push_back(name);
  }
  closedir(dir);
  return names;
}

// Threads whose name starts with `prefix` (sanitizers start threads of their own, so
// counting all of them is not reliable).
std::size_t thread_count(const std::string& prefix) {
  std::size_t n = 0;
  for (const auto& name : thread_names()) n += name.rfind(prefix, 0) == 0;
  return n;
}

int mul(int a, int b) { return a * b; }

}  // namespace

TEST(ThreadPool, SubmitReturnsResult) {
  thread_pool_executor pool(2);
  EXPECT_EQ(pool.submit(mul, 6, 7).result(), 42);
  EXPECT_EQ(pool.submit([] { return std::string("hi"); }).result(), "hi");
  pool.submit([] {}).result();
}

TEST(ThreadPool, DefaultMaxWorkersFollowsPython) {
  thread_pool_executor pool;
  const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(pool.max_workers(), std::min<std::size_t>(32, cpus + 4));
}

TEST(ThreadPool, ZeroWorkersIsInvalid) {
  EXPECT_THROW(thread_pool_executor(0), std::invalid_argument);
  EXPECT_THROW(thread_pool_executor(thread_pool_options{.max_workers = 0}), std::invalid_argument);
}

TEST(ThreadPool, ArgumentsAreDecayCopiedAtSubmit) {
  thread_pool_executor pool(1);
  std::string s = "before";
  auto f = pool.submit([](const std::string& v) { return v; }, s);
  s = "after";
  EXPECT_EQ(f.result(), "before");
}

TEST(ThreadPool, MoveOnlyArgumentsAndResults) {
  thread_pool_executor pool(1);
  auto f = pool.submit([](std::unique_ptr<int> p) { return p; }, std::make_unique<int>(5));
  EXPECT_EQ(*std::move(f).result(), 5);
}

TEST(ThreadPool, ReferenceResultIsCopied) {
  static const std::string kept = "kept";
  thread_pool_executor pool(1);
  auto f = pool.submit([]() -> const std::string& { return kept; });
  static_assert(std::is_same_v<decltype(f), cfutures::future<std::string>>);
  EXPECT_EQ(f.result(), "kept");
}

TEST(ThreadPool, ExceptionReachesResult) {
  thread_pool_executor pool(1);
  auto f = pool.submit([]() -> int { throw std::logic_error("bad"); });
  EXPECT_THROW(f.result(), std::logic_error);
}

TEST(ThreadPool, ThreeSleepsOnThreeWorkersRunConcurrently) {
  thread_pool_executor pool(3);
  const auto start = std::chrono::steady_clock::now();
  std::vector<cfutures::future<void>> fs;
  for (int i = 0; i < 3; ++i) fs.push_back(pool.submit([] { std::this_thread::sleep_for(200ms); }));
  for (auto& f : fs) f.result();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 550ms);
}

TEST(ThreadPool, IdleWorkerIsReused) {
  thread_pool_executor pool({.max_workers = 8, .thread_name_prefix = "reuse"});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pool.submit(mul, i, 2).result(), 2 * i);
  EXPECT_EQ(thread_count("reuse_"), 1u);
}

TEST(ThreadPool, WorkersAreNamedWithPrefix) {
  std::set<std::string> names;
  {
    thread_pool_executor pool({.max_workers = 2, .thread_name_prefix = "tpx"});
    std::latch both(2);
    auto f1 = pool.submit([&] {
      both.arrive_and_wait();
      return thread_names();
    });
    auto f2 = pool.submit([&] { both.arrive_and_wait(); });
    for (auto& n : f1.result()) names.insert(n);
    f2.result();
  }
  EXPECT_TRUE(names.count("tpx_0"));
  EXPECT_TRUE(names.count("tpx_1"));
}

TEST(ThreadPool, DefaultPrefixIsCfutures) {
  thread_pool_executor pool(1);
  pool.submit([] {}).result();
  std::set<std::string> names;
  for (auto& n : thread_names()) names.insert(n);
  EXPECT_TRUE(names.count("cfutures_0"));
}

TEST(ThreadPool, InitializerRunsInEveryWorker) {
  std::atomic<int> inits{0};
  {
    thread_pool_executor pool({.max_workers = 3, .initializer = [&] { ++inits; }});
    std::latch all(3);
    std::vector<cfutures::future<void>> fs;
    for (int i = 0; i < 3; ++i) fs.push_back(pool.submit([&] { all.arrive_and_wait(); }));
    for (auto& f : fs) f.result();
  }
  EXPECT_EQ(inits.load(), 3);
}

TEST(ThreadPool, FailingInitializerBreaksThePool) {
  thread_pool_executor pool(
      {.max_workers = 2, .initializer = [] { throw std::runtime_error("init failed"); }});
  auto f = pool.submit(mul, 1, 2);
  EXPECT_THROW(f.result(5s), cfutures::broken_thread_pool);
  try {
    f.result();
  } catch (const cfutures::broken_thread_pool& e) {
    EXPECT_NE(std::string(e.what()).find("initializer failed"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("init failed"), std::string::npos);
  }
  EXPECT_THROW(pool.submit(mul, 1, 2), cfutures::broken_thread_pool);
  EXPECT_THROW(pool.submit(mul, 1, 2), cfutures::broken_executor);
}

TEST(ThreadPool, SubmitAfterShutdownThrows) {
  thread_pool_executor pool(1);
  pool.shutdown();
  try {
    pool.submit(mul, 1, 2);
    FAIL() << "submit after shutdown must throw";
  } catch (const cfutures::shutdown_error& e) {
    EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
  }
}

TEST(ThreadPool, ShutdownRunsQueuedWork) {
  std::atomic<int> ran{0};
  {
    thread_pool_executor pool(1);
    for (int i = 0; i < 10; ++i)
      pool.submit([&] {
        std::this_thread::sleep_for(1ms);
        ++ran;
      });
    pool.shutdown({.wait = false});
  }
  EXPECT_EQ(ran.load(), 10);
}

TEST(ThreadPool, ShutdownCancelFuturesCancelsQueued) {
  thread_pool_executor pool(1);
  std::latch started(1);
  std::atomic<bool> release{false};
  auto running = pool.submit([&] {
    started.count_down();
    while (!release) std::this_thread::sleep_for(1ms);
  });
  started.wait();
  std::vector<cfutures::future<int>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(pool.submit(mul, i, i));
  pool.shutdown({.wait = false, .cancel_futures = true});
  for (auto& f : queued) EXPECT_TRUE(f.cancelled());
  release = true;
  running.result();
  pool.shutdown();
}

TEST(ThreadPool, StopTokenTaskStopsOnRequest) {
  thread_pool_executor pool(1);
  std::latch started(1);
  auto f = pool.submit(
      [&](std::stop_token st, int step) {
        started.count_down();
        int n = 0;
        while (!st.stop_requested()) {
          n += step;
          std::this_thread::sleep_for(1ms);
        }
        return n;
      },
      1);
  started.wait();
  EXPECT_TRUE(f.request_stop());
  EXPECT_GE(f.result(5s), 0);
}

TEST(ThreadPool, ShutdownCancelFuturesRequestsStop) {
  thread_pool_executor pool(1);
  std::latch started(1);
  auto f = pool.submit([&](std::stop_token st) {
    started.count_down();
    while (!st.stop_requested()) std::this_thread::sleep_for(1ms);
    return true;
  });
  started.wait();
  pool.shutdown({.wait = true, .cancel_futures = true});
  EXPECT_TRUE(f.result(0s));
}

TEST(ThreadPool, PlainTaskDoesNotAcceptStop) {
  thread_pool_executor pool(1);
  auto f = pool.submit([] { return 1; });
  f.result();
  EXPECT_FALSE(f.request_stop());
}

TEST(ThreadPool, MaxPendingBlocksSubmit) {
  thread_pool_executor pool({.max_workers = 1, .max_pending = 2});
  std::latch started(1);
  std::atomic<bool> release{false};
  auto blocker = pool.submit([&] {
    started.count_down();
    while (!release) std::this_thread::sleep_for(1ms);
  });
  started.wait();
  pool.submit([] {});
  pool.submit([] {});
  std::atomic<bool> third_submitted{false};
  std::thread submitter([&] {
    pool.submit([] {});
    third_submitted = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(third_submitted.load());
  release = true;
  submitter.join();
  EXPECT_TRUE(third_submitted.load());
  blocker.result();
}

TEST(ThreadPool, MaxPendingNeverBlocksOwnWorker) {
  thread_pool_executor pool({.max_workers = 1, .max_pending = 1});
  auto outer = pool.submit([&pool] {
    std::vector<cfutures::future<int>> inner;
    for (int i = 0; i < 5; ++i) inner.push_back(pool.submit(mul, i, 1));
    return inner;
  });
  auto inner = outer.result(5s);
  int sum = 0;
  for (auto& f : inner) sum += f.result(5s);
  EXPECT_EQ(sum, 10);
}

TEST(ThreadPool, ShutdownFromOwnWorkerDoesNotDeadlock) {
  auto pool = std::make_unique<thread_pool_executor>(2);
  auto f = pool->submit([p = pool.get()] {
    p->shutdown({.wait = true});
    return 1;
  });
  EXPECT_EQ(f.result(5s), 1);
  pool.reset();
}

TEST(ThreadPool, NoWorkerOutlivesItsExecutor) {
  {
    thread_pool_executor pool({.max_workers = 4, .thread_name_prefix = "outlive"});
    std::latch all(4);
    std::vector<cfutures::future<void>> fs;
    for (int i = 0; i < 4; ++i) fs.push_back(pool.submit([&] { all.arrive_and_wait(); }));
    for (auto& f : fs) f.result();
    EXPECT_EQ(thread_count("outlive_"), 4u);
  }
  // A joined thread can still be listed in /proc for a moment: the kernel wakes the joiner
  // before it removes the thread, and on a loaded machine the exiting thread may be preempted
  // in between. A worker that was never joined stays listed.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (thread_count("outlive_") != 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(thread_count("outlive_"), 0u);
}

TEST(ThreadPool, MapKeepsInputOrder) {
  thread_pool_executor pool(4);
  std::vector<int> in{5, 1, 4, 2, 3};
  auto out = pool.map(
                     [](int x) {
                       std::this_thread::sleep_for(std::chrono::milliseconds(x * 5));
                       return x * 10;
                     },
                     in)
                 .to_vector();
  EXPECT_EQ(out, (std::vector<int>{50, 10, 40, 20, 30}));
}

TEST(ThreadPool, MapZipsSeveralRangesToTheShortest) {
  thread_pool_executor pool(2);
  std::vector<int> a{1, 2, 3};
  std::vector<int> b{10, 20};
  EXPECT_EQ(pool.map(mul, a, b).to_vector(), (std::vector<int>{10, 40}));
}

TEST(ThreadPool, MapOfVoidYieldsMonostate) {
  thread_pool_executor pool(2);
  std::atomic<int> sum{0};
  auto out = pool.map([&](int x) { sum += x; }, std::vector<int>{1, 2, 3}).to_vector();
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(sum.load(), 6);
}

TEST(ThreadPool, MapRethrowsAtPosition) {
  thread_pool_executor pool(2);
  std::vector<int> in{1, 2, 0, 4};
  auto results = pool.map(
      [](int x) {
        if (x == 0) throw std::domain_error("zero");
        return 10 / x;
      },
      in);
  auto it = results.begin();
  EXPECT_EQ(*it, 10);
  ++it;
  EXPECT_EQ(*it, 5);
  ++it;
  EXPECT_THROW(*it, std::domain_error);
  EXPECT_TRUE(it == results.end());
}

TEST(ThreadPool, MapTimeoutIsMeasuredFromTheCall) {
  thread_pool_executor pool(2);
  auto results = pool.map(
      [](int ms) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        return ms;
      },
      std::vector<int>{0, 700}, cfutures::map_options{.timeout = 100ms});
  auto it = results.begin();
  EXPECT_EQ(*it, 0);
  ++it;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(*it, cfutures::timeout_error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 600ms);
}

TEST(ThreadPool, MapBufferSizeBoundsCallsInFlight) {
  thread_pool_executor pool(4);
  std::atomic<int> started{0};
  std::vector<int> in(20);
  auto results =
      pool.map([&](int) { return ++started; }, in, cfutures::map_options{.buffersize = 2});
  std::this_thread::sleep_for(50ms);
  EXPECT_LE(started.load(), 2);
  int consumed = 0;
  for (int v : results) {
    (void)v;
    ++consumed;
    EXPECT_LE(started.load(), consumed + 2);
  }
  EXPECT_EQ(consumed, 20);
}

TEST(ThreadPool, MapInvalidOptionsThrow) {
  thread_pool_executor pool(1);
  std::vector<int> in{1};
  EXPECT_THROW(pool.map(mul, in, in, cfutures::map_options{.chunksize = 0}), std::invalid_argument);
  EXPECT_THROW(pool.map(mul, in, in, cfutures::map_options{.buffersize = 0}),
               std::invalid_argument);
}

TEST(ThreadPool, DestroyingMapEarlyCancelsUnstartedCalls) {
  thread_pool_executor pool(1);
  std::atomic<int> ran{0};
  {
    auto results = pool.map(
        [&](int) {
          std::this_thread::sleep_for(20ms);
          ++ran;
          return 0;
        },
        std::vector<int>(10));
    auto it = results.begin();
    (void)*it;
  }
  pool.shutdown();
  EXPECT_LT(ran.load(), 10);
}

TEST(ThreadPool, CallbackRunsInWorkerThread) {
  thread_pool_executor pool(1);
  std::latch go(1);
  auto f = pool.submit([&] {
    go.wait();
    return 1;
  });
  std::atomic<bool> in_other_thread{false};
  const auto self = std::this_thread::get_id();
  std::latch called(1);
  f.add_done_callback([&](const cfutures::future<int>&) {
    in_other_thread = std::this_thread::get_id() != self;
    called.count_down();
  });
  go.count_down();
  called.wait();
  EXPECT_TRUE(in_other_thread.load());
}
