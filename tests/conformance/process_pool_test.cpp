// What only a process pool does: CPython's test_process_pool.py (ProcessPoolExecutorTest),
// test_deadlock.py (ExecutorDeadlockTest) and the process parts of test_init.py and
// test_shutdown.py, run for both start methods (fork and spawn) where they apply:
//   - a worker that dies (SIGKILL from itself or from outside, abort(), _exit) breaks the
//     pool: the running and the pending futures fail with broken_process_pool naming the
//     process and how it ended, and later submits throw it;
//   - the initializer (runs first in every worker; a failing one breaks the pool);
//   - max_tasks_per_child (fresh processes, the pool keeps its size, early shutdown);
//   - exceptions (exact <stdexcept> and cfutures types kept, others as remote_error);
//   - big arguments and results, map's chunksize, terminate_workers()/kill_workers(),
//     cancelling queued calls, shutdown and destruction with pending work;
//   - nothing left behind: no child process, no file descriptor;
//   - a program that forgot serve_if_worker (the helper forgot_serve_if_worker.cpp).
// Tasks are plain functions; coordination with the test goes through files (scratch_dir,
// gate), since the calls run in other processes.
#include <gtest/gtest.h>

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

#include <cfutures/cfutures.hpp>

#include "tasks.hpp"
#include "test_support.hpp"

extern char** environ;

namespace cfutures {
// Test names print the start method.
inline void PrintTo(start_method m, std::ostream* os) {
  *os << (m == start_method::fork ? "fork" : "spawn");
}
}  // namespace cfutures

