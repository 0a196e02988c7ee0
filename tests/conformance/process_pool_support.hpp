// tests/conformance/process_pool_support.hpp — what the process-pool files of the
// conformance suite share (process_pool_*_test.cpp, split along CPython's
// test_concurrent_futures files):
//   - nothing_left_behind, live_children, live_workers, no_child_process: no child process
//     and no file descriptor outlives a pool;
//   - broken_what, submit_broken_what, outcome: how a future or a submit failed;
//   - the tasks several files submit (plain functions: they run in the worker processes),
//     among them die_when, a call that dies in one of the ways a worker can;
//   - process_pool_test_base: a fixture parameterized by the start method (fork, spawn,
//     forkserver).
// Tasks are plain functions; coordination with the test goes through files (scratch_dir,
// gate), since the calls run in other processes.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cfutures/cfutures.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <new>
#include <ranges>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <typeinfo>
#include <vector>

#include "tasks.hpp"
#include "test_support.hpp"

namespace cfutures {
// Test names print the start method.
inline void PrintTo(start_method m, std::ostream* os) {
  *os << (m == start_method::fork ? "fork" : m == start_method::spawn ? "spawn" : "forkserver");
}
}  // namespace cfutures

namespace conformance {

using cfutures::future;
using cfutures::map_options;
using cfutures::process_pool_executor;
using cfutures::process_pool_options;
using cfutures::start_method;

// ---------------------------------------------------------------------------------------
// Processes and file descriptors of this process.

// Children of `parent` (this process by default) that have not ended (zombies excluded),
// from /proc.
inline std::vector<pid_t> live_children(pid_t parent = ::getpid()) {
  std::vector<pid_t> out;
  const pid_t me = parent;
  DIR* dir = ::opendir("/proc");
  if (!dir) return out;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string text;
    if (!std::getline(stat, text)) continue;
    // "pid (comm) state ppid ...": comm may hold anything, so parse after the last ')'.
    const auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 1));
    char state = 0;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == me && state != 'Z' && state != 'X') out.push_back(std::atoi(e->d_name));
  }
  ::closedir(dir);
  return out;
}

// The live worker processes of the pools of this process: its children, or with forkserver
// its children's children (the workers are children of the pool's server).
inline std::size_t live_workers(start_method m) {
  if (m != start_method::forkserver) return live_children().size();
  std::size_t n = 0;
  for (const pid_t server : live_children()) n += live_children(server).size();
  return n;
}

// No child at all, not even a zombie (waitpid gives ECHILD). Call it only when no child
// should exist: a zombie it finds is reaped.
inline ::testing::AssertionResult no_child_process() {
  const pid_t r = ::waitpid(-1, nullptr, WNOHANG);
  if (r == -1 && errno == ECHILD) return ::testing::AssertionSuccess();
  if (r > 0) return ::testing::AssertionFailure() << "an unreaped child (zombie) " << r;
  return ::testing::AssertionFailure()
         << "a child process is still running (" << live_children().size() << " live)";
}

// Declared first in a test: when it goes out of scope (last), no child process may be left
// and the descriptors are back to what they were.
class nothing_left_behind {
 public:
  nothing_left_behind() : fds_(open_descriptors()) {}
  nothing_left_behind(const nothing_left_behind&) = delete;
  nothing_left_behind& operator=(const nothing_left_behind&) = delete;
  ~nothing_left_behind() { check("at the end of the test"); }
  // No child process, and the descriptors are back (once the pools are destroyed).
  void check(const char* where) const {
    EXPECT_TRUE(no_child_process()) << where;
    EXPECT_EQ(open_descriptors(), fds_) << "file descriptors leaked " << where;
  }

 private:
  std::size_t fds_;
};

// The exception a future fails with must be broken_process_pool; returns its what().
template <class T>
inline std::string broken_what(const future<T>& f) {
  try {
    (void)f.result(10s);
    ADD_FAILURE() << "result() did not throw";
  } catch (const cfutures::broken_process_pool& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected broken_process_pool, got " << typeid(e).name() << ": " << e.what();
  }
  return {};
}

