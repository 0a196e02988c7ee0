// cfutures::mpi::comm_executor: the same object on every rank — the root's executor
// (comm_core.hpp) or, on the other ranks, a server that returns once the root is done
// (rank_server.hpp).
#include <stdexcept>
#include <string>

#include "cfutures/mpi.hpp"
#include "mpi/comm_core.hpp"
#include "mpi/mpi_environment.hpp"
#include "mpi/rank_server.hpp"

namespace cfutures::mpi {

comm_executor::comm_executor(MPI_Comm comm, int root) {
  const int thread_level = detail::ensure_mpi_ready();
  int inter = 0;
  detail::check_mpi(MPI_Comm_test_inter(comm, &inter), "MPI_Comm_test_inter");
  if (inter) throw std::invalid_argument("comm_executor: an intercommunicator is not supported");
  int size = 0;
  int rank = 0;
  detail::check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  detail::check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  if (root < 0 || root >= size) {
    throw std::invalid_argument("comm_executor: root " + std::to_string(root) +
                                " is not a rank of a communicator of size " + std::to_string(size));
  }
  MPI_Comm own = MPI_COMM_NULL;
  detail::check_mpi(MPI_Comm_dup(comm, &own), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(own, MPI_ERRORS_RETURN);
  if (rank != root) {
    detail::serve_rank(own, root);
    MPI_Comm_free(&own);
    return;
  }
  try {
    core_ = std::make_shared<detail::comm_core>(own, root, thread_level < MPI_THREAD_MULTIPLE);
  } catch (...) {
    MPI_Comm_free(&own);
    throw;
  }
  core_->start_manager();
}

comm_executor::~comm_executor() {
  if (!core_) return;
  core_->shutdown(true, false);
  core_->detach_if_manager();
}

std::size_t comm_executor::max_workers() const noexcept { return core_ ? core_->max_workers() : 0; }

executor_stats comm_executor::stats() const noexcept {
  return core_ ? core_->stats() : executor_stats{};
}

void comm_executor::shutdown(shutdown_options options) noexcept {
  if (core_) core_->shutdown(options.wait, options.cancel_futures);
}

void comm_executor::require_root() const {
  if (!core_) {
    throw error(
        "cfutures::mpi::comm_executor: only the root rank runs work (is_root() is false on "
        "this rank)");
  }
}

detail::remote_queue& comm_executor::queue() const {
  require_root();
  return *core_;
}

}  // namespace cfutures::mpi
