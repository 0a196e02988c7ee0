// Resource hygiene (issue 6): creating and destroying executors, each after a call, leaves no
// thread, no child process and no file descriptor behind. CFUTURES_STRESS_CYCLES sets the
// number of cycles (default 100 per executor; the long form runs 1000).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "executor_traits.hpp"
#include "stress_support.hpp"

namespace {

template <class Traits>
class Hygiene : public stress::typed_suite<Traits> {};
TYPED_TEST_SUITE(Hygiene, conformance::executor_types, conformance::executor_names);

}  // namespace

TYPED_TEST(Hygiene, CreateUseDestroyLeavesNothingBehind) {
  const stress::leak_check leaks;
  const long n = stress::count_from_env("CFUTURES_STRESS_CYCLES", stress::long_form ? 1000 : 100);
  for (int i = 0; i < n; ++i) {
    auto ex = TypeParam::make(2);
    ASSERT_EQ(ex->submit(conformance::tasks::mul, i, 3).result(), 3 * i) << "cycle " << i;
  }
  leaks.expect_nothing_left("after " + std::to_string(n) + " cycles");
}

TYPED_TEST(Hygiene, CreateAndDestroyWithoutUseLeavesNothingBehind) {
  const std::size_t threads_before = conformance::baseline_threads();
  const std::size_t fds_before = conformance::open_descriptors();
  const long n = stress::count_from_env("CFUTURES_STRESS_CYCLES", stress::long_form ? 1000 : 100);
  for (long i = 0; i < n; ++i) {
    auto ex = TypeParam::make(2);
  }
  EXPECT_FALSE(stress::has_children());
  EXPECT_EQ(conformance::count_threads(), threads_before);
  EXPECT_EQ(conformance::open_descriptors(), fds_before);
}
