// shared_buffer<T>'s lifetime, over every start method: nothing is left behind — no memfd
// and no mapping in this process or a worker, no memory — after 1000 cycles, once the last
// handle is gone while workers keep a mapping cached, after a worker holding handles is
// killed, and after the pool is destroyed.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstring>

#include "process_pool_support.hpp"
#include "shared_buffer_tasks.hpp"

namespace {

using namespace sb_test;
using namespace std::chrono_literals;
using conformance::eventually;
using conformance::nothing_left_behind;
using conformance::process_pool_test_base;
using cfutures::process_pool_executor;

constexpr std::size_t big = std::size_t{256} << 20;
// Other processes of the machine change its shared memory too: a margin well under `big`.
constexpr long shmem_margin_kib = 64 << 10;

class SharedBufferLifetimeTest : public process_pool_test_base {};

// A buffer of `big` bytes whose pages all exist (so that the machine's Shmem shows them).
shared_buffer<char> touched_big_buffer() {
  shared_buffer<char> b(big);
  std::memset(b.data(), 1, b.size());
  return b;
}

TEST_P(SharedBufferLifetimeTest, NothingLeftAfter1000Cycles) {
  nothing_left_behind leaks;
  const long rss_before = rss_kib();
  {
    process_pool_executor pool(options(1));
    const pid_t worker = pool.submit(&worker_pid).result();
    for (int i = 0; i < 1000; ++i) {
      shared_buffer<char> b(64 << 10);
      b[0] = 1;
      shared_buffer<char> back = pool.submit(&touch, b).result();
      ASSERT_EQ(back.data(), b.data());
      ASSERT_EQ(b[0], 2);
    }
    for (int i = 0; i < 1000; ++i) {
      ASSERT_EQ(pool.submit(&make_iota, std::size_t{4096}).result()[4095], 4095.0);
    }
    // The pool lets go of a call's arguments a moment after its future completes.
    EXPECT_TRUE(eventually([&] { return buffer_fds() == 0; }, 5s)) << buffer_fds();
    EXPECT_TRUE(eventually([&] { return buffer_mappings() == 0; }, 5s)) << buffer_mappings();
    EXPECT_TRUE(eventually([&] { return buffer_mappings(worker) == 0; }, 5s))
        << buffer_mappings(worker) << " mappings left in the worker";
    EXPECT_TRUE(eventually([&] { return buffer_fds(worker) == 0; }, 5s));
  }
  EXPECT_LT(rss_kib() - rss_before, 64 << 10) << "KiB of resident memory gained";
}

TEST_P(SharedBufferLifetimeTest, WorkersLetGoOnceTheLastHandleIsGone) {
  nothing_left_behind leaks;
  process_pool_executor pool(options(1));
  const pid_t worker = pool.submit(&worker_pid).result();
  const long before = shmem_kib();
  {
    shared_buffer<char> b = touched_big_buffer();
    for (int i = 0; i < 3; ++i) (void)pool.submit(&touch, b).result();
#if !defined(__SANITIZE_THREAD__)  // no cache under ThreadSanitizer (shared_region.cpp)
    EXPECT_GE(buffer_mappings(worker), 1u) << "the worker keeps it mapped between calls";
#endif
  }
  EXPECT_TRUE(eventually([&] { return buffer_mappings() == 0; }, 5s)) << buffer_mappings();
  EXPECT_TRUE(eventually([&] { return buffer_mappings(worker) == 0; }, 5s));
  EXPECT_TRUE(eventually([&] { return shmem_kib() < before + shmem_margin_kib; }, 5s))
      << "Shmem " << before << " KiB before, " << shmem_kib() << " KiB now";
}

TEST_P(SharedBufferLifetimeTest, AKilledWorkerHoldingHandlesLeaksNothing) {
  nothing_left_behind leaks;
  const long before = shmem_kib();
  {
    process_pool_executor pool(options(1));
    shared_buffer<char> b = touched_big_buffer();
    const pid_t worker = pool.submit(&keep, b).result();  // the worker keeps a handle
    EXPECT_GE(buffer_fds(worker), 1u);
    ASSERT_EQ(::kill(worker, SIGKILL), 0);
    EXPECT_TRUE(eventually([&] { return ::kill(worker, 0) != 0 || buffer_fds(worker) == 0; }));
  }
  EXPECT_TRUE(eventually([&] { return shmem_kib() < before + shmem_margin_kib; }, 5s))
      << "Shmem " << before << " KiB before, " << shmem_kib() << " KiB now";
}

TEST_P(SharedBufferLifetimeTest, NothingLeftAfterThePoolIsDestroyed) {
  nothing_left_behind leaks;
  const long before = shmem_kib();
  shared_buffer<char> b = touched_big_buffer();
  {
    process_pool_executor pool(options(2));
    for (int i = 0; i < 4; ++i) (void)pool.submit(&keep, b).result();
  }
  EXPECT_EQ(buffer_fds(), 1u);  // this process's own handle
  b = shared_buffer<char>();
  EXPECT_EQ(buffer_fds(), 0u);
  EXPECT_EQ(buffer_mappings(), 0u);
  EXPECT_TRUE(eventually([&] { return shmem_kib() < before + shmem_margin_kib; }, 5s))
      << "Shmem " << before << " KiB before, " << shmem_kib() << " KiB now";
}

// A buffer alive when a worker is forked is not inherited by it: the worker holds only what
// it is sent (as with spawn), so dropping the last handle here frees the memory at once.
TEST_P(SharedBufferLifetimeTest, WorkersDoNotInheritBuffers) {
  nothing_left_behind leaks;
  const long before = shmem_kib();
  process_pool_executor pool(options(1));
  shared_buffer<char> b = touched_big_buffer();
  const pid_t worker = pool.submit(&worker_pid).result();  // started (forked) now
  EXPECT_EQ(buffer_fds(worker), 0u);
  EXPECT_EQ(buffer_mappings(worker), 0u);
  b = shared_buffer<char>();
  EXPECT_TRUE(eventually([&] { return shmem_kib() < before + shmem_margin_kib; }, 5s));
}

CFUTURES_START_METHODS(SharedBufferLifetimeTest);

}  // namespace
