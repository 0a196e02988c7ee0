// <cfutures/process_pool_executor.hpp>: who dispatches and who receives (a submitter hands its
// call to an idle worker itself; threads waiting for the pool's futures receive replies),
// large values through shared blocks and direct decoding, and the executor destroyed from a
// callback. The process pool's Python behaviour is tested in tests/conformance
// (process_pool_*_test.cpp, split along CPython's test files, and the typed suite).
#include "cfutures/process_pool_executor.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cfutures/wait.hpp"
#include "patterned_bytes.hpp"

static_assert(cfutures::executor<cfutures::process_pool_executor>);

using namespace std::chrono_literals;
using cfutures::process_pool_executor;
using cfutures::process_pool_options;
using cfutures::start_method;

namespace {

int mul(int a, int b) { return a * b; }
std::string echo(std::string s) { return s; }
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
std::vector<std::string> echo_strings(std::vector<std::string> v) { return v; }
std::vector<std::byte> echo_bytes(std::vector<std::byte> v) { return v; }
std::vector<char> echo_chars(std::vector<char> v) { return v; }
std::vector<double> echo_doubles(std::vector<double> v) { return v; }
std::tuple<char, std::vector<double>> echo_after_char(char c, std::vector<double> v) {
  return {c, std::move(v)};
}
std::map<std::string, std::string> echo_map(std::map<std::string, std::string> m) { return m; }
std::tuple<std::string, int, std::string> echo_mixed(std::string a, int n, std::string b) {
  return {a, n, b};
}

// Shared blocks (payload.hpp) this process has mapped now, by memfd inode.
std::size_t mapped_blocks() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> inodes;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("cfutures-payload") == std::string::npos) continue;
    std::istringstream fields(line);
    std::string range, perms, offset, device, inode;
    fields >> range >> perms >> offset >> device >> inode;
    inodes.insert(inode);
  }
  return inodes.size();
}

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
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

// --- who dispatches and who receives (process_pool_core.hpp, "Who drives"): a submitter
// hands its call to an idle worker itself and queues it otherwise; threads waiting for the
// pool's futures receive replies themselves; large values come back exact through the shared
// blocks and the direct string decoding (direct_read.hpp).

// With a worker idle and the pool otherwise quiet, submit itself sends the call: it is
// running (and so no longer cancellable) when submit returns.
TEST_P(ProcessPool, SubmitHandsTheCallToAnIdleWorkerItself) {
  process_pool_executor pool(options(1));
  EXPECT_EQ(pool.submit(mul, 2, 3).result(10s), 6);  // the worker exists and is idle
  std::this_thread::sleep_for(20ms);                 // the manager is asleep
  auto f = pool.submit(sleep_ms, 300);
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.result(10s), 300);
}

// No worker idle: the call is queued for the manager, pending and cancellable, and the
// calls behind it still run once the worker is free.
TEST_P(ProcessPool, CallsQueueWhenNoWorkerIsIdle) {
  process_pool_executor pool(options(1));
  EXPECT_EQ(pool.submit(mul, 2, 3).result(10s), 6);
  std::this_thread::sleep_for(20ms);
  auto busy = pool.submit(sleep_ms, 300);
  EXPECT_TRUE(busy.running());
  auto dropped = pool.submit(mul, 6, 7);
  auto later = pool.submit(mul, 4, 5);
  EXPECT_FALSE(dropped.running());
  EXPECT_TRUE(dropped.cancel());
  EXPECT_EQ(later.result(10s), 20);
  EXPECT_EQ(busy.result(10s), 300);
  EXPECT_TRUE(dropped.cancelled());
}

// Done-callbacks run in the thread that received the reply: the manager thread, or a thread
// waiting for one of the pool's futures (here the test's own thread, which waits for every
// call as soon as it is submitted, so that it receives at least some of the replies).
TEST_P(ProcessPool, AWaitingThreadReceivesReplies) {
  std::mutex m;
  std::set<std::thread::id> threads;
  // Declared after what its callbacks use: its destructor waits for the last of them.
  process_pool_executor pool(options(1));
  for (int i = 0; i < 300; ++i) {
    auto f = pool.submit(mul, i, 2);
    f.add_done_callback([&](const cfutures::future<int>&) {
      std::lock_guard lock(m);
      threads.insert(std::this_thread::get_id());
    });
    ASSERT_EQ(f.result(10s), 2 * i);
  }
  pool.shutdown();
  std::lock_guard lock(m);
  EXPECT_TRUE(threads.count(std::this_thread::get_id()) == 1);
  EXPECT_LE(threads.size(), 2u) << "callbacks ran in a thread that is neither the manager "
                                   "nor the waiting thread";
}

