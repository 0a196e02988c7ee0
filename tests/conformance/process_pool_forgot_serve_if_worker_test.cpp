// A program that forgot serve_if_worker (the helper forgot_serve_if_worker.cpp): its
// spawn-mode or forkserver-mode pool breaks within seconds, with a message naming the fix,
// instead of hanging.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

#include "process_pool_support.hpp"

namespace conformance {
namespace {

struct helper_run {
  bool finished = false;  // false: still running at the deadline (killed)
  int status = 0;
  std::string output;  // stdout and stderr
};

helper_run run_forgetful_helper(const std::string& mode, const std::string& method,
                                std::chrono::seconds limit) {
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
  env_strings.push_back("CFUTURES_TEST_FORGOT_METHOD=" + method);
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

void check_forgetful_helper(const std::string& mode, const std::string& method = "spawn") {
  const auto t0 = steady::now();
  const helper_run r = run_forgetful_helper(mode, method, 15s);
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

// The same for a forkserver-mode pool, whose server is the process that forgot.
TEST(ProcessPoolForgotServeIfWorker, ForkserverMainBuildsAPool) {
  check_forgetful_helper("pool", "forkserver");
}
TEST(ProcessPoolForgotServeIfWorker, ForkserverMainReturns) {
  check_forgetful_helper("exit", "forkserver");
}

}  // namespace
}  // namespace conformance
