// A watchdog for stress tests: if the guarded scope does not end within its time limit, it
// prints every thread of the process (name, state, kernel wait channel) and aborts, so a
// deadlock fails the test with a dump instead of hanging CI.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

namespace stress {

inline std::string read_first_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

inline void dump_threads() {
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const std::string stat = read_first_line(task.path() / "stat");
    const auto close = stat.rfind(')');
    const char state = close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : '?';
    std::fprintf(stderr, "  thread %s \"%s\" state %c wchan %s\n",
                 task.path().filename().c_str(), read_first_line(task.path() / "comm").c_str(),
                 state, read_first_line(task.path() / "wchan").c_str());
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
          std::abort();
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
