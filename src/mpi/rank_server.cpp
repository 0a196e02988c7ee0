#include "mpi/rank_server.hpp"

#include <cstdio>
#include <exception>
#include <vector>

#include "mpi/mpi_environment.hpp"

namespace cfutures::detail {
namespace {

mpi_messages::outgoing_frame reply_frame(std::uint64_t id, std::vector<wire::outcome>& outcomes,
                                         bool attach_large) {
  mpi_messages::outgoing_frame frame(attach_large);
  frame.bytes() += wire::encode_reply(id, outcomes, frame);
  frame.seal(wire::kind::reply);
  return frame;
}

// A serving rank's link to the root: one MPI message per frame, sent at once (MPI batches
// nothing here: the root sends one call message per rank at a time).
class rank_link final : public serving_link {
 public:
  rank_link(MPI_Comm comm, int root) : comm_(comm), root_(root) {}

  bool next(incoming_frame& f) override {
    MPI_Message message;
    MPI_Status status;
    check_mpi(MPI_Mprobe(root_, mpi_messages::tag_frame, comm_, &message, &status), "MPI_Mprobe");
    const std::string_view bytes = mpi_messages::receive_matched(message, status, buffer_);
    f.kind = mpi_messages::open_frame(bytes, f.payload);
    attachments_.expect_from(comm_, root_);
    f.from = &attachments_;
    return true;
  }
  void send(wire::kind kind, std::string_view body) override {
    mpi_messages::outgoing_frame frame;
    frame.bytes() += body;
    frame.seal(kind);
    frame.send(root_, comm_);
  }
  void reply(const wire::call_message& call, std::vector<wire::outcome>& outcomes) override {
    reply_frame(call.id, outcomes, true).send(root_, comm_);
  }
  void flush() override {}
  bool has_output() const noexcept override { return false; }
  std::chrono::steady_clock::time_point output_since() const noexcept override { return {}; }
  block_store* results_store() const noexcept override { return nullptr; }  // bytes cross hosts
  bool borrows_results() const noexcept override { return true; }

 private:
  MPI_Comm comm_;
  int root_;
  mpi_messages::receive_buffer buffer_;
  mpi_messages::incoming_attachments attachments_;
};

}  // namespace

void answer_call(std::string_view call_payload, wire::attachment_source& attachments,
                 bool attach_large, call_answer& answer) {
  const wire::call_message call = wire::decode_call(call_payload, attachments);
  answer.outcomes = run_calls(call, nullptr, attachments);
  answer.reply = reply_frame(call.id, answer.outcomes, attach_large);
}

void serve_rank(MPI_Comm comm, int root) noexcept {
  try {
    rank_link link(comm, root);
    serve(link);
  } catch (const std::exception& e) {
    int rank = -1;
    MPI_Comm_rank(comm, &rank);
    std::fprintf(stderr, "cfutures::mpi::comm_executor, rank %d: %s; aborting the job\n", rank,
                 e.what());
    std::fflush(stderr);
    MPI_Abort(comm, 2);
  }
}

}  // namespace cfutures::detail
