// tests/shared_buffer/shared_buffer_tasks.hpp — what the shared_buffer tests share: the
// calls they send to workers (plain functions), and where a buffer's memory shows in a
// process (/proc/<pid>/fd and /proc/<pid>/maps; /proc/meminfo for the machine's shared
// memory).
#pragma once

#include <unistd.h>

#include <cfutures/cfutures.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace sb_test {

using cfutures::shared_buffer;

// The name every shared_buffer's memfd carries in /proc.
inline constexpr const char* memfd_name = "cfutures-shared-buffer";

// Descriptors of process `pid` that are shared_buffer memfds.
inline std::size_t buffer_fds(pid_t pid = ::getpid()) {
  std::size_t n = 0;
  std::error_code ec;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code link_ec;
    const auto target = std::filesystem::read_symlink(e.path(), link_ec);
    if (!link_ec && target.string().find(memfd_name) != std::string::npos) ++n;
  }
  return n;
}

// Mappings of process `pid` of shared_buffer memory.
inline std::size_t buffer_mappings(pid_t pid = ::getpid()) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find(memfd_name) != std::string::npos) ++n;
  }
  return n;
}

// A field of /proc/meminfo or /proc/self/status, in KiB (-1 if absent).
inline long kib_field(const char* file, const std::string& field) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}
inline long shmem_kib() { return kib_field("/proc/meminfo", "Shmem"); }
inline long rss_kib() { return kib_field("/proc/self/status", "VmRSS"); }

// ---- calls ----------------------------------------------------------------------------

inline int worker_pid() { return static_cast<int>(::getpid()); }

inline double sum(shared_buffer<double> b) { return std::accumulate(b.begin(), b.end(), 0.0); }

inline double sum_slice(shared_buffer<double> b, std::size_t from, std::size_t to) {
  return std::accumulate(b.begin() + from, b.begin() + to, 0.0);
}

inline void fill(shared_buffer<int> b, int value) {
  for (int& x : b) x = value;
}

inline shared_buffer<double> make_iota(std::size_t n) {
  shared_buffer<double> b(n);
  std::iota(b.begin(), b.end(), 0.0);
  return b;
}

inline shared_buffer<int> same(shared_buffer<int> b) { return b; }

inline bool aliased(shared_buffer<int> a, shared_buffer<int> b) {
  return a.data() == b.data() && a.size() == b.size();
}

inline std::size_t size_of(shared_buffer<int> b) { return b.empty() ? 0 : b.size(); }

inline bool all_zero(shared_buffer<std::uint64_t> b) {
  for (auto x : b) {
    if (x != 0) return false;
  }
  return true;
}

// Touches one byte (the benchmark's call): returns the buffer itself.
inline shared_buffer<char> touch(shared_buffer<char> b) {
  b[0] = static_cast<char>(b[0] + 1);
  return b;
}

// A worker that keeps a handle (until it dies).
inline shared_buffer<char> kept;
inline int keep(shared_buffer<char> b) {
  kept = b;
  return static_cast<int>(::getpid());
}

struct particle {
  double x, y, z;
  int id;
};

inline double total_x(shared_buffer<particle> b) {
  double s = 0;
  for (const particle& p : b) s += p.x;
  return s;
}

// A buffer as a struct member, beside ordinary members.
struct job {
  std::string name;
  shared_buffer<float> values;
  int scale = 1;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, values, scale);
  }
};

inline job scale_job(job j) {
  for (float& v : j.values) v *= static_cast<float>(j.scale);
  j.name += " scaled";
  return j;
}

// Buffers inside containers.
inline std::vector<std::size_t> sizes(std::vector<shared_buffer<int>> bs) {
  std::vector<std::size_t> out;
  for (const auto& b : bs) out.push_back(b.size());
  return out;
}

inline std::map<std::string, shared_buffer<int>> split(shared_buffer<int> b) {
  shared_buffer<int> low(b.size() / 2);
  shared_buffer<int> high(b.size() - b.size() / 2);
  std::copy(b.begin(), b.begin() + low.size(), low.begin());
  std::copy(b.begin() + low.size(), b.end(), high.begin());
  return {{"low", low}, {"high", high}, {"all", b}};
}

inline std::tuple<int, shared_buffer<int>, std::optional<shared_buffer<int>>> nested(
    std::tuple<int, shared_buffer<int>, std::optional<shared_buffer<int>>> t) {
  auto& [n, a, b] = t;
  for (int& x : a) x += n;
  if (b) (*b)[0] = -1;
  return t;
}

}  // namespace sb_test
