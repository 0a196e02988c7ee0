// tests/resilience/resilience_support.hpp — what the resilience tests share: the calls that
// crash, hang or leak (plain functions: they run in the worker processes), and the fixture
// parameterized by the start method (process_pool_support.hpp: CFUTURES_START_METHODS).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cfutures/cfutures.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "process_pool_support.hpp"

namespace resilience {

using namespace std::chrono_literals;
using cfutures::call_options;
using cfutures::future;
using cfutures::process_pool_executor;
using cfutures::process_pool_options;
using cfutures::start_method;
using cfutures::worker_death;
using conformance::contains;
using conformance::nothing_left_behind;
using conformance::outcome;

// How a poison call ends its worker.
enum poison : int { none = 0, segv = 1, abrt = 2, exit_7 = 3, sigkill = 4 };

// Returns x * 2, or ends its process as `how` says.
inline int twice_or_die(int x, int how) {
  switch (static_cast<poison>(how)) {
    case segv:
      conformance::no_core_dump();
      ::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would turn it into an exit
      ::raise(SIGSEGV);
      break;
    case abrt:
      conformance::no_core_dump();
      ::signal(SIGABRT, SIG_DFL);
      std::abort();
    case exit_7:
      ::_exit(7);
    case sigkill:
      ::kill(::getpid(), SIGKILL);
      break;
    case none:
      break;
  }
  return x * 2;
}

// Dies (SIGKILL) the first time: when `marker` does not exist yet; then returns x.
inline int die_once(std::string marker, int x) {
  if (::access(marker.c_str(), F_OK) != 0) {
    conformance::create_file(marker);
    ::kill(::getpid(), SIGKILL);
  }
  return x;
}

inline int pid_of(int) { return static_cast<int>(::getpid()); }

inline int sleep_for_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// Ignores SIGTERM, then sleeps (only SIGKILL ends it early).
inline int ignore_term_and_sleep(int ms) {
  ::signal(SIGTERM, SIG_IGN);
  return sleep_for_ms(ms);
}

// Allocates and touches `mib` MiB; keeps them (leak) or frees them. Returns the count.
inline std::size_t allocate_mib(std::size_t mib, bool leak) {
  std::vector<char>* block = new std::vector<char>(mib << 20);
  for (std::size_t i = 0; i < block->size(); i += 4096) (*block)[i] = 1;
  const std::size_t n = block->size() >> 20;
  if (!leak) delete block;
  return n;
}

// This worker's resident memory, in bytes.
inline std::size_t resident_bytes(int) {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// The error a future failed with, as E (a test failure if another).
template <class E, class T>
inline E failure_of(const future<T>& f) {
  try {
    (void)f.result(60s);
  } catch (const E& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected another exception type, got " << typeid(e).name() << ": "
                  << e.what();
    throw;
  }
  ADD_FAILURE() << "result() did not throw";
  throw std::logic_error("no exception");
}

class resilience_test : public conformance::process_pool_test_base {
 protected:
  process_pool_options fail_call(std::size_t workers, std::size_t retries = 0) const {
    process_pool_options o = options(workers);
    o.on_worker_death = worker_death::fail_call;
    o.max_retries = retries;
    return o;
  }
};

// True in builds with AddressSanitizer or ThreadSanitizer (an address-space limit cannot
// hold their shadow memory's reservations).
constexpr bool sanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#else
    false;
#endif

// True under AddressSanitizer: its own SIGSEGV handler reports a fault and exits (code 1)
// before the worker's crash handler sees it, so no stack is recorded there.
constexpr bool asan_reports_faults =
#if defined(__SANITIZE_ADDRESS__)
    true;
#else
    false;
#endif

}  // namespace resilience
