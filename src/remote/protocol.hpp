// The message protocol between an executor and its workers, defined here and only here:
// each message's layout, with its encoder and decoder side by side. Framed, versioned,
// length-checked. Every message is one frame:
//
//   offset 0  u32 magic "CFUT"   4  u16 version   6  u16 kind   8  u32 payload length
//          12 u32 reserved (0)  16  payload (length bytes, at most max_payload)
//
// All integers little-endian (the machine's; both ends are the same binary). Payloads:
//   hello        worker → parent  u32 pid                       (first message of a worker)
//   init         parent → worker  call body with one argument   (the initializer)
//   init_ok      worker → parent  empty
//   init_failed  worker → parent  exception bytes
//   call         parent → worker  call body: u64 id, invoker ref, u8 flags (bit 0: has_fn,
//                                 bit 1: traced), [fn ref], u32 n, n × item (one serialized
//                                 argument tuple per call)
//   reply        worker → parent  u64 id, u32 n, n × (u8 flags, [u64 start, u64 end], item),
//                                 [u32 pid, u32 tid] — flags bit 0: ok (else the item is
//                                 exception bytes); bit 1: traced, the call's span on the
//                                 worker's CLOCK_MONOTONIC (ns) follows, and the reply ends
//                                 with the process and thread that ran the calls
//   exit         parent → worker  empty                          (finish and end the process)
//   shm          either way       u32 kind, u32 0, u64 length    (a frame of that kind whose
//                                 payload is the frame's first attachment: the process
//                                 pool's wrapper for large bodies, process/channel.hpp)
// where a ref is (bytes module, u64 offset), bytes is (u32 length, length bytes), and an item
// is either bytes or (u32 0xffffffff, u64 length): a payload in shared memory, whose memfd
// travels with the frame (SCM_RIGHTS; the frame's items take the frame's memfds in order).
// An item whose value names shared_buffers starts with (u32 0xfffffffe, u32 n, n × u64
// size): the buffers' memory, which travels as the frame's attachments before the item's
// own (the process pool: their memfds; MPI: a message of their bytes each). A size with bit
// 63 set (held_region_flag) is followed by a u64 inode and takes no attachment: a buffer the
// receiver holds already — a process-pool worker's result naming a buffer that came with
// the call it answers, which the parent's job keeps alive until the reply is read.
// Decoding never trusts a length: every read is bounds-checked and a violation throws
// protocol_error, so a malformed, truncated or lying frame cannot crash the reader or make
// it allocate more than max_payload.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "cfutures/detail/one_or_many.hpp"
#include "cfutures/detail/remote_call.hpp"

namespace cfutures::detail::wire {

constexpr std::uint32_t magic = 0x54554643;  // "CFUT" in memory order
constexpr std::uint16_t version = 3;
constexpr std::size_t header_size = 16;
constexpr std::uint32_t max_payload = 1u << 30;

enum class kind : std::uint16_t {
  hello = 1,
  init = 2,
  init_ok = 3,
  init_failed = 4,
  call = 5,
  reply = 6,
  exit = 7,
  shm = 8,
};

struct header {
  wire::kind kind;
  std::uint32_t length;
};

std::array<char, header_size> encode_header(kind k, std::size_t length);
header decode_header(const char* bytes);  // protocol_error on any inconsistency

class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}
  void u8(std::uint8_t v) { raw(&v, sizeof v); }
  void u32(std::uint32_t v) { raw(&v, sizeof v); }
  void u64(std::uint64_t v) { raw(&v, sizeof v); }
  void bytes(std::string_view b);
  void raw_bytes(std::string_view b) { out_.append(b); }
  void ref(const code_ref& r) {
    bytes(r.module);
    u64(r.offset);
  }

 private:
  void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& out_;
};

constexpr std::uint32_t attached_item = 0xffffffff;
constexpr std::uint32_t regions_item = 0xfffffffe;
constexpr std::uint64_t held_region_flag = std::uint64_t{1} << 63;
// An item with borrowed runs (payload.hpp), as MPI sends it: after its regions,
//   u32 assembled_item, u32 n, n × (u64 at, u64 size), then the bytes around the runs as
//   an item's bytes (inline or attached); the runs follow as attachments, in order.
constexpr std::uint32_t assembled_item = 0xfffffffd;

// A borrowed run as the receiver reads it: `size` bytes that go `at` bytes into the bytes
// around the runs.
struct run_ref {
  std::uint64_t at = 0;
  std::uint64_t size = 0;
};

struct received_item;

// Writes the head of an item whose value names shared_buffers (nothing if none): their
// count and sizes.
void put_regions(writer& w, const payload& item);
// Appends `item` to a frame body: its bytes, or (when it is in shared memory) a reference
// to the next attachment, whose block is moved to `attachments`; its shared_buffers' memfds
// go first, as borrowed blocks — but those that came with `answered` (the items of the
// call this frame replies to: the receiver holds them still) are named by inode.
void put_item(writer& w, payload& item, std::vector<shared_block>& attachments,
              const std::vector<received_item>* answered = nullptr);

