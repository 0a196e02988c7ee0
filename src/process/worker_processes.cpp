// The process pool's worker processes: starting them (fork, or posix_spawn of this program),
// reaping them, and telling how they ended. Manager thread only (see process_pool_core.hpp).
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "process/process_pool_core.hpp"
#include "process/worker_serve.hpp"

extern char** environ;

namespace cfutures::detail {
namespace {

std::string describe_status(pid_t pid, int status) {
  std::string who = "worker process " + std::to_string(pid);
  if (status < 0) return who + " ended (its exit status could not be collected)";
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return who + " was killed by signal " + std::to_string(sig) +
           (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
  }
  if (WIFEXITED(status)) return who + " exited with code " + std::to_string(WEXITSTATUS(status));
  return who + " ended";
}

std::string program_name() {
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::string argv0;
  std::getline(cmdline, argv0, '\0');
  return argv0.empty() ? "cfutures-worker" : argv0;
}

}  // namespace

std::shared_mutex& fork_barrier() noexcept {
  static std::shared_mutex barrier;
  return barrier;
}

void process_pool_core::start_worker() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw error(std::string("socketpair: ") + std::strerror(errno));
  }
  // The parent's end, with the shared ring: its memfd and wake_fd_ (which a worker writes
  // to wake the manager) wait in the socket for the worker.
  wire::channel link;
  try {
    link = wire::channel::parent_end(sv[0], wake_fd_);
  } catch (...) {
    ::close(sv[1]);
    throw;
  }
  if (method_ == start_method::forkserver) {
    try {
      add_worker(server_.start_worker(sv[1]), std::move(link));  // the server closes sv[1]
    } catch (const error& e) {
      break_executor(e.what());  // no server: it names the cause (forkserver.hpp)
    }
    return;
  }
  // Everything exec needs is prepared before fork: the child may only call
  // async-signal-safe functions in a multi-threaded program.
  std::string argv0;
  std::string fd_entry;
  std::vector<char*> envp;
  if (method_ == start_method::spawn) {
    argv0 = program_name();
    fd_entry = std::string(worker_fd_variable) + "=" + std::to_string(sv[1]);
    for (char** e = environ; *e; ++e) {
      if (std::strncmp(*e, worker_fd_variable, std::strlen(worker_fd_variable)) != 0) {
        envp.push_back(*e);
      }
    }
    envp.push_back(fd_entry.data());
    envp.push_back(nullptr);
  }
  char* argv[] = {argv0.data(), nullptr};
  pid_t pid = -1;
  if (method_ == start_method::spawn) {
    // posix_spawn (vfork + exec): the parent's page tables are not copied, whatever its size.
    // dup2 of the descriptor onto itself clears its close-on-exec flag.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, sv[1], sv[1]);
    const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(sv[1]);
    if (rc != 0) throw error(std::string("posix_spawn: ") + std::strerror(rc));
    add_worker(pid, std::move(link));
    return;
  }
  std::fflush(nullptr);  // or the child would flush the parent's buffered output again
  std::unique_lock no_submit(fork_barrier());
  pid = fork();
  if (pid < 0) {
    const int e = errno;
    ::close(sv[1]);
    throw error(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    // Fork: drop the parent's ends so that only the parent holds them.
    link.close_inherited();
    ::close(wake_fd_);
    for (auto& w : workers_) {
      w.link.close_inherited();
      ::close(w.pidfd);
    }
    serving_as_worker = true;
    const int code = serve_worker(sv[1]);
    std::fflush(nullptr);
    _exit(code);
  }
  no_submit.unlock();
  ::close(sv[1]);
  add_worker(pid, std::move(link));
}

void process_pool_core::add_worker(pid_t pid, wire::channel link) {
  worker_process w;
  w.pid = pid;
  w.link = std::move(link);
  w.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  w.started = std::chrono::steady_clock::now();
  w.idle_since = w.started;
  watchdog_.watch(pid, w.pidfd, w.status());
  // The worker reads its socket once it serves: the initializer, or calls, can be sent now.
  if (initializer_) {
    std::string body = call_head(initializer_.call(), 1);
    std::vector<shared_block> attachments;
    payload args = initializer_.call().args;  // every worker gets its own copy
    wire::writer out(body);
    wire::put_item(out, args, attachments);
    try {
      w.link.put(wire::kind::init, {body}, std::move(attachments));
      w.link.flush();
    } catch (const std::exception&) {
      // Already gone: its socket or pidfd tells.
    }
    w.state = phase::initializing;
  }
  workers_.push_back(std::move(w));
  remote_counters::add(counters_.workers_started);
  remote_counters::add(counters_.workers);
}

int process_pool_core::reap(worker_process& w, std::chrono::milliseconds grace) noexcept {
  w.stopped = watchdog_.forget(w.pid);
  if (w.pidfd >= 0) {
    pollfd p{w.pidfd, POLLIN, 0};
    int rc;
    do {
      rc = poll(&p, 1, static_cast<int>(grace.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) kill(w.pid, SIGKILL);
  } else {
    kill(w.pid, SIGKILL);
  }
  int status = -1;
  pid_t r;
  do {
    r = method_ == start_method::forkserver ? server_.reap(w.pid, &status)
                                            : waitpid(w.pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (w.link.fd() >= 0) remote_counters::take_back(counters_.workers);
  w.link.close();
  close_if_open(w.pidfd);
  if (r != w.pid) return -1;
  if (WIFEXITED(status)) w.slot.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) w.slot.term_signal = WTERMSIG(status);
  return status;
}

void process_pool_core::lost(std::size_t i, const std::string& why) { lost(workers_[i], why); }

void process_pool_core::lost(worker_process& w, const std::string& why) {
  const int status = reap(w, exit_grace);
  if (w.state == phase::exiting && w.slot.held.empty()) {
    if (w.slot.end == worker_end::serving) w.slot.end = worker_end::retired;
    return;
  }
  std::string how = describe_status(w.pid, status);
  if (!why.empty()) how += " (" + why + ")";
  // Stopped by the pool (even before its hello), or a death under fail_call of a worker
  // that had started serving: it costs one call. Otherwise the pool breaks.
  if (!signal_sent_ && (w.stopped.reason != stop_reason::none ||
                        (w.greeted && on_worker_death_ == worker_death::fail_call))) {
    settle_lost(w, status, how);
    return;
  }
  w.slot.end = worker_end::died;
  remote_counters::add(counters_.workers_died);
  std::string message =
      "A process in the process pool was terminated abruptly while the "
      "future was running or pending: " +
      how + running_function(w);
  if (const std::string stack = crash_stack(w, status); !stack.empty()) {
    message += "; its stack:\n" + stack;
  }
  if (!w.greeted && method_ == start_method::spawn) {
    message +=
        ". It ended before serving: a program using start_method::spawn must call "
        "cfutures::serve_if_worker(argc, argv) at the start of main()";
  }
  break_executor(message);
}

}  // namespace cfutures::detail