namespace conformance {
namespace {

using cfutures::future;
using cfutures::map_options;
using cfutures::process_pool_executor;
using cfutures::process_pool_options;
using cfutures::start_method;

// ---------------------------------------------------------------------------------------
// Processes and file descriptors of this process.

// Children of this process that have not ended (zombies excluded), from /proc.
std::vector<pid_t> live_children() {
  std::vector<pid_t> out;
  const pid_t me = ::getpid();
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

// No child at all, not even a zombie (waitpid gives ECHILD). Call it only when no child
// should exist: a zombie it finds is reaped.
::testing::AssertionResult no_child_process() {
  const pid_t r = ::waitpid(-1, nullptr, WNOHANG);
  if (r == -1 && errno == ECHILD) return ::testing::AssertionSuccess();
  if (r > 0) return ::testing::AssertionFailure() << "an unreaped child (zombie) " << r;
  return ::testing::AssertionFailure() << "a child process is still running ("
                                       << live_children().size() << " live)";
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
std::string broken_what(const future<T>& f) {
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
std::string submit_broken_what(Submit submit) {
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
std::string outcome(const future<T>& f) {
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

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string method_name(start_method m) { return m == start_method::fork ? "fork" : "spawn"; }

// ---------------------------------------------------------------------------------------
// Tasks (plain functions: they run in the worker processes).

int get_pid() { return static_cast<int>(::getpid()); }
int pid_of_call(int) { return static_cast<int>(::getpid()); }
int mul(int a, int b) { return a * b; }

void write_text_file(const std::string& path, const std::string& text) {
  {
    std::ofstream out(path + ".tmp");
    out << text;
  }
  std::rename((path + ".tmp").c_str(), path.c_str());  // appears complete or not at all
}

int read_int_file(const std::string& path) {
  std::ifstream in(path);
  int v = -1;
  in >> v;
  return v;
}

// How a victim task dies.
enum class death : int {
  sigkill_self,
  abort,
  exit_3,
  killed_from_outside,
  terminated_from_outside
};

void no_core_dump() {
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
}

// Writes its pid to `pid_path`, waits for `go_path`, then dies as `how` says (the outside
// kinds are killed while they wait).
int die_when(std::string pid_path, std::string go_path, int how) {
  write_text_file(pid_path, std::to_string(::getpid()));
  if (tasks::wait_for_file(go_path) == -2) return -2;
  switch (static_cast<death>(how)) {
    case death::sigkill_self:
      ::kill(::getpid(), SIGKILL);
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

void exit_with(int code) { ::_exit(code); }

// CPython's _crash_with_data: dies with a big argument in flight.
int crash_with_data(std::string data) {
  if (!data.empty()) ::kill(::getpid(), SIGKILL);
  return 0;
}

// Creates `started`, waits for `gate_path`, then creates `finished` (which no killed worker
// ever reaches).
int wait_then_finish(std::string started, std::string gate_path, std::string finished) {
  create_file(started);
  const int r = tasks::wait_for_file(std::move(gate_path));
  create_file(finished);
  return r;
}

// --- initializers ---
bool initialized = false;
int init_value = 0;
void init_mark(std::string dir) {
  create_file(dir + "/init_" + std::to_string(::getpid()));
  initialized = true;
}
void init_set_value(int v, std::string s) { init_value = v + static_cast<int>(s.size()); }
int read_init_value() { return init_value; }
// The pid of the worker once the gate opens, or -1 if its initializer had not run.
int initialized_pid(std::string started, std::string gate_path) {
  create_file(started);
  tasks::wait_for_file(std::move(gate_path));
  return initialized ? static_cast<int>(::getpid()) : -1;
}
void failing_init() { throw std::runtime_error("no database"); }
struct config_error : std::exception {
  const char* what() const noexcept override { return "bad configuration"; }
};
void failing_init_user_type() { throw config_error(); }

// --- exceptions ---
struct user_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct plain_failure {
  int code = 7;
};
enum class exc : int {
  logic, domain, invalid_argument, length, out_of_range, runtime, range, overflow, underflow,
  bad_alloc, error, cancelled, timeout, invalid_state, shutdown, broken_executor,
  broken_thread_pool, broken_process_pool, remote, user, plain, integer,
};
int throw_kind(int kind, std::string message) {
  switch (static_cast<exc>(kind)) {
    case exc::logic: throw std::logic_error(message);
    case exc::domain: throw std::domain_error(message);
    case exc::invalid_argument: throw std::invalid_argument(message);
    case exc::length: throw std::length_error(message);
    case exc::out_of_range: throw std::out_of_range(message);
    case exc::runtime: throw std::runtime_error(message);
    case exc::range: throw std::range_error(message);
    case exc::overflow: throw std::overflow_error(message);
    case exc::underflow: throw std::underflow_error(message);
    case exc::bad_alloc: throw std::bad_alloc();
    case exc::error: throw cfutures::error(message);
    case exc::cancelled: throw cfutures::cancelled_error(message);
    case exc::timeout: throw cfutures::timeout_error(message);
    case exc::invalid_state: throw cfutures::invalid_state_error(message);
    case exc::shutdown: throw cfutures::shutdown_error(message);
    case exc::broken_executor: throw cfutures::broken_executor(message);
    case exc::broken_thread_pool: throw cfutures::broken_thread_pool(message);
    case exc::broken_process_pool: throw cfutures::broken_process_pool(message);
    case exc::remote: throw cfutures::remote_error("some::remote_type", message);
    case exc::user: throw user_error(message);
    case exc::plain: throw plain_failure{};
    case exc::integer: throw 42;
  }
  return 0;
}

// A value whose serialization can fail on either side (CPython's ErrorAtPickle and
// ErrorAtUnpickle): saving a negative value throws (in the sending process); loading a
// value of 1000 or more throws (in the receiving process).
struct fragile {
  int value = 0;
  template <class Archive>
  void save(Archive& ar) const {
    if (value < 0) throw std::runtime_error("cannot save a negative fragile");
    ar(value);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(value);
    if (value >= 1000) throw std::range_error("cannot load a big fragile");
  }
};
int read_fragile(fragile f) { return f.value; }
fragile make_fragile(int v) { return fragile{v}; }

// --- big values ---
std::string echo(std::string s) { return s; }
// A string whose every byte depends on its position and on `seed`.
std::string patterned(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) >> 3);
  return s;
}
std::string reversed(std::string s) { return {s.rbegin(), s.rend()}; }
// Dies (SIGKILL) while its big result is being sent: after encoding it into shared memory.
struct dies_while_saving {
  std::string bytes;
  template <class Archive>
  void save(Archive& ar) const {
    ar(bytes);
    ::kill(::getpid(), SIGKILL);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(bytes);
  }
};
dies_while_saving die_with_big_result(std::size_t n) { return {std::string(n, 'd')}; }
int fail_at(int x, int bad) {
  if (x == bad) throw std::out_of_range("bad " + std::to_string(x));
  return x * 2;
}
std::string make_big(std::size_t n, char c) { return std::string(n, c); }
std::size_t total_size(std::vector<std::string> parts) {
  std::size_t n = 0;
  for (const auto& p : parts) n += p.size();
  return n;
}

// The fork start method shares the parent's memory as it was at the fork; spawn starts the
// program afresh.
int parent_state = 0;
int read_parent_state() { return parent_state; }

// ---------------------------------------------------------------------------------------
// Fixture: one start method per instantiation.

class ProcessPoolTest : public ::testing::TestWithParam<start_method> {
 protected:
  process_pool_options options(std::size_t workers) const {
    return {.max_workers = workers, .method = GetParam()};
  }
};

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessPoolTest,
                         ::testing::Values(start_method::fork, start_method::spawn),
                         [](const auto& info) { return method_name(info.param); });

// --- basics ------------------------------------------------------------------------------

TEST_P(ProcessPoolTest, CallsRunInOtherProcesses) {
  nothing_left_behind leaks;
  process_pool_executor pool(options(2));
  const int pid = pool.submit(get_pid).result(10s);
  EXPECT_NE(pid, static_cast<int>(::getpid()));
  EXPECT_GT(pid, 0);
  EXPECT_EQ(pool.submit(mul, 6, 7).result(10s), 42);
}

TEST_P(ProcessPoolTest, ForkSharesTheParentsMemorySpawnStartsAfresh) {
  parent_state = 7;
  {
    process_pool_executor pool(options(1));
    EXPECT_EQ(pool.submit(read_parent_state).result(10s), GetParam() == start_method::fork ? 7 : 0);
  }
  parent_state = 0;
}

TEST(ProcessPoolOptionsTest, MaxWorkers) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(process_pool_executor().max_workers(), static_cast<std::size_t>(CPU_COUNT(&set)));
  EXPECT_EQ(process_pool_executor(process_pool_options{}).max_workers(),
            static_cast<std::size_t>(CPU_COUNT(&set)));
  EXPECT_EQ(process_pool_executor(3).max_workers(), 3u);
  EXPECT_EQ(process_pool_executor({.max_workers = 5, .method = start_method::spawn}).max_workers(),
            5u);
  EXPECT_THROW(process_pool_executor(0), std::invalid_argument);
  EXPECT_THROW(process_pool_executor({.max_workers = 0}), std::invalid_argument);
  EXPECT_THROW(process_pool_executor({.max_workers = 1, .max_tasks_per_child = 0}),
               std::invalid_argument);
  EXPECT_TRUE(no_child_process()) << "a pool without submits started workers";
}

// Workers start at the first submit, and never more than max_workers of them (CPython's
// test_saturation).
TEST_P(ProcessPoolTest, WorkersStartAtTheFirstSubmitAndSaturate) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_executor pool(options(3));
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(live_children().empty()) << "workers started before the first submit";
  gate g(scratch, "gate");
  std::vector<future<int>> fs;
  for (int i = 0; i < 15 * 3; ++i) {
    fs.push_back(pool.submit(tasks::signal_and_wait, scratch.path("started_" + std::to_string(i)),
                             g.path()));
  }
  ASSERT_TRUE(scratch.wait_for_count("started_", 3));
  EXPECT_TRUE(eventually([] { return live_children().size() == 3; }, 5s));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(live_children().size(), 3u);
  EXPECT_EQ(scratch.count("started_"), 3u);
  g.open();
  for (auto& f : fs) EXPECT_EQ(f.result(10s), 0);
}

TEST_P(ProcessPoolTest, SubmitFromManyThreads) {
  process_pool_executor pool(options(3));
  std::vector<std::thread> threads;
  std::vector<std::vector<future<int>>> per_thread(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        per_thread[static_cast<std::size_t>(t)].push_back(pool.submit(mul, t, i));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 25; ++i) {
      EXPECT_EQ(per_thread[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)].result(10s),
                t * i);
    }
  }
}

// Done-callbacks of process-pool futures run in the pool's manager thread (the header's
// contract), or at once in the calling thread when the future is already done.
TEST_P(ProcessPoolTest, DoneCallbacksRunInTheManagerThread) {
  scratch_dir scratch;
  process_pool_executor pool(options(2));
  gate g(scratch, "gate");
  std::mutex m;
  std::vector<std::thread::id> ids;
  event both;
  std::vector<future<int>> fs{pool.submit(tasks::wait_for_file, g.path()),
                              pool.submit(tasks::wait_for_file, g.path())};
  for (auto& f : fs) {
    f.add_done_callback([&](const future<int>&) {
      std::lock_guard lock(m);
      ids.push_back(std::this_thread::get_id());
      if (ids.size() == 2) both.set();
    });
  }
  g.open();  // the calls finish only now, after the callbacks were added
  ASSERT_TRUE(both.wait_for(10s));
  {
    std::lock_guard lock(m);
    EXPECT_EQ(ids[0], ids[1]) << "callbacks of one pool ran in different threads";
    EXPECT_NE(ids[0], std::this_thread::get_id());
  }
  std::thread::id late;
  fs[0].add_done_callback([&](const future<int>&) { late = std::this_thread::get_id(); });
  EXPECT_EQ(late, std::this_thread::get_id());
}

// --- a worker dies -----------------------------------------------------------------------

struct death_case {
  const char* name;
  death how;
  const char* expect;  // in the message, after "worker process <pid> "
};

const death_case death_cases[] = {
    {"SigkillFromTheTask", death::sigkill_self, "SIGKILL"},
    {"Abort", death::abort, "SIGABRT"},
    {"Exit3", death::exit_3, "exited with code 3"},
    {"SigkillFromOutside", death::killed_from_outside, "SIGKILL"},
    {"SigtermFromOutside", death::terminated_from_outside, "SIGTERM"},
};

void PrintTo(const death_case& c, std::ostream* os) { *os << c.name; }

class ProcessPoolWorkerDiesTest
    : public ::testing::TestWithParam<std::tuple<start_method, death_case>> {};

INSTANTIATE_TEST_SUITE_P(
    StartMethods, ProcessPoolWorkerDiesTest,
    ::testing::Combine(::testing::Values(start_method::fork, start_method::spawn),
                       ::testing::ValuesIn(death_cases)),
    [](const auto& info) {
      return method_name(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name;
    });

// CPython's test_killed_child, test_broken_process_pool_traceback,
// test_traceback_when_child_process_terminates_abruptly and test_deadlock's
// test_crash_during_func_exec_on_worker / test_exit_during_func_exec_on_worker (a C++
// _exit() is abrupt, unlike Python's sys.exit).
TEST_P(ProcessPoolWorkerDiesTest, BreaksThePoolForRunningAndPendingCalls) {
  const auto [method, c] = GetParam();
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_executor pool({.max_workers = 2, .method = method});
  gate release(scratch, "release");
  gate go(scratch, "go");

  auto blocker = pool.submit(wait_then_finish, scratch.path("blocker"), release.path(),
                             scratch.path("blocker_finished"));
  ASSERT_TRUE(scratch.wait_for("blocker"));
  auto victim = pool.submit(die_when, scratch.path("pid"), go.path(), static_cast<int>(c.how));
  ASSERT_TRUE(scratch.wait_for("pid"));
  const int pid = read_int_file(scratch.path("pid"));
  ASSERT_GT(pid, 0);
  std::vector<future<int>> pending;
  for (int i = 0; i < 4; ++i) pending.push_back(pool.submit(mul, i, i));
  EXPECT_TRUE(blocker.running());
  EXPECT_TRUE(victim.running());
  for (auto& f : pending) EXPECT_FALSE(f.running()) << "no worker is free to run it";

  const auto t0 = steady::now();
  if (c.how == death::killed_from_outside) {
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
  } else if (c.how == death::terminated_from_outside) {
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
  } else {
    go.open();
  }

  const std::string who = "worker process " + std::to_string(pid) + " ";
  std::vector<future<int>> all{blocker, victim};
  all.insert(all.end(), pending.begin(), pending.end());
  for (auto& f : all) {
    const std::string what = broken_what(f);
    EXPECT_TRUE(contains(what, who)) << what;
    EXPECT_TRUE(contains(what, c.expect)) << what;
  }
  EXPECT_LT(elapsed_since(t0), 5s);

  // Later submits (and maps) throw broken_process_pool, saying why.
  const std::string later = submit_broken_what([&] { (void)pool.submit(mul, 1, 2); });
  EXPECT_TRUE(contains(later, c.expect)) << later;
  const std::vector<int> xs{1, 2, 3};
  EXPECT_THROW((void)pool.map(tasks::abs_int, xs), cfutures::broken_process_pool);
  EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::broken_executor);
  // The other worker was terminated: the blocker never gets past its gate.
  release.open();
  pool.shutdown({.wait = true});
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(scratch.exists("blocker_finished"));
}

// Python's test_crash_big_data (gh-94777): a worker dies while big arguments are in flight;
// no deadlock, broken_process_pool from the map.
TEST_P(ProcessPoolTest, CrashWithBigDataInFlight) {
  nothing_left_behind leaks;
  const std::string data(1 << 20, 'a');
  const std::vector<std::string> args(10, data);
  const auto t0 = steady::now();
  {
    process_pool_executor pool(options(2));
    EXPECT_THROW((void)pool.map(crash_with_data, args).to_vector(), cfutures::broken_process_pool);
  }
  EXPECT_LT(elapsed_since(t0), 8s);
}

// Python's test_shutdown_deadlock: a worker crashes after shutdown() was called.
TEST_P(ProcessPoolTest, CrashAfterShutdownDoesNotDeadlock) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  gate go(scratch, "go");
  process_pool_executor pool(options(2));
  auto f =
      pool.submit(die_when, scratch.path("pid"), go.path(), static_cast<int>(death::sigkill_self));
  ASSERT_TRUE(scratch.wait_for("pid"));
  std::thread opener([&] {
    std::this_thread::sleep_for(100ms);
    go.open();
  });
  const auto t0 = steady::now();
  pool.shutdown({.wait = true});
  opener.join();
  EXPECT_LT(elapsed_since(t0), 5s);
  EXPECT_TRUE(contains(broken_what(f), "SIGKILL"));
}

// --- the initializer ---------------------------------------------------------------------

TEST_P(ProcessPoolTest, InitializerRunsFirstInEveryWorker) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_options o = options(3);
  o.initializer = {&init_mark, scratch.dir()};
  process_pool_executor pool(o);
  gate g(scratch, "gate");
  std::vector<future<int>> fs;
  for (int i = 0; i < 3; ++i) {
    fs.push_back(
        pool.submit(initialized_pid, scratch.path("started_" + std::to_string(i)), g.path()));
  }
  ASSERT_TRUE(scratch.wait_for_count("started_", 3));
  g.open();
  std::set<int> pids;
  for (auto& f : fs) {
    const int pid = f.result(10s);
    EXPECT_GT(pid, 0) << "a call ran before its worker's initializer";
    pids.insert(pid);
    EXPECT_TRUE(scratch.exists("init_" + std::to_string(pid)));
  }
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_EQ(scratch.count("init_"), 3u);
}

