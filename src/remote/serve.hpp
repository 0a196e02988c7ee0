// The worker's side of every out-of-process executor, written once: the serve loop reads
// frames, runs calls, writes replies, over a serving_link that its transport implements
// (process/worker_serve.hpp: a channel to the parent; mpi/rank_server.hpp: MPI messages to
// the root).
//
//   executor                                     worker (serve)
//   init {initializer call} ───────────────────▶ run_calls → init_ok | init_failed (and end)
//   call {id, invoker, fn, n × args} ──────────▶ run_calls, in order
//                         ◀──────────────────── reply {id, n × (ok, result | exception)}
//   exit ──────────────────────────────────────▶ flush, return 0
//
// Replies of quick calls wait for the rest of their batch (to leave in one write) for at
// most hold_replies; before a call that is not known to be quick, what is finished is sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "remote/protocol.hpp"

namespace cfutures::detail {

// One frame received by a worker.
struct incoming_frame {
  wire::kind kind{};
  std::string_view payload;
  wire::attachment_source* from = nullptr;  // its attachments (large items)
};

// What the serve loop talks through.
class serving_link {
 public:
  // The next frame, waiting for it as the transport does (flushing what waits to be sent
  // before it sleeps); false once the executor is gone.
  virtual bool next(incoming_frame& f) = 0;
  // Queues (or sends) a frame of `kind` with `body`.
  virtual void send(wire::kind kind, std::string_view body) = 0;
  // Queues (or sends) the reply to `call`.
  virtual void reply(const wire::call_message& call, std::vector<wire::outcome>& outcomes) = 0;
  virtual void flush() = 0;
  // Whether replies wait to be sent, and since when.
  virtual bool has_output() const noexcept = 0;
  virtual std::chrono::steady_clock::time_point output_since() const noexcept = 0;
  // Where results are encoded once large (null: in memory).
  virtual block_store* results_store() const noexcept = 0;
  // Whether results are encoded into borrowing payloads (payload.hpp): the link sends a
  // large string or vector result from the value's own memory (MPI).
  virtual bool borrows_results() const noexcept { return false; }
  // Told before each call runs (item `item` of call frame `id`), and once a frame's calls
  // are done: the process pool shares it with its parent (worker_status.hpp).
  virtual void running(std::uint64_t, std::size_t) noexcept {}
  virtual void idle() noexcept {}

 protected:
  ~serving_link() = default;
};

// Runs every call of a decoded call message, in order; results go to `store` once large.
// Each call's arguments are decoded through `from` (so that a shared block can be given
// back before the function runs, and its result encoded into it).
// `link`, if given, is told which call runs.
std::vector<wire::outcome> run_calls(const wire::call_message& message, block_store* store,
                                     wire::attachment_source& from, serving_link* link = nullptr);

// Serves until told to exit (returns 0), the executor is gone (0) or an initializer failed
// (3). A protocol error throws.
int serve(serving_link& link);

}  // namespace cfutures::detail
