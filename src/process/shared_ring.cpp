#include "process/shared_ring.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "cfutures/detail/futex.hpp"
#include "remote/protocol.hpp"

namespace cfutures::detail::wire {
namespace {

constexpr std::size_t mapping_size =
    shared_ring::control_page + shared_ring::status_page + 2 * shared_ring::capacity;
constexpr std::size_t data_offset = shared_ring::control_page + shared_ring::status_page;

static_assert(2 * sizeof(shared_ring::control) <= shared_ring::control_page);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);  // shared between processes
static_assert((shared_ring::capacity & (shared_ring::capacity - 1)) == 0);

[[noreturn]] void fail(const char* what) {
  throw error(std::string(what) + ": " + std::strerror(errno));
}

char* map(int fd) {
  void* p = mmap(nullptr, mapping_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) fail("cannot map the shared ring");
  return static_cast<char*>(p);
}

}  // namespace

shared_ring::control& shared_ring::out() const noexcept {
  return reinterpret_cast<control*>(base_)[parent_ ? 0 : 1];
}

shared_ring::control& shared_ring::in() const noexcept {
  return reinterpret_cast<control*>(base_)[parent_ ? 1 : 0];
}

char* shared_ring::out_data() const noexcept {
  return base_ + data_offset + (parent_ ? 0 : capacity);
}

char* shared_ring::in_data() const noexcept {
  return base_ + data_offset + (parent_ ? capacity : 0);
}

shared_ring shared_ring::create(int& memfd) {
  memfd = memfd_create("cfutures-ring", MFD_CLOEXEC);
  if (memfd < 0) fail("memfd_create");
  if (ftruncate(memfd, static_cast<off_t>(mapping_size)) != 0) {
    const int e = errno;
    ::close(memfd);
    errno = e;
    fail("cannot size the shared ring");
  }
  char* base;
  try {
    base = map(memfd);
  } catch (...) {
    ::close(memfd);
    throw;
  }
  auto* controls = reinterpret_cast<control*>(base);
  new (&controls[0]) control;
  new (&controls[1]) control;
  return shared_ring(base, true);
}

shared_ring shared_ring::attach(int memfd) {
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_after{memfd};
  return shared_ring(map(memfd), false);
}

shared_ring::shared_ring(shared_ring&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), parent_(other.parent_) {}

shared_ring& shared_ring::operator=(shared_ring&& other) noexcept {
  if (this != &other) {
    unmap();
    base_ = std::exchange(other.base_, nullptr);
    parent_ = other.parent_;
  }
  return *this;
}

void shared_ring::unmap() noexcept {
  if (base_) munmap(base_, mapping_size);
  base_ = nullptr;
}

std::size_t shared_ring::filled(const control& c) {
  const std::uint64_t head = c.head.load(std::memory_order_acquire);
  const std::uint64_t tail = c.tail.load(std::memory_order_acquire);
  if (tail - head > capacity) throw protocol_error("bad shared ring: positions out of range");
  return static_cast<std::size_t>(tail - head);
}

std::size_t shared_ring::write(const char* data, std::size_t size) {
  const std::uint64_t tail = out().tail.load(std::memory_order_relaxed);
  const std::size_t n = std::min(size, capacity - filled(out()));
  if (n == 0) return 0;
  const std::size_t at = tail & (capacity - 1);
  const std::size_t first = std::min(n, capacity - at);
  std::memcpy(out_data() + at, data, first);
  std::memcpy(out_data(), data + first, n - first);
  out().tail.store(tail + n);  // seq_cst: before reader_needs_wake's load (Dekker)
  return n;
}

bool shared_ring::writable() const { return filled(out()) < capacity; }

bool shared_ring::take_sleeper(std::atomic<std::uint32_t>& flag) noexcept {
  return flag.load() != 0 && flag.exchange(0) != 0;  // the load spares a locked exchange
}

bool shared_ring::reader_needs_wake() noexcept { return take_sleeper(out().reader_sleeps); }

bool shared_ring::sleep_for_room(std::chrono::milliseconds limit) {
  out().writer_sleeps.store(1);
  if (out().tail.load(std::memory_order_relaxed) - out().head.load() >= capacity) {
    const auto until = clock::now() + limit;
    futex_wait_shared(out().writer_sleeps, 1, &until);
  }
  out().writer_sleeps.store(0, std::memory_order_relaxed);
  return writable();
}

bool shared_ring::has_bytes() const noexcept {
  return in().tail.load(std::memory_order_relaxed) != in().head.load(std::memory_order_relaxed);
}

std::size_t shared_ring::readable() const { return filled(in()); }

void shared_ring::read(char* to, std::size_t size) noexcept {
  const std::uint64_t head = in().head.load(std::memory_order_relaxed);
  const std::size_t at = head & (capacity - 1);
  const std::size_t first = std::min(size, capacity - at);
  std::memcpy(to, in_data() + at, first);
  std::memcpy(to + first, in_data(), size - first);
  in().head.store(head + size);  // seq_cst: before the load of writer_sleeps (Dekker)
  if (take_sleeper(in().writer_sleeps)) futex_wake_one_shared(in().writer_sleeps);
}

bool shared_ring::sleep_for_bytes() noexcept {
  in().reader_sleeps.store(1);
  const bool bytes = in().tail.load() != in().head.load(std::memory_order_relaxed);
  if (bytes) awake();
  return bytes;
}

void shared_ring::awake() noexcept { in().reader_sleeps.store(0, std::memory_order_relaxed); }

void shared_ring::sent_signals(std::uint64_t n) noexcept {
  out().signals.fetch_add(n, std::memory_order_release);
}

bool shared_ring::signals_pending(std::uint64_t read) const noexcept {
  return in().signals.load(std::memory_order_acquire) != read;
}

}  // namespace cfutures::detail::wire
