// The worker loop, written once for every out-of-process executor: reads frames, runs calls,
// writes replies. Driven here by a socket (process pool, through channel.hpp: calls arrive in
// batches, replies leave in batches, the worker spins briefly before sleeping); the MPI
// executor drives the same call runner over MPI messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "channel.hpp"
#include "protocol.hpp"

namespace cfutures::detail {

struct call_outcome {
  bool ok = false;
  payload bytes;  // the result, or the exception (encode_exception)
};

// Runs every call of a decoded call message, in order. With `from` (the frame the message
// came in), each call's arguments give their shared block back once decoded, so that its
// result can be encoded into it.
std::vector<call_outcome> run_calls(const wire::call_message& message,
                                    wire::frame* from = nullptr);

// Serves on the socket `fd` until told to exit or the parent goes away; returns the exit
// code the process should end with (0, or 2 after a protocol error).
int serve_worker(int fd);

}  // namespace cfutures::detail
