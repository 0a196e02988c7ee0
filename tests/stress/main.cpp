// The reliability binary's main(): spawn-mode workers run this program again, so
// serve_if_worker comes first (in a worker it never returns).
#include <gtest/gtest.h>

#include <cfutures/process_pool_executor.hpp>

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
