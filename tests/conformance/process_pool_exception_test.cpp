// Exceptions cross the process boundary: CPython's test_process_pool.py test_traceback,
// for both start methods. Every exact <stdexcept> type, std::bad_alloc and each cfutures
// error keeps its type and what(); other types come back as remote_error naming the type.
#include <gtest/gtest.h>

#include <new>
#include <typeinfo>

#include "process_pool_support.hpp"

namespace conformance {
namespace {

class ProcessPoolExceptionTest : public process_pool_test_base {};
CFUTURES_START_METHODS(ProcessPoolExceptionTest);

// --- exceptions ---
struct user_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct plain_failure {
  int code = 7;
};
enum class exc : int {
  logic,
  domain,
  invalid_argument,
  length,
  out_of_range,
  runtime,
  range,
  overflow,
  underflow,
  bad_alloc,
  error,
  cancelled,
  timeout,
  invalid_state,
  shutdown,
  broken_executor,
  broken_thread_pool,
  broken_process_pool,
  remote,
  user,
  plain,
  integer,
};
int throw_kind(int kind, std::string message) {
  switch (static_cast<exc>(kind)) {
    case exc::logic:
      throw std::logic_error(message);
    case exc::domain:
      throw std::domain_error(message);
    case exc::invalid_argument:
      throw std::invalid_argument(message);
    case exc::length:
      throw std::length_error(message);
    case exc::out_of_range:
      throw std::out_of_range(message);
    case exc::runtime:
      throw std::runtime_error(message);
    case exc::range:
      throw std::range_error(message);
    case exc::overflow:
      throw std::overflow_error(message);
    case exc::underflow:
      throw std::underflow_error(message);
    case exc::bad_alloc:
      throw std::bad_alloc();
    case exc::error:
      throw cfutures::error(message);
    case exc::cancelled:
      throw cfutures::cancelled_error(message);
    case exc::timeout:
      throw cfutures::timeout_error(message);
    case exc::invalid_state:
      throw cfutures::invalid_state_error(message);
    case exc::shutdown:
      throw cfutures::shutdown_error(message);
    case exc::broken_executor:
      throw cfutures::broken_executor(message);
    case exc::broken_thread_pool:
      throw cfutures::broken_thread_pool(message);
    case exc::broken_process_pool:
      throw cfutures::broken_process_pool(message);
    case exc::remote:
      throw cfutures::remote_error("some::remote_type", message);
    case exc::user:
      throw user_error(message);
    case exc::plain:
      throw plain_failure{};
    case exc::integer:
      throw 42;
  }
  return 0;
}

template <class E>
void expect_exact(process_pool_executor& pool, exc kind, const char* expected_what) {
  SCOPED_TRACE(typeid(E).name());
  auto f = pool.submit(throw_kind, static_cast<int>(kind),
                       std::string("message of ") + typeid(E).name());
  try {
    (void)f.result(10s);
    ADD_FAILURE() << "did not throw";
  } catch (const std::exception& e) {
    EXPECT_TRUE(typeid(e) == typeid(E)) << "came back as " << typeid(e).name();
    EXPECT_STREQ(e.what(), expected_what ? expected_what
                                         : (std::string("message of ") + typeid(E).name()).c_str());
  }
  ASSERT_TRUE(f.exception(0s));
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
}

// CPython's test_traceback keeps RuntimeError(123) as RuntimeError: here every exact
// <stdexcept> type, std::bad_alloc and each cfutures error keeps its type and what().
TEST_P(ProcessPoolExceptionTest, ExceptionsOfKnownTypesKeepTheirTypeAndMessage) {
  process_pool_executor pool(options(2));
  expect_exact<std::logic_error>(pool, exc::logic, nullptr);
  expect_exact<std::domain_error>(pool, exc::domain, nullptr);
  expect_exact<std::invalid_argument>(pool, exc::invalid_argument, nullptr);
  expect_exact<std::length_error>(pool, exc::length, nullptr);
  expect_exact<std::out_of_range>(pool, exc::out_of_range, nullptr);
  expect_exact<std::runtime_error>(pool, exc::runtime, nullptr);
  expect_exact<std::range_error>(pool, exc::range, nullptr);
  expect_exact<std::overflow_error>(pool, exc::overflow, nullptr);
  expect_exact<std::underflow_error>(pool, exc::underflow, nullptr);
  expect_exact<std::bad_alloc>(pool, exc::bad_alloc, std::bad_alloc().what());
  expect_exact<cfutures::error>(pool, exc::error, nullptr);
  expect_exact<cfutures::cancelled_error>(pool, exc::cancelled, nullptr);
  expect_exact<cfutures::timeout_error>(pool, exc::timeout, nullptr);
  expect_exact<cfutures::invalid_state_error>(pool, exc::invalid_state, nullptr);
  expect_exact<cfutures::shutdown_error>(pool, exc::shutdown, nullptr);
  expect_exact<cfutures::broken_executor>(pool, exc::broken_executor, nullptr);
  expect_exact<cfutures::broken_thread_pool>(pool, exc::broken_thread_pool, nullptr);
  expect_exact<cfutures::broken_process_pool>(pool, exc::broken_process_pool, nullptr);
  // An exception is a result, not a crash: the pool is fine.
  EXPECT_EQ(pool.submit(mul, 3, 4).result(10s), 12);
}

// What comes back as remote_error, and what it carries. (Copied out while the future is
// alive: a copy of the exception object itself would share its reference-counted message
// with the one the manager thread may destroy, which ThreadSanitizer, not seeing inside the
// uninstrumented libstdc++, reports as a race.)
struct remote_info {
  std::string type_name;
  std::string what;
};

remote_info remote_of(process_pool_executor& pool, exc kind, const std::string& message) {
  auto f = pool.submit(throw_kind, static_cast<int>(kind), message);
  try {
    (void)f.result(10s);
    ADD_FAILURE() << "did not throw";
  } catch (const cfutures::remote_error& e) {
    EXPECT_TRUE(typeid(e) == typeid(cfutures::remote_error));
    return {e.type_name(), e.what()};
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected remote_error, got " << typeid(e).name() << ": " << e.what();
  } catch (...) {
    ADD_FAILURE() << "expected remote_error, got a non-std::exception";
  }
  return {};
}

TEST_P(ProcessPoolExceptionTest, OtherExceptionsComeBackAsRemoteError) {
  process_pool_executor pool(options(1));
  {
    // A user type (derived from a <stdexcept> type, so not of it exactly).
    const auto e = remote_of(pool, exc::user, "user message");
    EXPECT_TRUE(contains(e.type_name, "user_error")) << e.type_name;
    EXPECT_EQ(e.what, "user message");
  }
  {
    // A type not derived from std::exception.
    const auto e = remote_of(pool, exc::plain, "");
    EXPECT_TRUE(contains(e.type_name, "plain_failure")) << e.type_name;
    EXPECT_TRUE(contains(e.what, "plain_failure")) << e.what;
  }
  {
    const auto e = remote_of(pool, exc::integer, "");
    EXPECT_EQ(e.type_name, "int");
    EXPECT_TRUE(contains(e.what, "int")) << e.what;
  }
  {
    // A remote_error thrown by the call keeps the type name it carries.
    const auto e = remote_of(pool, exc::remote, "from afar");
    EXPECT_EQ(e.type_name, "some::remote_type");
    EXPECT_EQ(e.what, "from afar");
  }
  EXPECT_EQ(pool.submit(mul, 3, 4).result(10s), 12);
}

}  // namespace
}  // namespace conformance
