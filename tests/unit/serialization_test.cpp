// Tests of <cfutures/serialization.hpp>'s decoding as cfutures runs it (read_values,
// direct_read.hpp): contiguous vectors in one exact allocation, and sizes bounded by the
// bytes present (issue 6).
#include "cfutures/serialization.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "cfutures/detail/remote_call.hpp"

namespace {

// The largest single allocation made through operator new since the last reset.
std::atomic<std::size_t> largest_allocation{0};

}  // namespace

void* operator new(std::size_t n) {
  std::size_t seen = largest_allocation.load(std::memory_order_relaxed);
  while (n > seen && !largest_allocation.compare_exchange_weak(seen, n)) {
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using cfutures::detail::protocol_error;
using cfutures::detail::read_values;

template <class... T>
std::string encode(const T&... values) {
  cfutures::detail::payload out;
  cfutures::detail::write_values(out, values...);
  return std::string(out.view());
}

void put_u64(std::string& bytes, std::size_t at, std::uint64_t value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

// Decodes `bytes` into a T, expecting the clear decode error; returns the largest allocation
// made meanwhile.
template <class T>
std::size_t largest_allocation_of_failed_decode(const std::string& bytes) {
  T value{};
  largest_allocation = 0;
  try {
    read_values(bytes, value);
    ADD_FAILURE() << "decoded a lying size";
  } catch (const protocol_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot decode a value"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("exceeds"), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a protocol_error: " << e.what();
  }
  return largest_allocation.load();
}

constexpr std::uint64_t lying_count = std::uint64_t{1} << 40;

TEST(SerializationBounds, LyingVectorLengthFailsBeforeAllocating) {
  std::string bytes = encode(std::vector<int>{1, 2});
  put_u64(bytes, 0, lying_count);
  EXPECT_LT(largest_allocation_of_failed_decode<std::vector<int>>(bytes), std::size_t{1} << 16);
}

TEST(SerializationBounds, LyingVectorOfStringsLengthFailsBeforeAllocating) {
  std::string bytes = encode(std::vector<std::string>{"a", "b"});
  put_u64(bytes, 0, lying_count);
  EXPECT_LT(largest_allocation_of_failed_decode<std::vector<std::string>>(bytes),
            std::size_t{1} << 16);
}

// The inner map's count (after the outer count and the key "k": 8 + 8 + 1 bytes) lies; an
// unordered_map reserves its buckets from that count before reading any element.
TEST(SerializationBounds, LyingNestedMapLengthFailsBeforeAllocating) {
  using nested = std::map<std::string, std::unordered_map<int, int>>;
  std::string bytes = encode(nested{{"k", {{1, 2}}}});
  put_u64(bytes, 17, lying_count);
  EXPECT_LT(largest_allocation_of_failed_decode<nested>(bytes), std::size_t{1} << 16);
}

// A count that fits the bytes but not the elements' size: as many doubles announced as there
// are bytes (32 Ki, which would take 256 KiB), 4 Ki present.
TEST(SerializationBounds, ArithmeticVectorIsBoundedByItsElementSize) {
  std::string bytes = encode(std::vector<double>(4096, 1.5));
  put_u64(bytes, 0, 4096 * sizeof(double));
  EXPECT_LT(largest_allocation_of_failed_decode<std::vector<double>>(bytes), std::size_t{1} << 16);
}

// The documented rule for elements that encode to nothing: one byte each.
TEST(SerializationBounds, ZeroByteElementsCountOneByteEach) {
  std::tuple<std::vector<std::monostate>, std::uint32_t> fits{std::vector<std::monostate>(4), 7};
  std::tuple<std::vector<std::monostate>, std::uint32_t> back;
  read_values(encode(fits), back);
  EXPECT_EQ(back, fits);
  std::vector<std::monostate> too_many(5);
  EXPECT_THROW(read_values(encode(std::vector<std::monostate>(5)), too_many), protocol_error);
}

// --- contiguous vectors: one allocation of exactly their size, values exact at any
// alignment of their bytes.

template <class T>
std::vector<T> patterned(std::size_t n) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>((i * 2654435761u) >> 7);
  return v;
}

template <class T>
void expect_exact_single_allocation(const std::vector<T>& value) {
  const std::string bytes = encode(value);
  std::vector<T> back;
  largest_allocation = 0;
  read_values(bytes, back);
  EXPECT_EQ(largest_allocation.load(), value.size() * sizeof(T));
  EXPECT_EQ(back, value);
}

TEST(SerializationDirectRead, ContiguousVectorsDecodeIntoOneExactAllocation) {
  constexpr std::size_t n = 1 << 20;
  expect_exact_single_allocation(patterned<char>(n));
  expect_exact_single_allocation(patterned<std::uint8_t>(n));
  expect_exact_single_allocation(patterned<double>(n / 8));
  expect_exact_single_allocation(patterned<std::int32_t>(n / 4));
  std::vector<std::byte> bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::byte>(i * 7);
  expect_exact_single_allocation(bytes);
}

// After a one-byte value the doubles' bytes are misaligned: still exact.
TEST(SerializationDirectRead, MisalignedElementsDecodeExactly) {
  const auto value = std::make_tuple(std::uint8_t{3}, patterned<double>(1000),
                                     std::uint8_t{4}, patterned<std::int64_t>(999));
  std::remove_const_t<decltype(value)> back;
  read_values(encode(value), back);
  EXPECT_EQ(back, value);
}

// A std::vector<std::byte> is saved as cereal saves it element by element (count, then one
// byte per element), only in one piece.
TEST(SerializationDirectRead, ByteVectorsKeepCerealsFormat) {
  const std::vector<std::byte> value{std::byte{1}, std::byte{0xfe}, std::byte{0}};
  std::string expected(8, '\0');
  put_u64(expected, 0, value.size());
  expected += std::string("\x01\xfe\x00", 3);
  EXPECT_EQ(encode(value), expected);
}

// A result that a borrowing payload (MPI's) sends from its own memory encodes to the same
// bytes as cereal's, once the runs are put back in place: a small one is copied, a large one
// is borrowed from the value the payload keeps.
template <class R>
void expect_borrowed_like_cereal(const R& value, bool large) {
  using cfutures::detail::payload;
  payload out = payload::borrowing();
  auto kept = std::make_shared<const R>(value);
  const char* const elements = reinterpret_cast<const char*>(kept->data());
  cfutures::detail::write_borrowing(out, std::move(kept));
  ASSERT_EQ(out.borrowed().size(), large ? 1u : 0u);
  std::string whole(out.view());
  if (large) {
    const auto& run = out.borrowed().front();
    EXPECT_EQ(run.data, elements);  // the value's own memory, not a copy
    EXPECT_EQ(run.at, sizeof(std::uint64_t));
    whole.insert(run.at, run.data, run.size);
  }
  EXPECT_EQ(whole, encode(value));
  R back;
  read_values(whole, back);
  EXPECT_EQ(back, value);
}

TEST(SerializationBorrowedResults, EncodeAsCerealDoes) {
  constexpr std::size_t limit = cfutures::detail::payload::borrow_above;
  for (const std::size_t n : {std::size_t{0}, limit - 1, limit, 3 * limit + 5}) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 % 251);
    expect_borrowed_like_cereal(s, n >= limit);
    expect_borrowed_like_cereal(patterned<double>(n / 8), n / 8 * 8 >= limit);
    std::vector<std::byte> bytes(n);
    for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::byte>(i * 7);
    expect_borrowed_like_cereal(bytes, n >= limit);
  }
  static_assert(cfutures::detail::borrowable_result_v<std::vector<std::int16_t>>);
  static_assert(!cfutures::detail::borrowable_result_v<std::vector<std::string>>);
  static_assert(!cfutures::detail::borrowable_result_v<std::vector<bool>>);
  static_assert(!cfutures::detail::borrowable_result_v<std::tuple<std::string>>);
}

}  // namespace
