#include "channel.hpp"

#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "cfutures/detail/futex.hpp"

namespace cfutures::detail::wire {
namespace {

constexpr std::size_t read_chunk = 64 << 10;
constexpr std::size_t max_fds = 253;  // SCM_MAX_FD: per sendmsg, and so per recvmsg

[[noreturn]] void fail(const char* what) {
  throw error(std::string(what) + ": " + std::strerror(errno));
}

// Sends `size` bytes and the memfds of `blocks`. The descriptors go with the first bytes,
// at most max_fds per message; while more remain, a message carries a single byte, so that
// all of them arrive before the frames that use them (every frame is longer than that).
void send_all(int fd, const char* data, std::size_t size, const std::vector<shared_block>& blocks) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)];
  std::size_t next_fd = 0;
  while (size > 0) {
    const std::size_t fds = std::min(blocks.size() - next_fd, max_fds);
    const bool more_fds = next_fd + fds < blocks.size();
    iovec iov{const_cast<char*>(data), more_fds ? 1 : size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fds > 0) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds);
      for (std::size_t i = 0; i < fds; ++i) {
        std::memcpy(CMSG_DATA(c) + i * sizeof(int), &blocks[next_fd + i].fd, sizeof(int));
      }
    }
    const ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write to the other process");
    }
    next_fd += fds;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string_view frame::next_attachment(std::uint64_t length) {
  if (!from_) throw protocol_error("bad frame: an attachment where none can be");
  blocks_.push_back(adopt_block(from_->take_fd(), length));
  return {blocks_.back().data, static_cast<std::size_t>(length)};
}

void frame::give_back(void* self, std::string_view bytes) noexcept {
  auto& f = *static_cast<frame*>(self);
  if (bytes.data() == nullptr) return;
  // An attachment's bytes start its block; the body block (shm frames) is never an item.
  for (std::size_t i = f.body_in_block_ ? 1 : 0; i < f.blocks_.size(); ++i) {
    if (f.blocks_[i].data == bytes.data()) return recycle_block(f.blocks_[i]);
  }
}

void frame::release() noexcept {
  for (auto& b : blocks_) recycle_block(b);
  blocks_.clear();
  body_in_block_ = false;
  from_ = nullptr;
  payload = {};
}

channel::channel(channel&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      out_(std::move(other.out_)),
      out_blocks_(std::move(other.out_blocks_)),
      out_since_(other.out_since_),
      in_(std::move(other.in_)),
      in_begin_(std::exchange(other.in_begin_, 0)),
      in_end_(std::exchange(other.in_end_, 0)),
      fds_(std::move(other.fds_)) {
  other.fds_.clear();
}

channel& channel::operator=(channel&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    out_ = std::move(other.out_);
    out_blocks_ = std::move(other.out_blocks_);
    out_since_ = other.out_since_;
    in_ = std::move(other.in_);
    in_begin_ = std::exchange(other.in_begin_, 0);
    in_end_ = std::exchange(other.in_end_, 0);
    fds_ = std::move(other.fds_);
    other.fds_.clear();
  }
  return *this;
}

channel::~channel() { close(); }

void channel::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  for (int fd : fds_) ::close(fd);
  fds_.clear();
  in_begin_ = in_end_ = 0;
  out_.clear();
  for (auto& b : out_blocks_) drop_block(b);
  out_blocks_.clear();
}

void channel::close_inherited() noexcept {
  if (fd_ >= 0) ::close(fd_);
  for (int fd : fds_) ::close(fd);
}

void channel::put(kind k, std::initializer_list<std::string_view> parts,
                  std::vector<shared_block> attachments) {
  struct dropper {
    std::vector<shared_block>& blocks;
    ~dropper() {
      for (auto& b : blocks) drop_block(b);
    }
  } drop_unsent{attachments};
  std::size_t length = 0;
  for (auto p : parts) length += p.size();
  if (out_.empty()) out_since_ = std::chrono::steady_clock::now();
  if (length <= shm_threshold) {
    const auto head = encode_header(k, length);
    out_.append(head.data(), head.size());
    for (auto p : parts) out_.append(p);
  } else {
    if (length > max_payload) throw protocol_error("message too large to send");
    shared_block body = acquire_block(length, length);
    char* at = body.data;
    for (auto part : parts) {
      std::memcpy(at, part.data(), part.size());
      at += part.size();
    }
    out_blocks_.push_back(body);
    std::string shm;
    writer w(shm);
    w.u32(static_cast<std::uint32_t>(k));
    w.u32(0);
    w.u64(length);
    const auto head = encode_header(kind::shm, shm.size());
    out_.append(head.data(), head.size());
    out_.append(shm);
  }
  for (auto& b : attachments) {
    out_blocks_.push_back(b);
    b = {};
  }
  attachments.clear();
}

