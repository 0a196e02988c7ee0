// Random graphs of 10^4 composed futures (issue 17): then, then(ex), when_all, when_any,
// dataflow and coroutines mixed, over leaves that return, throw or are cancelled, with
// random cancellations of intermediate nodes. Every node must end in the state a model of
// the graph predicts, and nothing may deadlock (every wait has a deadline).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cfutures/compose.hpp"
#include "cfutures/dataflow.hpp"
#include "cfutures/promise.hpp"
#include "cfutures/thread_pool_executor.hpp"

using cfutures::future;
using namespace std::chrono_literals;

namespace {

enum class kind { value, error, cancelled };

struct outcome {
  kind k = kind::value;
  long value = 0;
  bool operator==(const outcome&) const = default;
};

enum class op {
  task,
  failing_task,
  promise,
  then,
  then_on,
  when_all,
  when_any,
  dataflow,
  coroutine
};

struct node {
  op what = op::task;
  std::size_t a = 0, b = 0, c = 0;  // inputs (earlier nodes)
  future<long> f;
  cfutures::promise<long> p;  // op::promise
  bool cancelled_by_test = false;
};

long add(long x, long y) { return x + y; }

// The value of a done input for when_all's sum: failures count as 0.
long value_or_zero(const future<long>& f) {
  if (f.cancelled() || f.exception()) return 0;
  return f.result();
}

future<long> awaiting(future<long> x, future<long> y) {
  const long vx = co_await x;
  const long vy = co_await std::move(y);
  co_return vx + vy;
}

outcome observe(const future<long>& f) {
  if (!f.wait_for(120s)) throw std::runtime_error("deadlock: a node is not done after 120 s");
  if (f.cancelled()) return {kind::cancelled, 0};
  if (f.exception()) return {kind::error, 0};
  return {kind::value, f.result()};
}

// What the model predicts for a node, given its inputs' outcomes.
outcome predict(const node& n, const std::vector<outcome>& out, std::size_t index) {
  if (n.cancelled_by_test) return {kind::cancelled, 0};
  const outcome& a = out[n.a];
  const outcome& b = out[n.b];
  switch (n.what) {
    case op::task:
      return {kind::value, static_cast<long>(index % 7)};
    case op::failing_task:
      return {kind::error, 0};
    case op::promise:
      return {kind::value, 1};
    case op::then:
    case op::then_on:
      return a.k == kind::value ? outcome{kind::value, a.value + 1} : outcome{a.k, 0};
    case op::when_all: {
      const auto v = [&](std::size_t i) { return out[i].k == kind::value ? out[i].value : 0; };
      return {kind::value, v(n.a) + v(n.b) + v(n.c)};
    }
    case op::when_any:
      return {kind::value, 1};
    case op::dataflow:
      if (a.k != kind::value) return {a.k, 0};
      if (b.k != kind::value) return {b.k, 0};
      return {kind::value, a.value + b.value};
    case op::coroutine:  // a cancelled input is a cancelled_error thrown into the coroutine
      if (a.k != kind::value || b.k != kind::value) return {kind::error, 0};
      return {kind::value, a.value + b.value};
  }
  return {};
}

void run_graph(std::size_t nodes, unsigned seed) {
  cfutures::thread_pool_executor pool(4);
  std::mt19937 rng(seed);
  std::vector<node> g(nodes);
  const auto pick = [&](std::size_t i) {
    return std::uniform_int_distribution<std::size_t>(0, i - 1)(rng);
  };
  for (std::size_t i = 0; i < nodes; ++i) {
    node& n = g[i];
    const int roll = std::uniform_int_distribution<int>(0, 99)(rng);
    if (i < 8 || roll < 15) {
      n.what = roll % 3 == 0 ? op::failing_task : roll % 3 == 1 ? op::promise : op::task;
    } else {
      static constexpr op composed[] = {op::then,     op::then_on,  op::when_all,
                                        op::when_any, op::dataflow, op::coroutine};
      n.what = composed[roll % 6];
      n.a = pick(i);
      n.b = pick(i);
      n.c = pick(i);
    }
    const future<long>& a = g[n.a].f;
    const future<long>& b = g[n.b].f;
    switch (n.what) {
      case op::task:
        n.f = pool.submit([v = static_cast<long>(i % 7)] { return v; });
        break;
      case op::failing_task:
        n.f = pool.submit([]() -> long { throw std::runtime_error("leaf failed"); });
        break;
      case op::promise:
        n.f = n.p.get_future();
        break;
      case op::then:
        n.f = a.then([](long v) { return v + 1; });
        break;
      case op::then_on:
        n.f = a.then(pool, [](long v) { return v + 1; });
        break;
      case op::when_all:
        n.f = cfutures::when_all(a, b, g[n.c].f).then([](const auto& all) {
          return value_or_zero(std::get<0>(all)) + value_or_zero(std::get<1>(all)) +
                 value_or_zero(std::get<2>(all));
        });
        break;
      case op::when_any:
        n.f = cfutures::when_any(std::vector<future<long>>{a, b}).then([](const auto& any) {
          return any.futures.at(any.index).done() ? 1L : -1L;
        });
        break;
      case op::dataflow:
        n.f = cfutures::dataflow(pool, add, a, b);
        break;
      case op::coroutine:
        n.f = awaiting(a, b);
        break;
    }
  }
  // Cancel some nodes while many promises are still pending; what cancel() returns decides.
  for (std::size_t i = 0; i < nodes; ++i) {
    if (std::uniform_int_distribution<int>(0, 99)(rng) < 3)
      g[i].cancelled_by_test = g[i].f.cancel();
  }
  std::vector<std::size_t> promises;
  for (std::size_t i = 0; i < nodes; ++i) {
    if (g[i].what == op::promise && !g[i].cancelled_by_test) promises.push_back(i);
  }
  std::shuffle(promises.begin(), promises.end(), rng);
  std::thread releaser([&] {
    for (std::size_t i : promises) g[i].p.set_result(1);
  });
  releaser.join();
  std::vector<outcome> out(nodes);
  for (std::size_t i = 0; i < nodes; ++i) {
    out[i] = observe(g[i].f);
    const outcome expected = predict(g[i], out, i);
    ASSERT_EQ(out[i].k, expected.k) << "node " << i << " op " << static_cast<int>(g[i].what);
    ASSERT_EQ(out[i].value, expected.value) << "node " << i;
  }
}

}  // namespace

TEST(ComposeGraph, TenThousandNodesEndInTheRightStateWithoutDeadlock) {
  for (unsigned seed : {1u, 2u, 3u}) run_graph(10000, seed);
}

TEST(ComposeGraph, OneWorkerPoolWaitingInsideOnComposedFutures) {
  cfutures::thread_pool_executor pool(1);
  std::vector<future<long>> outer;
  for (int i = 0; i < 50; ++i) {
    outer.push_back(pool.submit([&pool, i] {
      auto a = pool.submit([i] { return static_cast<long>(i); });
      auto b = a.then(pool, [](long v) { return v + 1; });
      auto c = cfutures::dataflow(pool, add, a, b);
      auto d = awaiting(b, c);
      return std::get<0>(cfutures::when_all(d, c).result()).result();
    }));
  }
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(outer[i].wait_for(60s)) << "deadlock in task " << i;
    EXPECT_EQ(outer[i].result(), (i + 1) + (2L * i + 1));
  }
}
