// Where a parked worker wakes up. On a machine with few CPUs the kernel often queues a woken
// worker on the CPU of the thread that woke it, or next to another worker, and leaves another
// CPU idle for milliseconds (its load balancer runs on the scheduler tick). With two workers
// on two CPUs that halves a fan-out's speed for its whole duration.
//
// So each worker gets a home CPU: worker i of a pool gets the i-th CPU after the one the pool
// was created on, among those the process may use (wrapping around). It starts there
// (start_placement, below), and is pinned there only while it sleeps: the kernel then wakes
// each worker on its own CPU, and the worker restores its previous affinity before it runs
// anything. Tasks never run pinned, and threads they start inherit the affinity the worker
// had before it slept. Once running, the kernel may move a worker as it likes.
// Which worker to wake: a thread outside the pool that submits one task and then waits wakes
// a worker at home on its own CPU (a wake-up on the waker's CPU is cheap, and the waiter
// yields to it); when work piles up, or a worker wakes another, one whose home is elsewhere.
//
// A sleeping worker is also SCHED_BATCH (batch_while_asleep), and goes back to SCHED_OTHER
// before it runs anything. A normal thread woken on the waker's CPU preempts the waker at
// once: a thread submitting 64 tasks was stopped after the first, for a whole task (~200 µs),
// before it could queue the rest and wake the second worker. A batch thread does not preempt
// on wake-up; it runs as soon as the waker blocks or yields (a waiter in result() does both).
#pragma once

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cfutures::detail {

// The CPU `index` + 1 places after `origin_cpu` among those the calling thread may use
// (wrapping around), or -1 when it may use only one.
int home_cpu(int origin_cpu, std::size_t index) noexcept;

// Pins the calling thread to `home` for the guard's lifetime, if `home` is one of the CPUs
// it may use now (and it may use others); restores the previous affinity on destruction.
// Failures leave the affinity as it was.
class home_cpu_pin {
 public:
  explicit home_cpu_pin(int home) noexcept;
  ~home_cpu_pin();
  home_cpu_pin(const home_cpu_pin&) = delete;
  home_cpu_pin& operator=(const home_cpu_pin&) = delete;

 private:
  cpu_set_t previous_;
  bool pinned_ = false;
};

// Makes the calling thread SCHED_BATCH for the guard's lifetime if it is SCHED_OTHER (a
// policy set by the user, or SCHED_RESET_ON_FORK, is left alone); restores SCHED_OTHER on
// destruction, keeping the nice value. Failures leave the policy as it was.
class batch_while_asleep {
 public:
  batch_while_asleep() noexcept;
  ~batch_while_asleep();
  batch_while_asleep(const batch_while_asleep&) = delete;
  batch_while_asleep& operator=(const batch_while_asleep&) = delete;

 private:
  bool switched_ = false;
};

// Moves the calling thread to `home` (pins, then restores its affinity at once).
inline void move_to_home_cpu(int home) noexcept { const home_cpu_pin moved(home); }

// Where a new worker first runs. The kernel queues a new thread on a CPU of its choosing,
// often the busy one of the thread that started it, where it waits behind that thread (and
// the worker already there) until the load balancer moves it: 2-3 ms, in about 1 fan-out in 8
// on a freshly created pool. So the starting thread pins the new one to its home at once (the
// kernel moves a queued thread right away), and the new thread, before anything else, waits
// for that and restores the affinity it inherited: the initializer and tasks never run pinned.
//
//   starter: create thread ─▶ place(thread, home): pin it, then publish `placed_` ─┐
//   new thread: settle(): wait for `placed_` ◀──────────────────────────────────────┘
//               ─▶ restore the inherited affinity ─▶ initializer, tasks
class start_placement {
 public:
  // Called by the starting thread, right after creating `thread`, exactly once.
  void place(pthread_t thread, int home) noexcept;
  // Called by the new thread first: waits for place(), then undoes its pin.
  void settle() noexcept;

 private:
  cpu_set_t inherited_{};  // written by place() before placed_ is published
  bool pinned_ = false;
  std::atomic<std::uint32_t> placed_{0};  // futex word: 1 once place() is done
};

}  // namespace cfutures::detail
