// Internal: decoding strings straight from the bytes being read, without zero-filling them.
//
// cereal loads a std::string by resize() (which writes n zero bytes) and then a copy of n
// bytes over them: for a large value that is two passes over fresh memory where one will do.
// When cfutures reads a value from bytes in memory (read_values, remote_call.hpp: arguments
// in a worker, results in the caller, often straight from shared memory), it marks the
// archive it reads with as reading from a memory_source; the load below then builds the
// string with one copy from those bytes (std::string::assign). Any other archive — a user's
// own BinaryInputArchive, or cereal nested in a user's serialize() — takes cereal's usual
// path, with the same result.
// The load is a non-template overload for exactly (BinaryInputArchive, std::string), which
// overload resolution prefers to cereal's template: it is declared wherever
// <cfutures/serialization.hpp> is included.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cstddef>
#include <cstdint>
#include <streambuf>
#include <string>
#include <string_view>

namespace cfutures::detail {

// std::streambuf over bytes in memory (reading).
class memory_source : public std::streambuf {
 public:
  explicit memory_source(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());
    setg(p, p, p + bytes.size());
  }
  // Replaces `out` with the next n bytes (one copy); throws cereal::Exception if fewer are
  // left, as cereal's own reads do.
  void take(std::string& out, std::uint64_t n) {
    const auto left = static_cast<std::uint64_t>(egptr() - gptr());
    if (n > left) {
      throw cereal::Exception("Failed to read " + std::to_string(n) +
                              " bytes from input stream! Read " + std::to_string(left));
    }
    out.assign(gptr(), static_cast<std::size_t>(n));
    setg(eback(), gptr() + n, egptr());
  }
};

// The archive this thread is reading with through a memory_source, while it does.
struct direct_read {
  const cereal::BinaryInputArchive* archive = nullptr;
  memory_source* source = nullptr;
};
inline thread_local direct_read current_direct_read;

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

inline void CEREAL_LOAD_FUNCTION_NAME(BinaryInputArchive& ar, std::string& str) {
  size_type size;
  ar(make_size_tag(size));
  const cfutures::detail::direct_read& direct = cfutures::detail::current_direct_read;
  if (direct.archive == &ar) {
    direct.source->take(str, size);
    return;
  }
  str.resize(static_cast<std::size_t>(size));
  ar(binary_data(str.data(), static_cast<std::size_t>(size)));
}

}  // namespace cereal
