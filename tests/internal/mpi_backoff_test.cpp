// The root manager's wait for replies (src/mpi/backoff.hpp): no pause within the spin window,
// then pauses that double from first_pause and stop growing at max_pause.
#include "mpi/backoff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace {

using cfutures::detail::mpi_backoff;
using namespace std::chrono_literals;

TEST(MpiBackoff, NoPauseWithinTheSpinWindow) {
  mpi_backoff backoff(10s);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(backoff.next(), 0us);
}

TEST(MpiBackoff, PausesDoubleUpToTheCapOnceTheWindowHasPassed) {
  mpi_backoff backoff(1ms);
  std::this_thread::sleep_for(2ms);
  std::chrono::microseconds expected = mpi_backoff::first_pause;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(backoff.next(), expected) << i;
    expected = std::min(2 * expected, mpi_backoff::max_pause);
  }
  EXPECT_EQ(backoff.next(), mpi_backoff::max_pause);
}

}  // namespace
