// Internal: decoding values straight from the bytes being read — strings and contiguous
// vectors in one copy, without zero-filling them — and every size read bounded by the bytes
// left.
//
// cereal loads a std::string or a std::vector of arithmetic elements by resize() (which writes
// n zero bytes) and then a copy of n bytes over them: for a large value that is two passes
// over fresh memory where one will do. When cfutures reads a value from bytes in memory
// (decode_from, remote_call.hpp: arguments in a worker, results in the caller, often straight
// from shared memory), it marks the archive it reads with as reading from a memory_source;
// the loads below then build the value with one copy from those bytes (string::assign,
// vector::assign), allocating exactly what the bytes hold, in huge pages when large
// (huge_pages.hpp).
//
// Direct elements (direct_element): arithmetic types but bool, and std::byte. A
// std::vector<std::byte> is also saved in one block (cereal writes it byte by byte, as an
// enum; the bytes are the same either way).
//
// Bounds (issue 6): in that mode every size tag cereal reads (the element count of a string,
// vector, deque, list, forward_list, map, set, unordered_*, valarray; a user type's own
// make_size_tag) must not exceed the bytes left in the input, as each element takes at least
// one byte; a direct vector's count times its element size must not exceed them either. A
// lying count thus fails (cereal::Exception, which decode_from turns into protocol_error)
// before anything is allocated for it. The rule counts one byte for elements that encode to
// nothing (std::monostate, empty classes): a container of those decodes only while no more of
// them are announced than bytes follow, which keeps its allocation bounded too.
//
// Any other archive — a user's own BinaryInputArchive, or cereal nested in a user's
// serialize() — takes cereal's usual path, with the same result and without the bounds (its
// input may not be in memory). The overloads are declared wherever
// <cfutures/serialization.hpp> is included; being more specialised than cereal's templates
// (or not templates at all), overload resolution prefers them.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "cfutures/detail/huge_pages.hpp"

namespace cfutures::detail {

template <class T>
concept direct_element = (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) ||
                         std::is_same_v<T, std::byte>;

// Reads T values from bytes that may not be aligned for T (each through memcpy).
template <direct_element T>
class unaligned_reader {
 public:
  using iterator_category = std::random_access_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = const T*;
  using reference = T;

  explicit unaligned_reader(const char* at) noexcept : at_(at) {}
  T operator*() const noexcept {
    T value;
    std::memcpy(&value, at_, sizeof(T));
    return value;
  }
  unaligned_reader& operator++() noexcept {
    at_ += sizeof(T);
    return *this;
  }
  unaligned_reader operator++(int) noexcept {
    unaligned_reader before = *this;
    at_ += sizeof(T);
    return before;
  }
  unaligned_reader& operator--() noexcept {
    at_ -= sizeof(T);
    return *this;
  }
  unaligned_reader& operator+=(difference_type n) noexcept {
    at_ += n * static_cast<difference_type>(sizeof(T));
    return *this;
  }
  friend difference_type operator-(unaligned_reader a, unaligned_reader b) noexcept {
    return (a.at_ - b.at_) / static_cast<difference_type>(sizeof(T));
  }
  friend bool operator==(unaligned_reader a, unaligned_reader b) noexcept { return a.at_ == b.at_; }

 private:
  const char* at_;
};

// std::streambuf over bytes in memory (reading).
class memory_source : public std::streambuf {
 public:
  explicit memory_source(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());
    setg(p, p, p + bytes.size());
  }

  std::uint64_t left() const noexcept { return static_cast<std::uint64_t>(egptr() - gptr()); }

  // Throws cereal::Exception (as cereal's own reads do) if `count` elements of `size` bytes
  // each are more than the bytes left.
  void expect(std::uint64_t count, std::size_t size) const {
    if (count > left() / size) {
      throw cereal::Exception("a size of " + std::to_string(count) + " elements exceeds the " +
                              std::to_string(left()) + " bytes left");
    }
  }

  // Replaces `out` with the next n bytes (one copy).
  void take(std::string& out, std::uint64_t n) {
    expect(n, 1);
    reserve_for_fill(out, static_cast<std::size_t>(n));
    out.assign(gptr(), static_cast<std::size_t>(n));
    skip(n);
  }

  // Replaces `out` with the next `count` elements (one copy, no zero-fill).
  template <direct_element T, class A>
  void take(std::vector<T, A>& out, std::uint64_t count) {
    expect(count, sizeof(T));
    const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
    const char* from = gptr();
    reserve_for_fill(out, static_cast<std::size_t>(count));
    if (reinterpret_cast<std::uintptr_t>(from) % alignof(T) == 0) {
      const T* first = reinterpret_cast<const T*>(from);
      out.assign(first, first + count);
    } else {
      out.assign(unaligned_reader<T>(from), unaligned_reader<T>(from + bytes));
    }
    skip(bytes);
  }

 private:
  void skip(std::uint64_t n) { setg(eback(), gptr() + n, egptr()); }
};

// The archive this thread is reading with through a memory_source, while it does.
struct direct_read {
  const cereal::BinaryInputArchive* archive = nullptr;
  memory_source* source = nullptr;
};
inline thread_local direct_read current_direct_read;

// The memory_source that `ar` reads from in direct mode, or null.
inline memory_source* direct_source(const cereal::BinaryInputArchive& ar) noexcept {
  const direct_read& direct = current_direct_read;
  return direct.archive == &ar ? direct.source : nullptr;
}

// Marks `archive` as reading from `source` for this scope (nested reads restore the outer).
class direct_read_scope {
 public:
  direct_read_scope(const cereal::BinaryInputArchive& archive, memory_source& source) noexcept
      : saved_(current_direct_read) {
    current_direct_read = {&archive, &source};
  }
  ~direct_read_scope() { current_direct_read = saved_; }
  direct_read_scope(const direct_read_scope&) = delete;
  direct_read_scope& operator=(const direct_read_scope&) = delete;

 private:
  direct_read saved_;
};

}  // namespace cfutures::detail

namespace cereal {

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(BinaryInputArchive& ar, SizeTag<T>& tag) {
  ar(tag.size);
  if (cfutures::detail::memory_source* source = cfutures::detail::direct_source(ar)) {
    source->expect(static_cast<std::uint64_t>(tag.size), 1);
  }
}

inline void CEREAL_LOAD_FUNCTION_NAME(BinaryInputArchive& ar, std::string& str) {
  size_type size;
  ar(make_size_tag(size));
  if (cfutures::detail::memory_source* source = cfutures::detail::direct_source(ar)) {
    source->take(str, size);
    return;
  }
  str.resize(static_cast<std::size_t>(size));
  ar(binary_data(str.data(), static_cast<std::size_t>(size)));
}

template <cfutures::detail::direct_element T, class A>
void CEREAL_LOAD_FUNCTION_NAME(BinaryInputArchive& ar, std::vector<T, A>& vector) {
  size_type size;
  ar(make_size_tag(size));
  if (cfutures::detail::memory_source* source = cfutures::detail::direct_source(ar)) {
    source->take(vector, size);
    return;
  }
  vector.resize(static_cast<std::size_t>(size));
  ar(binary_data(vector.data(), static_cast<std::size_t>(size) * sizeof(T)));
}

template <class A>
void CEREAL_SAVE_FUNCTION_NAME(BinaryOutputArchive& ar, const std::vector<std::byte, A>& vector) {
  ar(make_size_tag(static_cast<size_type>(vector.size())));
  ar(binary_data(vector.data(), vector.size()));
}

}  // namespace cereal
