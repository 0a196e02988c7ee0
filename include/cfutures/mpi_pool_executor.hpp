// cfutures/mpi_pool_executor.hpp — a pool of worker processes started by MPI (mpi4py's
// MPIPoolExecutor). Included by <cfutures/mpi.hpp>; target cfutures::mpi.
//
// What: the program runs alone (a singleton) or as `mpiexec -n 1`, and
//   cfutures::mpi::pool_executor pool({.max_workers = 4});
//   auto f = pool.submit(count_primes, 0, 1'000'000);
// starts 4 processes of this same program with MPI_Comm_spawn and runs calls there, with
// the members of every executor (submit, submit_chunk, map with chunksize, shutdown, the
// destructor; futures work with wait/as_completed). The program's main() must call
// cfutures::serve_if_worker(argc, argv) first, as for a process pool's spawn method: in a
// spawned worker it serves calls and then ends the process (a spawned worker is recognised
// by an argument MPI gives it, --cfutures-mpi-pool-worker).
// Options (pool_options):
//   max_workers  unset: MPI's universe size minus the world's size, else 1 (mpi4py's rule:
//                `mpiexec -n 1 --host a:4,b:4` gives 7; a singleton's universe is itself,
//                so 1); 0: std::invalid_argument
//   hosts        the spawn's "host" info key, comma-joined: where the workers go. Unset:
//                Open MPI's default mapping over the job's allocation (mpiexec's --host or
//                hostfile, the Slurm allocation; a singleton's own host)
//   mpi_info     more info keys for the spawn, set after the pool's own (so they win):
//                {key, value} pairs; an empty key or value, a key of MPI_MAX_INFO_KEY (36)
//                characters or more, or a value (the joined hosts included) of
//                MPI_MAX_INFO_VAL (256) or more: std::invalid_argument
//   initializer  pool_initializer: a function (and its arguments, mpi4py's initargs) run
//                first in every worker; the constructor returns once every worker has run
//                it. If it throws in any worker, the pool is broken: submit and map throw
//                broken_executor naming the exception's what(), the workers still end and
//                no process is left (mpi4py's BrokenExecutor)
// Placement: the "map_by" info key is "slot:OVERSUBSCRIBE": Open MPI fills the free slots
//   first and then oversubscribes, so max_workers beyond the allocation's slots still start
//   (mpi4py's MPIPoolExecutor fails there with "not enough slots"). "bind_to" is "none":
//   a worker may run any call, threads included, on every CPU its host lets it use, as a
//   process pool's workers do. Open MPI's default (bind to a core when the job has at most
//   two processes) put each of two workers on one core, the first of its host: a worker's
//   threads shared one core, and where hosts share CPUs (containers, the project's
//   namespace test hosts) both workers shared it with the spawning process, which
//   `mpirun -n 1` binds there too; unbinding the workers doubled the pool's throughput
//   in that setting (bench/README.md, "Binding"). {"bind_to", "core"} in mpi_info
//   restores Open MPI's default.
// Semantics: as comm_executor (<cfutures/mpi.hpp>), the spawned processes being its ranks:
//   one call (or map chunk) per worker at a time, running() once sent, cancel() until then;
//   exceptions come back as the same type for <stdexcept>'s, std::bad_alloc and cfutures'
//   errors, any other as remote_error; map(f, ranges..., {.chunksize = n}) sends n calls
//   as one message; done-callbacks run in the pool's manager thread; values never cross
//   through shared memory (workers may be on other hosts). The workers start in the
//   constructor (as mpi4py's do on first use) and all at once: MPI_Comm_spawn is one call.
// Shutdown: shutdown({.wait = true}) and the destructor wait for the running calls, tell
//   every worker to exit, and disconnect from them (MPI_Comm_disconnect); each worker then
//   finalises MPI and exits: once the pool is destroyed no worker process is left. A pool
//   may be created again after an earlier one was destroyed, and pools may coexist.
// MPI environment: as comm_executor: initialised with MPI_THREAD_MULTIPLE by the library if
//   the program did not (finalised at exit), else the program's level (below MULTIPLE the
//   manager thread is the only one to call MPI while the pool runs). Before initialising MPI
//   the library sets PMIX_MCA_gds=hash unless the environment chose a PMIx store: with
//   Debian 12's Open MPI 4.1 + PMIx 4.2 the default store makes MPI_Comm_spawn hang now and
//   then (openpmix#2735); the workers get the store this process uses. A program that calls
//   MPI_Init itself should set it first (docs/mpi.md).
// Lost workers (Open MPI 4.1, no ULFM): a worker that dies ends the whole job, this process
//   included — under mpiexec, mpiexec kills every process and names the lost rank and its
//   node (measured across hosts: under a second); in a singleton, Open MPI's daemon aborts
//   the workers but cannot end this process, so the pool watches its workers on this host
//   (pidfds) and ends the process itself (exit 1, ~2 s), naming the worker's pid and host.
//   Nothing hangs — except a singleton's worker on another host (the "host" key), which it
//   cannot watch, and a host whose link goes down without Open MPI's TCP keepalive
//   (docs/mpi.md). An MPI error reported to this process breaks the pool: every pending
//   future fails with broken_executor, later submits throw it. docs/reliability.md has what
//   was measured.
//
// Thread safety: every member may be called from any thread concurrently.
// Blocking: the constructor blocks until the workers have started (MPI_Comm_spawn) and run
//   the initializer; submit never blocks; shutdown({.wait = true}) and the destructor wait
//   as above.
// Throws: the constructor std::invalid_argument (max_workers 0, a host name with a comma or
//   empty, an mpi_info pair as above), cfutures::error when MPI is finalised already or the
//   spawn fails (with MPI's reason; Open MPI also prints its own); submit and map
//   shutdown_error / broken_executor as other executors. shutdown and the destructor never
//   throw.
// Python counterpart: mpi4py.futures.MPIPoolExecutor(max_workers, initializer, initargs,
//   mpi_info={...}); map(..., timeout=) is map_options::timeout, as for every executor.
// Deviations from mpi4py: workers run this program (mpi4py's run a Python interpreter that
//   unpickles functions by name): the binary must be the same on every host and main() must
//   call serve_if_worker first; no path/env/wdir options (mpi_info passes whatever keys
//   Open MPI's spawn reads); the workers start, and run the initializer, in the
//   constructor, not lazily; oversubscription is allowed; workers are not bound (above).
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cfutures/detail/remote_call.hpp"
#include "cfutures/detail/remote_executor.hpp"
#include "cfutures/executor.hpp"
#include "cfutures/future.hpp"
#include "cfutures/serialization.hpp"

