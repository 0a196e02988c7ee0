// Resource hygiene (issue 6): creating and destroying executors, each after a call, leaves no
// thread, no child process and no file descriptor behind. CFUTURES_STRESS_CYCLES sets the
// number of cycles (default 100 per executor; the long form runs 1000).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "executor_traits.hpp"

namespace {

int cycles() {
  const char* text = std::getenv("CFUTURES_STRESS_CYCLES");
  return text ? std::max(1, std::atoi(text)) : 100;
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

// Whether any child process, running or zombie, is left: waitpid() reports ECHILD when there
// is none (WNOHANG: it never blocks; a zombie it finds is reaped, and still reported).
bool has_children() {
  const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
  return !(pid == -1 && errno == ECHILD);
}

template <class Traits>
class Hygiene : public ::testing::Test {};
TYPED_TEST_SUITE(Hygiene, conformance::executor_types, conformance::executor_names);

}  // namespace

TYPED_TEST(Hygiene, CreateUseDestroyLeavesNothingBehind) {
  const std::size_t threads_before = conformance::baseline_threads();
  const std::size_t fds_before = open_descriptors();
  const int n = cycles();
  for (int i = 0; i < n; ++i) {
    auto ex = TypeParam::make(2);
    ASSERT_EQ(ex->submit(conformance::tasks::mul, i, 3).result(), 3 * i) << "cycle " << i;
  }
  EXPECT_FALSE(has_children()) << "a worker process (or its zombie) outlived its executor";
  // A joined thread may be listed in /proc for a moment after the join.
  const auto give_up = conformance::steady::now() + std::chrono::seconds(5);
  while (conformance::count_threads() > threads_before && conformance::steady::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(conformance::count_threads(), threads_before) << "after " << n << " cycles";
  EXPECT_EQ(open_descriptors(), fds_before) << "after " << n << " cycles";
}

TYPED_TEST(Hygiene, CreateAndDestroyWithoutUseLeavesNothingBehind) {
  const std::size_t threads_before = conformance::baseline_threads();
  const std::size_t fds_before = open_descriptors();
  for (int i = 0, n = cycles(); i < n; ++i) auto ex = TypeParam::make(2);
  EXPECT_FALSE(has_children());
  EXPECT_EQ(conformance::count_threads(), threads_before);
  EXPECT_EQ(open_descriptors(), fds_before);
}
