// A process-pool worker's link to its parent: frames come and go through the channel
// (batched: replies leave together, see remote/serve.hpp), large results in shared blocks.
#include "process/worker_serve.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>

#include "process/channel.hpp"
#include "process/crash_report.hpp"
#include "process/shm_blocks.hpp"
#include "process/worker_status.hpp"
#include "cfutures/detail/shared_region.hpp"
#include "remote/serve.hpp"

namespace cfutures::detail {
namespace {

// How long a worker with nothing to do polls its socket before sleeping in recvmsg (a
// wake-up from sleep costs 15-70 us on a busy machine; an idle worker then burns no CPU).
constexpr std::chrono::microseconds idle_spin(100);

class channel_link final : public serving_link {
 public:
  explicit channel_link(wire::channel& link)
      : link_(link), status_(worker_status::at(link.ring().status_area())) {}

  bool next(incoming_frame& f) override {
    for (;;) {
      if (link_.next(frame_)) {
        f = {frame_.kind, frame_.payload, &frame_};
        return true;
      }
      link_.flush();
      if (!link_.receive(true, idle_spin)) return false;
    }
  }
  void send(wire::kind kind, std::string_view body) override { link_.put(kind, {body}); }
  void reply(const wire::call_message& call, std::vector<wire::outcome>& outcomes) override {
    // A result naming a shared_buffer that came with the call names it by inode: the parent
    // holds it until this reply is read (its job keeps the arguments), so no memfd crosses.
    std::vector<shared_block> attachments;
    wire::block_sink items(attachments, &call.args);
    const std::string body = wire::encode_reply(call.id, outcomes, items);
    link_.put(wire::kind::reply, {body}, std::move(attachments));
  }
  void flush() override { link_.flush(); }
  bool has_output() const noexcept override { return link_.has_output(); }
  std::chrono::steady_clock::time_point output_since() const noexcept override {
    return link_.output_since();
  }
  block_store* results_store() const noexcept override { return shm_store(); }
  void running(std::uint64_t id, std::size_t item) noexcept override { status_.running(id, item); }
  void idle() noexcept override { status_.idle(); }

 private:
  wire::channel& link_;
  worker_status& status_;
  wire::frame frame_;
};

}  // namespace

int serve_worker(int fd) {
  forget_inherited_blocks();
  // Many calls over one shared_buffer map it once (shared_region.hpp).
  enable_region_cache();
  try {
    wire::channel link = wire::channel::worker_end(fd);
    link.put(wire::kind::hello, {wire::encode_hello(static_cast<std::uint32_t>(getpid()))});
    link.flush();
    channel_link serving(link);
    // A fault in a call leaves its stack in the status page for the parent to name.
    install_crash_handlers(
        reinterpret_cast<crash_record*>(worker_status::at(link.ring().status_area()).crash_area()));
    return serve(serving);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cfutures worker %d: %s\n", static_cast<int>(getpid()), e.what());
    return 2;
  }
}

}  // namespace cfutures::detail