// What a submit to a broken pool throws (must be broken_process_pool).
template <class Submit>
inline std::string submit_broken_what(Submit submit) {
  try {
    submit();
    ADD_FAILURE() << "submit to a broken pool did not throw";
  } catch (const cfutures::broken_process_pool& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected broken_process_pool, got " << typeid(e).name() << ": " << e.what();
  }
  return {};
}

// How a done future ended, for failure messages.
template <class T>
inline std::string outcome(const future<T>& f) {
  if (f.cancelled()) return "cancelled";
  const std::exception_ptr e = f.exception(0s);
  if (!e) return "returned";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return std::string("threw ") + typeid(x).name() + ": " + x.what();
  } catch (...) {
    return "threw a non-std::exception";
  }
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

inline std::string method_name(start_method m) {
  return m == start_method::fork ? "fork" : m == start_method::spawn ? "spawn" : "forkserver";
}

// ---------------------------------------------------------------------------------------
// Tasks (plain functions: they run in the worker processes).

inline int get_pid() { return static_cast<int>(::getpid()); }
inline int pid_of_call(int) { return static_cast<int>(::getpid()); }
inline int mul(int a, int b) { return a * b; }

inline void write_text_file(const std::string& path, const std::string& text) {
  {
    std::ofstream out(path + ".tmp");
    out << text;
  }
  std::rename((path + ".tmp").c_str(), path.c_str());  // appears complete or not at all
}

inline int read_int_file(const std::string& path) {
  std::ifstream in(path);
  int v = -1;
  in >> v;
  return v;
}

// How a victim task dies.
enum class death : int {
  sigkill_self,
  sigsegv_self,
  abort,
  exit_3,
  killed_from_outside,
  terminated_from_outside
};

inline void no_core_dump() {
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
}

// Writes its pid to `pid_path`, waits for `go_path`, then dies as `how` says (the outside
// kinds are killed while they wait).
inline int die_when(std::string pid_path, std::string go_path, int how) {
  write_text_file(pid_path, std::to_string(::getpid()));
  if (tasks::wait_for_file(go_path) == -2) return -2;
  switch (static_cast<death>(how)) {
    case death::sigkill_self:
      ::kill(::getpid(), SIGKILL);
      break;
    case death::sigsegv_self:
      no_core_dump();
      ::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would turn it into an exit
      ::raise(SIGSEGV);
      break;
    case death::abort:
      no_core_dump();
      std::abort();
    case death::exit_3:
      ::_exit(3);
    case death::killed_from_outside:
    case death::terminated_from_outside:
      break;  // the test kills it before opening the gate
  }
  return 0;
}

inline void exit_with(int code) { ::_exit(code); }

// ever reaches).
inline int wait_then_finish(std::string started, std::string gate_path, std::string finished) {
  create_file(started);
  const int r = tasks::wait_for_file(std::move(gate_path));
  create_file(finished);
  return r;
}

inline void failing_init() { throw std::runtime_error("no database"); }

// --- big values ---
inline std::string echo(std::string s) { return s; }
// A string whose every byte depends on its position and on `seed`.
inline std::string patterned(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) >> 3);
  return s;
}
inline std::string reversed(std::string s) { return {s.rbegin(), s.rend()}; }

// ---------------------------------------------------------------------------------------
// Fixture: one start method per instantiation. Each file derives its own suite from it and
// instantiates it with CFUTURES_START_METHODS.

class process_pool_test_base : public ::testing::TestWithParam<start_method> {
 protected:
  process_pool_options options(std::size_t workers) const {
    return {.max_workers = workers, .method = GetParam()};
  }
};

}  // namespace conformance

// Instantiates the parameterized suite `suite` for every start method, named fork, spawn
// and forkserver; without fork where forked workers can hang (test_support.hpp).
#if CFUTURES_FORKED_WORKERS_CAN_HANG
#define CFUTURES_TESTED_START_METHODS \
  cfutures::start_method::spawn, cfutures::start_method::forkserver
#else
#define CFUTURES_TESTED_START_METHODS \
  cfutures::start_method::fork, cfutures::start_method::spawn, cfutures::start_method::forkserver
#endif
#define CFUTURES_START_METHODS(suite)                                                             \
  INSTANTIATE_TEST_SUITE_P(StartMethods, suite, ::testing::Values(CFUTURES_TESTED_START_METHODS), \
                           [](const auto& info) { return conformance::method_name(info.param); })
