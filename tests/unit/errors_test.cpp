#include "cfutures/errors.hpp"

#include <gtest/gtest.h>

#include <type_traits>

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
  SUCCEED();
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
