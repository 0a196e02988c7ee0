// shared_buffer<T> across a process pool, over every start method: elements cross without
// copying in both directions (writes seen on both sides, handles aliasing), zero-initialised
// and from() buffers, empty ones, struct and container members, and several threads sending
// their own buffers at once. (In one process: tests/unit/shared_buffer_test.cpp.)
#include <gtest/gtest.h>

#include <thread>

#include "process_pool_support.hpp"
#include "shared_buffer_tasks.hpp"

namespace {

using namespace sb_test;
using conformance::nothing_left_behind;
using conformance::process_pool_test_base;
using conformance::start_method;
using cfutures::process_pool_executor;

class SharedBufferTest : public process_pool_test_base {};

TEST_P(SharedBufferTest, WritesInAWorkerAreSeenHere) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(2));
    shared_buffer<int> b(1 << 20);  // 4 MiB: would cross as bytes if it were a vector
    pool.submit(&fill, b, 5).result();
    EXPECT_TRUE(std::all_of(b.begin(), b.end(), [](int x) { return x == 5; }));
    // And writes here are seen there, on the next call.
    b[0] = 1000;
    auto doubles = shared_buffer<double>::from(std::vector<double>(1000, 0.5));
    EXPECT_DOUBLE_EQ(pool.submit(&sum, doubles).result(), 500.0);
    doubles[999] = 100.5;
    EXPECT_DOUBLE_EQ(pool.submit(&sum, doubles).result(), 600.0);
  }
}

TEST_P(SharedBufferTest, AWorkerCreatesAndReturnsOne) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(1));
    shared_buffer<double> b = pool.submit(&make_iota, std::size_t{1} << 20).result();
    ASSERT_EQ(b.size(), std::size_t{1} << 20);
    EXPECT_EQ(b[12345], 12345.0);
    // Back to a worker, and the same memory comes back: the same mapping here.
    EXPECT_DOUBLE_EQ(pool.submit(&sum_slice, b, std::size_t{0}, std::size_t{4}).result(), 6.0);
  }
}

TEST_P(SharedBufferTest, ReturnedHandlesAliasTheSentOnes) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(1));
    shared_buffer<int> b(64);
    shared_buffer<int> back = pool.submit(&same, b).result();
    EXPECT_EQ(back.data(), b.data());
    EXPECT_EQ(back.size(), b.size());
    EXPECT_TRUE(pool.submit(&aliased, b, b).result());
    EXPECT_FALSE(pool.submit(&aliased, b, shared_buffer<int>(64)).result());
  }
}

TEST_P(SharedBufferTest, EmptyAndZeroInitialisedCross) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(1));
    EXPECT_EQ(pool.submit(&size_of, shared_buffer<int>()).result(), 0u);
    EXPECT_TRUE(pool.submit(&all_zero, shared_buffer<std::uint64_t>(100000)).result());
    EXPECT_TRUE(pool.submit(&same, shared_buffer<int>()).result().empty());
  }
}

TEST_P(SharedBufferTest, StructsOfPlainDataAsElements) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(1));
    shared_buffer<particle> ps(1000);
    for (std::size_t i = 0; i < ps.size(); ++i) ps[i] = {1.0, 2.0, 3.0, static_cast<int>(i)};
    EXPECT_DOUBLE_EQ(pool.submit(&total_x, ps).result(), 1000.0);
  }
}

TEST_P(SharedBufferTest, AsAStructMember) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(1));
    job j{"weights", shared_buffer<float>::from(std::vector<float>{1, 2, 3}), 10};
    job out = pool.submit(&scale_job, j).result();
    EXPECT_EQ(out.name, "weights scaled");
    EXPECT_EQ(out.values.data(), j.values.data());
    EXPECT_EQ(j.values[2], 30.0f);  // scaled in place, in the worker
  }
}

TEST_P(SharedBufferTest, InsideContainers) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(1));
    std::vector<shared_buffer<int>> bs{shared_buffer<int>(3), shared_buffer<int>(5),
                                       shared_buffer<int>(), shared_buffer<int>(7)};
    bs.push_back(bs[0]);  // the same buffer twice in one value
    EXPECT_EQ(pool.submit(&sizes, bs).result(), (std::vector<std::size_t>{3, 5, 0, 7, 3}));
    auto whole = shared_buffer<int>::from(std::vector<int>{1, 2, 3, 4, 5});
    auto parts = pool.submit(&split, whole).result();
    EXPECT_EQ(std::vector<int>(parts["low"].begin(), parts["low"].end()), (std::vector<int>{1, 2}));
    EXPECT_EQ(parts["high"].size(), 3u);
    EXPECT_EQ(parts["all"].data(), whole.data());
    shared_buffer<int> a(4);
    shared_buffer<int> b(1);
    auto [n, a2, b2] =
        pool.submit(&nested, std::make_tuple(3, a, std::optional<shared_buffer<int>>(b))).result();
    EXPECT_EQ(n, 3);
    EXPECT_EQ(a[0], 3);
    EXPECT_EQ(b[0], -1);
    EXPECT_EQ(a2.data(), a.data());
  }
}

TEST_P(SharedBufferTest, ManyCallsShareOneBuffer) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(2));
    const std::size_t n = std::size_t{1} << 20;
    shared_buffer<double> b(n);
    std::iota(b.begin(), b.end(), 0.0);
    std::vector<cfutures::future<double>> parts;
    const std::size_t tasks = 64;
    for (std::size_t i = 0; i < tasks; ++i) {
      parts.push_back(pool.submit(&sum_slice, b, i * n / tasks, (i + 1) * n / tasks));
    }
    double total = 0;
    for (auto& f : parts) total += f.result();
    EXPECT_DOUBLE_EQ(total, static_cast<double>(n) * (n - 1) / 2);
  }
}

TEST_P(SharedBufferTest, ThreadsSendTheirOwnBuffers) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Workers are forked while the other threads allocate: a sanitizer's allocator is not
  // fork-safe (tests/stress/stress_support.hpp). spawn and forkserver run everywhere.
  if (GetParam() == start_method::fork) GTEST_SKIP() << "a sanitizer's allocator is not fork-safe";
#endif
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(2));
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int round = 0; round < 25; ++round) {
          shared_buffer<int> b(1000 + t);
          pool.submit(&fill, b, t * 100 + round).result();
          if (b[0] != t * 100 + round || b[999 + t] != t * 100 + round) ++wrong;
          if (pool.submit(&same, b).result().data() != b.data()) ++wrong;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
  }
}

CFUTURES_START_METHODS(SharedBufferTest);

}  // namespace
