// How a process-pool worker kills itself, for the tests that inject faults: by SIGKILL,
// SIGSEGV, abort() or _exit(3), either now (during a call) or a little later, whatever it is
// doing then (reading a call, running one, writing a reply, or waiting). Each is a plain
// function, so any process pool can run it.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace stress {

enum death { by_sigkill, by_sigsegv, by_abort, by_exit, death_kinds };

[[noreturn]] inline void die(int how) {
  switch (how) {
    case by_sigkill:
      ::raise(SIGKILL);
      break;
    case by_sigsegv:
      ::signal(SIGSEGV, SIG_DFL);  // the kernel's death, not a sanitizer's report of it
      ::raise(SIGSEGV);
      break;
    case by_abort:
      std::abort();
    default:
      break;
  }
  ::_exit(3);
}

// Runs in a worker: the worker dies `delay_us` later, in the way `how` says.
inline int arm_death(int how, int delay_us) {
  std::thread([how, delay_us] {
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    die(how);
  }).detach();
  return 0;
}

// Runs in a worker: dies now (during a call).
inline int die_now(int how) { die(how); }

// Whether a broken_process_pool message says how a worker ended ("killed by signal 9",
// "exited with code 3", "terminated abruptly").
inline bool names_how_a_worker_ended(const std::string& what) {
  return what.find("signal") != std::string::npos ||
         what.find("exited with code") != std::string::npos ||
         what.find("terminated abruptly") != std::string::npos;
}

}  // namespace stress
