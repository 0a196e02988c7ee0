// A singleton's watch over its pool's workers. A program started without mpiexec that
// spawns workers (pool_executor) has Open MPI start a daemon (orted) as its child, and the
// workers are the daemon's children. When a worker dies the daemon aborts the workers' job
// and prints which process was lost and on which node — but it cannot end the singleton,
// which it did not start, and MPI reports nothing to it: the pool would wait for a reply
// forever (Open MPI 4.1). Under mpiexec, mpiexec ends every process of the job itself, and
// there is no such daemon child: nothing is watched.
//
//   pool_executor ctor ── watch_spawned_workers(): the daemon's children that are workers
//     and not yet watched get a detached thread each, blocked in poll() on a pidfd (no CPU)
//   a worker ends ──▶ unless its pool said it was ending (shutdown, the destructor) or MPI
//     is being finalised, the thread names the process and ends this one (_exit(1)), as
//     mpiexec would end the job
// Workers on other hosts (the "host" key) are not this host's processes: not watched.
#pragma once

#include <atomic>
#include <memory>

namespace cfutures::detail {

// Set by the pool before its workers are told to exit.
using pool_ending = std::shared_ptr<std::atomic<bool>>;

// After the spawn; never throws (what cannot be watched is not).
void watch_spawned_workers(const pool_ending& ending) noexcept;

}  // namespace cfutures::detail
