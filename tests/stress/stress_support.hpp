// What the stress tests share: their sizes from the environment, and what a process holds
// that an executor could leak (open descriptors, child processes).
#pragma once

#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <filesystem>

namespace stress {

// Whether this is the long form of the stress tests (the CMake option CFUTURES_STRESS_LONG);
// each test picks its size from it, and an environment variable overrides that size.
#ifdef CFUTURES_STRESS_LONG_FORM
inline constexpr bool long_form = true;
#else
inline constexpr bool long_form = false;
#endif

// The positive number in environment variable `name`, else `fallback`.
inline long count_from_env(const char* name, long fallback) {
  const char* text = std::getenv(name);
  return text ? std::max(1L, std::atol(text)) : fallback;
}

inline std::size_t open_descriptors() {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

// Whether any child process, running or zombie, is left: waitpid() reports ECHILD when there
// is none (WNOHANG: it never blocks; a zombie it finds is reaped, and still reported).
inline bool has_children() {
  const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
  return !(pid == -1 && errno == ECHILD);
}

}  // namespace stress
