// The pool's side of its forkserver (forkserver.hpp): starting the server, asking it to fork
// and to reap workers, ending it; and the messages both sides exchange.
#include "process/forkserver.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "cfutures/errors.hpp"
#include "process/process_pool_core.hpp"

extern char** environ;

namespace cfutures::detail {
namespace {

std::string program_name() {
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::string argv0;
  std::getline(cmdline, argv0, '\0');
  return argv0.empty() ? "cfutures-forkserver" : argv0;
}

bool named(const char* entry, const char* name) {
  const std::size_t n = std::strlen(name);
  return std::strncmp(entry, name, n) == 0 && entry[n] == '=';
}

std::string how_it_ended(int status) {
  if (status < 0) return "ended";
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "was killed by signal " + std::to_string(sig) +
           (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
  }
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  return "ended";
}

// Waits up to `timeout` for fd to be readable (or closed by its peer).
bool readable_within(int fd, std::chrono::milliseconds timeout) noexcept {
  pollfd p{fd, POLLIN, 0};
  int rc;
  do {
    rc = poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

}  // namespace

bool send_forkserver_message(int fd, const forkserver_message& m, int attached_fd) noexcept {
  iovec iov{const_cast<forkserver_message*>(&m), sizeof m};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (attached_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &attached_fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof m);
}

bool receive_forkserver_message(int fd, forkserver_message& m, int& attached_fd) noexcept {
  attached_fd = -1;
  iovec iov{&m, sizeof m};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
          c->cmsg_len == CMSG_LEN(sizeof(int))) {
        std::memcpy(&attached_fd, CMSG_DATA(c), sizeof(int));
      }
    }
  }
  if (n == static_cast<ssize_t>(sizeof m) && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    return true;
  }
  close_if_open(attached_fd);
  return false;
}

forkserver::~forkserver() { stop(); }

void forkserver::start() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    throw error(std::string("socketpair: ") + std::strerror(errno));
  }
  std::string argv0 = program_name();
  std::string entry = std::string(forkserver_fd_variable) + "=" + std::to_string(sv[1]) + ":" +
                      std::to_string(getpid());
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) {
    if (!named(*e, worker_fd_variable) && !named(*e, forkserver_fd_variable)) envp.push_back(*e);
  }
  envp.push_back(entry.data());
  envp.push_back(nullptr);
  char* argv[] = {argv0.data(), nullptr};
  // As for a spawned worker: dup2 of the descriptor onto itself clears its close-on-exec flag.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], sv[1]);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    throw error(std::string("posix_spawn: ") + std::strerror(rc));
  }
  control_ = sv[0];
  pid_ = pid;
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

// The server's first message: ready, or the end of stream of a main() that did not call
// serve_if_worker first.
void forkserver::await_ready() {
  forkserver_message hello;
  if (!receive_reply(hello) || hello.op != forkserver_message::ready) {
    const pid_t server = pid_;
    const int status = end_server();
    fail("the forkserver process " + std::to_string(server) + " " + how_it_ended(status) +
         " before serving: a program using start_method::forkserver must call "
         "cfutures::serve_if_worker(argc, argv) at the start of main()");
  }
}

void forkserver::fail(const std::string& what) {
  failure_ = what;
  throw error(what);
}

bool forkserver::request(const forkserver_message& out, int fd, forkserver_message& in) noexcept {
  return send_forkserver_message(control_, out, fd) && receive_reply(in);
}

bool forkserver::receive_reply(forkserver_message& in) noexcept {
  int attached = -1;
  const bool ok = readable_within(control_, hello_timeout) &&
                  receive_forkserver_message(control_, in, attached);
  close_if_open(attached);
  return ok;
}

pid_t forkserver::start_worker(int worker_fd) {
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_worker_fd{worker_fd};
  std::lock_guard lock(mutex_);
  if (!failure_.empty()) throw error(failure_);
  const bool fresh = control_ < 0;
  if (fresh) start();
  // To a fresh server, the request goes at once, before its ready: it reads it next.
  const bool sent =
      send_forkserver_message(control_, {forkserver_message::start, -1, 0}, worker_fd);
  if (fresh) await_ready();
  forkserver_message reply;
  if (!sent || !receive_reply(reply) || reply.op != forkserver_message::started) {
    const pid_t server = pid_;
    const int status = end_server();
    fail("the forkserver process " + std::to_string(server) + " " + how_it_ended(status) +
         "; no worker can start");
  }
  if (reply.pid <= 0) {
    throw error(std::string("fork in the forkserver: ") + std::strerror(reply.status));
  }
  return reply.pid;
}

pid_t forkserver::reap(pid_t pid, int* status) noexcept {
  std::lock_guard lock(mutex_);
  forkserver_message reply;
  if (control_ >= 0 && request({forkserver_message::reap, pid, -1}, -1, reply) &&
      reply.op == forkserver_message::reaped && reply.pid == pid) {
    if (status) *status = reply.status;
    return pid;
  }
  if (control_ >= 0) {
    const pid_t server = pid_;
    const int server_status = end_server();
    failure_ = "the forkserver process " + std::to_string(server) + " " +
               how_it_ended(server_status) + "; no worker can start";
  }
  errno = ECHILD;
  return -1;
}

void forkserver::stop() noexcept {
  std::lock_guard lock(mutex_);
  end_server();
}

// Closes the control socket (shutdown first: a process forked elsewhere in this program may
// hold a copy of it, and the server must see the end of stream all the same), then waits
// for the server to end — exit_grace at most, then SIGKILL — and reaps it.
int forkserver::end_server() noexcept {
  if (control_ >= 0) ::shutdown(control_, SHUT_RDWR);
  close_if_open(control_);
  int status = -1;
  if (pid_ > 0) {
    if (pidfd_ < 0 || !readable_within(pidfd_, exit_grace)) kill(pid_, SIGKILL);
    pid_t r;
    do {
      r = waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid_) status = -1;
  }
  close_if_open(pidfd_);
  pid_ = -1;
  return status;
}

}  // namespace cfutures::detail
