// cfutures/mpi.hpp — an executor over the ranks of an MPI communicator (mpi4py's
// MPICommExecutor); with it, mpi::pool_executor (mpi4py's MPIPoolExecutor, workers spawned
// by MPI: <cfutures/mpi_pool_executor.hpp>). Target cfutures::mpi (Open MPI, found by
// CMake's FindMPI). Running on a cluster (hostfiles, Slurm, MCA settings): docs/mpi.md.
//
// What: every rank of an `mpiexec -n N` job runs the same program and constructs
//   cfutures::mpi::comm_executor ex;                  // MPI_COMM_WORLD, root 0
//   cfutures::mpi::comm_executor ex(comm, root);
//   if (ex.is_root()) { auto f = ex.submit(count_primes, 0, 1'000'000); ... }
// On the root it is an executor like process_pool_executor (submit, map, shutdown, the
// destructor; futures work with wait/as_completed): calls run on the other ranks. On every
// other rank the constructor serves calls until the root shuts the executor down, then
// returns; is_root() is then false and the object does nothing more (submit and map throw
// cfutures::error). Every rank must construct its comm_executors in the same order, as for
// any collective MPI call (the constructor duplicates `comm`: MPI_Comm_dup, so the
// executor's messages never mix with the program's own).
// Calls that can be sent: as for process_pool_executor — `f` is a plain function or a lambda
// without captures, its arguments and result are serializable (<cfutures/serialization.hpp>)
// and default-constructible; anything else is a compile-time error naming the type. Every
// rank runs the same binary (calls travel as code offsets, checked on arrival). Functions
// taking a std::stop_token are rejected at compile time.
// Semantics: as process_pool_executor:
//   - One call (or one map() chunk) per worker rank at a time, given to an idle rank only; a
//     call is running() once it is sent to a rank, and cancel() succeeds until then.
//   - An exception thrown by a call comes back as the same type when its exact dynamic type
//     is one of <stdexcept>'s, std::bad_alloc or cfutures' errors; any other as remote_error.
//   - map(f, ranges..., {.chunksize = n}) sends n calls as one message (one future per chunk).
//   - A communicator of one rank runs the calls on the root itself, one at a time, in the
//     executor's manager thread (through the same serialization: results and exceptions are
//     as with other ranks), like mpi4py's fallback.
//   - Done-callbacks run in the root's manager thread: keep them short.
//   - Values never cross through shared memory (ranks may be on other machines).
// MPI environment: if MPI is not initialised, the first constructor calls
//   MPI_Init_thread(MPI_THREAD_MULTIPLE) and MPI is finalised at exit (std::atexit). If the
//   program initialised MPI itself, it finalises MPI itself, after every comm_executor is
//   destroyed. With MPI_THREAD_MULTIPLE the program may use MPI freely meanwhile. Below it
//   (plain MPI_Init gives MPI_THREAD_SINGLE), the executor serializes, as mpi4py does: on the
//   root only its manager thread calls MPI while the executor runs, so the program must not
//   call MPI on the root meanwhile; below MPI_THREAD_SERIALIZED a warning is printed once.
// Lost ranks: the executor's communicator returns errors (MPI_ERRORS_RETURN) instead of
//   aborting. Where MPI reports an error to the root (a failed send or receive), the executor
//   breaks: the futures of running and queued calls fail with broken_executor, and later
//   submits throw it. But Open MPI 4.1 (without its ULFM extension) ends the whole job when a
//   rank dies: mpiexec then kills every rank, the root included, so a lost rank never leaves
//   the root hanging, and its futures are not failed either — the job is gone. Measured
//   across 3 hosts over TCP (tests/hosts): a killed rank ends the job in under a second,
//   mpiexec naming the rank and its node; a host whose link goes down is noticed only with
//   Open MPI's TCP keepalive (`--mca oob_tcp_keepalive_time 2 --mca oob_tcp_keepalive_intvl
//   1 --mca oob_tcp_keepalive_probes 3`: ended in ~5 s, naming the node) — without it the job
//   waits for ever. docs/reliability.md and docs/mpi.md have the details.
// CPU use: an idle executor costs the root nothing, but Open MPI's blocking calls poll, so
//   an idle worker rank may keep a core busy. Messages, waiting and polling:
//   docs/performance-notes.md.
//
// Thread safety: every member may be called from any thread of the root concurrently.
// Blocking: the constructor blocks on every rank but the root until the root shuts down;
//   submit never blocks; shutdown({.wait = true}) and the destructor wait for the running
//   calls and for every rank to be told to stop.
// Throws: std::invalid_argument for an intercommunicator or a root outside the communicator;
//   cfutures::error when MPI is finalised already or a call to MPI fails in the constructor;
//   shutdown_error / broken_executor from submit and map as other executors; cfutures::error
//   from submit and map on a rank other than the root. shutdown and the destructor never throw.
// Python counterpart: mpi4py.futures.MPICommExecutor (comm, root).
// Deviations from mpi4py: MPICommExecutor yields None on the other ranks; here the object
//   exists everywhere and is_root() tells. Python workers unpickle functions by name; here
//   the binary must be the same on every rank.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <memory>
#include <shared_mutex>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/remote_call.hpp"
#include "cfutures/detail/remote_executor.hpp"
#include "cfutures/executor.hpp"
#include "cfutures/future.hpp"
#include "cfutures/serialization.hpp"
#include "cfutures/stats.hpp"

namespace cfutures {
namespace detail {
class comm_core;
}  // namespace detail

namespace mpi {

class comm_executor {
 public:
  static constexpr bool batches_map_calls = true;  // map's chunksize is honoured

  // Collective over `comm`: on the root an executor; on other ranks, serves until shutdown.
  explicit comm_executor(MPI_Comm comm = MPI_COMM_WORLD, int root = 0);
  // On the root, shutdown({.wait = true}); on the other ranks, nothing.
  ~comm_executor();
  // Neither copyable nor movable.
  comm_executor(const comm_executor&) = delete;
  comm_executor& operator=(const comm_executor&) = delete;

  // True on the root, the only rank where the executor takes work.
  bool is_root() const noexcept { return core_ != nullptr; }
  // The ranks that run calls: the communicator's size minus the root, or 1 for a
  // communicator of one rank (the root runs them). 0 on the other ranks.
  std::size_t max_workers() const noexcept;
  // Counts of futures by state and ranks serving (stats.hpp); all 0 on the other ranks.
  executor_stats stats() const noexcept;

  // Schedules f(args...) on a worker rank (arguments encoded now): its future. Root only.
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
    require_root();
    return detail::executor_map(*this, std::forward<F>(f), std::forward<Args>(args)...);
  }

  // Stops accepting work; optionally cancels queued calls; waits; tells the ranks to stop.
  void shutdown(shutdown_options options = {}) noexcept;

 private:
  void require_root() const;
  // The root's queue; cfutures::error on the other ranks.
  detail::remote_queue& queue() const;

  std::shared_ptr<detail::comm_core> core_;  // the root's; null on the other ranks
};

}  // namespace mpi
}  // namespace cfutures

#include "cfutures/mpi_pool_executor.hpp"  // mpi::pool_executor (mpi4py's MPIPoolExecutor)
