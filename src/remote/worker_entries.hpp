// Other ways a program can be started as a worker, found by serve_if_worker: a layer whose
// workers are started by someone else (the MPI pool's, by MPI_Comm_spawn) registers how to
// recognise and serve them, so that serve_if_worker (process layer) serves them without
// depending on that layer.
//
//   mpi/pool_executor.cpp, static initialisation ── register_worker_entry(&serve_if_spawned)
//   main() → serve_if_worker(argc, argv) ── run_worker_entries(argc, argv): each entry
//     returns if this process is not its worker; otherwise it serves and ends the process.
//
// A program that never links the layer registers nothing: its entry costs nothing.
#pragma once

namespace cfutures::detail {

// Returns if this process is not the entry's worker; otherwise serves and never returns.
using worker_entry = void (*)(int argc, char** argv);

// Registers an entry (at static initialisation; at most a handful; idempotent).
void register_worker_entry(worker_entry entry) noexcept;

// Runs every registered entry, in the order they were registered.
void run_worker_entries(int argc, char** argv);

}  // namespace cfutures::detail