void channel::flush() {
  if (out_.empty()) return;
  struct sent {
    channel& c;
    ~sent() {  // sent, or the peer is gone: either way the blocks are no longer ours
      c.out_.clear();
      for (auto& b : c.out_blocks_) drop_block(b);
      c.out_blocks_.clear();
    }
  } done{*this};
  send_all(fd_, out_.data(), out_.size(), out_blocks_);
}

int channel::take_fd() {
  if (fds_.empty()) throw protocol_error("bad frame: a shared payload without its descriptor");
  const int fd = fds_.front();
  fds_.pop_front();
  return fd;
}

bool channel::read_some(int flags) {
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  if (in_.size() - in_end_ < read_chunk) {
    if (in_begin_ > 0) {
      std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    }
    if (in_.size() - in_end_ < read_chunk) in_.resize(in_end_ + read_chunk);
  }
  iovec iov{in_.data() + in_end_, in_.size() - in_end_};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  for (;;) {
    const ssize_t n = recvmsg(fd_, &msg, flags | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == ECONNRESET) return false;
    if (n < 0) fail("cannot read from the other process");
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds_.push_back(fd);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) throw protocol_error("bad frame: too many descriptors");
    if (n == 0) return false;
    in_end_ += static_cast<std::size_t>(n);
    return true;
  }
}

bool channel::receive(bool block, std::chrono::nanoseconds spin) {
  const std::size_t before = in_end_ - in_begin_;
  if (!block) return read_some(MSG_DONTWAIT);
  if (spin.count() > 0) {
    const auto until = std::chrono::steady_clock::now() + spin;
    for (int i = 0;; ++i) {
      if (!read_some(MSG_DONTWAIT)) return false;
      if (in_end_ - in_begin_ != before || !fds_.empty()) return true;
      if ((i & 7) == 7 && std::chrono::steady_clock::now() >= until) break;
      sched_yield();
    }
  }
  // read_some may have compacted the buffer, so compare sizes, not positions.
  const std::size_t held = in_end_ - in_begin_;
  while (in_end_ - in_begin_ == held) {
    if (!read_some(0)) return false;
  }
  return true;
}

bool channel::next(frame& f) {
  f.release();
  if (in_end_ - in_begin_ < header_size) return false;
  const header h = decode_header(in_.data() + in_begin_);
  if (in_end_ - in_begin_ - header_size < h.length) {
    // Make room for the whole frame so that the next reads complete it.
    if (in_.size() - in_begin_ < header_size + h.length) {
      in_.resize(in_begin_ + header_size + h.length + read_chunk);
    }
    return false;
  }
  std::string_view payload(in_.data() + in_begin_, header_size + h.length);
  payload.remove_prefix(header_size);
  in_begin_ += header_size + h.length;
  f.from_ = this;
  if (h.kind != kind::shm) {
    f.kind = h.kind;
    f.payload = payload;
    return true;
  }
  reader r(payload);
  const std::uint32_t k = r.u32();
  if (r.u32() != 0) throw protocol_error("bad shared frame: reserved field set");
  const std::uint64_t length = r.u64();
  r.expect_end();
  if (k < static_cast<std::uint32_t>(kind::hello) || k >= static_cast<std::uint32_t>(kind::shm)) {
    throw protocol_error("bad shared frame: unknown message kind");
  }
  if (length > max_payload) throw protocol_error("bad shared frame: payload over the limit");
  f.kind = static_cast<kind>(k);
  f.payload = f.next_attachment(length);
  f.body_in_block_ = true;
  return true;
}

}  // namespace cfutures::detail::wire