TEST_P(ProcessPoolTest, InitializerArguments) {
  process_pool_options o = options(2);
  o.initializer = {&init_set_value, 40, std::string("ab")};
  process_pool_executor pool(o);
  EXPECT_EQ(pool.submit(read_init_value).result(10s), 42);
  process_pool_options plain = options(1);
  plain.initializer = &failing_init;  // `.initializer = &init` compiles
  EXPECT_TRUE(static_cast<bool>(plain.initializer));
  EXPECT_FALSE(static_cast<bool>(options(1).initializer));
}

// CPython's FailingInitializerMixin: every call fails with broken_process_pool carrying the
// initializer's error, and the pool stays broken.
void check_initializer_breaks_the_pool(process_pool_options o, const std::string& expect) {
  nothing_left_behind leaks;
  process_pool_executor pool(std::move(o));
  std::vector<future<int>> fs;
  for (int i = 0; i < 5; ++i) {
    try {
      fs.push_back(pool.submit(mul, i, 2));
    } catch (const cfutures::broken_process_pool&) {
      EXPECT_GT(i, 0) << "the very first submit was refused";
    }
  }
  ASSERT_FALSE(fs.empty());
  for (auto& f : fs) {
    const std::string what = broken_what(f);
    EXPECT_TRUE(contains(what, expect)) << what;
  }
  const std::string later = submit_broken_what([&] { (void)pool.submit(mul, 1, 2); });
  EXPECT_TRUE(contains(later, expect)) << later;
}

TEST_P(ProcessPoolTest, FailingInitializerBreaksThePool) {
  process_pool_options o = options(2);
  o.initializer = &failing_init;
  check_initializer_breaks_the_pool(std::move(o), "no database");
}

TEST_P(ProcessPoolTest, InitializerThrowingAUserTypeBreaksThePool) {
  process_pool_options o = options(2);
  o.initializer = &failing_init_user_type;
  check_initializer_breaks_the_pool(std::move(o), "bad configuration");
}

TEST_P(ProcessPoolTest, InitializerThatExitsBreaksThePool) {
  process_pool_options o = options(2);
  o.initializer = {&exit_with, 5};
  check_initializer_breaks_the_pool(std::move(o), "exited with code 5");
}

// --- max_tasks_per_child -----------------------------------------------------------------

TEST_P(ProcessPoolTest, MaxTasksPerChildOneRunsEveryCallInAFreshProcess) {
  nothing_left_behind leaks;
  process_pool_options o = options(2);
  o.max_tasks_per_child = 1;
  process_pool_executor pool(o);
  std::set<int> sequential;
  for (int i = 0; i < 6; ++i) sequential.insert(pool.submit(get_pid).result(10s));
  EXPECT_EQ(sequential.size(), 6u);
  std::vector<future<int>> fs;
  for (int i = 0; i < 8; ++i) fs.push_back(pool.submit(get_pid));
  std::set<int> concurrent;
  for (auto& f : fs) concurrent.insert(f.result(10s));
  EXPECT_EQ(concurrent.size(), 8u);
  for (int pid : concurrent) EXPECT_EQ(sequential.count(pid), 0u);
  EXPECT_EQ(concurrent.count(static_cast<int>(::getpid())), 0u);
}

