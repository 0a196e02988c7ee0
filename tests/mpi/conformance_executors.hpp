// The executors the conformance suite (tests/conformance) runs against in the MPI test
// binary: comm_executor over all 3 ranks (2 workers) and over MPI_COMM_SELF (the root runs
// the calls itself), and pool_executor with 2 spawned workers (this binary again: main()
// calls serve_if_worker first). Included by executor_traits.hpp through
// CONFORMANCE_EXECUTORS_HEADER.
#pragma once

#include <gtest/gtest.h>

#include <cfutures/mpi.hpp>
#include <cstddef>
#include <memory>
#include <string>

#include "rank_harness.hpp"

namespace conformance {

struct mpi_world_traits {
  using executor_type = mpi_test::world_executor;
  static constexpr std::size_t worker_count = 2;  // mpiexec -n 3: the root and 2 workers
  static std::string name() { return "mpi_world"; }
  static std::unique_ptr<executor_type> make(std::size_t) {
    return std::make_unique<executor_type>();
  }
};

struct mpi_self_traits {
  using executor_type = cfutures::mpi::comm_executor;
  static constexpr std::size_t worker_count = 1;
  static std::string name() { return "mpi_self"; }
  static std::unique_ptr<executor_type> make(std::size_t) {
    return std::make_unique<executor_type>(MPI_COMM_SELF);
  }
};

struct mpi_pool_traits {
  using executor_type = cfutures::mpi::pool_executor;
  static constexpr std::size_t worker_count = 2;
  static std::string name() { return "mpi_pool"; }
  static std::unique_ptr<executor_type> make(std::size_t workers) {
    return std::make_unique<executor_type>(cfutures::mpi::pool_options{.max_workers = workers});
  }
};

using executor_types = ::testing::Types<mpi_world_traits, mpi_self_traits, mpi_pool_traits>;

}  // namespace conformance
