// tests/conformance/tasks.hpp — the calls the typed suite submits.
//
// Every task here is a plain function whose arguments and result are serializable values
// (ints, strings, pairs, vectors, and the cereal-serializable structs below): no captures,
// no pointers, no references to test-local state. The process pools run them in another
// process, so coordination with the test goes through files (test_support.hpp: gate,
// scratch_dir), never through memory.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "test_support.hpp"

namespace conformance::tasks {

inline int mul(int x, int y) { return x * y; }
inline int add(int x, int y) { return x + y; }
inline int abs_int(int x) { return x < 0 ? -x : x; }
inline std::string to_str(int x) { return std::to_string(x); }
inline void nothing() {}

inline long long power(int base, int exp) {
  long long r = 1;
  for (int i = 0; i < exp; ++i) r *= base;
  return r;
}

// Python's divmod on ints; b == 0 throws as ZeroDivisionError would.
inline std::pair<int, int> divmod(int a, int b) {
  if (b == 0) throw std::domain_error("integer division or modulo by zero");
  return {a / b, a % b};
}

inline int throw_out_of_range(std::string message) { throw std::out_of_range(message); }

inline int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// The keyword-argument equivalent: an aggregate users fill with designated initializers.
struct mul_args {
  int x = 0;
  int y = 1;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y);
  }
};
inline int mul_kw(mul_args a) { return a.x * a.y; }

// Blocks until `path` exists. Returns 0 then; -1 if it waited 30 s in vain; -2 if the
// directory of `path` disappeared (the test is over).
inline int wait_for_file(std::string path) {
  const std::string dir = path.substr(0, path.rfind('/'));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!file_exists(path)) {
    if (!file_exists(dir)) return -2;
    if (std::chrono::steady_clock::now() >= until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return 0;
}

// Sleeps `ms` and returns it; a negative `ms` blocks on `gate_path` instead (see
// wait_for_file) and returns -1: a call slower than any timeout of a test.
inline int sleep_ms_or_wait(int ms, std::string gate_path) {
  if (ms >= 0) return sleep_ms(ms);
  wait_for_file(std::move(gate_path));
  return -1;
}

// Creates `started`, then blocks on `gate_path` (see wait_for_file).
inline int signal_and_wait(std::string started, std::string gate_path) {
  create_file(started);
  return wait_for_file(std::move(gate_path));
}

// Python's wait_and_raise.
inline int wait_and_raise(std::string gate_path) {
  wait_for_file(std::move(gate_path));
  throw std::runtime_error("this is an exception");
}

// Returns `s` once the gate opens: shows that arguments were copied at submit time.
inline std::string echo_after(std::string gate_path, std::string s) {
  wait_for_file(std::move(gate_path));
  return s;
}

// Records that call `i` ran by creating "<dir>/ran_<i>".
inline void record(std::string dir, int i) { create_file(dir + "/ran_" + std::to_string(i)); }

// Records that call `i` ran, then sleeps.
inline int record_and_sleep(std::string dir, int i, int ms) {
  record(std::move(dir), i);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return i;
}

inline tracked make_tracked(int v) { return tracked(v); }
inline int read_tracked(tracked t) { return t.value; }

}  // namespace conformance::tasks
