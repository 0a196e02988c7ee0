// as_completed over 100 000 futures as a new user writes it (issue 19): a fresh process,
// futures made by promise<int>, iterated by value (`for (auto f : as_completed(fs))`).
// Prints, in ms (each a fresh process, run by bench/run.py):
//   as_completed_done_ms     every future already finished
//   as_completed_racing_ms   another thread completes them while this one iterates
// Usage: bench_as_completed done|racing
#include <cfutures/promise.hpp>
#include <cfutures/wait.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace {

constexpr int n = 100000;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool racing = argc > 1 && std::strcmp(argv[1], "racing") == 0;
  std::vector<cfutures::promise<int>> ps(n);
  std::vector<cfutures::future<int>> fs;
  fs.reserve(n);
  for (auto& p : ps) fs.push_back(p.get_future());
  std::thread completer;
  if (!racing) {
    for (int i = 0; i < n; ++i) ps[static_cast<std::size_t>(i)].set_result(i);
  }
  long sum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  if (racing) {
    completer = std::thread([&] {
      for (int i = 0; i < n; ++i) ps[static_cast<std::size_t>(i)].set_result(i);
    });
  }
  for (auto f : cfutures::as_completed(fs)) sum += f.result();
  const double t = ms_since(t0);
  if (completer.joinable()) completer.join();
  if (sum != static_cast<long>(n) * (n - 1) / 2) std::fprintf(stderr, "wrong sum %ld\n", sum);
  std::printf("as_completed_%s_ms %.6g ms\n", racing ? "racing" : "done", t);
}
