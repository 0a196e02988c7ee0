// The forkserver of a process pool (src/process/forkserver.hpp, start_method::forkserver):
// workers are the server's children and compute right; how a worker ended (signal, exit code)
// comes from the server; nothing is left once the pool is gone — no child, zombie, server,
// worker or descriptor — even when the pool's process is killed; and a lock held by another
// thread of this program while workers start is not inherited by them.
// Its own main(): the server runs this program again and is found by serve_if_worker.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cfutures/cfutures.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using cfutures::process_pool_executor;
using cfutures::start_method;

// ---- processes and descriptors, from /proc ----

struct proc_stat {
  char state = 0;
  pid_t ppid = 0;
};

std::optional<proc_stat> stat_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  const auto close = text.rfind(')');  // comm may hold anything
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 1));
  proc_stat s;
  long ppid = 0;
  rest >> s.state >> ppid;
  s.ppid = static_cast<pid_t>(ppid);
  return s;
}

bool alive(pid_t pid) {
  const auto s = stat_of(pid);
  return s && s->state != 'Z' && s->state != 'X';
}

// Children of `parent`; zombies too if asked.
std::vector<pid_t> children_of(pid_t parent, bool zombies = false) {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc");
  if (!dir) return out;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const pid_t pid = std::atoi(e->d_name);
    const auto s = stat_of(pid);
    if (!s || s->ppid != parent) continue;
    if (zombies || (s->state != 'Z' && s->state != 'X')) out.push_back(pid);
  }
  closedir(dir);
  return out;
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (const dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n - 1;  // the directory's own descriptor
}

template <class Predicate>
bool eventually(Predicate p, std::chrono::milliseconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!p()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// ---- calls (run in the workers) ----

int mul(int a, int b) { return a * b; }
int my_pid() { return static_cast<int>(getpid()); }
int parent_pid() { return static_cast<int>(getppid()); }
int kill_myself(int sig) {
  signal(sig, SIG_DFL);  // a sanitizer's handler would turn it into an exit
  raise(sig);
  return 0;
}
int exit_with(int code) { _exit(code); }

std::mutex held_elsewhere;  // locked by another thread of the test while workers start
int lock_and_unlock() {
  std::lock_guard lock(held_elsewhere);
  return 1;
}

process_pool_executor forkserver_pool(std::size_t workers) {
  return process_pool_executor({.max_workers = workers, .method = start_method::forkserver});
}

std::string broken_what(cfutures::future<int>& f) {
  try {
    f.result(20s);
  } catch (const cfutures::broken_process_pool& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not broken_process_pool: ") + e.what();
  }
  return "returned";
}

// ---- tests ----

TEST(Forkserver, WorkersAreTheServersChildrenAndComputeRight) {
  const std::size_t fds = open_descriptors();
  std::set<int> servers;
  {
    auto pool = forkserver_pool(3);
    std::vector<cfutures::future<int>> fs;
    for (int i = 0; i < 200; ++i) fs.push_back(pool.submit(mul, i, 3));
    for (int i = 0; i < 200; ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(20s), 3 * i);
    const std::vector<pid_t> mine = children_of(getpid());
    ASSERT_EQ(mine.size(), 1u) << "one server per pool, and the workers are not our children";
    for (int i = 0; i < 20; ++i) servers.insert(pool.submit(parent_pid).result(20s));
    EXPECT_EQ(servers, std::set<int>{mine[0]});
    const int worker = pool.submit(my_pid).result(20s);
    EXPECT_NE(worker, getpid());
    EXPECT_NE(worker, mine[0]);
  }
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD) << "a child (or zombie) outlived its pool";
  EXPECT_FALSE(alive(*servers.begin())) << "the server outlived its pool";
  EXPECT_EQ(open_descriptors(), fds) << "descriptors leaked";
}

TEST(Forkserver, AWorkerKilledBySigkillIsReportedWithThatSignal) {
  auto pool = forkserver_pool(2);
  EXPECT_EQ(pool.submit(mul, 2, 3).result(20s), 6);
  auto f = pool.submit(kill_myself, SIGKILL);
  const std::string what = broken_what(f);
  EXPECT_NE(what.find("killed by signal 9 (SIGKILL)"), std::string::npos) << what;
}

