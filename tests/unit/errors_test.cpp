#include "cfutures/errors.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <type_traits>

#include "cfutures/promise.hpp"

using namespace std::chrono_literals;

TEST(Errors, HierarchyFollowsPython) {
  static_assert(std::is_base_of_v<std::runtime_error, cfutures::error>);
  static_assert(std::is_base_of_v<cfutures::error, cfutures::cancelled_error>);
  static_assert(std::is_base_of_v<cfutures::error, cfutures::timeout_error>);
  static_assert(std::is_base_of_v<cfutures::error, cfutures::invalid_state_error>);
  static_assert(std::is_base_of_v<cfutures::error, cfutures::shutdown_error>);
  static_assert(std::is_base_of_v<cfutures::error, cfutures::broken_executor>);
  static_assert(std::is_base_of_v<cfutures::broken_executor, cfutures::broken_thread_pool>);
  static_assert(std::is_base_of_v<cfutures::broken_executor, cfutures::broken_process_pool>);
  static_assert(std::is_base_of_v<cfutures::error, cfutures::remote_error>);
  static_assert(std::is_base_of_v<cfutures::error, cfutures::protocol_error>);
  // What the library throws says what happened, and is caught by the base classes.
  cfutures::promise<int> pending;
  try {
    (void)pending.get_future().result(0s);
    ADD_FAILURE() << "result(0s) of a pending future did not throw";
  } catch (const cfutures::timeout_error& e) {
    EXPECT_STRNE(e.what(), "");
  }
  cfutures::promise<int> cancelled;
  ASSERT_TRUE(cancelled.get_future().cancel());
  try {
    (void)cancelled.get_future().result();
    ADD_FAILURE() << "result() of a cancelled future did not throw";
  } catch (const cfutures::cancelled_error& e) {
    EXPECT_STRNE(e.what(), "");
  }
  EXPECT_THROW((void)cancelled.get_future().result(), cfutures::error);
  EXPECT_THROW((void)pending.get_future().result(0s), std::runtime_error);
}

TEST(Errors, DefaultMessages) {
  EXPECT_STREQ(cfutures::shutdown_error().what(), "cannot schedule new futures after shutdown");
  EXPECT_STRNE(cfutures::cancelled_error().what(), "");
  EXPECT_STRNE(cfutures::timeout_error().what(), "");
}

TEST(Errors, RemoteErrorKeepsTypeMessageAndTraceback) {
  cfutures::remote_error e("my::error", "it broke", "frame 1");
  EXPECT_EQ(e.type_name(), "my::error");
  EXPECT_STREQ(e.what(), "it broke");
  EXPECT_EQ(e.traceback(), "frame 1");
}

TEST(Errors, ProtocolErrorIsPublicAndCatchableAsError) {
  try {
    throw cfutures::protocol_error("bad frame: wrong magic");
  } catch (const cfutures::error& e) {
    EXPECT_STREQ(e.what(), "bad frame: wrong magic");
    EXPECT_NE(dynamic_cast<const cfutures::protocol_error*>(&e), nullptr);
    return;
  }
  FAIL() << "protocol_error was not caught as cfutures::error";
}
