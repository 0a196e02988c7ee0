// The stack of each throw, once enabled: see throw_stacks.hpp.
//
// __cxa_throw is defined here, in the program (a static cfutures) or in libcfutures_remote
// (a shared one), so the dynamic linker binds every throw to it — the program's own, those
// of libstdc++'s out-of-line throwers, those of other libraries — ahead of libstdc++'s. It
// calls the next definition (dlsym RTLD_NEXT: libstdc++'s, or a sanitizer's interceptor that
// ends there). <cxxabi.h> is not included: it declares the same function.
#include "remote/throw_stacks.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string_view>
#include <vector>

#include "remote/code_modules.hpp"
#include "remote/stack_symbols.hpp"

namespace cfutures::detail {
namespace {

constexpr std::size_t stack_depth = 64;
constexpr std::size_t ring_size = 4;
constexpr std::size_t module_capacity = 24;

// Set once by enable_throw_stacks; read (relaxed: it only selects whether to record) on
// every throw.
std::atomic<bool> capturing{false};

struct thrown {
  const void* object = nullptr;
  std::size_t first = 0;  // ips[first] is the thrower's (before it: walk_stack, __cxa_throw)
  std::size_t depth = 0;
  std::uintptr_t ips[stack_depth];
};

struct recent_throws {
  thrown entries[ring_size];
  std::size_t next = 0;
};

thread_local std::unique_ptr<recent_throws> recent;

using cxa_throw_fn = void (*)(void*, void*, void (*)(void*));

cxa_throw_fn next_throw() noexcept {
  static const cxa_throw_fn next = reinterpret_cast<cxa_throw_fn>(dlsym(RTLD_NEXT, "__cxa_throw"));
  return next;
}

// Resolved while the program starts (its static initialisation), so that throws do not wait
// for dlsym; a throw from an earlier initialiser resolves it itself.
[[maybe_unused]] const cxa_throw_fn resolved_at_load = next_throw();

// `thrower`: the return address into the function that threw. Not inlined: the hook's path
// without capturing stays a few instructions.
[[gnu::noinline]] void remember(void* object, std::uintptr_t thrower) noexcept {
  if (!recent) {
    recent.reset(new (std::nothrow) recent_throws);
    if (!recent) return;
  }
  thrown& t = recent->entries[recent->next++ % ring_size];
  t.object = object;
  t.depth = walk_stack(t.ips, nullptr, stack_depth);
  t.first = 0;
  for (std::size_t i = 0; i < t.depth; ++i) {
    if (t.ips[i] == thrower) {
      t.first = i;
      break;
    }
  }
}

// The object an exception_ptr holds: libstdc++'s exception_ptr is that one pointer, the one
// __cxa_throw was given.
const void* object_of(const std::exception_ptr& error) noexcept {
#if defined(__GLIBCXX__)
  static_assert(sizeof(std::exception_ptr) == sizeof(void*));
  const void* object = nullptr;
  std::memcpy(&object, &error, sizeof object);
  return object;
#else
  (void)error;
  return nullptr;
#endif
}

// The names of this process's frames, kept for its life (a worker names many throws). A
// forked child makes its own: the parent's lock may be held by a thread the child lacks.
struct process_symbols {
  pid_t pid = 0;
  std::mutex lock;
  stack_symbolizer symbols;
};

process_symbols& symbols_of_this_process() {
  static std::atomic<process_symbols*> current{nullptr};
  const pid_t self = getpid();
  process_symbols* p = current.load(std::memory_order_acquire);
  while (p == nullptr || p->pid != self) {
    auto* fresh = new process_symbols;
    fresh->pid = self;
    // acq_rel: publishes *fresh to the threads that load `current` (acquire, above).
    if (current.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return *fresh;
    delete fresh;
  }
  return *p;
}

bool starts_call(std::string_view frame) {
  return frame.find("cfutures::detail::invoke_serialized<") != std::string_view::npos ||
         frame.find("cfutures::detail::invoke_chunk<") != std::string_view::npos;
}

// std::apply and std::invoke's layers, inlined between the invoker and the user's function.
bool calls_through(std::string_view frame) {
  for (std::string_view layer : {"std::__invoke", "std::__apply_impl<", "std::apply<"}) {
    if (frame.find(layer) != std::string_view::npos) return true;
  }
  return false;
}

// The frames from the thrower to the function the worker was asked to run: __cxa_throw's
// and those above it (when the thrower's return address was not found on the stack), the
// invoker and what calls it are the library's.
std::vector<std::string> user_frames(std::vector<std::string> frames) {
  std::size_t first = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames[i] == "__cxa_throw" || frames[i].starts_with("__cxa_throw (")) {
      first = i + 1;
      break;
    }
  }
  std::size_t last = frames.size();
  for (std::size_t i = first; i < frames.size(); ++i) {
    if (starts_call(frames[i])) {
      last = i;
      while (last > first + 1 && calls_through(frames[last - 1])) --last;
      break;
    }
  }
  return {frames.begin() + static_cast<std::ptrdiff_t>(first),
          frames.begin() + static_cast<std::ptrdiff_t>(last)};
}

}  // namespace

void enable_throw_stacks() noexcept { capturing.store(true, std::memory_order_relaxed); }

std::string throw_stack(const std::exception_ptr& error) {
  const void* object = object_of(error);
  if (!capturing.load(std::memory_order_relaxed) || !recent || object == nullptr) return {};
  const thrown* match = nullptr;
  for (std::size_t k = 1; k <= ring_size && match == nullptr; ++k) {
    const thrown& t = recent->entries[(recent->next - k) % ring_size];  // the newest first
    if (t.object == object) match = &t;
  }
  if (match == nullptr) return {};
  // Copied out first: naming the frames may throw (and be recorded) in this thread.
  const thrown copy = *match;
  code_frame frames[stack_depth];
  code_module modules[module_capacity];
  std::size_t module_count = 0;
  locate_code(copy.ips, copy.depth, frames, modules, &module_count, module_capacity);
  // Named frame by frame, up to the invoker: what lies below it (the serve loop, main, libc)
  // is never shown, so its modules' debug information is never read.
  process_symbols& symbols = symbols_of_this_process();
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> hold(symbols.lock);
    for (std::size_t i = copy.first; i < copy.depth; ++i) {
      const std::vector<std::string> lines =
          symbols.symbols.describe(&frames[i], 1, modules, module_count);
      names.insert(names.end(), lines.begin(), lines.end());
      if (!lines.empty() && starts_call(lines.back())) break;
    }
  }
  return format_stack(user_frames(std::move(names)));
}

}  // namespace cfutures::detail

// Defined under another name and given the symbol __cxa_throw by an asm label: GCC's built-in
// declaration of __cxa_throw is noreturn, which would forbid the tail call below. The
// runtime's __cxa_throw is called last, so that the compiler makes it a jump: no frame of this
// function lies in the unwinder's way (an extra frame costs every throw about a fifth of its
// time, capturing or not).
extern "C" void cfutures_throw_hook(void* object, void* type,
                                    void (*destroy)(void*)) __asm__("__cxa_throw");
extern "C" void cfutures_throw_hook(void* object, void* type, void (*destroy)(void*)) {
  using namespace cfutures::detail;
  if (capturing.load(std::memory_order_relaxed)) {
    remember(object, reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  }
  const cxa_throw_fn next = next_throw();
  if (next == nullptr) std::abort();
  next(object, type, destroy);
}
