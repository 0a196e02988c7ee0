// tests/conformance/test_support.hpp — helpers shared by the conformance suite.
//
// What lives here:
//   - make_future(state): futures in each of CPython's states (util.create_future), built
//     with promise<int>.
//   - scratch_dir / gate: cross-process coordination through files in a private temporary
//     directory. Tasks of the typed suite may run in another process, so "block until
//     released", "signal that I started" and "count how many calls ran" are files, never
//     shared memory.
//   - tracked: a serializable value type that counts its live instances, to check that
//     nothing keeps results or arguments alive (CPython's weakref checks).
//   - step(): advances any input range one position, so that a test can say "the next
//     element is X" or "the next step throws" without caring whether begin(), ++ or *
//     does the blocking.
//   - event: threading.Event, for thread-only tests.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <dirent.h>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <cfutures/cfutures.hpp>

// Whether a forked worker can hang in this build. GCC 12's AddressSanitizer and
// ThreadSanitizer do not hold their allocators' locks across fork(): a worker forked while
// another thread of the parent allocates can inherit one of them locked and hang in its first
// allocation (seen in hung children's stacks: SizeClassAllocator64::GetFromAllocator, under
// ASan and under TSan; in CI's TSan stage, a conformance fork pool's call never answered).
// glibc's malloc, used by every other build, is fork-safe. In these builds the conformance
// and stress suites leave fork pools out; the release run covers them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CFUTURES_FORKED_WORKERS_CAN_HANG 1
#else
#define CFUTURES_FORKED_WORKERS_CAN_HANG 0
#endif

namespace conformance {

inline constexpr bool forked_workers_can_hang = CFUTURES_FORKED_WORKERS_CAN_HANG;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

inline std::chrono::milliseconds elapsed_since(steady::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
}

// Polls `pred` every millisecond until it holds or `timeout` passes; returns its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto until = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() >= until) return pred();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Futures in CPython's states (test_concurrent_futures/util.py: PENDING_FUTURE, ...).

enum class state { pending, running, cancelled, cancelled_and_notified, raised, succeeded };

// Python's OSError in EXCEPTION_FUTURE.
struct os_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct made_future {
  cfutures::promise<int> promise;
  cfutures::future<int> future;
};

inline made_future make_future(state s) {
  made_future m;
  m.future = m.promise.get_future();
  switch (s) {
    case state::pending:
      break;
    case state::running:
      m.promise.set_running_or_notify_cancel();
      break;
    case state::cancelled:
      m.future.cancel();
      break;
    case state::cancelled_and_notified:
      m.future.cancel();
      m.promise.set_running_or_notify_cancel();
      break;
    case state::raised:
      m.promise.set_exception(std::make_exception_ptr(os_error("os error")));
      break;
    case state::succeeded:
      m.promise.set_result(42);
      break;
  }
  return m;
}

template <class F>
std::unordered_set<F> as_set(const std::vector<F>& v) {
  return {v.begin(), v.end()};
}

template <class F>
std::unordered_set<F> set_of(std::initializer_list<F> fs) {
  return {fs.begin(), fs.end()};
}

// ---------------------------------------------------------------------------------------
// A value type that counts its live instances (moved-from ones included: a state that
// still holds a moved-from shell is still being kept alive). Serializable with cereal's
// member-serialize convention so the process pools can carry it.

struct tracked {
  int value = 0;

  static std::atomic<int>& live() {
    static std::atomic<int> n{0};
    return n;
  }

  tracked() { ++live(); }
  explicit tracked(int v) : value(v) { ++live(); }
  tracked(const tracked& o) : value(o.value) { ++live(); }
  tracked(tracked&& o) noexcept : value(o.value) { ++live(); }
  tracked& operator=(const tracked&) = default;
  tracked& operator=(tracked&&) noexcept = default;
  ~tracked() { --live(); }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(value);
  }
};

// ---------------------------------------------------------------------------------------
// Files as cross-process signals.

inline bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

inline void create_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

