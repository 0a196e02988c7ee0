// The forkserver process itself (forkserver.hpp): found by serve_if_worker, it forks a worker
// for each request of its pool and reaps them when asked, single-threaded, until its control
// socket reaches end of stream or the pool's manager thread is gone.
//
// A spare, forked ahead: a worker costs most of its start-up in the page faults of its first
// steps (copy-on-write of the server's pages, microseconds each in a virtual machine). Once a
// start request asks for it (the pool does after a worker's death: replacements are then
// expected), the server keeps one child forked in advance, blocked on a socket of its own
// ("handoff") until a start request hands it the worker's socket. The reply then goes out
// at once and the next spare is forked after it:
//
//   server: read start (keep a spare) ─ fork the worker ─ started {pid} ─ fork spare ─ ...
//           read start ─ worker's fd ──▶ spare (handoff) ─ started {spare} ─ fork the next
//           spare ─ read the next request ...
//   spare:  forked ─ blocks in recvmsg(handoff) ─ gets the fd ─ serve_worker(fd), as any worker
//
// The spare is the server's child like every worker (reaped on request once it serves). A
// spare that cannot take the socket (gone) is reaped and the worker forked as before; at the
// end the server closes the handoff (the spare reads end of stream and exits) and reaps it.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "process/forkserver.hpp"
#include "process/process_pool_core.hpp"
#include "process/worker_serve.hpp"

namespace cfutures::detail {
namespace {

struct spare_child {
  pid_t pid = -1;
  int handoff = -1;  // the server's end
};

[[noreturn]] void serve_and_exit(int worker_fd) {
  serving_as_worker = true;
  const int code = serve_worker(worker_fd);
  std::fflush(nullptr);
  _exit(code);
}

forkserver_message fork_worker(int control_fd, int worker_fd) {
  if (worker_fd < 0) return {forkserver_message::started, -1, EBADF};
  std::fflush(nullptr);  // or the child would flush the server's buffered output again
  const pid_t pid = fork();
  if (pid == 0) {
    // The worker: nothing of the server's but its socket to the pool, then what a forked
    // worker of a pool runs.
    ::close(control_fd);
    serve_and_exit(worker_fd);
  }
  const int e = errno;
  ::close(worker_fd);
  if (pid < 0) return {forkserver_message::started, -1, e};
  return {forkserver_message::started, pid, 0};
}

spare_child fork_spare(int control_fd) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return {};
  std::fflush(nullptr);
  const pid_t server = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    ::close(control_fd);
    ::close(sv[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // a spare never outlives its server
    if (getppid() != server) _exit(0);
    forkserver_message m;
    int worker_fd = -1;
    if (!receive_forkserver_message(sv[1], m, worker_fd) || worker_fd < 0) _exit(0);
    ::close(sv[1]);
    prctl(PR_SET_PDEATHSIG, 0);  // a worker now: it ends with its socket, like the others
    serve_and_exit(worker_fd);
  }
  ::close(sv[1]);
  if (pid < 0) {
    ::close(sv[0]);
    return {};
  }
  return {pid, sv[0]};
}

void reap_quietly(pid_t pid) noexcept {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Hands the worker's socket to the spare (its pid in the reply), or forks a worker if the
// spare is gone; the spare is used up either way.
forkserver_message start_worker(int control_fd, int worker_fd, spare_child& spare) {
  if (spare.pid > 0 && worker_fd >= 0) {
    const bool taken =
        send_forkserver_message(spare.handoff, {forkserver_message::start, 0, 0}, worker_fd);
    ::close(spare.handoff);
    const spare_child used = std::exchange(spare, spare_child{});
    if (taken) {
      ::close(worker_fd);
      return {forkserver_message::started, used.pid, 0};
    }
    reap_quietly(used.pid);
  }
  return fork_worker(control_fd, worker_fd);
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
  spare_child spare;
  bool keep_spare = false;
  const auto end = [&spare](int code) {
    if (spare.pid > 0) {
      ::close(spare.handoff);  // end of stream: the spare exits
      reap_quietly(spare.pid);
    }
    return code;
  };
  for (;;) {
    forkserver_message m;
    int attached = -1;
    if (!receive_forkserver_message(control_fd, m, attached)) return end(0);  // the pool is gone
    forkserver_message reply;
    if (m.op == forkserver_message::start) {
      keep_spare = keep_spare || m.status == 1;
      reply = start_worker(control_fd, attached, spare);
    } else if (m.op == forkserver_message::reap) {
      close_if_open(attached);
      reply = reap_worker(m.pid);
    } else {
      close_if_open(attached);
      std::fprintf(stderr, "cfutures forkserver %d: unexpected request %d\n",
                   static_cast<int>(getpid()), m.op);
      return end(2);
    }
    if (!send_forkserver_message(control_fd, reply, -1)) return end(0);
    if (keep_spare && spare.pid < 0) spare = fork_spare(control_fd);
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
