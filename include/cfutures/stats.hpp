// cfutures/stats.hpp — executor_stats, what an executor's stats() reports.
//
// What: a snapshot of an executor's counters (folly's PoolStats): futures by state, workers
// alive, and for the process pool how its workers came and went.
//   cfutures::executor_stats s = pool.stats();   // thread, process and MPI (root) executors
// Futures are counted as the executor made them: a map() chunk sent as one call counts once.
//   submitted   futures the executor accepted (a submit that threw is not counted)
//   queued      accepted, not started, not cancelled
//   running     started (taken by a worker), not done yet
//   completed   done with a value
//   failed      done with an exception (a worker's death and a call timeout included)
//   cancelled   cancelled (by future::cancel, shutdown's cancel_futures, request_stop)
//   workers     worker threads or processes alive now (MPI: ranks serving this executor)
//   workers_started, workers_died, retried, timed_out: the process pool's worker processes
//               started so far, those that ended without being asked to (crash, kill,
//               exit), calls run again after their worker died (max_retries), calls that
//               overran their timeout; 0 on the other executors
// Once every future is done and the executor is idle: submitted == completed + failed +
// cancelled and queued == running == 0; after shutdown({.wait = true}), workers == 0.
//
// Thread safety: stats() may be called from any thread, concurrently with everything.
// Blocking: stats() does not wait for work (it may take the executor's queue lock briefly).
// Throws: nothing.
// Python counterpart: none in concurrent.futures; folly's PoolStats, Dask's scheduler
//   counters, HPX's performance counters.
// Deviations: while work is in flight the fields are read one after the other, not at one
//   instant: a future may be seen both leaving one field and not yet in the next.
#pragma once

#include <cstddef>

namespace cfutures {

struct executor_stats {
  std::size_t submitted = 0;        // futures accepted
  std::size_t queued = 0;           // waiting to start
  std::size_t running = 0;          // started, not done
  std::size_t completed = 0;        // done with a value
  std::size_t failed = 0;           // done with an exception
  std::size_t cancelled = 0;        // cancelled
  std::size_t workers = 0;          // alive now
  std::size_t workers_started = 0;  // process pool: worker processes started so far
  std::size_t workers_died = 0;     // process pool: workers that ended unasked
  std::size_t retried = 0;          // process pool: calls run again after a worker died
  std::size_t timed_out = 0;        // process pool: calls that overran their timeout
};

}  // namespace cfutures