// The pool keeps its size: after workers were replaced, max_workers calls still run at once.
TEST_P(ProcessPoolTest, MaxTasksPerChildKeepsThePoolSize) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_options o = options(3);
  o.max_tasks_per_child = 1;
  process_pool_executor pool(o);
  std::set<int> pids;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    const std::string tag = "r" + std::to_string(round) + "_";
    gate g(scratch, tag + "gate");
    std::vector<future<int>> fs;
    for (int i = 0; i < 3; ++i) {
      fs.push_back(
          pool.submit(tasks::signal_and_wait, scratch.path(tag + std::to_string(i)), g.path()));
      fs.push_back(pool.submit(get_pid));  // queued behind the blockers
    }
    ASSERT_TRUE(scratch.wait_for_count(tag, 3)) << "fewer than 3 workers run at once";
    EXPECT_TRUE(eventually([] { return live_children().size() == 3; }, 5s))
        << live_children().size() << " live workers";
    g.open();
    for (std::size_t i = 0; i < fs.size(); ++i) {
      const int r = fs[i].result(10s);
      if (i % 2 == 1) {
        EXPECT_TRUE(pids.insert(r).second) << "a worker ran two calls";
      }
    }
  }
}

// CPython's test_max_tasks_per_child: the same process for 3 calls, then a new one.
TEST_P(ProcessPoolTest, MaxTasksPerChildThree) {
  process_pool_options o = options(1);
  o.max_tasks_per_child = 3;
  process_pool_executor pool(o);
  const int first = pool.submit(get_pid).result(10s);
  EXPECT_EQ(pool.submit(get_pid).result(10s), first);
  EXPECT_EQ(pool.submit(get_pid).result(10s), first);
  const int fourth = pool.submit(get_pid).result(10s);
  EXPECT_NE(fourth, first);
  EXPECT_EQ(pool.submit(get_pid).result(10s), fourth);
}

// CPython's test_max_tasks_per_child_pending_tasks_gh115634: a backlog while workers reach
// their limit still runs to the end.
TEST_P(ProcessPoolTest, MaxTasksPerChildWithABacklog) {
  for (auto [workers, tasks_per_child, n] : {std::tuple{1, 2, 6}, std::tuple{2, 2, 8}}) {
    SCOPED_TRACE(workers);
    process_pool_options o = options(static_cast<std::size_t>(workers));
    o.max_tasks_per_child = static_cast<std::size_t>(tasks_per_child);
    process_pool_executor pool(o);
    std::vector<future<int>> fs;
    for (int i = 0; i < n; ++i) fs.push_back(pool.submit(mul, i, 2));
    for (int i = 0; i < n; ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(10s), i * 2);
    pool.shutdown({.wait = true, .cancel_futures = true});
  }
}

// CPython's test_max_tasks_early_shutdown: shutdown() with pending work does not hang, and
// every call still runs.
TEST_P(ProcessPoolTest, MaxTasksPerChildEarlyShutdown) {
  nothing_left_behind leaks;
  process_pool_options o = options(3);
  o.max_tasks_per_child = 1;
  process_pool_executor pool(o);
  std::vector<future<int>> fs;
  for (int i = 0; i < 6; ++i) fs.push_back(pool.submit(mul, i, i));
  const auto t0 = steady::now();
  pool.shutdown();
  EXPECT_LT(elapsed_since(t0), 5s);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(fs[static_cast<std::size_t>(i)].done());
    EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(0s), i * i);
  }
  EXPECT_TRUE(no_child_process()) << "shutdown(wait) left a worker";
}

// A chunk never makes a worker exceed its limit.
TEST_P(ProcessPoolTest, MaxTasksPerChildSplitsChunks) {
  process_pool_options o = options(2);
  o.max_tasks_per_child = 2;
  process_pool_executor pool(o);
  const auto pids =
      pool.map(pid_of_call, std::views::iota(0, 12), map_options{.chunksize = 5}).to_vector();
  ASSERT_EQ(pids.size(), 12u);
  std::map<int, int> calls_per_pid;
  for (int p : pids) ++calls_per_pid[p];
  for (auto [pid, n] : calls_per_pid) {
    EXPECT_LE(n, 2) << "worker " << pid << " ran " << n << " calls";
  }
  EXPECT_GE(calls_per_pid.size(), 6u);
}

// --- exceptions --------------------------------------------------------------------------

template <class E>
void expect_exact(process_pool_executor& pool, exc kind, const char* expected_what) {
  SCOPED_TRACE(typeid(E).name());
  auto f = pool.submit(throw_kind, static_cast<int>(kind),
                       std::string("message of ") + typeid(E).name());
  try {
    (void)f.result(10s);
    ADD_FAILURE() << "did not throw";
  } catch (const std::exception& e) {
    EXPECT_TRUE(typeid(e) == typeid(E)) << "came back as " << typeid(e).name();
    EXPECT_STREQ(e.what(), expected_what ? expected_what
                                         : (std::string("message of ") + typeid(E).name()).c_str());
  }
  ASSERT_TRUE(f.exception(0s));
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
}

// CPython's test_traceback keeps RuntimeError(123) as RuntimeError: here every exact
// <stdexcept> type, std::bad_alloc and each cfutures error keeps its type and what().
TEST_P(ProcessPoolTest, ExceptionsOfKnownTypesKeepTheirTypeAndMessage) {
  process_pool_executor pool(options(2));
  expect_exact<std::logic_error>(pool, exc::logic, nullptr);
  expect_exact<std::domain_error>(pool, exc::domain, nullptr);
  expect_exact<std::invalid_argument>(pool, exc::invalid_argument, nullptr);
  expect_exact<std::length_error>(pool, exc::length, nullptr);
  expect_exact<std::out_of_range>(pool, exc::out_of_range, nullptr);
  expect_exact<std::runtime_error>(pool, exc::runtime, nullptr);
  expect_exact<std::range_error>(pool, exc::range, nullptr);
  expect_exact<std::overflow_error>(pool, exc::overflow, nullptr);
  expect_exact<std::underflow_error>(pool, exc::underflow, nullptr);
  expect_exact<std::bad_alloc>(pool, exc::bad_alloc, std::bad_alloc().what());
  expect_exact<cfutures::error>(pool, exc::error, nullptr);
  expect_exact<cfutures::cancelled_error>(pool, exc::cancelled, nullptr);
  expect_exact<cfutures::timeout_error>(pool, exc::timeout, nullptr);
  expect_exact<cfutures::invalid_state_error>(pool, exc::invalid_state, nullptr);
  expect_exact<cfutures::shutdown_error>(pool, exc::shutdown, nullptr);
  expect_exact<cfutures::broken_executor>(pool, exc::broken_executor, nullptr);
  expect_exact<cfutures::broken_thread_pool>(pool, exc::broken_thread_pool, nullptr);
  expect_exact<cfutures::broken_process_pool>(pool, exc::broken_process_pool, nullptr);
  // An exception is a result, not a crash: the pool is fine.
  EXPECT_EQ(pool.submit(mul, 3, 4).result(10s), 12);
}

// What comes back as remote_error, and what it carries. (Copied out while the future is
// alive: a copy of the exception object itself would share its reference-counted message
// with the one the manager thread may destroy, which ThreadSanitizer, not seeing inside the
// uninstrumented libstdc++, reports as a race.)
struct remote_info {
  std::string type_name;
  std::string what;
};

