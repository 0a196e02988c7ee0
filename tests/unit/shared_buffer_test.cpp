// <cfutures/shared_buffer.hpp> in one process: construction (zero-initialised, from(),
// empty), handles aliasing, the thread pool passing the handle, and serialization outside an
// executor refused. Across processes: tests/shared_buffer.
#include <cfutures/shared_buffer.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cfutures/serialization.hpp>
#include <cfutures/thread_pool_executor.hpp>
#include <cstdint>
#include <sstream>
#include <vector>

namespace {

using cfutures::shared_buffer;

void fill(shared_buffer<int> b, int value) { std::fill(b.begin(), b.end(), value); }
bool aliased(shared_buffer<int> a, shared_buffer<int> b) { return a.data() == b.data(); }

TEST(SharedBuffer, ZeroInitialisedFromAndEmpty) {
  shared_buffer<std::uint64_t> zeros(1000);
  EXPECT_EQ(zeros.size(), 1000u);
  EXPECT_FALSE(zeros.empty());
  EXPECT_TRUE(std::all_of(zeros.begin(), zeros.end(), [](auto x) { return x == 0; }));
  const std::vector<double> v{1.5, 2.5, 3.5};
  auto b = shared_buffer<double>::from(std::span<const double>(v));
  EXPECT_EQ(std::vector<double>(b.begin(), b.end()), v);
  EXPECT_EQ(b.span().size(), 3u);
  shared_buffer<int> e;
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.data(), nullptr);
  EXPECT_TRUE(shared_buffer<int>(0).empty());
  EXPECT_TRUE(shared_buffer<int>::from({}).empty());
}

TEST(SharedBuffer, CopiesAreHandlesToTheSameMemory) {
  shared_buffer<int> a(10);
  shared_buffer<int> b = a;
  b[3] = 42;
  EXPECT_EQ(a[3], 42);
  EXPECT_EQ(a.data(), b.data());
  shared_buffer<int> c(10);
  EXPECT_NE(c.data(), a.data());
}

TEST(SharedBuffer, TooManyElementsIsALengthError) {
  EXPECT_THROW(shared_buffer<double>(SIZE_MAX / 4), std::length_error);
}

TEST(SharedBuffer, ThreadPoolPassesTheHandle) {
  cfutures::thread_pool_executor pool(2);
  shared_buffer<int> b(100);
  pool.submit(&fill, b, 7).result();
  EXPECT_EQ(b[99], 7);
  EXPECT_TRUE(pool.submit(&aliased, b, b).result());
}

TEST(SharedBuffer, IsSerializableButOnlyByAnExecutor) {
  static_assert(cfutures::is_serializable_v<shared_buffer<int>>);
  shared_buffer<int> b(4);
  std::ostringstream os;
  cereal::BinaryOutputArchive ar(os);
  EXPECT_THROW(ar(b), cfutures::error);
}

}  // namespace
