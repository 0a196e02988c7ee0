#include "protocol.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace cfutures::detail::wire {

std::array<char, header_size> encode_header(kind k, std::size_t length) {
  if (length > max_payload) throw protocol_error("message too large to send");
  std::array<char, header_size> h{};
  const std::uint32_t m = magic;
  const std::uint16_t v = version;
  const auto kk = static_cast<std::uint16_t>(k);
  const auto len = static_cast<std::uint32_t>(length);
  std::memcpy(h.data(), &m, 4);
  std::memcpy(h.data() + 4, &v, 2);
  std::memcpy(h.data() + 6, &kk, 2);
  std::memcpy(h.data() + 8, &len, 4);
  return h;
}

header decode_header(const char* bytes) {
  std::uint32_t m = 0;
  std::uint16_t v = 0;
  std::uint16_t k = 0;
  std::uint32_t len = 0;
  std::uint32_t reserved = 0;
  std::memcpy(&m, bytes, 4);
  std::memcpy(&v, bytes + 4, 2);
  std::memcpy(&k, bytes + 6, 2);
  std::memcpy(&len, bytes + 8, 4);
  std::memcpy(&reserved, bytes + 12, 4);
  if (m != magic) throw protocol_error("bad frame: wrong magic");
  if (v != version) {
    throw protocol_error("bad frame: protocol version " + std::to_string(v) + ", expected " +
                         std::to_string(version));
  }
  if (k < static_cast<std::uint16_t>(kind::hello) || k > static_cast<std::uint16_t>(kind::shm)) {
    throw protocol_error("bad frame: unknown message kind " + std::to_string(k));
  }
  if (len > max_payload) throw protocol_error("bad frame: payload length over the limit");
  if (reserved != 0) throw protocol_error("bad frame: reserved field set");
  return header{static_cast<kind>(k), len};
}

void writer::bytes(std::string_view b) {
  if (b.size() > max_payload) throw protocol_error("value too large to send");
  u32(static_cast<std::uint32_t>(b.size()));
  out_.append(b);
}

void reader::raw(void* p, std::size_t n) {
  if (in_.size() - pos_ < n) throw protocol_error("bad message: truncated");
  std::memcpy(p, in_.data() + pos_, n);
  pos_ += n;
}
std::uint8_t reader::u8() {
  std::uint8_t v = 0;
  raw(&v, sizeof v);
  return v;
}
std::uint32_t reader::u32() {
  std::uint32_t v = 0;
  raw(&v, sizeof v);
  return v;
}
std::uint64_t reader::u64() {
  std::uint64_t v = 0;
  raw(&v, sizeof v);
  return v;
}
std::string_view reader::bytes() {
  const std::uint32_t n = u32();
  if (in_.size() - pos_ < n) throw protocol_error("bad message: length past the end");
  std::string_view out = in_.substr(pos_, n);
  pos_ += n;
  return out;
}
ref_ptr<shared_region> attachment_source::next_region(std::uint64_t) {
  throw protocol_error("bad message: a shared buffer where none can be");
}
ref_ptr<shared_region> attachment_source::held_region(std::uint64_t, std::uint64_t) {
  throw protocol_error("bad message: a shared buffer named where none can be");
}
std::string_view attachment_source::assemble(std::string_view, const std::vector<run_ref>&,
                                             std::uint64_t) {
  throw protocol_error("bad message: borrowed runs where none can be");
}

received_item reader::item(attachment_source& attachments) {
  received_item out;
  std::uint32_t n = u32();
  if (n == regions_item) {
    const std::uint32_t count = u32();
    if (count > (in_.size() - pos_) / 8) throw protocol_error("bad message: too many buffers");
    out.regions.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::uint64_t size = u64();
      out.regions.push_back((size & held_region_flag)
                                ? attachments.held_region(u64(), size & ~held_region_flag)
                                : attachments.next_region(size));
    }
    n = u32();
  }
  out.bytes = n == assembled_item ? assembled(attachments) : item_bytes(n, attachments);
  return out;
}

