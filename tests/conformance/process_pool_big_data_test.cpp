// Big arguments and results: CPython's test_process_pool.py big-data tests, for both start
// methods. Values of many MiB, several in one message, values around the 64 KiB threshold
// past which they travel in shared memory (a memfd per value, recycled), and more shared
// values in one message than one sendmsg can carry descriptors.
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "process_pool_support.hpp"

namespace conformance {
namespace {

class ProcessPoolBigDataTest : public process_pool_test_base {};
CFUTURES_START_METHODS(ProcessPoolBigDataTest);

std::string make_big(std::size_t n, char c) { return std::string(n, c); }
std::size_t total_size(std::vector<std::string> parts) {
  std::size_t n = 0;
  for (const auto& p : parts) n += p.size();
  return n;
}

TEST_P(ProcessPoolBigDataTest, BigArgumentsAndResults) {
  process_pool_executor pool(options(2));
  std::string big((16 << 20) + 3, 'x');
  big[12345] = 'y';
  big.back() = 'z';
  auto echoed = pool.submit(echo, big);
  auto made = pool.submit(make_big, std::size_t{17} << 20, 'q');
  EXPECT_TRUE(echoed.result(30s) == big) << "the 16 MiB string came back changed";
  const std::string& m = made.result(30s);
  EXPECT_EQ(m.size(), std::size_t{17} << 20);
  EXPECT_EQ(m.find_first_not_of('q'), std::string::npos);
  // Several big arguments in one message (a chunk).
  const std::vector<std::string> parts(5, std::string(4 << 20, 'p'));
  EXPECT_EQ(pool.submit(total_size, parts).result(30s), std::size_t{20} << 20);
  const std::vector<std::vector<std::string>> chunks(4, parts);
  for (std::size_t n : pool.map(total_size, chunks, map_options{.chunksize = 4})) {
    EXPECT_EQ(n, std::size_t{20} << 20);
  }
}

// Values past 64 KiB travel in shared memory (a memfd per value, recycled): sizes around
// the threshold, arguments and results, several in one batch, come back byte for byte.
TEST_P(ProcessPoolBigDataTest, LargePayloadsThroughSharedMemoryRoundTripExactly) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(2));
    const std::size_t limit = 64 << 10;
    for (std::size_t n : {limit - 100, limit - 1, limit, limit + 1, limit + 100,
                          std::size_t{3} << 20, std::size_t{0}}) {
      SCOPED_TRACE(n);
      const std::string s = patterned(n, static_cast<unsigned>(n));
      EXPECT_TRUE(pool.submit(reversed, s).result(30s) == std::string(s.rbegin(), s.rend()));
    }
    // Many at once (batched to the workers), and as chunks of map.
    std::vector<std::string> inputs;
    for (unsigned i = 0; i < 12; ++i) inputs.push_back(patterned((100 << 10) + i * 4099, i));
    std::vector<cfutures::future<std::string>> fs;
    for (const auto& s : inputs) fs.push_back(pool.submit(reversed, s));
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      EXPECT_TRUE(fs[i].result(30s) == std::string(inputs[i].rbegin(), inputs[i].rend())) << i;
    }
    const auto out = pool.map(echo, inputs, map_options{.chunksize = 5}).to_vector();
    EXPECT_TRUE(out == inputs);
    // The same memory serves again and again.
    for (int round = 0; round < 5; ++round) {
      const std::string s = patterned(5 << 20, static_cast<unsigned>(round));
      EXPECT_TRUE(pool.submit(echo, s).result(30s) == s) << round;
    }
  }
}

// More shared values in one message than one sendmsg can carry descriptors (253): a chunk
// of 300 calls whose arguments and results are all over 64 KiB.
TEST_P(ProcessPoolBigDataTest, MoreSharedValuesInOneMessageThanOneSendCanCarry) {
  nothing_left_behind leaks;
  {
    process_pool_executor pool(options(1));
    std::vector<std::tuple<std::string>> calls;
    for (unsigned i = 0; i < 300; ++i) calls.emplace_back(patterned((65 << 10) + i, i));
    auto fs = pool.submit_chunked(&reversed, calls, calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const std::string& in = std::get<0>(calls[i]);
      EXPECT_TRUE(fs[i].result(60s) == std::string(in.rbegin(), in.rend())) << i;
    }
  }
}

}  // namespace
}  // namespace conformance