remote_info remote_of(process_pool_executor& pool, exc kind, const std::string& message) {
  auto f = pool.submit(throw_kind, static_cast<int>(kind), message);
  try {
    (void)f.result(10s);
    ADD_FAILURE() << "did not throw";
  } catch (const cfutures::remote_error& e) {
    EXPECT_TRUE(typeid(e) == typeid(cfutures::remote_error));
    return {e.type_name(), e.what()};
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected remote_error, got " << typeid(e).name() << ": " << e.what();
  } catch (...) {
    ADD_FAILURE() << "expected remote_error, got a non-std::exception";
  }
  return {};
}

TEST_P(ProcessPoolTest, OtherExceptionsComeBackAsRemoteError) {
  process_pool_executor pool(options(1));
  {
    // A user type (derived from a <stdexcept> type, so not of it exactly).
    const auto e = remote_of(pool, exc::user, "user message");
    EXPECT_TRUE(contains(e.type_name, "user_error")) << e.type_name;
    EXPECT_EQ(e.what, "user message");
  }
  {
    // A type not derived from std::exception.
    const auto e = remote_of(pool, exc::plain, "");
    EXPECT_TRUE(contains(e.type_name, "plain_failure")) << e.type_name;
    EXPECT_TRUE(contains(e.what, "plain_failure")) << e.what;
  }
  {
    const auto e = remote_of(pool, exc::integer, "");
    EXPECT_EQ(e.type_name, "int");
    EXPECT_TRUE(contains(e.what, "int")) << e.what;
  }
  {
    // A remote_error thrown by the call keeps the type name it carries.
    const auto e = remote_of(pool, exc::remote, "from afar");
    EXPECT_EQ(e.type_name, "some::remote_type");
    EXPECT_EQ(e.what, "from afar");
  }
  EXPECT_EQ(pool.submit(mul, 3, 4).result(10s), 12);
}

// test_deadlock's pickling errors: an argument that cannot be saved fails in the submitting
// process; one that cannot be loaded fails the call in the worker; a result that cannot be
// loaded fails the future here. None of them breaks the pool.
TEST_P(ProcessPoolTest, SerializationErrorsFailTheCallNotThePool) {
  process_pool_executor pool(options(2));
  // Saving throws: in submit, or as the future's exception.
  try {
    auto f = pool.submit(read_fragile, fragile{-1});
    EXPECT_THROW((void)f.result(10s), std::runtime_error);
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "cannot save")) << e.what();
  }
  // Loading the argument in the worker throws: the call fails with that exception.
  {
    auto f = pool.submit(read_fragile, fragile{1000});
    try {
      (void)f.result(10s);
      ADD_FAILURE() << "did not throw";
    } catch (const cfutures::broken_process_pool& e) {
      ADD_FAILURE() << "the pool broke: " << e.what();
    } catch (const std::exception& e) {
      EXPECT_TRUE(contains(e.what(), "cannot load a big fragile")) << e.what();
    }
  }
  // Loading the result here throws.
  {
    auto f = pool.submit(make_fragile, 2000);
    try {
      (void)f.result(10s);
      ADD_FAILURE() << "did not throw";
    } catch (const cfutures::broken_process_pool& e) {
      ADD_FAILURE() << "the pool broke: " << e.what();
    } catch (const std::exception& e) {
      EXPECT_TRUE(contains(e.what(), "cannot load a big fragile")) << e.what();
    }
  }
  EXPECT_EQ(pool.submit(read_fragile, fragile{5}).result(10s), 5);
  EXPECT_EQ(pool.submit(make_fragile, 6).result(10s).value, 6);
}

// --- big arguments and results -----------------------------------------------------------

TEST_P(ProcessPoolTest, BigArgumentsAndResults) {
  process_pool_executor pool(options(2));
  std::string big((16 << 20) + 3, 'x');
  big[12345] = 'y';
  big.back() = 'z';
  auto echoed = pool.submit(echo, big);
  auto made = pool.submit(make_big, std::size_t{17} << 20, 'q');
  EXPECT_TRUE(echoed.result(30s) == big) << "the 16 MiB string came back changed";
  const std::string& m = made.result(30s);
  EXPECT_EQ(m.size(), std::size_t{17} << 20);
  EXPECT_EQ(m.find_first_not_of('q'), std::string::npos);
  // Several big arguments in one message (a chunk).
  const std::vector<std::string> parts(5, std::string(4 << 20, 'p'));
  EXPECT_EQ(pool.submit(total_size, parts).result(30s), std::size_t{20} << 20);
  const std::vector<std::vector<std::string>> chunks(4, parts);
  for (std::size_t n : pool.map(total_size, chunks, map_options{.chunksize = 4})) {
    EXPECT_EQ(n, std::size_t{20} << 20);
  }
}

// Values past 64 KiB travel in shared memory (a memfd per value, recycled): sizes around
// the threshold, arguments and results, several in one batch, come back byte for byte.
TEST_P(ProcessPoolTest, LargePayloadsThroughSharedMemoryRoundTripExactly) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(2));
    const std::size_t limit = 64 << 10;
    for (std::size_t n : {limit - 100, limit - 1, limit, limit + 1, limit + 100,
                          std::size_t{3} << 20, std::size_t{0}}) {
      SCOPED_TRACE(n);
      const std::string s = patterned(n, static_cast<unsigned>(n));
      EXPECT_TRUE(pool.submit(reversed, s).result(30s) == std::string(s.rbegin(), s.rend()));
    }
    // Many at once (batched to the workers), and as chunks of map.
    std::vector<std::string> inputs;
    for (unsigned i = 0; i < 12; ++i) inputs.push_back(patterned((100 << 10) + i * 4099, i));
    std::vector<cfutures::future<std::string>> fs;
    for (const auto& s : inputs) fs.push_back(pool.submit(reversed, s));
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      EXPECT_TRUE(fs[i].result(30s) == std::string(inputs[i].rbegin(), inputs[i].rend())) << i;
    }
    const auto out = pool.map(echo, inputs, map_options{.chunksize = 5}).to_vector();
    EXPECT_TRUE(out == inputs);
    // The same memory serves again and again.
    for (int round = 0; round < 5; ++round) {
      const std::string s = patterned(5 << 20, static_cast<unsigned>(round));
      EXPECT_TRUE(pool.submit(echo, s).result(30s) == s) << round;
    }
  }
}

// More shared values in one message than one sendmsg can carry descriptors (253): a chunk
// of 300 calls whose arguments and results are all over 64 KiB.
TEST_P(ProcessPoolTest, MoreSharedValuesInOneMessageThanOneSendCanCarry) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(1));
    std::vector<std::tuple<std::string>> calls;
    for (unsigned i = 0; i < 300; ++i) calls.emplace_back(patterned((65 << 10) + i, i));
    auto fs = pool.submit_chunked(&reversed, calls, calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const std::string& in = std::get<0>(calls[i]);
      EXPECT_TRUE(fs[i].result(60s) == std::string(in.rbegin(), in.rend())) << i;
    }
  }
}

