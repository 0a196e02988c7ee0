// cfutures::mpi::pool_executor: spawned ranks (spawned_ranks.hpp) driven by the same core as
// comm_executor (comm_core.hpp), over the spawn's merged communicator; and the registration
// that lets serve_if_worker serve a spawned worker.
#include <utility>

#include "cfutures/mpi.hpp"
#include "mpi/comm_core.hpp"
#include "mpi/mpi_environment.hpp"
#include "mpi/spawned_ranks.hpp"
#include "mpi/worker_watch.hpp"
#include "remote/worker_entries.hpp"

namespace cfutures::mpi {
namespace {

// Linked in with pool_executor, so every program that can spawn workers can serve as one.
const bool registered = (detail::register_worker_entry(&detail::serve_if_spawned), true);

}  // namespace

pool_executor::pool_executor(pool_options options) {
  (void)registered;
  const int thread_level = detail::ensure_mpi_ready();
  const std::size_t n = options.max_workers.value_or(detail::default_pool_size());
  detail::spawned_ranks ranks = detail::spawn_ranks(n, options.hosts, options.mpi_info);
  detail::watch_spawned_workers(ending_);  // a lost worker must end a singleton too
  try {
    core_ = std::make_shared<detail::comm_core>(ranks.merged, 0, thread_level < MPI_THREAD_MULTIPLE,
                                                ranks.intercomm);
  } catch (...) {
    MPI_Comm_free(&ranks.merged);
    MPI_Comm_free(&ranks.intercomm);
    throw;
  }
  if (options.initializer) core_->initialize(options.initializer.call());
  core_->start_manager();
}

pool_executor::~pool_executor() {
  ending_->store(true);
  core_->shutdown(true, false);
  core_->detach_if_manager();
}

std::size_t pool_executor::max_workers() const noexcept { return core_->max_workers(); }

void pool_executor::shutdown(shutdown_options options) noexcept {
  ending_->store(true);
  core_->shutdown(options.wait, options.cancel_futures);
}

detail::remote_queue& pool_executor::queue() const noexcept { return *core_; }

}  // namespace cfutures::mpi
