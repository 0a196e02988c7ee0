// Internal: large copies into shared memory done by two threads — the encoding thread and
// this process's copy helper — so that a large payload is written at up to twice one
// thread's memory bandwidth while the machine has a CPU to spare.
//
// Why: a large value crossing to a worker and back is copied four times (into a shared block,
// out of it into the worker's value, into the block, out into the caller's value: payload.hpp);
// the transfer is nothing but those copies, one thread at a time, and one thread does not
// use all of the memory bandwidth (16 MiB: ~1.4 ms alone, ~1.0 ms with a second thread, on
// the project's 2-vCPU VM). The two copies into shared memory are cfutures' own memcpy; the
// two out of it are std::string / std::vector's (no uninitialised storage to hand a second
// thread before C++23), so those stay single-threaded.
//
// The helper is one thread per process, started by prepare() (with the first shared block of
// the process, before any large value is decoded: started later, its first allocations could
// land in the hole a freed large value left and split it, so that the next value of that size
// faulted fresh pages in), and stopped by stop() (a process pool's destructor; prepare()
// starts it again). A forked child starts without one (pthread_atfork), and starts its own
// the same way — except under ThreadSanitizer, which cannot start threads in a child forked
// from a multi-threaded process: there a forked child copies alone.
//
// A copy (copy_bytes) splits its bytes into chunks that both threads claim from a shared
// counter; the caller never waits for the helper to start, only for the chunk it is copying:
//
//   caller: publish job, open ─ wake ─▶ helper: inside=1; open? claim chunks : nothing; inside=0
//           claim chunks ... none left
//           close; wait while inside
//
// open/inside are a Dekker pair (seq_cst): either the helper sees the job closed and leaves
// it alone, or the caller sees the helper inside and waits for its last chunk. One copy uses
// the helper at a time; a concurrent one copies alone.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cfutures::detail {

// Copies n bytes (from and to must not overlap), with the helper's help if n ≥ 4 MiB, the
// helper runs and no other copy is using it.
void copy_bytes(char* to, const char* from, std::size_t n) noexcept;

namespace copy_helper {
// Starts the helper if this process may run two threads at once and it is not running.
void prepare() noexcept;
// Stops and joins the helper (if running).
void stop() noexcept;
// In a forked child: forgets the parent's helper (its thread does not exist here).
void forget_inherited() noexcept;
// How many chunks (256 KiB) the helper has copied in this process (tests, diagnostics).
std::uint64_t helped_chunks() noexcept;
}  // namespace copy_helper

}  // namespace cfutures::detail
