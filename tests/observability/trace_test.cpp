// trace_to / trace_stop (trace.hpp): the file's events against the calls that ran — counts,
// processes and threads, names, executors, attempts, spans that do not overlap on one
// thread, and only the window between trace_to and trace_stop. The file is also checked by
// scripts/check_trace.py (a JSON parser) when python3 is there.
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "resilience_support.hpp"

namespace observability {
namespace {

using namespace std::chrono_literals;
using cfutures::future;

struct event {
  std::string name;
  long pid = 0, tid = 0;
  double ts = 0, dur = 0;
  long id = 0, attempt = 0;
  std::string executor;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The complete events of a trace file (one per line, as trace.cpp writes them).
std::vector<event> complete_events(const std::string& text) {
  static const std::regex x(
      R"re(\{"name":"(.*)","ph":"X","pid":(\d+),"tid":(\d+),"ts":([0-9.]+),"dur":([0-9.]+),"args":\{"id":(\d+),"executor":"(\w+)","attempt":(\d+)\}\})re");
  std::vector<event> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.back() == ',') line.pop_back();
    std::smatch m;
    if (!std::regex_match(line, m, x)) continue;
    out.push_back({m[1], std::stol(m[2]), std::stol(m[3]), std::stod(m[4]), std::stod(m[5]),
                   std::stol(m[6]), std::stol(m[8]), m[7]});
  }
  return out;
}

// The file is a JSON object {"traceEvents": [...]}, spans on one thread do not overlap.
void check_file(const std::string& path, std::size_t expected_calls) {
  const std::string text = read_all(path);
  EXPECT_EQ(text.rfind("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", 0), 0u) << text;
  EXPECT_NE(text.find("\n]}"), std::string::npos) << text;
  if (std::system("command -v python3 > /dev/null 2>&1") == 0) {
    const std::string command = std::string("python3 ") + CFUTURES_CHECK_TRACE_SCRIPT + " " +
                                path + " --calls " + std::to_string(expected_calls);
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
  std::map<std::pair<long, long>, std::vector<std::pair<double, double>>> by_thread;
  for (const event& e : complete_events(text)) by_thread[{e.pid, e.tid}].push_back({e.ts, e.dur});
  for (auto& [thread, spans] : by_thread) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) {
      // Nested runs (a waiting worker runs queued work) are inside, never across.
      const double end = spans[i - 1].first + spans[i - 1].second;
      const double this_end = spans[i].first + spans[i].second;
      EXPECT_TRUE(spans[i].first >= end - 0.002 || this_end <= end + 0.002)
          << "pid " << thread.first << " tid " << thread.second;
    }
  }
}

int add_one(int x) { return x + 1; }
int pid_and_sleep(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<int>(::getpid());
}

TEST(Trace, ThreadPoolCallsInTheWindowOnly) {
  conformance::scratch_dir dir;
  const std::string path = dir.path("thread.json");
  cfutures::thread_pool_executor pool(2);
  for (int i = 0; i < 5; ++i) pool.submit(&add_one, i).result();  // before: not traced
  cfutures::trace_to(path);
  std::vector<future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(&add_one, i));
  for (int i = 0; i < 10; ++i) fs.push_back(pool.submit([](int x) { return x * 2; }, i));
  for (auto& f : fs) f.wait();
  cfutures::trace_stop();
  for (int i = 0; i < 5; ++i) pool.submit(&add_one, i).result();  // after: not traced
  const auto events = complete_events(read_all(path));
  ASSERT_EQ(events.size(), 30u) << read_all(path);
  std::set<long> ids;
  std::size_t named = 0;
  for (const event& e : events) {
    EXPECT_EQ(e.executor, "thread_pool");
    EXPECT_EQ(e.pid, ::getpid());
    EXPECT_NE(e.tid, static_cast<long>(::syscall(SYS_gettid)));  // a worker ran it
    EXPECT_EQ(e.attempt, 1);
    EXPECT_GE(e.dur, 0);
    ids.insert(e.id);
    if (e.name.find("add_one") != std::string::npos) ++named;
  }
  EXPECT_EQ(ids.size(), 30u);
  EXPECT_EQ(named, 20u);
  check_file(path, 30);
}

TEST(Trace, StopWithoutTraceIsHarmlessAndTraceToReportsABadPath) {
  cfutures::trace_stop();
  EXPECT_THROW(cfutures::trace_to("/nonexistent-dir/x/trace.json"), std::system_error);
  cfutures::trace_stop();
}

class ProcessPoolTrace : public resilience::resilience_test {};

TEST_P(ProcessPoolTrace, WorkersSpansLandInTheCallersFile) {
  conformance::nothing_left_behind clean;
  conformance::scratch_dir dir;
  const std::string path = dir.path("process.json");
  cfutures::process_pool_executor pool(options(2));
  pool.submit(&pid_and_sleep, 0).result(60s);  // before the window
  const double window_start = std::chrono::duration<double, std::micro>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
  cfutures::trace_to(path);
  std::vector<future<int>> fs;
  for (int i = 0; i < 12; ++i) fs.push_back(pool.submit(&pid_and_sleep, 2));
  std::set<long> pids;
  for (auto& f : fs) pids.insert(f.result(60s));
  cfutures::trace_stop();
  const auto events = complete_events(read_all(path));
  ASSERT_EQ(events.size(), 12u) << read_all(path);
  std::set<long> event_pids;
  for (const event& e : events) {
    EXPECT_EQ(e.executor, "process_pool");
    EXPECT_EQ(e.attempt, 1);
    EXPECT_NE(e.name.find("pid_and_sleep"), std::string::npos) << e.name;
    EXPECT_GE(e.dur, 1500.0);  // 2 ms of sleep, in µs
    EXPECT_GE(e.ts, window_start);  // on the caller's clock (steady_clock is CLOCK_MONOTONIC)
    event_pids.insert(e.pid);
  }
  EXPECT_EQ(event_pids, pids);
  EXPECT_EQ(pids.count(::getpid()), 0u);
  check_file(path, 12);
}

TEST_P(ProcessPoolTrace, ARetryIsTheSecondAttempt) {
  conformance::nothing_left_behind clean;
  conformance::scratch_dir dir;
  const std::string path = dir.path("retry.json");
  cfutures::process_pool_executor pool(fail_call(1, 1));
  cfutures::trace_to(path);
  EXPECT_EQ(pool.submit(&resilience::die_once, dir.path("died"), 7).result(60s), 7);
  cfutures::trace_stop();
  const auto events = complete_events(read_all(path));
  ASSERT_EQ(events.size(), 1u) << read_all(path);  // the first run died: no span
  EXPECT_EQ(events[0].attempt, 2);
  EXPECT_NE(events[0].name.find("die_once"), std::string::npos) << events[0].name;
}

CFUTURES_START_METHODS(ProcessPoolTrace);

}  // namespace
}  // namespace observability
