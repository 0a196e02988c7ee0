#include "remote/serve.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <unordered_map>

#include "cfutures/detail/trace_span.hpp"
#include "remote/throw_stacks.hpp"

namespace cfutures::detail {
namespace {

// Finished replies wait for the rest of their batch (to leave in one write) only behind
// calls of functions that last ran quicker than quick_call here, and at most hold_replies;
// before any other call, what is finished is sent.
constexpr std::chrono::microseconds hold_replies(50);
constexpr std::chrono::microseconds quick_call(20);

// How long a call message of each function (by its code offsets) last took in this worker.
class call_timings {
 public:
  bool quick(const wire::call_message& m) const {
    const auto it = last_.find(key(m));
    return it != last_.end() && it->second < quick_call;
  }
  void record(const wire::call_message& m, std::chrono::steady_clock::duration took) {
    last_[key(m)] = took;
  }

 private:
  static std::uint64_t key(const wire::call_message& m) {
    return m.invoker.offset * 31 + (m.has_fn ? m.fn.offset : 0);
  }
  std::unordered_map<std::uint64_t, std::chrono::steady_clock::duration> last_;
};

struct resolved_call {
  invoker entry = nullptr;
  const void* fn = nullptr;
};

// The last call resolved: a worker usually receives the same function over and over, and
// resolving walks every loaded module (dl_iterate_phdr).
struct resolve_cache {
  code_ref invoker;
  bool has_fn = false;
  code_ref fn;
  resolved_call call;
  bool valid = false;
};
thread_local resolve_cache last_resolved;

bool same(const code_ref& a, const code_ref& b) {
  return a.offset == b.offset && a.module == b.module;
}

resolved_call resolve(const wire::call_message& message) {
  resolve_cache& c = last_resolved;
  if (c.valid && c.has_fn == message.has_fn && same(c.invoker, message.invoker) &&
      (!message.has_fn || same(c.fn, message.fn))) {
    return c.call;
  }
  resolved_call r;
  r.entry = reinterpret_cast<invoker>(const_cast<void*>(local_address(message.invoker)));
  if (!is_registered_invoker(r.entry)) {
    throw protocol_error("the call's invoker is not one this program registered");
  }
  if (message.has_fn) r.fn = local_address(message.fn);
  c.valid = false;
  c.invoker = message.invoker;
  c.has_fn = message.has_fn;
  c.fn = message.fn;
  c.call = r;
  c.valid = true;
  return r;
}

}  // namespace

std::vector<wire::outcome> run_calls(const wire::call_message& message, block_store* store,
                                     wire::attachment_source& from, serving_link* link) {
  std::vector<wire::outcome> outcomes(message.args.size());
  resolved_call call;
  std::exception_ptr unresolvable;
  try {
    call = resolve(message);
  } catch (...) {
    unresolvable = std::current_exception();
  }
  auto failed = [](wire::outcome& o, const std::exception_ptr& e) {
    o.bytes = payload();
    const std::string bytes = encode_exception(e);
    o.bytes.append(bytes.data(), bytes.size());
    o.ok = false;
  };
  const bool borrow = link && link->borrows_results();
  for (std::size_t i = 0; i < message.args.size(); ++i) {
    wire::outcome& o = outcomes[i];
    if (unresolvable) {
      failed(o, unresolvable);
      continue;
    }
    if (link) link->running(message.id, i);
    if (message.traced) o.start_ns = trace_now_ns();
    try {
      o.bytes = borrow ? payload::borrowing() : payload(store);
      encoded_input in = from.input(message.args[i].bytes);
      in.regions = &message.args[i].regions;
      call.entry(call.fn, in, o.bytes);
      o.ok = true;
    } catch (...) {
      failed(o, std::current_exception());
    }
    if (message.traced) {
      o.end_ns = trace_now_ns();
      o.traced = true;
    }
  }
  return outcomes;
}

int serve(serving_link& link) {
  // A worker: exceptions its calls throw come back with the stack of their throw; its calls'
  // spans go back in its replies, never into a trace file of its own.
  enable_throw_stacks();
  trace_leave_to_parent();
  incoming_frame f;
  call_timings timings;
  while (link.next(f)) {
    switch (f.kind) {
      case wire::kind::call: {
        const wire::call_message message = wire::decode_call(f.payload, *f.from);
        if (link.has_output() && !timings.quick(message)) link.flush();
        const auto start = std::chrono::steady_clock::now();
        std::vector<wire::outcome> outcomes =
            run_calls(message, link.results_store(), *f.from, &link);
        link.idle();
        timings.record(message, std::chrono::steady_clock::now() - start);
        link.reply(message, outcomes);
        if (link.has_output() &&
            std::chrono::steady_clock::now() - link.output_since() > hold_replies) {
          link.flush();
        }
        break;
      }
      case wire::kind::init: {
        const wire::call_message message = wire::decode_call(f.payload, *f.from);
        if (message.args.size() != 1) throw protocol_error("bad init: expected one call");
        const std::vector<wire::outcome> outcomes = run_calls(message, nullptr, *f.from);
        if (outcomes[0].ok) {
          link.send(wire::kind::init_ok, {});
          link.flush();
        } else {
          link.send(wire::kind::init_failed, outcomes[0].bytes.view());
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
  return 0;
}

}  // namespace cfutures::detail