// The memfds received with a frame, handed out mapped and in order.
class attachment_source {
 public:
  virtual std::string_view next_attachment(std::uint64_t length) = 0;
  // The next attachment as a shared_buffer's memory of `size` bytes (protocol_error where a
  // transport carries none).
  virtual ref_ptr<shared_region> next_region(std::uint64_t size);
  // A shared_buffer's memory named by inode, which this process holds (protocol_error if it
  // does not, or where a transport never names one so).
  virtual ref_ptr<shared_region> held_region(std::uint64_t inode, std::uint64_t size);
  // An item sent with borrowed runs: `around` with the next runs.size() attachments put in
  // at their places, as one contiguous encoding of total bytes (protocol_error where a
  // transport carries none: only MPI sends them). `runs` are checked: in order, within
  // `around`, adding up to total.
  virtual std::string_view assemble(std::string_view around, const std::vector<run_ref>& runs,
                                    std::uint64_t total);
  // An item of this frame as a value to decode (its consumed() may give memory back).
  virtual encoded_input input(std::string_view bytes) noexcept { return {bytes}; }

 protected:
  ~attachment_source() = default;
};

// An item received: its bytes and the shared_buffers' memory that came with them.
struct received_item {
  std::string_view bytes;
  region_list regions;
};

class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  std::uint8_t u8();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string_view bytes();
  received_item item(attachment_source& attachments);
  code_ref ref();
  void expect_end() const;

 private:
  // The bytes of an item whose first u32 was n: inline, or its attachment.
  std::string_view item_bytes(std::uint32_t n, attachment_source& attachments);
  std::string_view assembled(attachment_source& attachments);
  void raw(void* p, std::size_t n);
  std::string_view in_;
  std::size_t pos_ = 0;
};

struct call_message {
  std::uint64_t id = 0;
  code_ref invoker;
  bool has_fn = false;
  bool traced = false;  // the caller records a trace: replies carry the calls' spans
  code_ref fn;
  std::vector<received_item> args;  // views into the payload
};

// The fixed part of a call payload (everything before the argument list's items), appended
// to `out`.
void encode_call_head(std::string& out, std::uint64_t id, const code_ref& invoker,
                      const code_ref* fn, std::size_t n_args, bool traced = false);
call_message decode_call(std::string_view payload, attachment_source& attachments);

struct reply_item {
  bool ok = false;
  std::string_view bytes;
  region_list regions;  // the memory of the shared_buffers in the value
  bool traced = false;
  std::uint64_t start_ns = 0;  // the worker's CLOCK_MONOTONIC, when traced
  std::uint64_t end_ns = 0;
};
struct reply_message {
  std::uint64_t id = 0;
  one_or_many<reply_item> items;  // most replies answer one call
  std::uint32_t pid = 0;  // who ran the calls, when any is traced
  std::uint32_t tid = 0;
};
reply_message decode_reply(std::string_view payload, attachment_source& attachments);

// An item of a message being encoded: how the transport carries it (inline bytes, or an
// attachment: a memfd for the process pool, a separate message for MPI).
class item_sink {
 public:
  virtual void put(writer& w, payload& item) = 0;

 protected:
  ~item_sink() = default;
};

// The process pool's items: a shared payload's block becomes an attachment (put_item);
// the shared_buffers that came with `answered` are named by inode.
class block_sink final : public item_sink {
 public:
  explicit block_sink(std::vector<shared_block>& attachments,
                      const std::vector<received_item>* answered = nullptr)
      : attachments_(attachments), answered_(answered) {}
  void put(writer& w, payload& item) override { put_item(w, item, attachments_, answered_); }

 private:
  std::vector<shared_block>& attachments_;
  const std::vector<received_item>* answered_;
};

// hello: the worker's first message.
std::string encode_hello(std::uint32_t pid);
std::uint32_t decode_hello(std::string_view payload);

// What a call came to, as a reply item carries it: its result, or its exception
// (encode_exception).
struct outcome {
  bool ok = false;
  payload bytes;
  bool traced = false;  // the call's span follows (the call frame asked for it)
  std::uint64_t start_ns = 0;
  std::uint64_t end_ns = 0;
};
// reply: u64 id, u32 n, n × (u8 flags, [span], item), [u32 pid, u32 tid] of this thread.
std::string encode_reply(std::uint64_t id, std::vector<outcome>& outcomes, item_sink& items);

// shm: the wrapper of a frame whose body is its first attachment.
struct shm_wrapper {
  wire::kind kind{};
  std::uint64_t length = 0;
};
std::string encode_shm(kind wrapped, std::uint64_t length);
shm_wrapper decode_shm(std::string_view payload);

// Cuts frames out of the bytes a transport receives, in arbitrary pieces: the reader every
// transport uses, and the fuzzer's entry point. A frame's payload stays valid until the
// next room().
class frame_reader {
 public:
  struct cut {
    wire::kind kind{};
    std::string_view payload;  // of a shm frame: empty, its body is the first attachment
    bool shm = false;
    std::uint64_t shm_length = 0;
  };
  // Space for at least `bytes` more bytes at the end; commit() what was written there.
  char* room(std::size_t bytes);
  void commit(std::size_t bytes) noexcept { end_ += bytes; }
  std::size_t buffered() const noexcept { return end_ - begin_; }
  void clear() noexcept { begin_ = end_ = 0; }
  // The next complete frame (a shm wrapper decoded); false if none is complete yet.
  // protocol_error on any inconsistency.
  bool next(cut& out);

 private:
  std::string in_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace cfutures::detail::wire
