// task_ring (src/thread/task_ring.hpp): a worker's bounded FIFO ring, one producer (its
// owner), any number of consumers (the owner, stealing workers, shutdown's drain).
#include "thread/task_ring.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "queue_test_support.hpp"

namespace {

using cfutures::detail::state_base;
using cfutures::detail::task_ring;
using cfutures::test::items;
using cfutures::test::start_line;
using cfutures::test::take;

constexpr std::size_t capacity = task_ring::capacity;

TEST(TaskRing, NewRingIsEmpty) {
  task_ring ring;
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.room(), capacity);
  EXPECT_EQ(ring.pop(), nullptr);
}

TEST(TaskRing, PopsInPushOrder) {
  task_ring ring;
  const items all(10);
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_TRUE(ring.push(all[i]));
  EXPECT_FALSE(ring.empty());
  EXPECT_EQ(ring.room(), capacity - all.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(ring.pop(), all[i]);
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.pop(), nullptr);
}

TEST(TaskRing, FullRingRefusesAPushUntilOneIsTaken) {
  task_ring ring;
  const items all(capacity + 1);
  for (std::size_t i = 0; i < capacity; ++i) ASSERT_TRUE(ring.push(all[i]));
  EXPECT_EQ(ring.room(), 0u);
  EXPECT_FALSE(ring.push(all[capacity]));
  EXPECT_EQ(ring.pop(), all[0]);
  EXPECT_EQ(ring.room(), 1u);
  EXPECT_TRUE(ring.push(all[capacity]));
  EXPECT_FALSE(ring.push(all[capacity]));
  for (std::size_t i = 1; i <= capacity; ++i) EXPECT_EQ(ring.pop(), all[i]);
  EXPECT_TRUE(ring.empty());
}

TEST(TaskRing, KeepsOrderWhenItsIndicesWrapAround) {
  task_ring ring;
  const items all(capacity * 10 + 7);
  // Three quarters full all along, so that every slot is reused ten times.
  std::size_t pushed = 0;
  std::size_t popped = 0;
  while (pushed < capacity * 3 / 4) ASSERT_TRUE(ring.push(all[pushed++]));
  while (pushed < all.size()) {
    ASSERT_TRUE(ring.push(all[pushed++]));
    ASSERT_EQ(ring.pop(), all[popped++]);
  }
  while (popped < all.size()) ASSERT_EQ(ring.pop(), all[popped++]);
  EXPECT_EQ(ring.pop(), nullptr);
  EXPECT_EQ(ring.room(), capacity);
}

TEST(TaskRing, FillsAndEmptiesAcrossTheWrap) {
  task_ring ring;
  const items all(capacity);
  for (int round = 0; round < 5; ++round) {
    // Start each round at a different offset into the slots.
    for (int i = 0; i <= round; ++i) {
      ASSERT_TRUE(ring.push(all[0]));
      ASSERT_EQ(ring.pop(), all[0]);
    }
    for (std::size_t i = 0; i < capacity; ++i) ASSERT_TRUE(ring.push(all[i]));
    ASSERT_FALSE(ring.push(all[0]));
    for (std::size_t i = 0; i < capacity; ++i) ASSERT_EQ(ring.pop(), all[i]);
    ASSERT_TRUE(ring.empty());
  }
}

// The owner pushes (taking one back itself whenever the ring is full, and now and then
// anyway) while thieves pop: every task is taken exactly once, and each consumer sees the
// tasks in push order, the ring being FIFO for all of them.
TEST(TaskRing, OwnerAndThievesTakeEveryTaskOnce) {
  constexpr int thieves = 3;
  task_ring ring;
  const items all(100'000);
  start_line line;
  std::atomic<bool> producing{true};

  struct consumer_log {
    std::size_t count = 0;
    std::uint64_t sum = 0;
    bool in_order = true;
    std::uint64_t last = 0;
    void record(std::uint64_t value) {
      if (count > 0 && value <= last) in_order = false;
      last = value;
      ++count;
      sum += value;
    }
  };
  std::vector<consumer_log> logs(thieves + 1);

  std::vector<std::thread> threads;
  for (int t = 0; t < thieves; ++t) {
    threads.emplace_back([&, t] {
      line.wait();
      for (;;) {
        const bool last_look = !producing.load(std::memory_order_acquire);
        if (state_base* task = ring.pop()) {
          logs[t].record(take(task));
        } else if (last_look) {
          return;
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  consumer_log& owner = logs[thieves];
  line.go();
  for (std::size_t i = 0; i < all.size(); ++i) {
    while (!ring.push(all[i])) {
      if (state_base* task = ring.pop()) owner.record(take(task));
    }
    if (i % 7 == 0) {
      if (state_base* task = ring.pop()) owner.record(take(task));
    }
  }
  producing.store(false, std::memory_order_release);
  for (std::thread& t : threads) t.join();
  while (state_base* task = ring.pop()) owner.record(take(task));

  std::size_t count = 0;
  std::uint64_t sum = 0;
  for (const consumer_log& log : logs) {
    EXPECT_TRUE(log.in_order);
    count += log.count;
    sum += log.sum;
  }
  EXPECT_EQ(count, all.size());
  EXPECT_EQ(sum, all.checksum());
  EXPECT_TRUE(all.each_taken_once());
  EXPECT_TRUE(ring.empty());
}

// The owner and a thief race for a ring's only task, again and again: exactly one gets it.
TEST(TaskRing, OwnerAndThiefRacingForTheLastTaskOneGetsIt) {
  constexpr std::size_t rounds = 5'000;
  task_ring ring;
  const items all(rounds);
  std::atomic<std::size_t> pushed{0};  // rounds whose task is in the ring
  std::atomic<std::size_t> done{0};    // rounds the thief has tried
  std::vector<state_base*> thief_got(rounds, nullptr);

  std::thread thief([&] {
    for (std::size_t r = 0; r < rounds; ++r) {
      while (pushed.load(std::memory_order_acquire) <= r) std::this_thread::yield();
      thief_got[r] = ring.pop();
      done.store(r + 1, std::memory_order_release);
    }
  });
  std::size_t wrong_rounds = 0;  // rounds where the task was not taken exactly once
  for (std::size_t r = 0; r < rounds; ++r) {
    ring.push(all[r]);  // the ring is empty at every round's start (checked below)
    pushed.store(r + 1, std::memory_order_release);
    state_base* owner_got = ring.pop();
    while (done.load(std::memory_order_acquire) <= r) std::this_thread::yield();
    const int got = (owner_got == all[r]) + (thief_got[r] == all[r]);
    const bool nothing_else = (owner_got == nullptr || owner_got == all[r]) &&
                              (thief_got[r] == nullptr || thief_got[r] == all[r]);
    if (got != 1 || !nothing_else || !ring.empty()) ++wrong_rounds;
  }
  thief.join();
  EXPECT_EQ(wrong_rounds, 0u);
}

}  // namespace