TEST(Forkserver, AWorkerKilledBySigsegvIsReportedWithThatSignal) {
  auto pool = forkserver_pool(1);
  auto f = pool.submit(kill_myself, SIGSEGV);
  const std::string what = broken_what(f);
  EXPECT_NE(what.find("killed by signal 11 (SIGSEGV)"), std::string::npos) << what;
}

TEST(Forkserver, AWorkersExitCodeIsReported) {
  auto pool = forkserver_pool(1);
  auto f = pool.submit(exit_with, 3);
  const std::string what = broken_what(f);
  EXPECT_NE(what.find("exited with code 3"), std::string::npos) << what;
}

// Workers replaced after each call are reaped by the server as the pool asks: no zombie
// piles up under the server, and the pool ends with nothing left.
TEST(Forkserver, ReplacedWorkersLeaveNoZombie) {
  const std::size_t fds = open_descriptors();
  {
    process_pool_executor pool(
        {.max_workers = 2, .max_tasks_per_child = 1, .method = start_method::forkserver});
    std::set<int> pids;
    for (int i = 0; i < 20; ++i) pids.insert(pool.submit(my_pid).result(20s));
    EXPECT_EQ(pids.size(), 20u) << "each call in a fresh worker";
    const std::vector<pid_t> mine = children_of(getpid());
    ASSERT_EQ(mine.size(), 1u);
    const pid_t server = mine[0];
    EXPECT_TRUE(eventually([&] { return children_of(server, true).size() <= 2; }))
        << children_of(server, true).size() << " children (with zombies) under the server";
  }
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_EQ(open_descriptors(), fds);
}

// The pool's process dies abruptly (SIGKILL: no destructor runs): its server and its
// workers end too. The pool lives in a child process of the test, which reports its pid.
TEST(Forkserver, TheServerAndWorkersDoNotOutliveAKilledProgram) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t program = fork();
  ASSERT_GE(program, 0);
  if (program == 0) {
    close(ready[0]);
    auto pool = forkserver_pool(2);
    const int a = pool.submit(mul, 6, 7).result(20s);
    const int b = pool.submit(mul, 2, 21).result(20s);
    const char c = (a == 42 && b == 42) ? 'y' : 'n';
    [[maybe_unused]] const ssize_t n = write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  EXPECT_EQ(c, 'y');
  const std::vector<pid_t> servers = children_of(program);
  ASSERT_EQ(servers.size(), 1u);
  const std::vector<pid_t> workers = children_of(servers[0]);
  EXPECT_GE(workers.size(), 1u);
  kill(program, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(program, &status, 0), program);
  EXPECT_TRUE(eventually([&] { return !alive(servers[0]); })) << "the server outlived it";
  for (const pid_t w : workers) {
    EXPECT_TRUE(eventually([&] { return !alive(w); })) << "worker " << w << " outlived it";
  }
}

// Another thread holds a mutex while the pool starts its workers: a forked worker would
// inherit it locked (and hang on it); a worker forked by the server never sees it held.
TEST(Forkserver, ALockHeldByAnotherThreadIsNotInherited) {
  std::mutex release;
  release.lock();
  std::thread holder([&] {
    std::lock_guard held(held_elsewhere);
    std::lock_guard wait(release);
  });
  ASSERT_TRUE(eventually([] {
    if (!held_elsewhere.try_lock()) return true;
    held_elsewhere.unlock();
    return false;
  }));
  {
    auto pool = forkserver_pool(2);
    std::vector<cfutures::future<int>> fs;
    for (int i = 0; i < 4; ++i) fs.push_back(pool.submit(lock_and_unlock));
    for (auto& f : fs) {
      try {
        EXPECT_EQ(f.result(20s), 1);
      } catch (const cfutures::timeout_error&) {
        ADD_FAILURE() << "a worker hung on the lock another thread held";
        pool.kill_workers();
        break;
      }
    }
  }
  release.unlock();
  holder.join();
}

}  // namespace

int main(int argc, char** argv) {
  cfutures::serve_if_worker(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
