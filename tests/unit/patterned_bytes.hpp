// Test data for byte transports (shared memory copies, channels, process pools): a string of
// `n` bytes of every value, '\0' included, in an order that a shifted or truncated copy would
// not repeat; the same `n` and `seed` give the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

inline std::string patterned(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}