std::string_view reader::item_bytes(std::uint32_t n, attachment_source& attachments) {
  if (n != attached_item) {
    if (in_.size() - pos_ < n) throw protocol_error("bad message: length past the end");
    const std::string_view bytes = in_.substr(pos_, n);
    pos_ += n;
    return bytes;
  }
  const std::uint64_t length = u64();
  if (length > max_payload) throw protocol_error("bad message: shared item over the limit");
  return attachments.next_attachment(length);
}

std::string_view reader::assembled(attachment_source& attachments) {
  const std::uint32_t count = u32();
  if (count == 0 || count > (in_.size() - pos_) / 16) {
    throw protocol_error("bad message: borrowed run count out of range");
  }
  std::vector<run_ref> runs(count);
  for (auto& run : runs) {
    run.at = u64();
    run.size = u64();
  }
  const std::string_view around = item_bytes(u32(), attachments);
  std::uint64_t total = around.size();
  std::uint64_t at = 0;
  for (const run_ref& run : runs) {
    if (run.at < at || run.at > around.size() || run.size > max_payload - total) {
      throw protocol_error("bad message: borrowed runs out of order or over the limit");
    }
    at = run.at;
    total += run.size;
  }
  return attachments.assemble(around, runs, total);
}

namespace {

// Whether `r` came with one of `answered`'s items.
bool came_with(const shared_region* r, const std::vector<received_item>* answered) {
  if (!answered) return false;
  return std::any_of(answered->begin(), answered->end(), [r](const received_item& item) {
    return std::any_of(item.regions.begin(), item.regions.end(),
                       [r](const auto& h) { return h.get() == r; });
  });
}

// The regions head of `item`, in one pass: each region's size, or (for one that came with
// `answered`) its flagged size and inode; the memfds of the others go to `attachments`
// (when given) as borrowed blocks, in order.
void write_regions(writer& w, const payload& item, std::vector<shared_block>* attachments,
                   const std::vector<received_item>* answered) {
  if (item.regions().empty()) return;
  w.u32(regions_item);
  w.u32(static_cast<std::uint32_t>(item.regions().size()));
  for (const auto& r : item.regions()) {
    if (came_with(r.get(), answered)) {
      w.u64(r->size() | held_region_flag);
      w.u64(r->inode());
      continue;
    }
    w.u64(r->size());
    if (!attachments) continue;
    shared_block borrowed;
    borrowed.fd = r->fd();
    borrowed.region = r;
    attachments->push_back(std::move(borrowed));
  }
}

}  // namespace

void put_regions(writer& w, const payload& item) { write_regions(w, item, nullptr, nullptr); }

void put_item(writer& w, payload& item, std::vector<shared_block>& attachments,
              const std::vector<received_item>* answered) {
  write_regions(w, item, &attachments, answered);
  if (!item.shared()) {
    w.bytes(item.view());
    return;
  }
  if (item.size() > max_payload) throw protocol_error("value too large to send");
  w.u32(attached_item);
  w.u64(item.size());
  attachments.push_back(item.release_block());
}

code_ref reader::ref() {
  code_ref r;
  r.module = std::string(bytes());
  r.offset = u64();
  return r;
}
void reader::expect_end() const {
  if (pos_ != in_.size()) throw protocol_error("bad message: trailing bytes");
}

void encode_call_head(std::string& out, std::uint64_t id, const code_ref& invoker,
                      const code_ref* fn, std::size_t n_args, bool traced) {
  writer w(out);
  w.u64(id);
  w.ref(invoker);
  w.u8((fn ? 1 : 0) | (traced ? 2 : 0));
  if (fn) w.ref(*fn);
  w.u32(static_cast<std::uint32_t>(n_args));
}

call_message decode_call(std::string_view payload, attachment_source& attachments) {
  reader r(payload);
  call_message m;
  m.id = r.u64();
  m.invoker = r.ref();
  const std::uint8_t flags = r.u8();
  if (flags > 3) throw protocol_error("bad call: invalid flags");
  m.has_fn = (flags & 1) != 0;
  m.traced = (flags & 2) != 0;
  if (m.has_fn) m.fn = r.ref();
  const std::uint32_t n = r.u32();
  // Each argument takes at least its 4-byte length: bounds the reservation by the payload.
  if (n > payload.size() / 4) throw protocol_error("bad call: argument count past the end");
  m.args.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) m.args.push_back(r.item(attachments));
  r.expect_end();
  return m;
}

