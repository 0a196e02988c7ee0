// The forkserver of a process pool (start_method::forkserver): one server process per pool,
// which forks that pool's workers on request.
//
// What: the server is this program run again (posix_spawn of /proc/self/exe, like a spawned
// worker), found by serve_if_worker through forkserver_fd_variable, which then runs
// serve_forkserver() and never returns to main(). It is single-threaded, so a worker forked
// from it inherits no lock held by another thread — and it never touches the pool's heap,
// so the pool's threads do not matter. The pool keeps a `forkserver` handle: the first
// start_worker() starts the server; each start_worker() hands the server the worker's end
// of a socketpair (the channel to the pool, with its shared ring, is already in it); the
// server forks, the child serves on that socket exactly as a forked worker does
// (serve_worker), and the server replies with the child's pid.
//
// Message flow over the control socket (SOCK_SEQPACKET; one fixed-size message each way):
//
//   pool (manager thread)                    forkserver (its child)        worker (its child)
//   posix_spawn /proc/self/exe ────────────▶ main() → serve_if_worker
//   start + worker's socket (SCM_RIGHTS) ──▶ (queued in the socket)
//   waits ≤ 20 s for ◀──────────────────────── ready {pid}
//                                            reads start: fork() ─────────▶ serve_worker(fd)
//                     ◀──────────────────────── started {pid} (or errno)      hello, calls...
//   pidfd_open(pid): watched like a child     (keeps the child unreaped, so
//                                             its pid stays the worker's)
//   reap {pid} (once its pidfd says it ended, or after SIGKILL)
//                                             waitpid(pid) ──── reaps it
//                     ◀──────────────────────── reaped {pid, wait status}
//   stop: shutdown + close the socket ──────▶ EOF: exits
//   waitpid(server)
//
// A worker is the server's child, not the pool's: kill() reaches it (the server does not
// reap it before the pool asks, so its pid is not reused meanwhile), pidfd_open() watches
// it, and its exit status comes from the server (reap). The server ends when its control
// socket reaches end of stream (stop(), or the pool's process died) or when the thread that
// started it — the pool's manager thread — is gone (PR_SET_PDEATHSIG), so it never outlives
// its pool. A server that ends before saying ready is a main() that did not call
// serve_if_worker first: start_worker() throws an error naming the fix.
//
// Thread safety: a forkserver may be used from several threads; requests are serialized.
// Blocking: start_worker() waits for the server's reply (and, the first time, for it to
//   start); reap() for the worker to end; stop() for the server to end (≤ 5 s, then SIGKILL).
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>

namespace cfutures::detail {

// The forkserver finds its control socket (and the pid of the process that started it) in
// this environment variable: "<fd>:<pid>".
inline constexpr const char* forkserver_fd_variable = "CFUTURES_FORKSERVER_FD";

// What the pool and its forkserver send each other (one SOCK_SEQPACKET message each).
struct forkserver_message {
  enum op_code : int { ready = 1, start = 2, started = 3, reap = 4, reaped = 5 };
  int op = 0;
  int pid = -1;     // ready: the server's; started, reap, reaped: the worker's
  int status = -1;  // started: 0 or the fork's errno; reaped: the wait status, or -1
};

// The pool's handle on its forkserver.
class forkserver {
 public:
  forkserver() = default;
  forkserver(const forkserver&) = delete;
  forkserver& operator=(const forkserver&) = delete;
  // stop().
  ~forkserver();

  // Forks a worker that serves on `worker_fd` (the worker's end of its socket, closed here
  // in every case): its pid. Starts the server first if need be. Throws error if the server
  // cannot start, did not call serve_if_worker, has ended, or could not fork.
  pid_t start_worker(int worker_fd);
  // waitpid(pid, status, 0) for a worker it started (ended, or about to be): `pid`, its wait
  // status in *status; or -1 with errno ECHILD if the server cannot tell (it has ended; the
  // worker is then reaped by whoever inherited it).
  pid_t reap(pid_t pid, int* status) noexcept;
  // Ends the server and reaps it; nothing of it is left. Idempotent.
  void stop() noexcept;

 private:
  void start();
  void await_ready();
  bool receive_reply(forkserver_message& in) noexcept;
  [[noreturn]] void fail(const std::string& what);
  bool request(const forkserver_message& out, int fd, forkserver_message& in) noexcept;
  int end_server() noexcept;

  std::mutex mutex_;  // guards what follows
  int control_ = -1;
  int pidfd_ = -1;  // the server's
  pid_t pid_ = -1;
  std::string failure_;  // set once it failed: every later start_worker throws it
};

// Sends `m` (with `attached_fd` as SCM_RIGHTS, unless -1); false if the peer is gone.
bool send_forkserver_message(int fd, const forkserver_message& m, int attached_fd) noexcept;
// Receives one message (blocking) and the descriptor attached to it, if any (else -1):
// false at end of stream, on an error, or for a message of the wrong size.
bool receive_forkserver_message(int fd, forkserver_message& m, int& attached_fd) noexcept;

// In serve_if_worker, first: if this process was started as a forkserver
// (forkserver_fd_variable), serves its pool until end of stream and ends the process;
// otherwise returns at once.
void serve_if_forkserver();

}  // namespace cfutures::detail
