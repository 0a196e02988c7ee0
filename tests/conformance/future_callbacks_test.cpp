// CPython's test_future.py, its done-callback tests (FutureTests.test_done_callback_*): a
// callback sees the finished future, runs once, in the order added, in the thread that
// finished the future (or at once, when added to a done one), and what it throws goes to the
// callback error handler without stopping the others. Futures are built with promise<T>
// (CPython's create_future); the rest of test_future.py is in future_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <cfutures/cfutures.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "test_support.hpp"

namespace conformance {
namespace {

using cfutures::future;
using cfutures::promise;

// Installs a handler that records what done-callbacks throw; restores the previous handler
// (or, if the library does not return it, one that prints to stderr) on destruction.
class callback_errors {
 public:
  using handler = std::function<void(std::exception_ptr)>;

  callback_errors() {
    handler mine = [this](std::exception_ptr e) {
      std::lock_guard lock(m_);
      errors_.push_back(e);
    };
    if constexpr (std::is_void_v<decltype(cfutures::set_callback_error_handler(mine))>) {
      cfutures::set_callback_error_handler(std::move(mine));
    } else {
      previous_ = cfutures::set_callback_error_handler(std::move(mine));
    }
  }
  callback_errors(const callback_errors&) = delete;
  callback_errors& operator=(const callback_errors&) = delete;
  ~callback_errors() {
    if (!previous_) {
      previous_ = [](std::exception_ptr e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          std::fprintf(stderr, "exception calling callback: %s\n", x.what());
        } catch (...) {
          std::fprintf(stderr, "exception calling callback\n");
        }
      };
    }
    cfutures::set_callback_error_handler(std::move(previous_));
  }

  std::vector<std::string> messages() const {
    std::lock_guard lock(m_);
    std::vector<std::string> out;
    for (const auto& e : errors_) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        out.emplace_back(x.what());
      } catch (...) {
        out.emplace_back("<not a std::exception>");
      }
    }
    return out;
  }

 private:
  mutable std::mutex m_;
  std::vector<std::exception_ptr> errors_;
  handler previous_;
};

struct doh : std::runtime_error {
  doh() : std::runtime_error("doh!") {}
};

// --- done callbacks --------------------------------------------------------------------

TEST(FutureTest, DoneCallbackWithResult) {
  promise<int> p;
  auto f = p.get_future();
  std::optional<int> seen;
  f.add_done_callback([&](const future<int>& cf) { seen = cf.result(); });
  EXPECT_FALSE(seen.has_value()) << "callback ran before the future was done";
  p.set_result(5);
  EXPECT_EQ(seen, 5);
}

TEST(FutureTest, DoneCallbackWithException) {
  promise<int> p;
  auto f = p.get_future();
  std::exception_ptr seen;
  f.add_done_callback([&](const future<int>& cf) { seen = cf.exception(); });
  p.set_exception(std::make_exception_ptr(std::runtime_error("test")));
  ASSERT_TRUE(seen);
  try {
    std::rethrow_exception(seen);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "test");
  }
}

TEST(FutureTest, DoneCallbackWithCancel) {
  promise<int> p;
  auto f = p.get_future();
  std::optional<bool> was_cancelled;
  f.add_done_callback([&](const future<int>& cf) { was_cancelled = cf.cancelled(); });
  EXPECT_TRUE(f.cancel());
  EXPECT_EQ(was_cancelled, true);
}

TEST(FutureTest, DoneCallbackRaisesGoesToHandlerAndLaterCallbacksStillRun) {
  callback_errors errors;
  promise<int> p;
  auto f = p.get_future();
  bool raising_was_called = false;
  bool fn_was_called = false;
  f.add_done_callback([&](const future<int>&) {
    raising_was_called = true;
    throw doh();
  });
  f.add_done_callback([&](const future<int>&) { fn_was_called = true; });
  EXPECT_NO_THROW(p.set_result(5));
  EXPECT_TRUE(raising_was_called);
  EXPECT_TRUE(fn_was_called);
  EXPECT_EQ(errors.messages(), std::vector<std::string>{"doh!"});
  EXPECT_EQ(f.result(), 5);
}