// ...but not the replies of calls whose arguments crossed through shared memory: those are
// the manager's (one thread decodes the large values, from one warm malloc arena), even
// though the test's thread waits for each call at once, as above. (A callback added to a
// future already done runs at once in the adding thread: those runs are not counted.)
TEST_P(ProcessPool, LargeCallsRepliesAreReceivedByTheManager) {
  const std::string large = patterned(cfutures::detail::payload::inline_limit + 1, 3);
  std::mutex m;
  std::set<std::thread::id> threads;
  const std::thread::id main_thread = std::this_thread::get_id();
  std::atomic<bool> adding{false};  // the test's thread is in add_done_callback
  // Declared after what its callbacks use: its destructor waits for the last of them.
  process_pool_executor pool(options(1));
  for (int i = 0; i < 100; ++i) {
    auto f = pool.submit(echo, large);
    adding.store(true);
    f.add_done_callback([&](const cfutures::future<std::string>&) {
      if (adding && std::this_thread::get_id() == main_thread) return;
      std::lock_guard lock(m);
      threads.insert(std::this_thread::get_id());
    });
    adding.store(false);
    ASSERT_EQ(f.result(10s), large);
  }
  pool.shutdown();
  std::lock_guard lock(m);
  EXPECT_EQ(threads.count(main_thread), 0u);
  EXPECT_LE(threads.size(), 1u);
}

// wait() and as_completed() receive replies as result() does; every value arrives.
TEST_P(ProcessPool, WaitAndAsCompletedSeeEveryReply) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Workers are forked while this thread allocates (the futures' vector): under a sanitizer's
  // allocator, which is not fork-safe, a worker can hang (tests/stress/stress_support.hpp);
  // seen once under ASan, 12 replies missing. The spawn variant runs everywhere.
  if (GetParam() == start_method::fork) GTEST_SKIP() << "a sanitizer's allocator is not fork-safe";
#endif
  process_pool_executor pool(options(2));
  std::vector<cfutures::future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(pool.submit(mul, i, 3));
  const auto [done, not_done] = cfutures::wait(fs, 10s);
  EXPECT_EQ(done.size(), fs.size());
  EXPECT_TRUE(not_done.empty());
  std::vector<cfutures::future<int>> more;
  for (int i = 0; i < 50; ++i) more.push_back(pool.submit(mul, i, 5));
  int sum = 0;
  for (auto f : cfutures::as_completed(more, 10s)) sum += f.result();
  EXPECT_EQ(sum, 5 * 49 * 50 / 2);
}

// Strings of every size around the shared-memory threshold, with every byte value, come back
// exact, many times over (the blocks are reused, in both processes).
TEST_P(ProcessPool, LargeValuesRoundTripExactly) {
  process_pool_executor pool(options(1));
  const std::size_t limit = cfutures::detail::payload::inline_limit;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, limit - 16, limit, limit + 1,
                          std::size_t{(1 << 20) + 3}, std::size_t{(16 << 20) + 5}}) {
      const std::string s = patterned(n, static_cast<std::uint32_t>(n) + round);
      EXPECT_EQ(pool.submit(echo, s).result(30s), s) << n << " bytes, round " << round;
    }
  }
  std::vector<std::string> many;
  std::map<std::string, std::string> by_key;
  for (int i = 0; i < 6; ++i) {
    many.push_back(patterned(std::size_t{300000} * i, static_cast<std::uint32_t>(i)));
    by_key[patterned(40, static_cast<std::uint32_t>(i))] = many.back();
  }
  EXPECT_EQ(pool.submit(echo_strings, many).result(30s), many);
  EXPECT_EQ(pool.submit(echo_map, by_key).result(30s), by_key);
  const auto mixed = std::make_tuple(patterned(100000, 7), 42, patterned(3, 9));
  EXPECT_EQ(pool.submit(echo_mixed, std::get<0>(mixed), 42, std::get<2>(mixed)).result(30s), mixed);
}

