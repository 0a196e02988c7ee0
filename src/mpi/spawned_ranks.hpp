// The ranks of a pool_executor: started with MPI_Comm_spawn, running this same program, and
// joined to the spawning process by one intracommunicator (the spawn's intercommunicator,
// merged), on which the spawning process is rank 0 — so comm_core drives them exactly as
// it drives a communicator's ranks.
//
//   spawning process (pool_executor)          each spawned process (this program again)
//   ────────────────────────────────          ─────────────────────────────────────────
//   MPI_Comm_spawn(/proc/self/exe,            main() → serve_if_worker(argc, argv):
//     {worker_flag}, n, info) ──────────────▶   worker_flag in argv: MPI_Init_thread,
//                                               MPI_Comm_get_parent
//   MPI_Intercomm_merge(low) ◀─────────────▶  MPI_Intercomm_merge(high)
//   comm_core(merged, root 0) ─── calls ────▶ serve_rank(merged, 0) until exit
//   ~comm_core: free merged,  ◀────────────▶  free merged, MPI_Comm_disconnect(parent),
//     MPI_Comm_disconnect(intercomm)            MPI_Finalize, _exit(0)
//
// Spawn info: "host" (the pool's hosts, comma-joined) when given; "map_by"
// "slot:OVERSUBSCRIBE", so that more workers than free slots still start (as a process
// pool would) instead of failing (Open MPI fills free slots first); "bind_to" "none"
// (<cfutures/mpi_pool_executor.hpp>, Placement); then the pool's mpi_info, which may
// override any of them.
//
// The workers are told the point-to-point layer (PML) this process selected (pml_flag;
// they set OMPI_MCA_pml to it before MPI_Init). Without it each worker's MPI_Init tries
// every PML in turn, and Debian's Open MPI 4.1 then spends ~220 ms probing for Omni-Path
// and PSM hardware (pml cm's PSM2/PSM transports) on a machine that has none: the spawn
// of 2 workers across the test hosts took 400-500 ms, 160-220 ms with it (bench/README.md,
// "Per-call memory, and what MPI costs"). The selection is the one component of the PML
// framework that Open MPI kept loaded after MPI_Init (it unloads the others); with no such
// shared object (a static build) or more than one (pml monitoring stacked on another),
// nothing is passed and the workers select as before. Either way they end with the parent's PML,
// which Open MPI requires of the processes it connects.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace cfutures::detail {

// The argument a spawned worker is started with.
inline constexpr const char* spawned_worker_flag = "--cfutures-mpi-pool-worker";
// Followed by the PMIx store (PMIX_MCA_gds) the spawning process uses, when it chose one.
inline constexpr const char* pmix_store_flag = "--cfutures-pmix-gds=";
// Followed by the PML this process selected (see above), when it can tell.
inline constexpr const char* pml_flag = "--cfutures-mpi-pml=";

struct spawned_ranks {
  MPI_Comm intercomm = MPI_COMM_NULL;  // to the spawned processes
  MPI_Comm merged = MPI_COMM_NULL;     // this process is rank 0, workers 1..n
};

// mpi4py's default pool size: MPI's universe size minus the world's size when that is
// positive, else 1.
std::size_t default_pool_size();

using spawn_info = std::vector<std::pair<std::string, std::string>>;

// Spawns n workers (on `hosts` if not empty; `extra` set last); both communicators return
// errors (MPI_ERRORS_RETURN). Throws std::invalid_argument for a host name or info pair
// MPI cannot take, cfutures::error naming MPI's reason if the spawn fails (no process is
// left then).
spawned_ranks spawn_ranks(std::size_t n, const std::vector<std::string>& hosts,
                          const spawn_info& extra);

// serve_if_worker's entry (remote/worker_entries.hpp): returns unless `argv` carries
// spawned_worker_flag; otherwise serves the spawning pool and ends the process.
void serve_if_spawned(int argc, char** argv);

}  // namespace cfutures::detail
