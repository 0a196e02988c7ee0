// What goes to one worker process and what comes back from it: batches of calls (their
// large arguments attached as memfds), replies, the worker's hello and initializer outcome,
// and the exit request (process_pool_core.hpp, "Message flow").
#include "process/process_pool_core.hpp"

namespace cfutures::detail {

// Every call the worker holds was just taken: one frame per job, one write for them all.
void process_pool_core::send_held(std::size_t i) {
  worker_process& w = workers_[i];
  w.large_in_flight = false;
  for (remote_job& job : w.slot.held) {
    // Large arguments are in shared memory already: their blocks go with the frame.
    std::vector<shared_block> attachments;
    wire::block_sink items(attachments);
    call_body_.clear();  // keeps its memory: no allocation per call
    encode_call(job, items, call_body_);
    for (const shared_block& a : attachments) {
      if (!a.region) w.large_in_flight = true;  // a shared_buffer's memfd is not a large value
    }
    w.link.put(wire::kind::call, {call_body_}, std::move(attachments));
    expect_timeouts(w, job);
  }
  w.link.flush();
}

void process_pool_core::retire(worker_process& w, worker_end why) {
  w.state = phase::exiting;
  w.slot.end = why;
  try {
    w.link.put(wire::kind::exit, {});
    w.link.flush();
  } catch (const std::exception&) {
    // Already gone: reaping tells.
  }
}

// Returns whether anything arrived.
bool process_pool_core::handle_input(worker_process& w, bool polled) {
  bool open = false;
  bool frames = false;
  try {
    open = polled ? w.link.receive_polled() : w.link.receive(false);
    wire::frame f;
    while (w.link.fd() >= 0 && w.link.next(f)) {
      frames = true;
      handle_frame(w, f);
    }
  } catch (const std::exception& e) {
    if (w.link.fd() >= 0) lost(w, e.what());
    return true;
  }
  if (!open && w.link.fd() >= 0) lost(w, "");
  return frames || !open;
}

void process_pool_core::handle_frame(worker_process& w, wire::frame& f) {
  switch (f.kind) {
    case wire::kind::hello:
      wire::decode_hello(f.payload);
      w.greeted = true;
      on_hello(w);
      return;
    case wire::kind::init_ok:
      if (w.state == phase::initializing) w.state = phase::ready;
      return;
    case wire::kind::init_failed: {
      const std::string what = initializer_failure(f.payload);
      w.state = phase::exiting;
      reap(w, exit_grace);
      break_executor("A process in the process pool failed to run its initializer (" + what +
                     "); the process pool is not usable anymore");
      return;
    }
    case wire::kind::reply: {
      if (w.slot.held.empty()) {
        lost(w, "a reply without a call");
        return;
      }
      received_reply r = take_reply(w.slot, f.payload, f);
      r.complete();
      after_reply(w, r.job);
      return;
    }
    default:
      lost(w, "unexpected message from a worker");
  }
}

}  // namespace cfutures::detail
