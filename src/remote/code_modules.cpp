// Code addresses as (module file, offset): see code_modules.hpp. Everything here is
// async-signal-safe: raw system calls (not the libc wrappers that sanitizers intercept), a
// buffer on the stack, hand-written parsing.
#include "remote/code_modules.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unwind.h>

#include <cerrno>

namespace cfutures::detail {
namespace {

// One line of /proc/self/maps: "start-end perms offset dev inode   path".
struct mapping {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  std::uint64_t offset = 0;
  const char* path = nullptr;  // NUL-terminated, in the read buffer
  std::size_t path_length = 0;
};

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* parse_hex(const char* p, const char* end, std::uint64_t& value) noexcept {
  value = 0;
  while (p < end && hex_digit(*p) >= 0) value = value * 16 + static_cast<unsigned>(hex_digit(*p++));
  return p;
}

const char* skip_field(const char* p, const char* end) noexcept {
  while (p < end && *p != ' ') ++p;
  while (p < end && *p == ' ') ++p;
  return p;
}

// Parses [line, end) (no newline); false for a line that is not a file-backed mapping.
bool parse_line(char* line, char* end, mapping& m) noexcept {
  std::uint64_t value = 0;
  const char* p = parse_hex(line, end, value);
  m.start = static_cast<std::uintptr_t>(value);
  if (p >= end || *p != '-') return false;
  p = parse_hex(p + 1, end, value);
  m.end = static_cast<std::uintptr_t>(value);
  p = skip_field(p, end);  // the range's tail
  p = skip_field(p, end);  // perms
  parse_hex(p, end, m.offset);
  p = skip_field(p, end);  // offset
  p = skip_field(p, end);  // dev
  p = skip_field(p, end);  // inode
  if (p >= end || *p != '/') return false;
  *end = '\0';
  m.path = p;
  m.path_length = static_cast<std::size_t>(end - p);
  return true;
}

bool same_path(const char* a, const char* b) noexcept {
  for (; *a && *a == *b; ++a, ++b) {
  }
  return *a == *b;
}

// The index of `path` in the table, appended if new; no_module if it does not fit.
std::uint16_t module_index(const mapping& m, code_module* modules, std::size_t* count,
                           std::size_t capacity) noexcept {
  for (std::size_t i = 0; i < *count; ++i) {
    if (same_path(modules[i].path, m.path)) return static_cast<std::uint16_t>(i);
  }
  if (*count >= capacity || *count >= no_module || m.path_length >= module_path_capacity) {
    return no_module;
  }
  code_module& added = modules[*count];
  for (std::size_t k = 0; k <= m.path_length; ++k) added.path[k] = m.path[k];
  return static_cast<std::uint16_t>((*count)++);
}

void resolve(const mapping& m, const std::uintptr_t* ips, std::size_t n, code_frame* frames,
             code_module* modules, std::size_t* count, std::size_t capacity) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (frames[i].module != no_module || ips[i] < m.start || ips[i] >= m.end) continue;
    const std::uint16_t index = module_index(m, modules, count, capacity);
    if (index == no_module) continue;
    frames[i].module = index;
    frames[i].offset = ips[i] - m.start + m.offset;
  }
}

struct walk {
  std::uintptr_t* ips;
  std::uint8_t* after_signal;
  std::size_t max;
  std::size_t count = 0;
};

_Unwind_Reason_Code step(_Unwind_Context* context, void* argument) {
  auto* w = static_cast<walk*>(argument);
  if (w->count >= w->max) return _URC_END_OF_STACK;
  int before_instruction = 0;
  const std::uintptr_t ip = _Unwind_GetIPInfo(context, &before_instruction);
  if (ip == 0) return _URC_END_OF_STACK;
  w->ips[w->count] = ip;
  if (w->after_signal != nullptr) w->after_signal[w->count] = before_instruction ? 1 : 0;
  ++w->count;
  return _URC_NO_REASON;
}

}  // namespace

std::size_t walk_stack(std::uintptr_t* ips, std::uint8_t* after_signal, std::size_t max) noexcept {
  const int saved_errno = errno;
  walk w{ips, after_signal, max};
  _Unwind_Backtrace(&step, &w);
  errno = saved_errno;
  return w.count;
}

void locate_code(const std::uintptr_t* ips, std::size_t n, code_frame* frames, code_module* modules,
                 std::size_t* module_count, std::size_t module_capacity) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    frames[i].module = no_module;
    frames[i].offset = ips[i];
  }
  const int saved_errno = errno;
  const long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    errno = saved_errno;
    return;
  }
  // A line longer than the buffer (a path near PATH_MAX) is skipped whole.
  char buffer[4096];
  std::size_t length = 0;
  bool skipping = false;
  for (;;) {
    const long got = syscall(SYS_read, fd, buffer + length, sizeof buffer - 1 - length);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    length += static_cast<std::size_t>(got);
    std::size_t begin = 0;
    for (std::size_t i = 0; i < length; ++i) {
      if (buffer[i] != '\n') continue;
      mapping m;
      if (!skipping && parse_line(buffer + begin, buffer + i, m)) {
        resolve(m, ips, n, frames, modules, module_count, module_capacity);
      }
      skipping = false;
      begin = i + 1;
    }
    if (begin == 0 && length == sizeof buffer - 1) {
      skipping = true;
      length = 0;
      continue;
    }
    for (std::size_t i = begin; i < length; ++i) buffer[i - begin] = buffer[i];
    length -= begin;
  }
  syscall(SYS_close, fd);
  errno = saved_errno;
}

}  // namespace cfutures::detail
