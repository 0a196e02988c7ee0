#include "remote/worker_entries.hpp"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace cfutures::detail {
namespace {

// Constant-initialised: registrations may run in any order of static initialisation.
constinit std::array<std::atomic<worker_entry>, 4> entries{};

}  // namespace

void register_worker_entry(worker_entry entry) noexcept {
  for (auto& slot : entries) {
    worker_entry expected = nullptr;
    if (slot.load() == entry || slot.compare_exchange_strong(expected, entry)) return;
    if (expected == entry) return;
  }
  std::fputs("cfutures: too many worker entries registered\n", stderr);
  std::abort();
}

void run_worker_entries(int argc, char** argv) {
  for (auto& slot : entries) {
    if (const worker_entry entry = slot.load()) entry(argc, argv);
  }
}

}  // namespace cfutures::detail
