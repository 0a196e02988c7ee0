// What the chaos test accepts from a future of one of its cycles: a value only from a task
// that returns one (the right value), an exception only of a type API.md allows for what the
// task did and what happened to the pool (the task's own std::out_of_range; a broken pool's
// error, naming how the worker ended or that the initializer failed, only in a cycle where
// the pool could break), and a cancellation only as the one terminal state.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include <cfutures/errors.hpp>

#include "ledger.hpp"
#include "worker_deaths.hpp"

namespace stress {

inline void expect_value(const tracked& t, int value) {
  switch (t.what) {
    case task_kind::stoppable:
      EXPECT_TRUE(value == 0 || value == 1) << value;
      break;
    case task_kind::nested:  // -1: its inner submit was refused or its call cancelled
      EXPECT_TRUE(value == t.expected || value == -1) << value;
      break;
    case task_kind::throws:
    case task_kind::dies_now:
      ADD_FAILURE() << "a value (" << value << ") from a task that cannot return one";
      break;
    default:
      EXPECT_EQ(value, t.expected);
  }
}

// `pool_may_break`: a worker death, kill_workers, terminate_workers or a failing initializer
// was (or may have been) part of the cycle.
inline void expect_allowed_exception(const tracked& t, std::exception_ptr e, bool pool_may_break) {
  try {
    std::rethrow_exception(e);
  } catch (const std::out_of_range&) {
    EXPECT_EQ(t.what, task_kind::throws) << "std::out_of_range from a task that does not throw";
  } catch (const cfutures::broken_process_pool& broken) {
    const std::string what = broken.what();
    EXPECT_TRUE(pool_may_break) << "the pool broke with no death in the cycle: " << what;
    EXPECT_TRUE(names_how_a_worker_ended(what) || what.find("initializer") != std::string::npos)
        << what;
  } catch (const cfutures::broken_thread_pool& broken) {
    EXPECT_TRUE(pool_may_break) << "the pool broke with no failing initializer: " << broken.what();
  } catch (const std::exception& other) {
    ADD_FAILURE() << "unexpected " << typeid(other).name() << ": " << other.what();
  } catch (...) {
    ADD_FAILURE() << "an exception that is not a std::exception";
  }
}

// After the cycle's executor is destroyed: done, in one terminal state, every callback run
// exactly once.
inline void expect_terminal(const tracked& t, bool pool_may_break) {
  ASSERT_TRUE(t.future.done()) << "a future outlived its executor unfinished";
  EXPECT_FALSE(t.future.running());
  EXPECT_EQ(t.callbacks.load(), t.callbacks_added.load()) << "a done-callback ran not exactly once";
  EXPECT_FALSE(t.callback_saw_not_done.load());
  if (t.future.cancelled()) {
    EXPECT_THROW((void)t.future.result(), cfutures::cancelled_error);
    EXPECT_THROW((void)t.future.exception(), cfutures::cancelled_error);
    return;
  }
  EXPECT_FALSE(t.cancel_succeeded.load()) << "cancel() returned true, yet the future ran";
  if (std::exception_ptr e = t.future.exception()) {
    expect_allowed_exception(t, e, pool_may_break);
  } else {
    expect_value(t, t.future.result());
  }
}

}  // namespace stress
