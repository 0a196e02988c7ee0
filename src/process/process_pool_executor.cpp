// process_pool_executor, the public class: a thin facade over its core
// (process_pool_core.hpp), and serve_if_worker, where a spawned worker starts serving.
#include "cfutures/process_pool_executor.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "process/forkserver.hpp"
#include "process/process_pool_core.hpp"
#include "process/shm_blocks.hpp"
#include "process/worker_serve.hpp"
#include "remote/worker_entries.hpp"

namespace cfutures {

process_pool_executor::process_pool_executor(std::size_t max_workers)
    : process_pool_executor(process_pool_options{.max_workers = max_workers}) {}

process_pool_executor::process_pool_executor(process_pool_options options)
    : core_(std::make_shared<detail::process_pool_core>(std::move(options))) {}

process_pool_executor::~process_pool_executor() {
  core_->shutdown(true, false);
  core_->detach_if_manager();
  detail::release_block_pool();
}

std::size_t process_pool_executor::max_workers() const noexcept { return core_->max_workers(); }

executor_stats process_pool_executor::stats() const noexcept { return core_->stats(); }

detail::remote_queue& process_pool_executor::queue() noexcept { return *core_; }

void process_pool_executor::shutdown(shutdown_options options) noexcept {
  core_->shutdown(options.wait, options.cancel_futures);
}

void process_pool_executor::terminate_workers() noexcept { core_->force_shutdown(SIGTERM); }

void process_pool_executor::kill_workers() noexcept { core_->force_shutdown(SIGKILL); }

void serve_if_worker(int argc, char** argv) {
  detail::run_worker_entries(argc, argv);  // e.g. the MPI pool's spawned workers
  detail::serve_if_forkserver();
  const char* fd_text = std::getenv(detail::worker_fd_variable);
  if (!fd_text) return;
  const int fd = std::atoi(fd_text);
  unsetenv(detail::worker_fd_variable);
  if (fd <= 2) {
    std::fprintf(stderr, "cfutures: invalid %s=%s\n", detail::worker_fd_variable, fd_text);
    _exit(2);
  }
  detail::serving_as_worker = true;
  const int code = detail::serve_worker(fd);
  std::fflush(nullptr);
  _exit(code);
}

}  // namespace cfutures
