// cfutures/executor.hpp — what every executor shares: the `executor` concept, its options and
// map()'s result range.
//
// What: Python's Executor interface, as each cfutures executor implements it:
//   submit(f, args...) -> future<R>     schedule f(args...) (arguments decay-copied now)
//   map(f, ranges... [, map_options])   -> map_range<R>, results in input (or completion) order
//   shutdown(shutdown_options = {})     stop accepting work; optionally cancel queued work
//   destructor                          shutdown({.wait = true}) — Python's `with` block
// Executors are neither copyable nor movable.
//
// concept executor<E>: holds for every cfutures executor (thread_pool_executor,
// process_pool_executor, mpi::comm_executor), so generic code is written once:
//   void run_all(cfutures::executor auto& ex) { auto f = ex.submit(&work); ... }
// It requires submit(f) -> future<R>, map(f, range) -> an input range, a noexcept
// shutdown(shutdown_options) and max_workers(). It is checked with a plain function of ints,
// the one kind of call every executor accepts (process and MPI executors take only plain
// functions and captureless lambdas with serializable arguments): that an executor satisfies
// it does not mean it accepts every callable.
//
// map_range<R>: an input range over the results of map(), in input order by default, by value
// (std::monostate for a void f). Reaching a position (dereferencing or stepping over it)
// blocks until that call is done and rethrows its exception there; the timeout is measured
// from the map() call (timeout_error). After an exception or a timeout the range ends and the
// calls not yet started are cancelled; destroying the range early cancels them too. With
// `buffersize`, at most that many calls run ahead of the consumer (Python 3.14): the inputs
// are then read lazily, so ranges passed as lvalues must outlive the map_range. The
// map_range must not outlive its executor. std::move(range).to_vector() is Python's
// list(executor.map(...)).
// With chunksize > 1 on an executor that batches calls (process pool, MPI), each chunk is one
// remote call with one future for its values, as in Python: its calls run in order in one
// worker and stop at the first exception, which the range rethrows at that position;
// cancelling concerns whole chunks. `buffersize` still counts calls: chunks are then at most
// buffersize calls, and the next one is submitted once a whole chunk has been consumed.
// With `ordered = false` (mpi4py's unordered, Ray's map_unordered) the range yields the
// results as the calls complete instead (a chunk's values together, in their order), on
// every executor; an exception is rethrown when its call's turn comes, as above, and with
// `buffersize` the next call is submitted as each result is handed out.
// When every input range is sized, map() returns a sized_map_range<R> (a map_range<R> with
// size(): the number of calls, the shortest input's length), which is how progress() knows
// its total; it converts to map_range<R> by moving.
//
// Thread safety: the options are plain values. A map_range is consumed by one thread.
// Blocking: map() itself blocks only where the executor's submit does (a thread pool's
//   max_pending); the map_range blocks when a position is reached.
// Throws: map(): std::invalid_argument for a chunksize or buffersize of 0, and what the
//   executor's submit throws (shutdown_error, broken_executor); the map_range rethrows each
//   call's exception at its position, and timeout_error past the timeout.
// Python counterpart: concurrent.futures.Executor (submit, map, shutdown, the `with` block);
//   map_range is the generator Executor.map returns.
// Deviations: map_options is a trailing argument recognised by its type (Python's keyword
//   arguments timeout, chunksize, buffersize; `ordered` is mpi4py's `unordered` negated); invalid values throw std::invalid_argument
//   (Python: ValueError); the values are yielded by value, std::monostate for a void f.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <optional>
#include <ranges>
#include <vector>

#include "cfutures/detail/map_range.hpp"
#include "cfutures/errors.hpp"
#include "cfutures/future.hpp"

namespace cfutures {

// The options of map(f, ranges..., map_options): an aggregate.
struct map_options {
  std::optional<std::chrono::nanoseconds> timeout{};  // unset: no limit
  std::size_t chunksize = 1;                          // calls per message (process/MPI); 0: invalid
  std::optional<std::size_t> buffersize{};  // unset: submit everything at once; 0: invalid
  bool ordered = true;  // false: results as the calls complete (mpi4py's unordered)
};

// The options of shutdown(shutdown_options): an aggregate.
struct shutdown_options {
  bool wait = true;             // block until running work is done and the workers are gone
  bool cancel_futures = false;  // cancel every call not yet started
};

namespace detail {

// Declared, never defined: named only in the unevaluated operands of `executor`.
int executor_probe();
int executor_probe_1(int);

}  // namespace detail

// Holds for every cfutures executor: submit, map, a noexcept shutdown, max_workers.
// (clang-format 14 would break the noexcept requirement apart.)
// clang-format off
template <class E>
concept executor = requires(E& ex, const std::vector<int>& inputs, shutdown_options options) {
  { ex.submit(&detail::executor_probe) } -> std::same_as<future<int>>;
  { ex.map(&detail::executor_probe_1, inputs) } -> std::ranges::input_range;
  { ex.shutdown(options) } noexcept;
  { ex.max_workers() } -> std::convertible_to<std::size_t>;
};
// clang-format on

}  // namespace cfutures

// map()'s implementation, shared by every executor (it needs map_options, above).
#include "cfutures/detail/executor_map.hpp"  // IWYU pragma: export