// A private temporary directory, removed (with its contents) on destruction. Declare it
// before the executor whose tasks use it, so that it outlives their calls.
class scratch_dir {
 public:
  scratch_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/cfutures-conformance-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("scratch_dir: mkdtemp failed");
    dir_ = buf.data();
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const std::string& dir() const { return dir_; }
  std::string path(std::string_view name) const { return dir_ + "/" + std::string(name); }
  void create(std::string_view name) const { create_file(path(name)); }
  bool exists(std::string_view name) const { return file_exists(path(name)); }

  // How many entries of the directory start with `prefix`.
  std::size_t count(std::string_view prefix) const {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path().filename().string().starts_with(prefix)) ++n;
    }
    return n;
  }

  bool wait_for(std::string_view name, std::chrono::milliseconds timeout = 10s) const {
    return eventually([&] { return exists(name); }, timeout);
  }
  bool wait_for_count(std::string_view prefix, std::size_t n,
                      std::chrono::milliseconds timeout = 10s) const {
    return eventually([&] { return count(prefix) >= n; }, timeout);
  }

 private:
  std::string dir_;
};

// A gate that tasks wait on (tasks::wait_for_file); opened by open() or, at the latest, on
// destruction, so that a failing assertion never leaves a task blocked.
class gate {
 public:
  gate(const scratch_dir& scratch, std::string_view name) : path_(scratch.path(name)) {}
  gate(const gate&) = delete;
  gate& operator=(const gate&) = delete;
  ~gate() { open(); }
  const std::string& path() const { return path_; }
  void open() const { create_file(path_); }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------
// Stepping through an input range one position at a time.

template <class Range>
class stepper {
 public:
  using iterator = std::ranges::iterator_t<Range>;
  using value_type = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;

  explicit stepper(Range& r) : range_(&r) {}

  // The next element, or nullopt at the end. Any blocking or throwing of the range happens
  // here (in begin(), ++, == end or *).
  std::optional<value_type> next() {
    if (!it_) {
      it_.emplace(std::ranges::begin(*range_));
    } else {
      ++*it_;
    }
    if (*it_ == std::ranges::end(*range_)) return std::nullopt;
    return value_type(std::move(**it_));
  }

 private:
  Range* range_;
  std::optional<iterator> it_;
};

template <class Range>
stepper<Range> step(Range& r) {
  return stepper<Range>(r);
}

// ---------------------------------------------------------------------------------------
// threading.Event, for thread-only tests.

class event {
 public:
  // Notifies under the lock: a waiter that returns may destroy the event at once.
  void set() {
    std::lock_guard lock(m_);
    set_ = true;
    cv_.notify_all();
  }
  bool is_set() const {
    std::lock_guard lock(m_);
    return set_;
  }
  void wait() const {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return set_; });
  }
  bool wait_for(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, timeout, [&] { return set_; });
  }

 private:
  mutable std::mutex m_;
  mutable std::condition_variable cv_;
  bool set_ = false;
};

// Sets an event when it goes out of scope: declare it after the executor (and the event
// before the executor) so that blocked tasks are released before the executor joins them.
class set_on_exit {
 public:
  explicit set_on_exit(event& e) : e_(e) {}
  set_on_exit(const set_on_exit&) = delete;
  set_on_exit& operator=(const set_on_exit&) = delete;
  ~set_on_exit() { e_.set(); }

 private:
  event& e_;
};

// ---------------------------------------------------------------------------------------
// Threads and descriptors of this process (Linux: /proc/self).

inline std::size_t count_entries(const char* directory) {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    (void)entry;
    ++n;
  }
  return n;
}

inline std::size_t count_threads() { return count_entries("/proc/self/task"); }

// Open descriptors, counting the one that lists them: compare two counts, not a count to 0.
inline std::size_t open_descriptors() { return count_entries("/proc/self/fd"); }

// The thread count to compare against: first starts and joins one thread, because some
// runtimes (ThreadSanitizer) start a helper thread of their own at the first thread creation.
inline std::size_t baseline_threads() {
  std::thread([] {}).join();
  return count_threads();
}

inline std::vector<std::string> thread_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::string comm;
    const int fd = ::open((entry.path() / "comm").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // the thread ended meanwhile
    char buf[64];
    const ssize_t got = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (got <= 0) continue;
    comm.assign(buf, static_cast<std::size_t>(got));
    while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\0')) comm.pop_back();
    names.push_back(comm);
  }
  return names;
}

}  // namespace conformance
