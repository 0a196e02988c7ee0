// process/crash_report: a worker that dies by a fault records its stack, and the parent names
// it. Each case forks a child that installs the handlers on a record in shared memory and
// faults in a named function; the parent checks that the child died by the same signal and
// that the recorded stack names that function. SpawnedChildIsNamedToo exec's this binary
// (other load addresses) to show that the record is module-relative.
#include "process/crash_report.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "process/worker_status.hpp"

namespace {

// The record fits where a worker's status page keeps it.
static_assert(sizeof(cfutures::detail::crash_record) <=
              cfutures::detail::worker_status::crash_bytes);
static_assert(alignof(cfutures::detail::crash_record) <= 64);

using cfutures::detail::crash_info;
using cfutures::detail::crash_record;
using cfutures::detail::format_stack;
using cfutures::detail::install_crash_handlers;
using cfutures::detail::read_crash;

// The faults, each in a function of its own (never inlined, so that it has a frame). UBSan
// would stop the null store and the division first: it is off in them.
int* volatile null_pointer = nullptr;
volatile int zero = 0;
volatile bool never = false;
volatile int sink = 0;

[[gnu::noinline, gnu::no_sanitize("undefined")]] void crash_site_segfault() { *null_pointer = 42; }

[[gnu::noinline]] void crash_site_abort() { std::abort(); }

[[gnu::noinline, gnu::no_sanitize("undefined")]] void crash_site_divide(int a) { sink = a / zero; }

[[gnu::noinline]] void crash_site_trap() { __builtin_trap(); }

// Reads past the end of a file through a shared mapping: SIGBUS.
[[gnu::noinline]] int crash_site_bus() {
  const int fd = memfd_create("cfutures-crash-report-test", MFD_CLOEXEC);
  const long page = sysconf(_SC_PAGESIZE);
  auto* bytes = static_cast<volatile char*>(
      mmap(nullptr, static_cast<std::size_t>(page), PROT_READ, MAP_SHARED, fd, 0));
  return bytes[0];
}

[[gnu::noinline]] int crash_site_recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (never) return 0;
  return crash_site_recurse(depth + 1) + frame[0];
}

