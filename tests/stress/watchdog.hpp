// A watchdog for stress tests: if the guarded scope does not end within its time limit, it
// prints every thread of the process and of its child processes (name, state, kernel wait
// channel), kills the children and ends the process with exit code 134, so a deadlock fails
// the test at once with a dump instead of hanging CI. It does not call abort(): under TSan a
// SIGABRT raised beside threads that hold the runtime's locks can itself hang until CTest's
// timeout, without the dump saying more.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace stress {

inline std::string read_first_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The fields of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line after the command
// name: field 0 is the state, field 1 the parent's pid.
inline std::string stat_field(const std::string& stat, int field) {
  auto at = stat.rfind(')');
  if (at == std::string::npos) return "?";
  at += 2;
  for (int i = 0; i < field && at != std::string::npos; ++i) {
    at = stat.find(' ', at);
    if (at != std::string::npos) ++at;
  }
  if (at == std::string::npos || at >= stat.size()) return "?";
  return stat.substr(at, stat.find(' ', at) - at);
}

inline void dump_threads_of(const std::filesystem::path& process) {
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(process / "task", ec)) {
    std::fprintf(stderr, "  thread %s \"%s\" state %s wchan %s\n",
                 task.path().filename().c_str(), read_first_line(task.path() / "comm").c_str(),
                 stat_field(read_first_line(task.path() / "stat"), 0).c_str(),
                 read_first_line(task.path() / "wchan").c_str());
  }
}

// The pids of this process's children (running or zombie).
inline std::vector<pid_t> child_pids() {
  std::vector<pid_t> children;
  const std::string self = std::to_string(::getpid());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (stat_field(read_first_line(entry.path() / "stat"), 1) == self) {
      children.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return children;
}

inline void dump_threads() {
  dump_threads_of("/proc/self");
  for (const pid_t child : child_pids()) {
    std::fprintf(stderr, " child process %d:\n", static_cast<int>(child));
    dump_threads_of("/proc/" + std::to_string(child));
  }
}

class watchdog {
 public:
  watchdog(std::string what, std::chrono::seconds limit)
      : thread_([this, what = std::move(what), limit] {
          std::unique_lock lock(mutex_);
          if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
          std::fprintf(stderr, "watchdog: %s still running after %llds; threads:\n", what.c_str(),
                       static_cast<long long>(limit.count()));
          dump_threads();
          for (const pid_t child : child_pids()) ::kill(child, SIGKILL);
          std::fflush(stderr);
          std::_Exit(134);
        }) {}
  ~watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace stress
