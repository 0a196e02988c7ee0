// A worker's status page (worker_status.hpp).
#include "process/worker_status.hpp"

#include <new>

#include "process/shared_ring.hpp"

namespace cfutures::detail {

static_assert(sizeof(worker_status) <= wire::shared_ring::status_page);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);  // shared between processes

worker_status& worker_status::at(void* area) noexcept {
  // The page is zeroed memory from the memfd: every field starts at 0 (idle, no crash).
  return *std::launder(static_cast<worker_status*>(area));
}

void worker_status::write(std::uint64_t id, std::size_t item, std::int64_t started_ns) noexcept {
  const std::uint64_t s = sequence_.load(std::memory_order_relaxed);
  sequence_.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  id_.store(id, std::memory_order_relaxed);
  item_.store(item, std::memory_order_relaxed);
  started_ns_.store(started_ns, std::memory_order_relaxed);
  sequence_.store(s + 2, std::memory_order_release);
}

void worker_status::running(std::uint64_t id, std::size_t item) noexcept {
  write(id, item, std::chrono::steady_clock::now().time_since_epoch().count());
}

void worker_status::idle() noexcept { write(0, 0, 0); }

worker_status::view worker_status::snapshot() const noexcept {
  // A worker killed while writing leaves the count odd: then the last read stands.
  view v;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::uint64_t before = sequence_.load(std::memory_order_acquire);
    v.call.id = id_.load(std::memory_order_relaxed);
    v.call.item = item_.load(std::memory_order_relaxed);
    v.started = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(started_ns_.load(std::memory_order_relaxed)));
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((before & 1) == 0 && sequence_.load(std::memory_order_relaxed) == before) return v;
  }
  return v;
}

}  // namespace cfutures::detail
