// A process-pool worker: the remote core's serve loop (remote/serve.hpp) over the channel
// to its parent.
#pragma once

namespace cfutures::detail {

// Serves on the socket `fd` until told to exit or the parent goes away; returns the exit
// code the process should end with (0; 2 after a protocol error; 3 if the initializer
// failed).
int serve_worker(int fd);

}  // namespace cfutures::detail
