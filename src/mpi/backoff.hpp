// How the root's manager thread (comm_core.hpp) waits for replies without taking a CPU from
// the ranks that work.
//
// Open MPI has no blocking wait: MPI_Mprobe polls inside, yielding between polls at best.
// The manager used to block there once its calls had been out for 100 µs; on a machine with
// fewer cores than processes (2 vCPUs, 3 ranks: the benchmarks' job) it then took CPU time
// from the one rank that worked. Now it probes without blocking (MPI_Improbe) for a spin
// window, which keeps the round trip of quick calls at MPI's latency, then pauses between
// probes: pauses that double from first_pause to max_pause (mpi4py.futures' backoff sleeps
// up to 1 ms), ended at once by a submit (the manager sleeps on a futex word).
//
//   probe ... probe (spin window)  probe  10 µs  probe  20 µs  probe ... 250 µs  probe ...
//
// A reply that comes while the manager pauses is taken at most max_pause late.
//
// Serving ranks still wait in MPI_Mprobe: polling MPI_Improbe there, with or without yields
// and pauses, halved the ranks' throughput of trivial calls (bench/mpi, 3 ranks on 2 vCPUs:
// 36-46 k calls/s against 95-117 k), as Open MPI's own wait loop progresses more cheaply
// than one MPI_Improbe call per poll.
#pragma once

#include <algorithm>
#include <chrono>

namespace cfutures::detail {

class mpi_backoff {
 public:
  static constexpr std::chrono::microseconds first_pause{10};
  static constexpr std::chrono::microseconds max_pause{250};

  explicit mpi_backoff(std::chrono::microseconds spin_window) noexcept
      : spin_until_(std::chrono::steady_clock::now() + spin_window) {}

  // How long to pause before the next probe: zero within the spin window.
  std::chrono::microseconds next() noexcept {
    if (std::chrono::steady_clock::now() < spin_until_) return std::chrono::microseconds(0);
    const std::chrono::microseconds pause = pause_;
    pause_ = std::min(2 * pause_, max_pause);
    return pause;
  }

 private:
  std::chrono::steady_clock::time_point spin_until_;
  std::chrono::microseconds pause_ = first_pause;
};

}  // namespace cfutures::detail
