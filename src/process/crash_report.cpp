// A dying worker's stack: see crash_report.hpp.
//
// The handler is async-signal-safe: it touches only the record (shared memory), an atomic,
// the stack, the unwinder and raw system calls. It starts its stack at the interrupted frame
// (the one the unwinder reports as coming from a signal frame, else the one at the context's
// instruction pointer), so its own frames and the signal trampoline are not in the record.
// It then makes the signal's action the default one and sends the signal to its own thread:
// the signal is blocked while the handler runs and arrives when it returns, killing the
// worker by it. Raw rt_sigaction and tgkill go past sanitizers' interceptors, which would
// otherwise keep their own handler in place of the default action.
#include "process/crash_report.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <new>

namespace cfutures::detail {
namespace {

constexpr int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
// Room for the handler: the unwinder, and a page of /proc/self/maps (twice that under a
// sanitizer's larger frames).
constexpr std::size_t alternate_stack_size = 256 * 1024;
// Frames the handler itself and the signal trampoline take, beyond crash_stack_depth.
constexpr std::size_t handler_frames = 8;

std::atomic<crash_record*> installed{nullptr};
// The first thread to fault records; another one waits for it to end the process.
std::atomic<bool> claimed{false};

std::uintptr_t interrupted_ip(const void* context) noexcept {
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(
      static_cast<const ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return static_cast<std::uintptr_t>(static_cast<const ucontext_t*>(context)->uc_mcontext.pc);
#else
  (void)context;
  return 0;
#endif
}

void record_crash(crash_record& r, int signal, const siginfo_t* info,
                  const void* context) noexcept {
  std::atomic_ref<std::uint32_t>(r.state).store(1, std::memory_order_relaxed);
  r.signal = signal;
  r.code = info != nullptr ? info->si_code : 0;
  const bool faulted = info != nullptr && info->si_code > 0 && signal != SIGABRT;
  r.fault_address = faulted ? reinterpret_cast<std::uintptr_t>(info->si_addr) : 0;
  std::uintptr_t ips[crash_stack_depth + handler_frames];
  std::uint8_t after_signal[crash_stack_depth + handler_frames];
  const std::size_t walked = walk_stack(ips, after_signal, crash_stack_depth + handler_frames);
  const std::uintptr_t ip = interrupted_ip(context);
  std::size_t first = walked;
  for (std::size_t i = 0; i < walked && first == walked; ++i) {
    if (after_signal[i]) first = i;
  }
  for (std::size_t i = 0; i < walked && first == walked; ++i) {
    if (ips[i] == ip) first = i;
  }
  if (first == walked) first = 0;
  std::size_t depth = walked - first;
  if (depth > crash_stack_depth) depth = crash_stack_depth;
  std::size_t modules = 0;
  locate_code(ips + first, depth, r.frames, r.modules, &modules, crash_module_capacity);
  if (depth > 0) r.frames[0].exact = after_signal[first] || ips[first] == ip ? 1 : 0;
  r.module_count = static_cast<std::uint32_t>(modules);
  r.depth = static_cast<std::uint32_t>(depth);
  std::atomic_ref<std::uint32_t>(r.state).store(2, std::memory_order_release);
}

// The kernel's struct sigaction (what rt_sigaction takes), for SIG_DFL: no restorer needed.
struct kernel_sigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  unsigned long mask;
};

void die_by(int signal) noexcept {
  kernel_sigaction default_action{SIG_DFL, 0, nullptr, 0};
  syscall(SYS_rt_sigaction, signal, &default_action, nullptr, sizeof default_action.mask);
  syscall(SYS_tgkill, static_cast<long>(getpid()), static_cast<long>(syscall(SYS_gettid)), signal);
}

void on_fatal_signal(int signal, siginfo_t* info, void* context) {
  if (claimed.exchange(true, std::memory_order_acq_rel)) {
    // Another thread records and ends the process; should it hang, die anyway after 2 s.
    for (int i = 0; i < 200; ++i) {
      const timespec pause{0, 10 * 1000 * 1000};
      syscall(SYS_nanosleep, &pause, nullptr);
    }
  } else if (crash_record* r = installed.load(std::memory_order_acquire)) {
    record_crash(*r, signal, info, context);
  }
  die_by(signal);
}

void use_alternate_stack() noexcept {
  static void* memory = nullptr;
  if (memory == nullptr) {
    void* m = mmap(nullptr, alternate_stack_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return;
    memory = m;
  }
  stack_t stack{};
  stack.ss_sp = memory;
  stack.ss_size = alternate_stack_size;
  sigaltstack(&stack, nullptr);
}

}  // namespace

void install_crash_handlers(crash_record* record) noexcept {
  new (record) crash_record{};  // begins its life in raw shared memory
  claimed.store(false, std::memory_order_relaxed);
  installed.store(record, std::memory_order_release);
  // The unwinder's first walk initialises what it caches (outside the handler).
  std::uintptr_t warm[4];
  walk_stack(warm, nullptr, 4);
  use_alternate_stack();
  struct sigaction action {};
  action.sa_sigaction = &on_fatal_signal;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int signal : fatal_signals) sigaddset(&action.sa_mask, signal);
  for (int signal : fatal_signals) sigaction(signal, &action, nullptr);
}

std::optional<crash_info> read_crash(const crash_record& shared) {
  stack_symbolizer symbols;
  return read_crash(shared, symbols);
}

std::optional<crash_info> read_crash(const crash_record& shared, stack_symbolizer& symbols) {
  const crash_record r = shared;
  if (r.state == 0 || r.signal == 0) return std::nullopt;
  crash_info info;
  info.signal = r.signal;
  info.fault_address = static_cast<std::uintptr_t>(r.fault_address);
  info.complete = r.state == 2;
  const std::size_t depth = r.depth <= crash_stack_depth ? r.depth : 0;
  const std::size_t module_count = r.module_count <= crash_module_capacity ? r.module_count : 0;
  code_module modules[crash_module_capacity];
  for (std::size_t i = 0; i < module_count; ++i) {
    modules[i] = r.modules[i];
    modules[i].path[module_path_capacity - 1] = '\0';
  }
  info.frames = symbols.describe(r.frames, depth, modules, module_count);
  return info;
}

}  // namespace cfutures::detail
