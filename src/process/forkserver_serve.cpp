// The forkserver process itself (forkserver.hpp): found by serve_if_worker, it forks a worker
// for each request of its pool and reaps them when asked, single-threaded, until its control
// socket reaches end of stream or the pool's manager thread is gone.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "process/forkserver.hpp"
#include "process/process_pool_core.hpp"
#include "process/worker_serve.hpp"

namespace cfutures::detail {
namespace {

forkserver_message fork_worker(int control_fd, int worker_fd) {
  if (worker_fd < 0) return {forkserver_message::started, -1, EBADF};
  std::fflush(nullptr);  // or the child would flush the server's buffered output again
  const pid_t pid = fork();
  if (pid == 0) {
    // The worker: nothing of the server's but its socket to the pool, then what a forked
    // worker of a pool runs.
    ::close(control_fd);
    serving_as_worker = true;
    const int code = serve_worker(worker_fd);
    std::fflush(nullptr);
    _exit(code);
  }
  const int e = errno;
  ::close(worker_fd);
  if (pid < 0) return {forkserver_message::started, -1, e};
  return {forkserver_message::started, pid, 0};
}

forkserver_message reap_worker(pid_t pid) {
  int status = -1;
  pid_t r;
  do {
    r = waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r != pid || pid <= 0) return {forkserver_message::reaped, pid, -1};
  return {forkserver_message::reaped, pid, status};
}

int serve_forkserver(int control_fd, pid_t parent) {
  // Killed when the thread that started it (the pool's manager) ends; if that happened
  // before this line, the parent is no longer `parent`.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 0;
  signal(SIGCHLD, SIG_DFL);  // its workers stay zombies until reaped on request
  if (!send_forkserver_message(control_fd, {forkserver_message::ready, getpid(), 0}, -1)) {
    return 0;
  }
  for (;;) {
    forkserver_message m;
    int attached = -1;
    if (!receive_forkserver_message(control_fd, m, attached)) return 0;  // the pool is gone
    forkserver_message reply;
    if (m.op == forkserver_message::start) {
      reply = fork_worker(control_fd, attached);
    } else if (m.op == forkserver_message::reap) {
      close_if_open(attached);
      reply = reap_worker(m.pid);
    } else {
      close_if_open(attached);
      std::fprintf(stderr, "cfutures forkserver %d: unexpected request %d\n",
                   static_cast<int>(getpid()), m.op);
      return 2;
    }
    if (!send_forkserver_message(control_fd, reply, -1)) return 0;
  }
}

}  // namespace

void serve_if_forkserver() {
  const char* value = std::getenv(forkserver_fd_variable);
  if (!value) return;
  char* rest = nullptr;
  const long fd = std::strtol(value, &rest, 10);
  const long parent = *rest == ':' ? std::strtol(rest + 1, nullptr, 10) : 0;
  if (fd <= 2 || parent <= 0) {
    std::fprintf(stderr, "cfutures: invalid %s=%s\n", forkserver_fd_variable, value);
    _exit(2);
  }
  unsetenv(forkserver_fd_variable);
  serving_as_worker = true;
  const int code = serve_forkserver(static_cast<int>(fd), static_cast<pid_t>(parent));
  std::fflush(nullptr);
  _exit(code);
}

}  // namespace cfutures::detail