TEST(FutureTest, DoneCallbackRaisesOnCancelGoesToHandler) {
  callback_errors errors;
  promise<int> p;
  auto f = p.get_future();
  f.add_done_callback([](const future<int>&) { throw doh(); });
  bool result = false;
  EXPECT_NO_THROW(result = f.cancel());
  EXPECT_TRUE(result);
  EXPECT_EQ(errors.messages(), std::vector<std::string>{"doh!"});
}

TEST(FutureTest, DoneCallbackAlreadySuccessfulRunsAtOnceInCallingThread) {
  auto m = make_future(state::succeeded);
  std::optional<int> seen;
  std::thread::id where;
  m.future.add_done_callback([&](const future<int>& cf) {
    seen = cf.result();
    where = std::this_thread::get_id();
  });
  EXPECT_EQ(seen, 42);
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(FutureTest, DoneCallbackAlreadyFailed) {
  auto m = make_future(state::raised);
  std::exception_ptr seen;
  m.future.add_done_callback([&](const future<int>& cf) { seen = cf.exception(); });
  ASSERT_TRUE(seen);
  EXPECT_THROW(std::rethrow_exception(seen), os_error);
}

TEST(FutureTest, DoneCallbackAlreadyCancelled) {
  for (state s : {state::cancelled, state::cancelled_and_notified}) {
    auto m = make_future(s);
    std::optional<bool> was_cancelled;
    m.future.add_done_callback([&](const future<int>& cf) { was_cancelled = cf.cancelled(); });
    EXPECT_EQ(was_cancelled, true);
  }
}

TEST(FutureTest, DoneCallbackRaisesAlreadySucceeded) {
  callback_errors errors;
  auto m = make_future(state::succeeded);
  EXPECT_NO_THROW(m.future.add_done_callback([](const future<int>&) { throw doh(); }));
  EXPECT_EQ(errors.messages(), std::vector<std::string>{"doh!"});
}

TEST(FutureTest, DoneCallbacksRunInTheOrderAdded) {
  for (bool by_cancel : {false, true}) {
    promise<int> p;
    auto f = p.get_future();
    std::vector<int> order;
    for (int i = 0; i < 8; ++i)
      f.add_done_callback([&order, i](const future<int>&) { order.push_back(i); });
    if (by_cancel) {
      f.cancel();
    } else {
      p.set_result(1);
    }
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7})) << "by_cancel=" << by_cancel;
  }
}

TEST(FutureTest, DoneCallbackRunsOnceInTheThreadThatFinishes) {
  promise<int> p;
  auto f = p.get_future();
  std::atomic<int> calls{0};
  std::thread::id where;
  f.add_done_callback([&](const future<int>&) {
    ++calls;
    where = std::this_thread::get_id();
  });
  std::thread::id finisher;
  std::thread t([&] {
    finisher = std::this_thread::get_id();
    p.set_result(3);
  });
  t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(where, finisher);
  // Neither a second completion attempt nor cancel() runs it again.
  EXPECT_THROW(p.set_result(4), cfutures::invalid_state_error);
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(calls.load(), 1);
}

TEST(FutureTest, DoneCallbackRunsOnceInTheThreadThatCancels) {
  promise<int> p;
  auto f = p.get_future();
  std::atomic<int> calls{0};
  std::thread::id where;
  f.add_done_callback([&](const future<int>&) {
    ++calls;
    where = std::this_thread::get_id();
  });
  std::thread::id canceller;
  std::thread t([&] {
    canceller = std::this_thread::get_id();
    EXPECT_TRUE(f.cancel());
  });
  t.join();
  EXPECT_TRUE(f.cancel());  // already cancelled: true, and no second notification
  EXPECT_FALSE(p.set_running_or_notify_cancel());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(where, canceller);
}

TEST(FutureTest, CallbackAddedAfterDoneDoesNotRunEarlierCallbacksAgain) {
  promise<int> p;
  auto f = p.get_future();
  int first = 0, second = 0;
  f.add_done_callback([&](const future<int>&) { ++first; });
  p.set_result(1);
  f.add_done_callback([&](const future<int>&) { ++second; });
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
}

}  // namespace
}  // namespace conformance