crash_record* shared_record() {
  void* memory = mmap(nullptr, sizeof(crash_record), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(memory, MAP_FAILED);
  return static_cast<crash_record*>(memory);
}

void no_core_dump() {
  const rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
}

struct death {
  int status = 0;
  std::optional<crash_info> crash;
};

// Runs `fault` in a forked child that installed the handlers; its death and its record.
template <class F>
death crash_in_child(F fault) {
  crash_record* record = shared_record();
  const pid_t pid = fork();
  if (pid == 0) {
    no_core_dump();
    install_crash_handlers(record);
    fault();
    _exit(0);
  }
  death d;
  EXPECT_EQ(waitpid(pid, &d.status, 0), pid);
  d.crash = read_crash(*record);
  munmap(record, sizeof(crash_record));
  return d;
}

bool names(const crash_info& crash, const std::string& function) {
  for (const std::string& frame : crash.frames) {
    if (frame.find(function) != std::string::npos) return true;
  }
  return false;
}

void expect_death_by(const death& d, int signal, const std::string& function) {
  ASSERT_TRUE(WIFSIGNALED(d.status)) << "status " << d.status;
  EXPECT_EQ(WTERMSIG(d.status), signal);
  ASSERT_TRUE(d.crash.has_value());
  EXPECT_EQ(d.crash->signal, signal);
  EXPECT_TRUE(d.crash->complete);
  EXPECT_TRUE(names(*d.crash, function)) << format_stack(d.crash->frames);
}

TEST(CrashReport, NothingRecordedWithoutACrash) {
  const death d = crash_in_child([] {});
  ASSERT_TRUE(WIFEXITED(d.status));
  EXPECT_FALSE(d.crash.has_value());
}

TEST(CrashReport, SegfaultNamesTheFaultingFunctionFirst) {
  const death d = crash_in_child([] { crash_site_segfault(); });
  expect_death_by(d, SIGSEGV, "crash_site_segfault");
  ASSERT_FALSE(d.crash->frames.empty());
  EXPECT_NE(d.crash->frames[0].find("crash_site_segfault"), std::string::npos)
      << format_stack(d.crash->frames);
  EXPECT_NE(d.crash->frames[0].find("crash_report_test.cpp:"), std::string::npos)
      << format_stack(d.crash->frames);
  EXPECT_EQ(d.crash->fault_address, 0u);
  EXPECT_TRUE(names(*d.crash, "CrashReport_SegfaultNamesTheFaultingFunctionFirst_Test"))
      << format_stack(d.crash->frames);
}

TEST(CrashReport, AbortNamesItsCaller) {
  const death d = crash_in_child([] { crash_site_abort(); });
  expect_death_by(d, SIGABRT, "crash_site_abort");
  EXPECT_TRUE(names(*d.crash, "abort")) << format_stack(d.crash->frames);
}

TEST(CrashReport, DivisionByZeroIsSigfpe) {
  const death d = crash_in_child([] { crash_site_divide(7); });
  expect_death_by(d, SIGFPE, "crash_site_divide");
}

TEST(CrashReport, TrapIsSigill) {
  const death d = crash_in_child([] { crash_site_trap(); });
  expect_death_by(d, SIGILL, "crash_site_trap");
}

TEST(CrashReport, ReadPastAFileIsSigbus) {
  const death d = crash_in_child([] { crash_site_bus(); });
  expect_death_by(d, SIGBUS, "crash_site_bus");
}

TEST(CrashReport, StackOverflowIsCaughtOnTheAlternateStack) {
  const death d = crash_in_child([] { crash_site_recurse(0); });
  expect_death_by(d, SIGSEGV, "crash_site_recurse");
}

TEST(CrashReport, SignalSentByAnotherProcessIsRecordedToo) {
  const death d = crash_in_child([] { kill(getpid(), SIGSEGV); });
  ASSERT_TRUE(WIFSIGNALED(d.status));
  EXPECT_EQ(WTERMSIG(d.status), SIGSEGV);
  ASSERT_TRUE(d.crash.has_value());
  EXPECT_EQ(d.crash->fault_address, 0u);
}

TEST(CrashReport, AKeptSymbolizerNamesLaterCrashesAlike) {
  cfutures::detail::stack_symbolizer kept;
  crash_record* record = shared_record();
  for (int round = 0; round < 2; ++round) {
    const pid_t pid = fork();
    if (pid == 0) {
      no_core_dump();
      install_crash_handlers(record);
      crash_site_segfault();
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    const std::optional<crash_info> fresh = read_crash(*record);
    const std::optional<crash_info> reused = read_crash(*record, kept);
    ASSERT_TRUE(fresh.has_value() && reused.has_value());
    EXPECT_EQ(reused->frames, fresh->frames);
    EXPECT_TRUE(names(*reused, "crash_site_segfault")) << format_stack(reused->frames);
  }
  munmap(record, sizeof(crash_record));
}

// The exec'ed child: CFUTURES_CRASH_RECORD_FD names a memfd holding its record; it writes
// where crash_site_segfault is in its own address space after the record, then faults.
constexpr const char* record_fd_variable = "CFUTURES_CRASH_RECORD_FD";

TEST(CrashReportChild, FaultsWhenRunAsTheSpawnedChild) {
  const char* fd_text = std::getenv(record_fd_variable);
  if (fd_text == nullptr) GTEST_SKIP() << "runs only as SpawnedChildIsNamedToo's child";
  void* memory = mmap(nullptr, sizeof(crash_record) + sizeof(std::uintptr_t),
                      PROT_READ | PROT_WRITE, MAP_SHARED, std::atoi(fd_text), 0);
  ASSERT_NE(memory, MAP_FAILED);
  auto* record = static_cast<crash_record*>(memory);
  auto* where = reinterpret_cast<std::uintptr_t*>(record + 1);
  *where = reinterpret_cast<std::uintptr_t>(&crash_site_segfault);
  no_core_dump();
  install_crash_handlers(record);
  crash_site_segfault();
}

TEST(CrashReport, SpawnedChildIsNamedToo) {
  const std::size_t size = sizeof(crash_record) + sizeof(std::uintptr_t);
  const int fd = memfd_create("cfutures-crash-record", 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
  void* memory = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(memory, MAP_FAILED);
  const pid_t pid = fork();
  if (pid == 0) {
    setenv(record_fd_variable, std::to_string(fd).c_str(), 1);
    char filter[] = "--gtest_filter=CrashReportChild.FaultsWhenRunAsTheSpawnedChild";
    char self[] = "/proc/self/exe";
    char* argv[] = {self, filter, nullptr};
    execv(self, argv);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  close(fd);
  const auto* record = static_cast<const crash_record*>(memory);
  const std::uintptr_t theirs = *reinterpret_cast<const std::uintptr_t*>(record + 1);
  const std::optional<crash_info> crash = read_crash(*record);
  munmap(memory, size);
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  ASSERT_TRUE(crash.has_value());
  EXPECT_TRUE(names(*crash, "crash_site_segfault")) << format_stack(crash->frames);
  if (theirs == reinterpret_cast<std::uintptr_t>(&crash_site_segfault)) {
    GTEST_SKIP() << "the child was loaded where this process is (address randomization off)";
  }
}

}  // namespace