// A worker killed while its big result is in shared memory breaks the pool like any death,
// and leaves no descriptor or mapping behind.
TEST_P(ProcessPoolTest, WorkerKilledHoldingASharedPayloadBreaksThePoolCleanly) {
  nothing_left_behind leaks;
  process_pool_executor pool(options(2));
  auto f = pool.submit(die_with_big_result, std::size_t{8} << 20);
  try {
    (void)f.result(30s);
    ADD_FAILURE() << "expected broken_process_pool";
  } catch (const cfutures::broken_process_pool& e) {
    EXPECT_NE(std::string(e.what()).find("was killed by signal 9 (SIGKILL)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)pool.submit(echo, std::string(1 << 20, 'x')), cfutures::broken_process_pool);
}

// Replies of a batch leave together only behind calls known to be quick: a finished call's
// result is sent before a slow call of the same batch runs. (The worker is kept busy so that
// the queue grows and the calls go to it as one batch.)
TEST_P(ProcessPoolTest, ResultsAreNotHeldBehindASlowCallOfTheirBatch) {
  process_pool_executor pool(options(1));
  EXPECT_EQ(pool.submit(tasks::add, 1, 2).result(10s), 3);
  auto blocker = pool.submit(tasks::sleep_ms, 300);
  std::vector<cfutures::future<int>> quick;
  for (int i = 0; i < 8; ++i) quick.push_back(pool.submit(tasks::add, i, i));
  auto slow = pool.submit(tasks::sleep_ms, 3000);
  std::vector<cfutures::future<int>> after;
  for (int i = 0; i < 100; ++i) after.push_back(pool.submit(tasks::add, i, i));
  for (auto& f : quick) EXPECT_TRUE(f.wait_for(2s));
  EXPECT_FALSE(slow.done());
}

// --- map's chunksize ---------------------------------------------------------------------

// CPython's test_map_chunksize.
TEST_P(ProcessPoolTest, MapChunksize) {
  process_pool_executor pool(options(3));
  std::vector<int> xs(40);
  for (int i = 0; i < 40; ++i) xs[static_cast<std::size_t>(i)] = i % 9;
  std::vector<long long> expected;
  for (int x : xs) expected.push_back(tasks::power(x, x));
  for (std::size_t chunksize : {1u, 6u, 40u, 50u}) {
    SCOPED_TRACE(chunksize);
    EXPECT_EQ(pool.map(tasks::power, xs, xs, map_options{.chunksize = chunksize}).to_vector(),
              expected);
  }
  EXPECT_THROW((void)pool.map(tasks::power, xs, xs, map_options{.chunksize = 0}),
               std::invalid_argument);
}

// A chunk travels as one message: its calls run in one process, one after another.
TEST_P(ProcessPoolTest, MapChunkRunsInOneWorker) {
  process_pool_executor pool(options(2));
  const auto pids =
      pool.map(pid_of_call, std::views::iota(0, 20), map_options{.chunksize = 10}).to_vector();
  ASSERT_EQ(pids.size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(pids[i], pids[i / 10 * 10]) << i;
}

// An exception in the middle of a chunk fails only its own position.
TEST_P(ProcessPoolTest, ExceptionInTheMiddleOfAChunkFailsOnlyItsPosition) {
  process_pool_executor pool(options(2));
  std::vector<std::tuple<int, int>> calls;
  for (int i = 0; i < 10; ++i) calls.emplace_back(10 * i + 1, i == 5 ? 0 : 3);
  auto fs = pool.submit_chunked(&tasks::divmod, calls, 4);
  ASSERT_EQ(fs.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    SCOPED_TRACE(i);
    const auto& f = fs[static_cast<std::size_t>(i)];
    if (i == 5) {
      EXPECT_THROW((void)f.result(10s), std::domain_error);
    } else {
      EXPECT_EQ(f.result(10s), tasks::divmod(10 * i + 1, 3));
    }
  }
  // Through map: the positions before come out, the failing one throws there.
  std::vector<int> a, b;
  for (auto [x, y] : calls) a.push_back(x), b.push_back(y);
  auto r = pool.map(tasks::divmod, a, b, map_options{.chunksize = 4});
  auto s = step(r);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.next(), tasks::divmod(10 * i + 1, 3));
  EXPECT_THROW(s.next(), std::domain_error);
}

// map's chunks are one call each (Python's _process_chunk): a chunk stops at its first
// exception, the values before it come out, the exception is raised at its position and the
// range ends; later chunks are cancelled if not yet started.
TEST_P(ProcessPoolTest, MapChunkStopsAtItsFirstException) {
  process_pool_executor pool(options(1));
  std::vector<int> is(10);
  for (int i = 0; i < 10; ++i) is[static_cast<std::size_t>(i)] = i;
  auto r = pool.map(fail_at, is, std::vector<int>(10, 6), map_options{.chunksize = 4});
  auto s = step(r);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(s.next(), 2 * i);
  EXPECT_THROW(s.next(), std::out_of_range);
  EXPECT_TRUE(r.begin() == r.end());
}

// With chunks, buffersize still bounds the calls running ahead: chunks of at most buffersize
// calls, and one more chunk once the consumer has reached the end of one.
TEST_P(ProcessPoolTest, MapBuffersizeBoundsCallsWithChunks) {
  scratch_dir scratch;
  {
    process_pool_executor pool(options(2));
    std::vector<std::string> dirs(40, scratch.dir());
    std::vector<int> is(40);
    for (int i = 0; i < 40; ++i) is[static_cast<std::size_t>(i)] = i;
    auto r = pool.map(tasks::record, dirs, is, map_options{.chunksize = 5, .buffersize = 10});
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(scratch.count("ran_"), 10u);
    auto s = step(r);
    for (int i = 0; i < 4; ++i) s.next();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(scratch.count("ran_"), 10u);
    s.next();  // the last value of the first chunk lets the third one in
    pool.shutdown();
  }
  EXPECT_EQ(scratch.count("ran_"), 15u);
  // A buffersize below the chunksize makes smaller chunks.
  scratch_dir small;
  {
    process_pool_executor pool(options(2));
    std::vector<std::string> dirs(40, small.dir());
    std::vector<int> is(40);
    for (int i = 0; i < 40; ++i) is[static_cast<std::size_t>(i)] = i;
    auto r = pool.map(tasks::record, dirs, is, map_options{.chunksize = 5, .buffersize = 2});
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(small.count("ran_"), 2u);
    pool.shutdown();
  }
}

// Cancelled calls of a queued chunk are dropped; the rest of the chunk runs.
TEST_P(ProcessPoolTest, CancelledCallsOfAQueuedChunkNeverRun) {
  scratch_dir scratch;
  process_pool_executor pool(options(1));
  gate g(scratch, "gate");
  auto blocker = pool.submit(tasks::signal_and_wait, scratch.path("blocker"), g.path());
  ASSERT_TRUE(scratch.wait_for("blocker"));
  std::vector<std::tuple<std::string, int>> calls;
  for (int i = 0; i < 6; ++i) calls.emplace_back(scratch.dir(), i);
  auto fs = pool.submit_chunked(&tasks::record, calls, 3);
  EXPECT_TRUE(fs[1].cancel());
  EXPECT_TRUE(fs[4].cancel());
  g.open();
  EXPECT_EQ(blocker.result(10s), 0);
  for (std::size_t i = 0; i < 6; ++i) {
    if (i == 1 || i == 4) {
      EXPECT_TRUE(fs[i].cancelled());
    } else {
      EXPECT_NO_THROW(fs[i].result(10s));
    }
  }
  pool.shutdown();
  EXPECT_EQ(scratch.count("ran_"), 4u);
  EXPECT_FALSE(scratch.exists("ran_1"));
  EXPECT_FALSE(scratch.exists("ran_4"));
}

// --- terminate_workers / kill_workers ----------------------------------------------------

enum class force { terminate, kill };
void PrintTo(force f, std::ostream* os) {
  *os << (f == force::terminate ? "terminate_workers" : "kill_workers");
}

class ProcessPoolForceTest
    : public ::testing::TestWithParam<std::tuple<start_method, force>> {
 protected:
  void apply(process_pool_executor& pool) const {
    if (std::get<1>(GetParam()) == force::terminate) {
      pool.terminate_workers();
    } else {
      pool.kill_workers();
    }
  }
  const char* method_name() const {
    return std::get<1>(GetParam()) == force::terminate ? "terminate_workers" : "kill_workers";
  }
  const char* signal_name() const {
    return std::get<1>(GetParam()) == force::terminate ? "SIGTERM" : "SIGKILL";
  }
  process_pool_options options(std::size_t workers) const {
    return {.max_workers = workers, .method = std::get<0>(GetParam())};
  }
};

INSTANTIATE_TEST_SUITE_P(
    StartMethods, ProcessPoolForceTest,
    ::testing::Combine(::testing::Values(start_method::fork, start_method::spawn),
                       ::testing::Values(force::terminate, force::kill)),
    [](const auto& info) {
      return method_name(std::get<0>(info.param)) +
             (std::get<1>(info.param) == force::terminate ? "_terminate_workers" : "_kill_workers");
    });

// Python 3.14's test_force_shutdown_workers: running calls fail with broken_process_pool,
// queued ones are cancelled, no call finishes, and the pool is broken.
TEST_P(ProcessPoolForceTest, RunningCallsFailQueuedAreCancelled) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  {
    process_pool_executor pool(options(2));
    gate g(scratch, "gate");
    std::vector<future<int>> running;
    for (int i = 0; i < 2; ++i) {
      const std::string n = std::to_string(i);
      running.push_back(pool.submit(wait_then_finish, scratch.path("started_" + n), g.path(),
                                    scratch.path("finished_" + n)));
    }
    ASSERT_TRUE(scratch.wait_for_count("started_", 2));
    std::vector<future<void>> queued;
    for (int i = 0; i < 5; ++i) queued.push_back(pool.submit(tasks::record, scratch.dir(), i));
    const auto t0 = steady::now();
    apply(pool);
    for (auto& f : queued) {
      if (!f.cancelled()) {
        const bool was_done = f.done();
        f.wait_for(10s);
        ADD_FAILURE() << "a queued call was not cancelled by " << method_name()
                      << "(): it was " << (was_done ? "done" : "still pending")
                      << " when the call returned; it then " << outcome(f);
      }
    }
    for (auto& f : running) {
      const std::string what = broken_what(f);
      EXPECT_TRUE(contains(what, signal_name())) << what;
    }
    EXPECT_LT(elapsed_since(t0), 5s);
    // The pool is broken now (and shut down).
    EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::broken_process_pool);
    g.open();
  }
  EXPECT_EQ(scratch.count("finished_"), 0u);
  EXPECT_EQ(scratch.count("ran_"), 0u);
}

// Idle workers: terminated as well; no hang; submit refused.
TEST_P(ProcessPoolForceTest, IdleWorkers) {
  nothing_left_behind leaks;
  const auto t0 = steady::now();
  {
    process_pool_executor pool(options(2));
    EXPECT_EQ(pool.submit(mul, 2, 3).result(10s), 6);
    apply(pool);
    EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::error);
  }
  EXPECT_LT(elapsed_since(t0), 5s);
}

