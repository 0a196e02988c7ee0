// cfutures/cfutures.hpp — the umbrella header: everything but MPI.
//
// What: cfutures is Python's concurrent.futures for C++20: executors that return futures;
// wait, as_completed, map, shutdown, cancellation, timeouts and broken pools. This header
// includes every public header but <cfutures/mpi.hpp> (target cfutures::mpi).
//
// Thread safety: see each header.
// Blocking: including it starts nothing; see each header.
// Throws: see each header.
// Python counterpart: the concurrent.futures package; docs/python-mapping.md maps it name
//   by name.
// Deviations: written in each header that declares one.
#pragma once

#include "cfutures/any_future.hpp"
#include "cfutures/callback_errors.hpp"
#include "cfutures/compose.hpp"
#include "cfutures/dataflow.hpp"
#include "cfutures/errors.hpp"
#include "cfutures/executor.hpp"
#include "cfutures/future.hpp"
#include "cfutures/process_pool_executor.hpp"
#include "cfutures/progress.hpp"
#include "cfutures/promise.hpp"
#include "cfutures/serialization.hpp"
#include "cfutures/shared_buffer.hpp"
#include "cfutures/stats.hpp"
#include "cfutures/thread_pool_executor.hpp"
#include "cfutures/trace.hpp"
#include "cfutures/wait.hpp"
