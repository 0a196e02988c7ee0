// injection_queue (src/thread/injection_queue.hpp): the thread pool's intrusive FIFO for
// tasks submitted from outside; any number of producers, consumers taking turns through a
// try-lock.
#include "thread/injection_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "queue_test_support.hpp"

namespace {

using cfutures::detail::injection_queue;
using cfutures::detail::state_base;
using cfutures::test::item;
using cfutures::test::items;
using cfutures::test::start_line;
using cfutures::test::take;

bool push_one(injection_queue& queue, item* task) { return queue.push(task, task); }

// Links all[from] … all[to - 1] into a chain and pushes it at once.
bool push_chain(injection_queue& queue, const items& all, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i + 1 < to; ++i) {
    all[i]->next_in_queue.store(all[i + 1], std::memory_order_relaxed);
  }
  return queue.push(all[from], all[to - 1]);
}

// Everything in the queue, oldest first (with the consumer lock; no push is under way).
std::vector<state_base*> drain(injection_queue& queue) {
  std::vector<state_base*> out;
  queue.lock();
  while (state_base* task = queue.pop()) out.push_back(task);
  queue.unlock();
  return out;
}

TEST(InjectionQueue, NewQueueIsEmpty) {
  injection_queue queue;
  EXPECT_FALSE(queue.non_empty());
  ASSERT_TRUE(queue.try_lock());
  EXPECT_EQ(queue.pop(), nullptr);
  queue.unlock();
}

TEST(InjectionQueue, PopsInPushOrder) {
  injection_queue queue;
  const items all(8);
  for (std::size_t i = 0; i < all.size(); ++i) push_one(queue, all[i]);
  EXPECT_TRUE(queue.non_empty());
  const std::vector<state_base*> got = drain(queue);
  ASSERT_EQ(got.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(got[i], all[i]);
  EXPECT_FALSE(queue.non_empty());
}

TEST(InjectionQueue, PushTellsWhetherTasksWereQueuedAlready) {
  injection_queue queue;
  const items all(3);
  EXPECT_FALSE(push_one(queue, all[0]));
  EXPECT_TRUE(push_one(queue, all[1]));
  drain(queue);
  // Taking the last task put the stub back: the queue is empty again.
  EXPECT_FALSE(queue.non_empty());
  EXPECT_FALSE(push_one(queue, all[2]));
  EXPECT_EQ(drain(queue), std::vector<state_base*>{all[2]});
}

TEST(InjectionQueue, OneTaskInAndOutManyTimes) {
  // Every pop takes the last task, so every pop re-inserts the stub.
  injection_queue queue;
  const items all(1'000);
  ASSERT_TRUE(queue.try_lock());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_FALSE(push_one(queue, all[i]));
    EXPECT_EQ(queue.pop(), all[i]);
    EXPECT_EQ(queue.pop(), nullptr);
    EXPECT_FALSE(queue.non_empty());
  }
  queue.unlock();
}

TEST(InjectionQueue, ChainsAndSingleTasksKeepTheirOrder) {
  injection_queue queue;
  const items all(20);
  push_one(queue, all[0]);
  push_chain(queue, all, 1, 6);
  push_one(queue, all[6]);
  push_chain(queue, all, 7, 20);
  const std::vector<state_base*> got = drain(queue);
  ASSERT_EQ(got.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(got[i], all[i]);
}

TEST(InjectionQueue, PopsWhilePushesContinue) {
  // The consumer keeps up with the producer: the queue is often one task long, and often
  // empty, as the pool's queue is between submits.
  injection_queue queue;
  const items all(1'000);
  std::size_t popped = 0;
  ASSERT_TRUE(queue.try_lock());
  for (std::size_t i = 0; i < all.size(); ++i) {
    push_one(queue, all[i]);
    if (i % 3 != 0) {
      while (state_base* task = queue.pop()) EXPECT_EQ(task, all[popped++]);
    }
  }
  while (state_base* task = queue.pop()) EXPECT_EQ(task, all[popped++]);
  queue.unlock();
  EXPECT_EQ(popped, all.size());
}

TEST(InjectionQueue, ConsumerLockAdmitsOneAtATime) {
  injection_queue queue;
  ASSERT_TRUE(queue.try_lock());
  EXPECT_FALSE(queue.try_lock());
  std::atomic<bool> entered{false};
  std::thread other([&] {
    queue.lock();
    entered.store(true, std::memory_order_release);
    queue.unlock();
  });
  std::this_thread::yield();
  EXPECT_FALSE(entered.load(std::memory_order_acquire));  // whenever it got there, it waits
  queue.unlock();
  other.join();
  EXPECT_TRUE(entered.load(std::memory_order_acquire));
  EXPECT_TRUE(queue.try_lock());
  queue.unlock();
}

// Producers push their numbered tasks (singly and in chains) while consumers take turns
// through the try-lock and pop: every task is delivered exactly once, and every consumer
// sees each producer's tasks in that producer's order.
void many_producers(int producers, int consumers) {
  constexpr std::size_t per_producer = 20'000;
  injection_queue queue;
  const items all(per_producer * producers);  // producer p pushes p*per_producer + 0, 1, …
  start_line line;
  std::atomic<std::size_t> delivered{0};

  struct consumer_log {
    std::size_t count = 0;
    std::uint64_t sum = 0;
    bool in_order = true;
    std::vector<std::int64_t> last;  // per producer, the last sequence number seen
  };
  std::vector<consumer_log> logs(consumers);
  std::vector<std::thread> threads;
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      consumer_log& log = logs[c];
      log.last.assign(producers, -1);
      line.wait();
      while (delivered.load(std::memory_order_relaxed) < all.size()) {
        if (!queue.non_empty() || !queue.try_lock()) {
          std::this_thread::yield();
          continue;
        }
        // Pops a few at a time, as a worker takes a batch, then lets the others in.
        for (int k = 0; k < 32; ++k) {
          state_base* task = queue.pop();
          if (!task) break;  // empty, or a push is half done: look again later
          const std::uint64_t value = take(task);
          const auto producer = static_cast<std::size_t>(value / per_producer);
          const auto sequence = static_cast<std::int64_t>(value % per_producer);
          if (sequence <= log.last[producer]) log.in_order = false;
          log.last[producer] = sequence;
          ++log.count;
          log.sum += value;
          delivered.fetch_add(1, std::memory_order_relaxed);
        }
        queue.unlock();
      }
    });
  }
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      line.wait();
      const std::size_t base = p * per_producer;
      std::size_t i = 0;
      while (i < per_producer) {
        // Alternates single tasks and chains of 2 … 9.
        const std::size_t n = std::min<std::size_t>(per_producer - i, 1 + (i % 9) * (i % 2));
        if (n == 1) {
          push_one(queue, all[base + i]);
        } else {
          push_chain(queue, all, base + i, base + i + n);
        }
        i += n;
      }
    });
  }
  line.go();
  for (std::thread& t : threads) t.join();

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
  EXPECT_FALSE(queue.non_empty());
}

TEST(InjectionQueue, ManyProducersOneConsumerDeliverEveryTaskOnce) { many_producers(4, 1); }

TEST(InjectionQueue, ManyProducersSeveralConsumersDeliverEveryTaskOnce) { many_producers(3, 3); }

}  // namespace
