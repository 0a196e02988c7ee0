#include "worker.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>

namespace cfutures::detail {
namespace {

// How long a worker with nothing to do polls its socket before sleeping in recvmsg (a
// wake-up from sleep costs 15-70 us on a busy machine; an idle worker then burns no CPU).
constexpr std::chrono::microseconds idle_spin(100);
// How long finished replies may wait for the rest of a batch before they are sent.
constexpr std::chrono::microseconds hold_replies(50);

struct resolved_call {
  invoker entry = nullptr;
  const void* fn = nullptr;
};

resolved_call resolve(const wire::call_message& message) {
  resolved_call r;
  r.entry = reinterpret_cast<invoker>(const_cast<void*>(local_address(message.invoker)));
  if (!is_registered_invoker(r.entry)) {
    throw protocol_error("the call's invoker is not one this program registered");
  }
  if (message.has_fn) r.fn = local_address(message.fn);
  return r;
}

}  // namespace

std::string run_calls(const wire::call_message& message) {
  std::string payload;
  wire::writer w(payload);
  w.u64(message.id);
  w.u32(static_cast<std::uint32_t>(message.args.size()));
  resolved_call call;
  std::exception_ptr unresolvable;
  try {
    call = resolve(message);
  } catch (...) {
    unresolvable = std::current_exception();
  }
  std::string out;
  for (std::string_view args : message.args) {
    out.clear();
    bool ok = false;
    if (unresolvable) {
      out = encode_exception(unresolvable);
    } else {
      try {
        call.entry(call.fn, args, out);
        ok = true;
      } catch (...) {
        out.clear();
        out = encode_exception(std::current_exception());
      }
    }
    w.u8(ok ? 1 : 0);
    w.bytes(out);
  }
  return payload;
}

int serve_worker(int fd) {
  wire::channel link(fd);
  try {
    std::string hello;
    wire::writer(hello).u32(static_cast<std::uint32_t>(getpid()));
    link.put(wire::kind::hello, {hello});
    link.flush();
    wire::frame f;
    for (;;) {
      while (link.next(f)) {
        switch (f.kind) {
          case wire::kind::call: {
            const std::string reply = run_calls(wire::decode_call(f.payload));
            link.put(wire::kind::reply, {reply});
            // Replies wait for the rest of the batch only while it is quick.
            if (link.has_output() &&
                std::chrono::steady_clock::now() - link.output_since() > hold_replies) {
              link.flush();
            }
            break;
          }
          case wire::kind::init: {
            const wire::call_message message = wire::decode_call(f.payload);
            if (message.args.size() != 1) throw protocol_error("bad init: expected one call");
            const std::string reply = run_calls(message);
            wire::reader r(reply);
            r.u64();
            r.u32();
            const bool ok = r.u8() == 1;
            const std::string_view result = r.bytes();
            if (ok) {
              link.put(wire::kind::init_ok, {});
              link.flush();
            } else {
              link.put(wire::kind::init_failed, {result});
              link.flush();
              return 3;
            }
            break;
          }
          case wire::kind::exit:
            link.flush();
            return 0;
          default:
            throw protocol_error("unexpected message in a worker");
        }
      }
      link.flush();
      if (!link.receive(true, idle_spin)) return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cfutures worker %d: %s\n", static_cast<int>(getpid()), e.what());
    return 2;
  }
}

}  // namespace cfutures::detail
