// demo.hpp: what the examples and the tour share (not part of the library).
//
// Every example accepts `--scale X` (multiplies each simulated delay and timeout; default
// 0.5, so the tutorial's 2 s download takes 1 s and the whole tour about half a minute) and
// `--seed N` (fixes the random choices; each task draws from its own generator, seeded from N
// and the task's name, so a run is reproducible whatever the thread interleaving).
// Also here: thread-safe printing, a stopwatch, a gauge of how many calls run at once, and
// the bookkeeping behind each program's exit status and its final "=> " line.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

namespace demo {

struct settings {
  double scale = 0.5;
  std::uint64_t seed = 42;
};
inline settings config;

// Reads --scale and --seed; prints the usage and exits 2 on anything else.
inline void parse_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view option = argv[i];
    if ((option == "--scale" || option == "--seed") && i + 1 < argc) {
      const char* text = argv[++i];
      char* end = nullptr;
      if (option == "--scale") {
        config.scale = std::strtod(text, &end);
      } else {
        config.seed = std::strtoull(text, &end, 10);
      }
      if (end != text && *end == '\0' && config.scale > 0) continue;
    }
    std::fprintf(stderr, "usage: %s [--scale X (> 0, default 0.5)] [--seed N (default 42)]\n",
                 argv[0]);
    std::exit(2);
  }
}

// The tutorial's seconds, scaled: as a number, and as a duration for the library's timeouts.
inline double scaled(double seconds) { return seconds * config.scale; }
inline std::chrono::nanoseconds seconds(double tutorial_seconds) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(scaled(tutorial_seconds)));
}

// Sums the (scaled) sleeps of every thread: how long the work would take done sequentially.
inline std::atomic<std::int64_t> slept_ns{0};
inline double total_slept() { return static_cast<double>(slept_ns.load()) / 1e9; }

// Python's time.sleep(s), scaled: the simulated network or disk wait.
inline void sleep(double tutorial_seconds) {
  const auto duration = seconds(tutorial_seconds);
  std::this_thread::sleep_for(duration);
  slept_ns += duration.count();
}

class stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  out << std::boolalpha;
  (out << ... << args);
  return out.str();
}

inline std::string fixed(double value, int digits = 2) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}
inline std::string secs(double value) { return fixed(value) + " s"; }

// One line to stdout, whole even when tasks print concurrently; flushed, so a tour shows it live.
inline std::mutex print_mutex;
template <class... Args>
void say(const Args&... args) {
  const std::string line = cat(args...);
  const std::lock_guard lock(print_mutex);
  std::cout << line << std::endl;
}

// A generator of its own for each task, so its draws do not depend on thread interleaving.
inline std::mt19937_64 rng_for(std::string_view key) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a: stable across runs and platforms
  for (const unsigned char c : key) hash = (hash ^ c) * 1099511628211ull;
  return std::mt19937_64(hash ^ config.seed);
}
inline double uniform(std::mt19937_64& rng, double low, double high) {
  return std::uniform_real_distribution<double>(low, high)(rng);
}
inline int randint(std::mt19937_64& rng, int low, int high) {
  return std::uniform_int_distribution<int>(low, high)(rng);
}
inline bool chance(std::mt19937_64& rng, double probability) {
  return uniform(rng, 0, 1) < probability;
}

// Counts how many calls are inside at once: `auto inside = gauge.enter();` in the task.
class gauge {
 public:
  class guard {
   public:
    explicit guard(gauge& g) : gauge_(g) {}
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    ~guard() { --gauge_.inside_; }

   private:
    gauge& gauge_;
  };

  [[nodiscard]] guard enter() {
    const int now = ++inside_;
    int peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    return guard(*this);
  }
  int peak() const { return peak_.load(); }
  int now() const { return inside_.load(); }  // how many are inside at this moment

 private:
  std::atomic<int> inside_{0};
  std::atomic<int> peak_{0};
};

// A check of what the example demonstrates; a failed one makes the program exit 1.
inline std::atomic<int> failures{0};
template <class... Args>
void expect(bool ok, const Args&... what) {
  if (ok) return;
  ++failures;
  say("FAILED: ", what...);
}

// Prints the summary line ("=> ...") and returns the exit status.
template <class... Args>
int finish(const Args&... summary) {
  say("=> ", summary...);
  return failures.load() == 0 ? 0 : 1;
}

}  // namespace demo
