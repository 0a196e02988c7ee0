// The trace-event file (trace.hpp, detail/trace_span.hpp): events are formatted as they are
// recorded, held in memory, and written when a megabyte piles up and at trace_stop.
//
//   trace_to(path) ──▶ file opened, "{\"traceEvents\":[" ──▶ session n
//   trace_record(event, name) under the lock: dropped unless event.session == n; the
//     first event of a pid / tid adds its process_name / thread_name metadata
//   trace_stop() ──▶ session 0, the rest written, "]}" closes the array, file closed
//   CFUTURES_TRACE=path: a session at start-up whose file is created at its first write
//     (trace_leave_to_parent drops it untouched in processes that serve calls); exit ends it
//
// A forked child forgets the parent's trace (its lock may have been held at the fork, and
// the file is the parent's): a pthread_atfork handler leaves the state to the parent.
#include <cxxabi.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "cfutures/detail/trace_span.hpp"
#include "cfutures/trace.hpp"

namespace cfutures::detail {

std::atomic<std::uint32_t> trace_session_{0};

namespace {

constexpr std::size_t flush_bytes = 1 << 20;

struct trace_state {
  std::mutex mutex;  // guards what follows
  std::uint32_t last_session = 0;
  std::string path;
  int fd = -1;  // -1 with a session: CFUTURES_TRACE's file, created at the first write
  std::string buffer;
  bool first_event = true;
  std::set<int> named_pids;
  std::set<std::pair<int, int>> named_threads;
  std::map<std::pair<const std::type_info*, const void*>, std::string> names;
};

// Never destroyed: calls may finish while the program exits.
std::atomic<trace_state*> current{nullptr};
std::atomic<trace_code_namer> code_namer{nullptr};

void forget_in_child() noexcept {
  trace_session_.store(0, std::memory_order_relaxed);
  current.store(nullptr, std::memory_order_relaxed);
}

trace_state& state() {
  static std::atomic<bool> hooked{false};
  if (!hooked.exchange(true)) pthread_atfork(nullptr, nullptr, &forget_in_child);
  trace_state* s = current.load(std::memory_order_acquire);
  if (s) return *s;
  auto* fresh = new trace_state;
  // acq_rel: publishes the new state; on failure, acquires the one another thread put.
  if (current.compare_exchange_strong(s, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;
  return *s;
}

void json_string(std::string& out, const std::string& text) {
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
}

void begin_event(trace_state& s) {
  if (!s.first_event) s.buffer += ",\n";
  s.first_event = false;
}

void metadata(trace_state& s, const char* what, int pid, int tid, const std::string& name) {
  begin_event(s);
  s.buffer += "{\"name\":\"";
  s.buffer += what;
  s.buffer += "\",\"ph\":\"M\",\"pid\":" + std::to_string(pid) + ",\"tid\":" + std::to_string(tid) +
              ",\"args\":{\"name\":";
  json_string(s.buffer, name);
  s.buffer += "}}";
}

std::string thread_name(int pid, int tid) {
  char name[64] = {};
  if (pid == getpid()) {
    const std::string file = "/proc/self/task/" + std::to_string(tid) + "/comm";
    if (std::FILE* f = std::fopen(file.c_str(), "r")) {
      if (std::fgets(name, sizeof name, f)) name[std::strcspn(name, "\n")] = '\0';
      std::fclose(f);
    }
  }
  return name[0] ? std::string(name) : "thread " + std::to_string(tid);
}

bool write_all(int fd, const std::string& bytes) noexcept {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

int open_trace(const std::string& path) noexcept {
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Writes the buffer (opening CFUTURES_TRACE's file first); with the lock held.
void flush_locked(trace_state& s) noexcept {
  if (s.fd < 0) {
    s.fd = open_trace(s.path);
    if (s.fd < 0) {
      std::fprintf(stderr, "cfutures: cannot write the trace %s: %s\n", s.path.c_str(),
                   std::strerror(errno));
      s.buffer.clear();
      return;
    }
  }
  if (!write_all(s.fd, s.buffer)) {
    std::fprintf(stderr, "cfutures: writing the trace %s failed: %s\n", s.path.c_str(),
                 std::strerror(errno));
  }
  s.buffer.clear();
}

// Ends the current session, if any; with the lock held.
void stop_locked(trace_state& s) noexcept {
  if (trace_session_.load(std::memory_order_relaxed) == 0) return;
  trace_session_.store(0, std::memory_order_relaxed);
  s.buffer += "\n]}\n";
  flush_locked(s);
  if (s.fd >= 0) ::close(s.fd);
  s.fd = -1;
}

void start_locked(trace_state& s, std::string path, int fd) {
  s.path = std::move(path);
  s.fd = fd;
  s.buffer = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  s.first_event = true;
  s.named_pids.clear();
  s.named_threads.clear();
  // relaxed: spans read it to decide whether to time a call; trace_record re-checks it
  // under the lock.
  trace_session_.store(++s.last_session == 0 ? ++s.last_session : s.last_session,
                       std::memory_order_relaxed);
  // The program's whole file name (glibc's; /proc/self/comm cuts it at 15 characters).
  const std::string program =
      *program_invocation_short_name ? program_invocation_short_name : "caller";
  metadata(s, "process_name", getpid(), 0, program + " (pid " + std::to_string(getpid()) + ")");
  s.named_pids.insert(getpid());
}

void stop_at_exit() noexcept { trace_stop(); }

// Whether this process was started to serve calls for another (a spawned worker, the
// forkserver) or is an MPI rank other than 0: it never writes CFUTURES_TRACE's file.
bool serves_others() {
  for (const char* name : {"CFUTURES_WORKER_FD", "CFUTURES_FORKSERVER_FD"}) {
    if (std::getenv(name)) return true;
  }
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"}) {
    const char* rank = std::getenv(name);
    if (rank && std::strcmp(rank, "0") != 0) return true;
  }
  return false;
}

// CFUTURES_TRACE=path: a trace from start-up; the file is created at its first write.
const bool started_from_environment = [] {
  const char* path = std::getenv("CFUTURES_TRACE");
  if (!path || !*path || serves_others()) return false;
  trace_state& s = state();
  std::lock_guard lock(s.mutex);
  start_locked(s, path, -1);
  std::atexit(&stop_at_exit);
  return true;
}();

}  // namespace

std::uint64_t trace_now_ns() noexcept {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1000000000u + static_cast<std::uint64_t>(t.tv_nsec);
}

std::uint64_t trace_next_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void trace_record(const trace_event& e, const std::string& name) noexcept {
  try {
    trace_state& s = state();
    std::lock_guard lock(s.mutex);
    if (e.session == 0 || e.session != trace_session_.load(std::memory_order_relaxed)) return;
    if (s.named_pids.insert(e.pid).second) {
      metadata(s, "process_name", e.pid, 0, "worker (pid " + std::to_string(e.pid) + ")");
    }
    if (s.named_threads.insert({e.pid, e.tid}).second) {
      metadata(s, "thread_name", e.pid, e.tid, thread_name(e.pid, e.tid));
    }
    begin_event(s);
    char times[96];
    const std::uint64_t end = e.end_ns < e.start_ns ? e.start_ns : e.end_ns;
    std::snprintf(times, sizeof times, "\"ts\":%.3f,\"dur\":%.3f", double(e.start_ns) / 1e3,
                  double(end - e.start_ns) / 1e3);
    s.buffer += "{\"name\":";
    json_string(s.buffer, name);
    s.buffer += ",\"ph\":\"X\",\"pid\":" + std::to_string(e.pid) +
                ",\"tid\":" + std::to_string(e.tid) + "," + times + ",\"args\":{\"id\":" +
                std::to_string(e.id) + ",\"executor\":\"" + e.executor +
                "\",\"attempt\":" + std::to_string(e.attempt) + "}}";
    if (s.buffer.size() >= flush_bytes) flush_locked(s);
  } catch (...) {
    // Out of memory: the event is lost, the call is not.
  }
}

void trace_name_process(int pid, const std::string& name) noexcept {
  try {
    trace_state& s = state();
    std::lock_guard lock(s.mutex);
    if (trace_session_.load(std::memory_order_relaxed) == 0) return;
    if (s.named_pids.insert(pid).second) metadata(s, "process_name", pid, 0, name);
  } catch (...) {
  }
}

const std::string& trace_callable_name(const std::type_info& type, const void* code) noexcept {
  static const std::string unknown = "call";
  try {
    trace_state& s = state();
    std::lock_guard lock(s.mutex);
    auto [it, fresh] = s.names.try_emplace({&type, code});
    if (!fresh) return it->second;
    if (const trace_code_namer namer = code_namer.load(std::memory_order_acquire); code && namer) {
      it->second = namer(code);
      if (!it->second.empty()) return it->second;
    }
    const char* mangled = type.name();
    Dl_info info{};
    if (code && dladdr(code, &info) && info.dli_sname) mangled = info.dli_sname;
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> plain(
        abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
    it->second = status == 0 && plain ? plain.get() : mangled;
    return it->second;
  } catch (...) {
    return unknown;
  }
}

void set_trace_code_namer(trace_code_namer namer) noexcept {
  code_namer.store(namer, std::memory_order_release);  // pairs with the acquire above
}

void trace_leave_to_parent() noexcept {
  trace_state* s = current.load(std::memory_order_acquire);
  if (!s) return;
  std::lock_guard lock(s->mutex);
  if (s->fd >= 0) return;  // a trace this process started itself with trace_to
  trace_session_.store(0, std::memory_order_relaxed);
  s->buffer.clear();
}

void thread_pool_span::record(const std::type_info& type, const void* code) const noexcept {
  trace_event e;
  e.session = session_;
  e.pid = getpid();
  e.tid = gettid();
  e.start_ns = start_ns_;
  e.end_ns = trace_now_ns();
  e.executor = "thread_pool";
  e.id = trace_next_id();
  trace_record(e, trace_callable_name(type, code));
}

}  // namespace cfutures::detail

namespace cfutures {

void trace_to(const std::string& path) {
  detail::trace_state& s = detail::state();
  std::lock_guard lock(s.mutex);
  detail::stop_locked(s);
  const int fd = detail::open_trace(path);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "cfutures::trace_to(" + path + ")");
  }
  detail::start_locked(s, path, fd);
}

void trace_stop() noexcept {
  detail::trace_state* s = detail::current.load(std::memory_order_acquire);
  if (!s) return;
  std::lock_guard lock(s->mutex);
  detail::stop_locked(*s);
}

}  // namespace cfutures
