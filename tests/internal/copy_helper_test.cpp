// The copy helper (src/process/copy_helper.hpp): large copies into shared memory split
// between the copying thread and a helper thread.
#include "process/copy_helper.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cfutures/process_pool_executor.hpp"
#include "patterned_bytes.hpp"

namespace {

using cfutures::detail::copy_bytes;
namespace copy_helper = cfutures::detail::copy_helper;

int count_threads() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// Copies `from` into a buffer at `offset` bytes past an aligned start, and checks every byte
// and that the bytes around the destination are untouched.
void check_copy(const std::string& from, std::size_t offset) {
  std::string to(from.size() + offset + 64, '\x5a');
  copy_bytes(to.data() + offset, from.data(), from.size());
  ASSERT_EQ(to.compare(offset, from.size(), from), 0) << from.size() << " at +" << offset;
  EXPECT_EQ(to.find_first_not_of('\x5a'), from.empty() ? std::string::npos : offset);
  EXPECT_EQ(to.find_first_not_of('\x5a', offset + from.size()), std::string::npos);
}

TEST(CopyHelper, CopiesExactlyAtEverySizeAndAlignment) {
  copy_helper::prepare();
  const std::size_t mib = std::size_t{1} << 20;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, 4 * mib - 1, 4 * mib, 4 * mib + 1,
                        16 * mib + 5, 33 * mib + 256 * 1024 - 7}) {
    const std::string from = patterned(n, static_cast<std::uint32_t>(n));
    for (std::size_t offset : {0, 3}) check_copy(from, offset);
  }
  copy_helper::stop();
  check_copy(patterned(5 * mib, 9), 1);  // stopped: copies alone
}

// Copies from several threads at once (one uses the helper at a time, the others copy alone)
// are all exact.
TEST(CopyHelper, ConcurrentCopiesAreExact) {
  copy_helper::prepare();
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &wrong] {
      const std::string from = patterned((std::size_t{5} << 20) + t, static_cast<std::uint32_t>(t));
      std::string to(from.size(), '\0');
      for (int i = 0; i < 20; ++i) {
        std::memset(to.data(), 0, to.size());
        copy_bytes(to.data(), from.data(), from.size());
        if (to != from) wrong.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  copy_helper::stop();
}

// Stopping and restarting the helper while another thread copies: no copy is lost or torn,
// nothing hangs.
TEST(CopyHelper, StopAndStartWhileAnotherThreadCopies) {
  copy_helper::prepare();
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  std::thread copier([&] {
    const std::string from = patterned(std::size_t{6} << 20, 7);
    std::string to(from.size(), '\0');
    while (!done.load()) {
      std::memset(to.data(), 0, to.size());
      copy_bytes(to.data(), from.data(), from.size());
      if (to != from) wrong.fetch_add(1);
    }
  });
  for (int i = 0; i < 200; ++i) {
    copy_helper::stop();
    copy_helper::prepare();
  }
  done.store(true);
  copier.join();
  EXPECT_EQ(wrong.load(), 0);
  copy_helper::stop();
}

// The helper does copy part of large copies. Copies go on until it has copied a chunk (a
// loaded machine may not run it at once), for at most 10 s.
TEST(CopyHelper, TheHelperCopiesPartOfLargeCopies) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one CPU: no helper";
  copy_helper::prepare();
  const std::string from = patterned(std::size_t{16} << 20, 5);
  std::string to(from.size(), '\0');
  const std::uint64_t before = copy_helper::helped_chunks();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (copy_helper::helped_chunks() == before && std::chrono::steady_clock::now() < give_up) {
    std::memset(to.data(), 0, to.size());
    copy_bytes(to.data(), from.data(), from.size());
    ASSERT_EQ(to, from);
  }
  EXPECT_GT(copy_helper::helped_chunks(), before);
  copy_helper::stop();
}

// stop() joins the helper: no thread is left (a process pool's destructor calls it). One
// start and stop first: ThreadSanitizer starts a thread of its own with the first thread
// the program creates.
TEST(CopyHelper, StopLeavesNoThread) {
  copy_helper::prepare();
  copy_helper::stop();
  const int before = count_threads();
  copy_helper::prepare();
  if (std::thread::hardware_concurrency() > 1) EXPECT_EQ(count_threads(), before + 1);
  copy_helper::stop();
  EXPECT_EQ(count_threads(), before);
}

// A child forked while the helper runs has none (its thread stayed in the parent): its copies
// are exact and do not wait for it, and it can start its own.
TEST(CopyHelper, ForkedChildCopiesWithoutTheParentsHelper) {
  copy_helper::prepare();
  const std::string from = patterned(std::size_t{8} << 20, 3);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string to(from.size(), '\0');
    copy_bytes(to.data(), from.data(), from.size());
    bool ok = to == from;
    copy_helper::prepare();
    std::memset(to.data(), 0, to.size());
    copy_bytes(to.data(), from.data(), from.size());
    ok = ok && to == from;
    copy_helper::stop();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  copy_helper::stop();
}

}  // namespace
