#include "cfutures/callback_errors.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "cfutures/promise.hpp"

TEST(CallbackErrors, DefaultHandlerWritesOneLineToStderr) {
  cfutures::promise<int> p;
  p.get_future().add_done_callback(
      [](const cfutures::future<int>&) { throw std::runtime_error("callback failed"); });
  testing::internal::CaptureStderr();
  p.set_result(1);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("exception calling callback"), std::string::npos);
  EXPECT_NE(err.find("callback failed"), std::string::npos);
}

TEST(CallbackErrors, HandlerCanBeReplacedAndRestored) {
  int calls = 0;
  auto previous = cfutures::set_callback_error_handler([&](std::exception_ptr) { ++calls; });
  cfutures::promise<int> p;
  p.get_future().add_done_callback([](const cfutures::future<int>&) { throw 1; });
  p.set_result(1);
  EXPECT_EQ(calls, 1);
  cfutures::set_callback_error_handler(nullptr);
  cfutures::promise<int> q;
  q.get_future().add_done_callback([](const cfutures::future<int>&) { throw 2; });
  testing::internal::CaptureStderr();
  q.set_result(1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("unknown exception"), std::string::npos);
  EXPECT_EQ(calls, 1);
  (void)previous;
}

TEST(CallbackErrors, ThrowingHandlerIsSwallowed) {
  auto previous = cfutures::set_callback_error_handler([](std::exception_ptr) { throw 3; });
  cfutures::promise<int> p;
  p.get_future().add_done_callback([](const cfutures::future<int>&) { throw 4; });
  EXPECT_NO_THROW(p.set_result(1));
  cfutures::set_callback_error_handler(previous);
}
