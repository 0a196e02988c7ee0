// <cfutures/progress.hpp>: progress() yields what the range yields, and draws tqdm's line on
// a pipe (plain lines, at most one a second) and on a real pseudo-terminal (one line redrawn
// in place, at most 10 times a second, as wide as the terminal); percentage only with a
// total; exceptions pass through, the last line showing where they stopped it.
#include "cfutures/progress.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cfutures/cfutures.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using cfutures::progress;

namespace {

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t got = read(fd, buf, sizeof buf);
    if (got <= 0) break;  // end of a pipe; EAGAIN or EIO on a drained pseudo-terminal
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

// A FILE* writing into a pipe; text() closes it and returns what was written.
class pipe_out {
 public:
  pipe_out() {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    read_fd_ = fds[0];
    file_ = fdopen(fds[1], "w");
  }
  ~pipe_out() {
    if (file_) std::fclose(file_);
    close(read_fd_);
  }
  std::FILE* file() const { return file_; }
  std::string text() {
    std::fclose(std::exchange(file_, nullptr));
    return read_all(read_fd_);
  }

 private:
  int read_fd_ = -1;
  std::FILE* file_ = nullptr;
};

// A FILE* on the slave side of a real pseudo-terminal `columns` wide (raw mode: no "\n" to
// "\r\n" translation); text() closes it and returns what the master side received.
class pty_out {
 public:
  explicit pty_out(unsigned short columns) {
    winsize size{};
    size.ws_row = 24;
    size.ws_col = columns;
    if (openpty(&master_, &slave_, nullptr, nullptr, &size) != 0) throw std::runtime_error("openpty");
    termios mode{};
    tcgetattr(slave_, &mode);
    cfmakeraw(&mode);
    tcsetattr(slave_, TCSANOW, &mode);
    fcntl(master_, F_SETFL, fcntl(master_, F_GETFL) | O_NONBLOCK);
    file_ = fdopen(slave_, "w");
  }
  ~pty_out() {
    if (file_) std::fclose(file_);
    close(master_);
  }
  std::FILE* file() const { return file_; }
  std::string text() {
    std::fflush(file_);
    std::this_thread::sleep_for(50ms);  // what was written is readable on the master side
    std::string out = read_all(master_);
    std::fclose(std::exchange(file_, nullptr));
    return out;
  }

 private:
  int master_ = -1;
  int slave_ = -1;
  std::FILE* file_ = nullptr;
};

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::size_t from = 0;
  for (auto at = s.find('\n'); at != std::string::npos; at = s.find('\n', from)) {
    out.push_back(s.substr(from, at - from));
    from = at + 1;
  }
  return out;
}