reply_message decode_reply(std::string_view payload, attachment_source& attachments) {
  reader r(payload);
  reply_message m;
  m.id = r.u64();
  const std::uint32_t n = r.u32();
  if (n > payload.size() / 5) throw protocol_error("bad reply: item count past the end");
  m.items.reserve(n);
  bool traced = false;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint8_t flags = r.u8();
    if (flags > 3) throw protocol_error("bad reply: invalid status");
    reply_item item;
    item.ok = (flags & 1) != 0;
    item.traced = (flags & 2) != 0;
    if (item.traced) {
      item.start_ns = r.u64();
      item.end_ns = r.u64();
      traced = true;
    }
    received_item received = r.item(attachments);
    item.bytes = received.bytes;
    item.regions = std::move(received.regions);
    m.items.push_back(std::move(item));
  }
  if (traced) {
    m.pid = r.u32();
    m.tid = r.u32();
  }
  r.expect_end();
  return m;
}

std::string encode_hello(std::uint32_t pid) {
  std::string out;
  writer(out).u32(pid);
  return out;
}

std::uint32_t decode_hello(std::string_view payload) {
  reader r(payload);
  const std::uint32_t pid = r.u32();
  r.expect_end();
  return pid;
}

std::string encode_reply(std::uint64_t id, std::vector<outcome>& outcomes, item_sink& items) {
  std::string out;
  writer w(out);
  w.u64(id);
  w.u32(static_cast<std::uint32_t>(outcomes.size()));
  bool traced = false;
  for (auto& o : outcomes) {
    w.u8((o.ok ? 1 : 0) | (o.traced ? 2 : 0));
    if (o.traced) {
      w.u64(o.start_ns);
      w.u64(o.end_ns);
      traced = true;
    }
    items.put(w, o.bytes);
  }
  if (traced) {
    w.u32(static_cast<std::uint32_t>(getpid()));
    w.u32(static_cast<std::uint32_t>(gettid()));
  }
  return out;
}

std::string encode_shm(kind wrapped, std::uint64_t length) {
  if (length > max_payload) throw protocol_error("message too large to send");
  std::string out;
  writer w(out);
  w.u32(static_cast<std::uint32_t>(wrapped));
  w.u32(0);
  w.u64(length);
  return out;
}

shm_wrapper decode_shm(std::string_view payload) {
  reader r(payload);
  const std::uint32_t k = r.u32();
  if (r.u32() != 0) throw protocol_error("bad shared frame: reserved field set");
  const std::uint64_t length = r.u64();
  r.expect_end();
  if (k < static_cast<std::uint32_t>(kind::hello) || k >= static_cast<std::uint32_t>(kind::shm)) {
    throw protocol_error("bad shared frame: unknown message kind");
  }
  if (length > max_payload) throw protocol_error("bad shared frame: payload over the limit");
  return {static_cast<kind>(k), length};
}

char* frame_reader::room(std::size_t bytes) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (in_.size() - end_ < bytes) {
    if (begin_ > 0) {
      std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (in_.size() - end_ < bytes) in_.resize(end_ + bytes);
  }
  return in_.data() + end_;
}

bool frame_reader::next(cut& out) {
  if (end_ - begin_ < header_size) return false;
  const header h = decode_header(in_.data() + begin_);
  if (end_ - begin_ - header_size < h.length) return false;
  const std::string_view payload(in_.data() + begin_ + header_size, h.length);
  begin_ += header_size + h.length;
  if (h.kind != kind::shm) {
    out = {h.kind, payload, false, 0};
    return true;
  }
  const shm_wrapper wrapped = decode_shm(payload);
  out = {wrapped.kind, {}, true, wrapped.length};
  return true;
}

}  // namespace cfutures::detail::wire