// test_force_shutdown_workers_not_started_yet: nothing to signal; a plain shutdown.
TEST_P(ProcessPoolForceTest, NoWorkerStartedYet) {
  nothing_left_behind leaks;
  process_pool_executor pool(options(2));
  apply(pool);
  apply(pool);
  EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::shutdown_error);
}

// test_force_shutdown_workers_dead_workers: on a pool already broken it neither throws nor
// hangs.
TEST_P(ProcessPoolForceTest, PoolAlreadyBroken) {
  nothing_left_behind leaks;
  process_pool_executor pool(options(1));
  auto f = pool.submit(exit_with, 1);
  EXPECT_TRUE(contains(broken_what(f), "exited with code 1"));
  const auto t0 = steady::now();
  apply(pool);
  EXPECT_LT(elapsed_since(t0), 5s);
  EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::broken_process_pool);
}

// --- cancel, shutdown, destruction -------------------------------------------------------

// API.md: a call is running() only while a worker process has it, so every queued call can
// be cancelled (CPython marks up to max_workers + 1 queued calls running).
TEST_P(ProcessPoolTest, QueuedCallsAreNeverRunningAndAlwaysCancellable) {
  scratch_dir scratch;
  process_pool_executor pool(options(2));
  gate g(scratch, "gate");
  std::vector<future<int>> blockers;
  for (int i = 0; i < 2; ++i) {
    blockers.push_back(pool.submit(tasks::signal_and_wait,
                                   scratch.path("blocker_" + std::to_string(i)), g.path()));
  }
  ASSERT_TRUE(scratch.wait_for_count("blocker_", 2));
  std::vector<future<void>> queued;
  for (int i = 0; i < 10; ++i) queued.push_back(pool.submit(tasks::record, scratch.dir(), i));
  std::this_thread::sleep_for(50ms);
  for (auto& f : queued) {
    EXPECT_FALSE(f.running());
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(f.cancelled());
  }
  g.open();
  for (auto& b : blockers) EXPECT_EQ(b.result(10s), 0);
  pool.shutdown();
  EXPECT_EQ(scratch.count("ran_"), 0u);
}

// ...and it becomes running() once a worker has it, then cannot be cancelled.
TEST_P(ProcessPoolTest, QueuedCallBecomesRunningWhenAWorkerTakesIt) {
  scratch_dir scratch;
  process_pool_executor pool(options(1));
  gate g1(scratch, "gate1");
  gate g2(scratch, "gate2");
  auto first = pool.submit(tasks::signal_and_wait, scratch.path("first"), g1.path());
  ASSERT_TRUE(scratch.wait_for("first"));
  auto second = pool.submit(tasks::signal_and_wait, scratch.path("second"), g2.path());
  EXPECT_TRUE(first.running());
  EXPECT_FALSE(second.running());
  g1.open();
  ASSERT_TRUE(scratch.wait_for("second"));
  EXPECT_TRUE(second.running());
  EXPECT_FALSE(second.cancel());
  g2.open();
  EXPECT_EQ(second.result(10s), 0);
  EXPECT_FALSE(second.running());
}

TEST_P(ProcessPoolTest, ShutdownCancelFuturesWithoutWaiting) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  {
    process_pool_executor pool(options(2));
    gate g(scratch, "gate");
    std::vector<future<int>> blockers;
    for (int i = 0; i < 2; ++i) {
      blockers.push_back(pool.submit(tasks::signal_and_wait,
                                     scratch.path("blocker_" + std::to_string(i)), g.path()));
    }
    ASSERT_TRUE(scratch.wait_for_count("blocker_", 2));
    std::vector<future<void>> queued;
    for (int i = 0; i < 10; ++i) queued.push_back(pool.submit(tasks::record, scratch.dir(), i));
    const auto t0 = steady::now();
    pool.shutdown({.wait = false, .cancel_futures = true});
    EXPECT_LT(elapsed_since(t0), 2s);
    for (auto& f : queued) EXPECT_TRUE(f.cancelled());
    for (auto& b : blockers) EXPECT_FALSE(b.done());
    EXPECT_THROW((void)pool.submit(mul, 1, 2), cfutures::shutdown_error);
    g.open();
    for (auto& b : blockers) EXPECT_EQ(b.result(10s), 0);
  }
  EXPECT_EQ(scratch.count("ran_"), 0u);
}