// Columns of a UTF-8 string (every character one column wide, as the bar's are).
std::size_t columns(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The lines a terminal shows: the text after each "\r", without the erase-to-end sequence.
std::vector<std::string> redraws(std::string s) {
  std::vector<std::string> out;
  for (std::string::size_type at; (at = s.find("\x1b[K")) != std::string::npos;) s.erase(at, 3);
  std::size_t from = s.find('\r');
  while (from != std::string::npos) {
    const auto next = s.find('\r', from + 1);
    std::string line = s.substr(from + 1, next == std::string::npos ? next : next - from - 1);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    out.push_back(line);
    from = next;
  }
  return out;
}

int divide(int x) {
  if (x == 0) throw std::domain_error("division by zero");
  return 100 / x;
}

auto unsized(int n) {  // a range without size()
  return std::views::iota(0) | std::views::take_while([n](int i) { return i < n; });
}

TEST(Progress, YieldsExactlyWhatTheRangeYields) {
  pipe_out out;
  std::vector<int> v{3, 1, 4, 1, 5};
  std::vector<int> seen;
  for (int& x : progress(v, {.out = out.file()})) {
    seen.push_back(x);
    x *= 2;  // references to the wrapped range's elements
  }
  EXPECT_EQ(seen, (std::vector<int>{3, 1, 4, 1, 5}));
  EXPECT_EQ(v, (std::vector<int>{6, 2, 8, 2, 10}));
  std::vector<int> from_unsized;
  for (int i : progress(unsized(4), {.out = out.file()})) from_unsized.push_back(i);
  EXPECT_EQ(from_unsized, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Progress, PipeGetsPlainLinesWithTqdmsContent) {
  pipe_out out;
  std::vector<int> v(5, 0);
  for (int x : progress(v, {.description = "items", .out = out.file()})) (void)x;
  const std::string text = out.text();
  EXPECT_EQ(text.find('\r'), std::string::npos);
  const auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 2u) << text;  // the first line and the last one
  EXPECT_EQ(lines[0].rfind("items:   0%|", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(" 0/5 [00:00<?, ? it/s]"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind("items: 100%|█", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("| 5/5 [00:00<00:00, "), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(" it/s]"), std::string::npos) << lines[1];
}

TEST(Progress, PercentageOnlyWithATotal) {
  pipe_out unknown;
  for (int i : progress(unsized(4), {.description = "n", .out = unknown.file()})) (void)i;
  const auto plain = lines_of(unknown.text());
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(plain.back().rfind("n: 4 [00:00, ", 0), 0u) << plain.back();
  for (const auto& line : plain) {
    EXPECT_EQ(line.find('%'), std::string::npos) << line;
    EXPECT_EQ(line.find('|'), std::string::npos) << line;
  }
  pipe_out told;
  for (int i : progress(unsized(4), {.total = 8, .out = told.file()})) (void)i;
  const auto with_total = lines_of(told.text());
  ASSERT_FALSE(with_total.empty());
  EXPECT_EQ(with_total.back().rfind(" 50%|", 0), 0u) << with_total.back();
  EXPECT_NE(with_total.back().find(" 4/8 ["), std::string::npos) << with_total.back();
}

TEST(Progress, TotalFromAsCompletedAndMap) {
  std::vector<cfutures::future<int>> fs;
  std::vector<cfutures::promise<int>> ps(3);
  for (auto& p : ps) fs.push_back(p.get_future());
  std::thread t([&] {
    for (auto& p : ps) p.set_result(1);
  });
  pipe_out out;
  std::size_t n = 0;
  for (auto f : progress(cfutures::as_completed(fs), {.out = out.file()})) n += f.result();
  t.join();
  EXPECT_EQ(n, 3u);
  EXPECT_NE(lines_of(out.text()).back().find(" 3/3 ["), std::string::npos);

  cfutures::thread_pool_executor pool(2);
  const std::vector<int> xs{1, 2, 4, 5};
  pipe_out out2;
  std::vector<int> ys;
  for (int y : progress(pool.map(divide, xs), {.out = out2.file()})) ys.push_back(y);
  EXPECT_EQ(ys, (std::vector<int>{100, 50, 25, 20}));
  EXPECT_NE(lines_of(out2.text()).back().find("100%|"), std::string::npos);
}

TEST(Progress, PipeWritesAtMostOneLineASecond) {
  pipe_out out;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i : progress(unsized(13), {.out = out.file()})) {
    (void)i;
    std::this_thread::sleep_for(100ms);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto lines = lines_of(out.text());
  EXPECT_GE(lines.size(), 3u) << "no line in between after a second";
  EXPECT_LE(static_cast<double>(lines.size()), std::floor(seconds) + 2);
}

TEST(Progress, ExceptionPassesThroughAndTheLastLineShowsWhereItStopped) {
  cfutures::thread_pool_executor pool(2);
  const std::vector<int> xs{1, 2, 0, 4};
  pipe_out out;
  std::vector<int> ys;
  try {
    for (int y : progress(pool.map(divide, xs), {.description = "div", .out = out.file()})) {
      ys.push_back(y);
    }
    ADD_FAILURE() << "no exception";
  } catch (const std::domain_error& e) {
    EXPECT_STREQ(e.what(), "division by zero");
  }
  EXPECT_EQ(ys, (std::vector<int>{100, 50}));
  const auto lines = lines_of(out.text());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines.back().find(" 2/4 ["), std::string::npos) << lines.back();
  EXPECT_NE(lines.back().find("stopped: division by zero"), std::string::npos) << lines.back();
}

TEST(Progress, LeavingTheLoopEarlyDrawsTheLastLine) {
  pipe_out out;
  const std::vector<int> v(10, 1);
  for (int x : progress(v, {.out = out.file()})) {
    if (x == 1) break;
  }
  const auto lines = lines_of(out.text());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines.back().find(" 0/10 ["), std::string::npos) << lines.back();
}

TEST(Progress, DefaultOutIsStandardError) {
  testing::internal::CaptureStderr();
  for (int x : progress(std::vector<int>{1, 2, 3}, {.description = "to stderr"})) (void)x;
  const std::string text = testing::internal::GetCapturedStderr();
  EXPECT_NE(text.find("to stderr: 100%|"), std::string::npos) << text;
}

TEST(Progress, TerminalRedrawsOneLineInPlaceAtMostTenTimesASecond) {
  pty_out out(100);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i : progress(unsized(40), {.description = "tty", .total = 40, .out = out.file()})) {
    (void)i;
    std::this_thread::sleep_for(10ms);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string text = out.text();
  EXPECT_EQ(count(text, "\n"), 1u) << "one line, ended once";
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const auto shown = redraws(text);
  EXPECT_GE(shown.size(), 3u) << "no redraw in between in " << seconds << " s";
  EXPECT_LE(static_cast<double>(shown.size()), seconds * 10 + 2);
  EXPECT_EQ(shown.front().rfind("tty:   0%|", 0), 0u) << shown.front();
  EXPECT_EQ(shown.back().rfind("tty: 100%|", 0), 0u) << shown.back();
  EXPECT_NE(shown.back().find("| 40/40 ["), std::string::npos) << shown.back();
}

TEST(Progress, TerminalLineIsAsWideAsTheTerminal) {
  for (unsigned short width : {60, 120}) {
    SCOPED_TRACE(width);
    pty_out out(width);
    for (int x : progress(std::vector<int>(7, 0), {.description = "w", .out = out.file()})) (void)x;
    const auto shown = redraws(out.text());
    ASSERT_FALSE(shown.empty());
    for (const auto& line : shown) EXPECT_EQ(columns(line), width - 1u) << line;
  }
}

TEST(Progress, TerminalWithoutTotalAndWithAnException) {
  pty_out out(80);
  std::size_t n = 0;
  EXPECT_THROW(
      {
        for (int i : progress(unsized(5), {.out = out.file()})) {
          if (i == 3) (void)divide(0);
          ++n;
        }
      },
      std::domain_error);
  const auto shown = redraws(out.text());
  ASSERT_FALSE(shown.empty());
  for (const auto& line : shown) EXPECT_EQ(line.find('%'), std::string::npos) << line;
  // The loop's body threw: the last line is drawn when the progress range is destroyed.
  EXPECT_EQ(shown.back().rfind("3 [00:00, ", 0), 0u) << shown.back();

  cfutures::thread_pool_executor pool(1);
  pty_out out2(80);
  EXPECT_THROW(
      {
        for (int y : progress(pool.map(divide, std::vector<int>{5, 0}), {.out = out2.file()})) (void)y;
      },
      std::domain_error);
  const auto shown2 = redraws(out2.text());
  ASSERT_FALSE(shown2.empty());
  EXPECT_NE(shown2.back().find("1/2 ["), std::string::npos) << shown2.back();
  EXPECT_NE(shown2.back().find("stopped: division by zero"), std::string::npos) << shown2.back();
}

}  // namespace