namespace cfutures {
namespace detail {
class comm_core;
}  // namespace detail

namespace mpi {

// The initializer of the pool's workers (mpi4py's initializer and initargs): a function and
// its arguments, sent like a call: `.initializer = &init` or
// `.initializer = {&init_with, 42, std::string("db")}`.
class pool_initializer : public detail::initializer_call {
 public:
  // No initializer.
  pool_initializer() = default;
  // f(args...) run first in every worker; f and args are checked and encoded as a call's.
  template <class F, class... Args>
  requires(!std::is_same_v<std::remove_cvref_t<F>, pool_initializer>)
      pool_initializer(F&& f, Args&&... args)  // NOLINT(google-explicit-constructor)
  {
    set(std::forward<F>(f), std::forward<Args>(args)...);
  }
};

struct pool_options {
  // Unset: MPI's universe size minus the world's, else 1 (mpi4py's rule).
  std::optional<std::size_t> max_workers{};
  // When set: the spawn's "host" info key (comma-joined).
  std::vector<std::string> hosts{};
  // More info keys for MPI_Comm_spawn (mpi4py's mpi_info), set after the pool's own, so
  // they override them: e.g. {{"bind_to", "core"}}, {{"add-host", "node4"}}.
  std::vector<std::pair<std::string, std::string>> mpi_info{};
  // Run first in every worker (mpi4py's initializer); if it throws, the pool is broken.
  pool_initializer initializer{};
};

class pool_executor {
 public:
  static constexpr bool batches_map_calls = true;  // map's chunksize is honoured

  // Spawns the workers (blocks until they have started).
  explicit pool_executor(pool_options options = {});
  // shutdown({.wait = true}): no worker is left afterwards.
  ~pool_executor();
  pool_executor(const pool_executor&) = delete;
  pool_executor& operator=(const pool_executor&) = delete;

  // The number of spawned workers.
  std::size_t max_workers() const noexcept;

  // Schedules f(args...) on a worker (arguments encoded now): its future.
  template <class F, class... Args>
  auto submit(F&& f, Args&&... args) {
    return detail::remote_submit(queue(), call_options{}, std::forward<F>(f),
                                 std::forward<Args>(args)...);
  }

  // One remote call running f over every argument tuple of `calls` in order (one chunk of
  // map): a single future for their values, ending at the first exception.
  template <class F, class... Args>
  auto submit_chunk(F f, std::vector<std::tuple<Args...>> calls) {
    return detail::remote_submit_chunk(queue(), f, std::move(calls));
  }

  // Python's Executor.map: f over the zipped ranges, in input order; chunksize batches.
  template <class F, class... Args>
  auto map(F&& f, Args&&... args) {
    return detail::executor_map(*this, std::forward<F>(f), std::forward<Args>(args)...);
  }

  // Stops accepting work; optionally cancels queued calls; waits; ends the workers.
  void shutdown(shutdown_options options = {}) noexcept;

 private:
  detail::remote_queue& queue() const noexcept;

  std::shared_ptr<detail::comm_core> core_;
  // Set once the workers may be told to exit (src/mpi/worker_watch.hpp).
  std::shared_ptr<std::atomic<bool>> ending_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace mpi
}  // namespace cfutures
