// remote/throw_stacks: an exception a worker's call throws comes back with the stack of its
// throw — remote_error::traceback() names the function that threw and its callers, down to
// the call the worker ran — over fork and spawn, for submit and map's chunks, for every type
// that comes back as remote_error (a class of the program's, a non-std::exception, one thrown
// inside libstdc++). Types that come back as themselves (<stdexcept>'s, cfutures' errors)
// cannot carry it; a process that is not a worker records nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include "cfutures/process_pool_executor.hpp"
#include "remote/throw_stacks.hpp"

namespace {

using namespace std::chrono_literals;
using cfutures::map_options;
using cfutures::process_pool_executor;
using cfutures::process_pool_options;
using cfutures::remote_error;
using cfutures::start_method;

struct parse_failure : std::exception {
  const char* what() const noexcept override { return "bad input"; }
};

volatile int depth_sink = 0;

[[gnu::noinline]] int throw_site_parse(int x) {
  if (x >= 0) throw parse_failure();
  return x;
}

[[gnu::noinline]] int parse_twice(int x) {
  depth_sink = x;
  return throw_site_parse(x) + throw_site_parse(x + 1);
}

[[gnu::noinline]] int throw_site_int(int x) {
  if (x >= 0) throw 42;
  return x;
}

// std::future_error, thrown by libstdc++'s own out-of-line code (std::__throw_future_error).
[[gnu::noinline]] int throw_site_future_twice(int x) {
  std::promise<int> p;
  (void)p.get_future();
  (void)p.get_future();
  return x;
}

[[gnu::noinline]] int throw_site_runtime_error(int x) {
  if (x >= 0) throw std::runtime_error("plain");
  return x;
}

class ThrowStack : public testing::TestWithParam<start_method> {
 protected:
  process_pool_options options() {
    process_pool_options o;
    o.max_workers = 1;
    o.method = GetParam();
    return o;
  }
};

// The remote_error that f(x) in a worker ended with.
template <class F>
remote_error remote_failure(process_pool_executor& pool, F f, int x) {
  try {
    (void)pool.submit(f, x).result(60s);
  } catch (const remote_error& e) {
    return e;
  }
  ADD_FAILURE() << "no remote_error";
  return remote_error("none", "none");
}

TEST_P(ThrowStack, TracebackNamesTheThrowerFirstThenItsCallers) {
  process_pool_executor pool(options());
  const remote_error e = remote_failure(pool, &parse_twice, 1);
  EXPECT_NE(e.type_name().find("parse_failure"), std::string::npos) << e.type_name();
  const std::string& tb = e.traceback();
  ASSERT_EQ(tb.rfind("  #0 ", 0), 0u) << tb;
  const std::string first = tb.substr(0, tb.find('\n'));
  EXPECT_NE(first.find("throw_site_parse"), std::string::npos) << tb;
  EXPECT_NE(tb.find("parse_twice"), std::string::npos) << tb;
  EXPECT_EQ(tb.find("__cxa_throw"), std::string::npos) << tb;
  EXPECT_EQ(tb.find("invoke_serialized"), std::string::npos) << "frames below the call:\n" << tb;
  EXPECT_EQ(tb.find("std::apply"), std::string::npos) << "frames below the call:\n" << tb;
}

TEST_P(ThrowStack, NonStdExceptionsCarryItToo) {
  process_pool_executor pool(options());
  const remote_error e = remote_failure(pool, &throw_site_int, 1);
  EXPECT_EQ(e.type_name(), "int");
  EXPECT_NE(e.traceback().find("throw_site_int"), std::string::npos) << e.traceback();
}

TEST_P(ThrowStack, ThrowsInsideTheStandardLibraryAreRecorded) {
  process_pool_executor pool(options());
  const remote_error e = remote_failure(pool, &throw_site_future_twice, 1);
  EXPECT_EQ(e.type_name(), "std::future_error");
  EXPECT_NE(e.traceback().find("throw_site_future_twice"), std::string::npos) << e.traceback();
}

TEST_P(ThrowStack, MapChunksCarryIt) {
  process_pool_executor pool(options());
  const std::vector<int> xs{-3, -2, 5, -1};
  try {
    for (int v : pool.map(&throw_site_parse, xs, map_options{.chunksize = 4})) (void)v;
    ADD_FAILURE() << "no exception";
  } catch (const remote_error& e) {
    EXPECT_NE(e.traceback().find("throw_site_parse"), std::string::npos) << e.traceback();
  }
}

TEST_P(ThrowStack, StdExceptionsComeBackAsThemselvesWithout) {
  process_pool_executor pool(options());
  EXPECT_THROW((void)pool.submit(&throw_site_runtime_error, 1).result(60s), std::runtime_error);
}

TEST(ThrowStackHere, NothingIsRecordedOutsideWorkers) {
  try {
    throw_site_parse(1);
  } catch (...) {
    EXPECT_EQ(cfutures::detail::throw_stack(std::current_exception()), "");
  }
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ThrowStack,
                         testing::Values(start_method::fork, start_method::spawn,
                                         start_method::forkserver),
                         [](const auto& info) {
                           return info.param == start_method::fork    ? "fork"
                                  : info.param == start_method::spawn ? "spawn"
                                                                      : "forkserver";
                         });

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