// Contiguous vectors (direct_read.hpp) of every size around the threshold come back exact,
// also where their elements are misaligned in the payload (after a char).
TEST_P(ProcessPool, LargeVectorsRoundTripExactly) {
  process_pool_executor pool(options(1));
  const std::size_t limit = cfutures::detail::payload::inline_limit;
  for (int round = 0; round < 2; ++round) {
    for (std::size_t n :
         {std::size_t{0}, std::size_t{1}, limit - 16, limit + 1, std::size_t{(16 << 20) + 5}}) {
      const std::string s = patterned(n, static_cast<std::uint32_t>(n) + round);
      std::vector<std::byte> bytes(n);
      std::transform(s.begin(), s.end(), bytes.begin(), [](char c) { return std::byte(c); });
      const std::vector<char> chars(s.begin(), s.end());
      std::vector<double> doubles(n / 8);
      for (std::size_t i = 0; i < doubles.size(); ++i) doubles[i] = 0.5 * i + round;
      EXPECT_EQ(pool.submit(echo_bytes, bytes).result(30s), bytes) << n;
      EXPECT_EQ(pool.submit(echo_chars, chars).result(30s), chars) << n;
      EXPECT_EQ(pool.submit(echo_doubles, doubles).result(30s), doubles) << n;
      EXPECT_EQ(pool.submit(echo_after_char, 'c', doubles).result(30s),
                std::make_tuple('c', doubles))
          << n;
    }
  }
}

// A large echo ping-pongs one block: the worker encodes its result into the block that
// brought the argument, and the caller's next argument reuses it (payload.hpp).
TEST_P(ProcessPool, LargeEchoesShareOneBlock) {
  process_pool_executor pool(options(1));
  const std::string big = patterned(std::size_t{16} << 20, 1);
  for (int round = 0; round < 5; ++round) ASSERT_EQ(pool.submit(echo, big).result(30s), big);
  EXPECT_EQ(mapped_blocks(), 1u);
}

// After one large echo, the next ones find their memory warm in this process: the block,
// and heap for the decoded results, which the manager thread alone decodes (a waiting thread
// decoding one of them, from its own malloc arena, faulted its 16 MiB, 4096 pages, in).
TEST_P(ProcessPool, WarmLargeEchoesDoNotFaultPagesIn) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizer's allocator keeps its own heap (glibc's settings do not apply)";
#endif
  process_pool_executor pool(options(1));
  const std::string big(std::size_t{16} << 20, 'x');
  ASSERT_EQ(pool.submit(echo, big).result(30s).size(), big.size());
  const long before = minor_faults();
  for (int round = 0; round < 4; ++round) {
    ASSERT_EQ(pool.submit(echo, big).result(30s).size(), big.size());
  }
  EXPECT_LT(minor_faults() - before, 1024);
}

// A string whose length runs past the bytes read is an error, not an allocation of that size
// nor a read past the end.
TEST(ProcessPoolDirectRead, StringLengthPastTheEndIsAProtocolError) {
  cfutures::detail::payload bytes;
  cfutures::detail::write_values(bytes, std::string(100, 'a'));
  const std::string truncated(bytes.view().substr(0, 50));
  std::string out;
  EXPECT_THROW(cfutures::detail::read_values(truncated, out), cfutures::detail::protocol_error);
  std::string lying(truncated);
  lying[0] = '\xff';  // a length of about 2^8 more than there is
  EXPECT_THROW(cfutures::detail::read_values(lying, out), cfutures::detail::protocol_error);
}

// The executor destroyed by a done-callback, wherever it runs (in a waiting thread that
// drives the workers, it must not wait for the manager, which needs them back): no deadlock,
// and the workers are still reaped.
TEST_P(ProcessPool, ExecutorDestroyedInACallbackOfAWaitedFuture) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // It forks 20 workers in a row while the threads of the pools before may still allocate:
  // under a sanitizer's allocator, which is not fork-safe, a worker can hang
  // (tests/stress/stress_support.hpp). Seen once, a 300 s timeout under TSan.
  if (GetParam() == start_method::fork) GTEST_SKIP() << "a sanitizer's allocator is not fork-safe";
#endif
  for (int i = 0; i < 20; ++i) {
    auto pool = std::make_unique<process_pool_executor>(options(1));
    std::atomic<bool> destroyed{false};
    auto f = pool->submit(mul, i, 2);
    f.add_done_callback([&](const cfutures::future<int>&) {
      pool.reset();
      destroyed.store(true);
    });
    EXPECT_EQ(f.result(10s), 2 * i);
    while (!destroyed.load()) std::this_thread::sleep_for(1ms);
  }
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (has_children() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(has_children());
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPool,
                         testing::Values(start_method::fork, start_method::spawn,
                                         start_method::forkserver),
                         [](const auto& info) {
                           switch (info.param) {
                             case start_method::fork:
                               return "fork";
                             case start_method::spawn:
                               return "spawn";
                             case start_method::forkserver:
                               return "forkserver";
                           }
                           return "unknown";
                         });

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
