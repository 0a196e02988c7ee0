// cfutures/cfutures.hpp — the umbrella header: everything but MPI.
//
// cfutures is Python's concurrent.futures for C++20: executors that return futures; wait,
// as_completed, map, shutdown, cancellation, timeouts and broken pools.
// See docs/python-mapping.md for the name-by-name correspondence with Python.
#pragma once

#include "cfutures/any_future.hpp"
#include "cfutures/callback_errors.hpp"
#include "cfutures/compose.hpp"
#include "cfutures/dataflow.hpp"
#include "cfutures/errors.hpp"
#include "cfutures/executor.hpp"
#include "cfutures/future.hpp"
#include "cfutures/process_pool_executor.hpp"
#include "cfutures/promise.hpp"
#include "cfutures/serialization.hpp"
#include "cfutures/thread_pool_executor.hpp"
#include "cfutures/wait.hpp"