// shutdown(wait) returns once the running calls are done and every worker is reaped.
TEST_P(ProcessPoolTest, ShutdownCancelFuturesAndWait) {
  nothing_left_behind leaks;
  scratch_dir scratch;
  process_pool_executor pool(options(2));
  std::vector<future<int>> running;
  for (int i = 0; i < 2; ++i) {
    running.push_back(pool.submit(tasks::record_and_sleep, scratch.dir(), i, 300));
  }
  ASSERT_TRUE(scratch.wait_for_count("ran_", 2));
  std::vector<future<int>> queued;
  for (int i = 2; i < 12; ++i) {
    queued.push_back(pool.submit(tasks::record_and_sleep, scratch.dir(), i, 300));
  }
  pool.shutdown({.wait = true, .cancel_futures = true});
  for (auto& f : running) {
    ASSERT_TRUE(f.done());
    EXPECT_GE(f.result(0s), 0);
  }
  for (auto& f : queued) EXPECT_TRUE(f.cancelled());
  EXPECT_EQ(scratch.count("ran_"), 2u);
  EXPECT_TRUE(no_child_process()) << "right after shutdown(wait = true)";
}

// shutdown(wait) from one thread while another thread, waiting for the last call, reads its
// reply itself (the manager sleeps meanwhile): the manager must still learn that nothing is
// in flight any more, and exit. It slept on for ever before (found by the stress suite).
TEST_P(ProcessPoolTest, ShutdownWaitEndsWhenAWaiterReceivesTheLastReply) {
  nothing_left_behind leaks;
  for (int round = 0; round < 10; ++round) {
    scratch_dir scratch;
    gate g(scratch, "gate");
    process_pool_executor pool(options(1));
    auto call = pool.submit(tasks::signal_and_wait, scratch.path("started"), g.path());
    ASSERT_TRUE(scratch.wait_for_count("started", 1));
    std::atomic<bool> shut{false};
    std::thread closer([&] {
      pool.shutdown({.wait = true});
      shut = true;
    });
    std::this_thread::sleep_for(20ms);  // the manager has seen the shutdown and sleeps again
    g.open();
    // Short waits, back to back: this thread receives the reply itself, most of the time.
    while (!call.wait_for(50us)) continue;
    const auto t0 = steady::now();
    while (!shut && elapsed_since(t0) < 5s) std::this_thread::sleep_for(1ms);
    const bool ended = shut;
    if (!ended) pool.shutdown({.wait = false});  // a second wake-up frees the manager
    closer.join();
    ASSERT_TRUE(ended) << "round " << round << ": shutdown(wait) still waiting after 5 s";
    EXPECT_EQ(call.result(0s), 0);
  }
}

// Destroying the pool with calls still queued runs them all first (the `with` block).
TEST_P(ProcessPoolTest, DestructionWithPendingWork) {
  nothing_left_behind leaks;
  std::vector<future<int>> fs;
  {
    process_pool_executor pool(options(2));
    for (int i = 0; i < 12; ++i) fs.push_back(pool.submit(tasks::sleep_ms, 20 + i));
  }
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(fs[static_cast<std::size_t>(i)].done());
    EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(0s), 20 + i);
  }
}

TEST_P(ProcessPoolTest, DestructionAfterShutdownWithoutWaiting) {
  nothing_left_behind leaks;
  std::vector<future<int>> fs;
  {
    process_pool_executor pool(options(2));
    for (int i = 0; i < 8; ++i) fs.push_back(pool.submit(tasks::sleep_ms, 30));
    pool.shutdown({.wait = false});
  }
  for (auto& f : fs) EXPECT_EQ(f.result(0s), 30);
}

// No child process and no descriptor outlives a pool, however it ended.
TEST_P(ProcessPoolTest, NothingLeftBehind) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(3));
    std::vector<future<int>> fs;
    for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(mul, i, i));
    for (auto& f : fs) (void)f.result(10s);
  }
  leaks.check("after normal use");
  {
    process_pool_options o = options(2);
    o.max_tasks_per_child = 1;
    process_pool_executor pool(o);
    for (int i = 0; i < 6; ++i) (void)pool.submit(get_pid).result(10s);
  }
  leaks.check("after max_tasks_per_child replacements");
  {
    process_pool_executor pool(options(2));
    (void)pool.submit(mul, 1, 1).result(10s);
    EXPECT_THROW((void)pool.submit(exit_with, 9).result(10s), cfutures::broken_process_pool);
  }
  leaks.check("after a worker died");
  {
    process_pool_options o = options(2);
    o.initializer = &failing_init;
    process_pool_executor pool(o);
    EXPECT_THROW((void)pool.submit(mul, 1, 1).result(10s), cfutures::broken_process_pool);
  }
  leaks.check("after a failing initializer");
  {
    process_pool_executor pool(options(2));
    (void)pool.submit(tasks::sleep_ms, 2000);
    std::this_thread::sleep_for(100ms);
    pool.kill_workers();
  }
  leaks.check("after kill_workers()");
  {
    process_pool_executor pool(options(2));
    for (int i = 0; i < 4; ++i) (void)pool.submit(tasks::sleep_ms, 20);
    pool.shutdown({.wait = false, .cancel_futures = true});
  }
  leaks.check("after shutdown(wait = false, cancel_futures = true)");
  {
    process_pool_executor pool(options(2));  // never used
  }
  leaks.check("after a pool that never started a worker");
}

// ---------------------------------------------------------------------------------------
// A program that forgot serve_if_worker (forgot_serve_if_worker.cpp): its spawn-mode pool
// breaks within seconds, with a message naming the fix.

struct helper_run {
  bool finished = false;  // false: still running at the deadline (killed)
  int status = 0;
  std::string output;     // stdout and stderr
};

helper_run run_forgetful_helper(const std::string& mode, std::chrono::seconds limit) {
  helper_run r;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, p[1], 1);
  posix_spawn_file_actions_adddup2(&actions, p[1], 2);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "CFUTURES_", 9) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back("CFUTURES_TEST_FORGOT_MODE=" + mode);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string path = CFUTURES_FORGOT_SERVE_IF_WORKER;
  std::string flag = "--parent";
  char* argv[] = {path.data(), flag.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(p[1]);
  if (rc != 0) {
    ::close(p[0]);
    ADD_FAILURE() << "posix_spawn " << path << ": " << std::strerror(rc);
    return r;
  }
  const auto deadline = steady::now() + limit;
  // Read until EOF (the helper and all its workers are gone) or the deadline.
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left <= 0ms) break;
    pollfd pfd{p[0], POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    char buf[4096];
    const ssize_t got = ::read(p[0], buf, sizeof buf);
    if (got <= 0) break;
    r.output.append(buf, static_cast<std::size_t>(got));
  }
  ::close(p[0]);
  while (steady::now() < deadline) {
    const pid_t w = ::waitpid(pid, &r.status, WNOHANG);
    if (w == pid) {
      r.finished = true;
      return r;
    }
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &r.status, 0);
  return r;
}

void check_forgetful_helper(const std::string& mode) {
  const auto t0 = steady::now();
  const helper_run r = run_forgetful_helper(mode, 15s);
  const auto took = elapsed_since(t0);
  ASSERT_TRUE(r.finished) << "the helper hung; its output:\n" << r.output;
  EXPECT_LT(took, 8s) << "the forgotten serve_if_worker was noticed only after " << took.count()
                      << " ms";
  ASSERT_TRUE(WIFEXITED(r.status)) << r.output;
  EXPECT_EQ(WEXITSTATUS(r.status), 0) << r.output;
  const auto at = r.output.find("broken_process_pool: ");
  ASSERT_NE(at, std::string::npos) << r.output;
  const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
  EXPECT_TRUE(contains(line, "serve_if_worker")) << line;
}

// The worker's main() builds a spawn-mode pool itself (the library sees it is a worker).
TEST(ProcessPoolForgotServeIfWorker, WorkerMainBuildsAPool) { check_forgetful_helper("pool"); }

// The worker's main() returns without ever serving.
TEST(ProcessPoolForgotServeIfWorker, WorkerMainReturns) { check_forgetful_helper("exit"); }

}  // namespace
}  // namespace conformance
