#include "process/channel.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "cfutures/detail/futex.hpp"
#include "process/shm_blocks.hpp"

namespace cfutures::detail::wire {
namespace {

constexpr std::size_t max_fds = 253;  // SCM_MAX_FD: per sendmsg, and so per recvmsg

[[noreturn]] void fail(const char* what) {
  throw error(std::string(what) + ": " + std::strerror(errno));
}

// Sends the descriptors `fds` as SCM_RIGHTS, at most max_fds per message of one byte;
// returns the number of messages (so of bytes) sent.
std::size_t send_descriptors(int fd, const std::vector<int>& fds) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)];
  std::size_t next = 0;
  std::size_t messages = 0;
  while (next < fds.size()) {
    const std::size_t count = std::min(fds.size() - next, max_fds);
    char byte = 0;
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(c), fds.data() + next, sizeof(int) * count);
    if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0) {
      if (errno == EINTR) continue;
      fail("cannot write to the other process");
    }
    next += count;
    ++messages;
  }
  return messages;
}

std::vector<int> descriptors(const std::vector<shared_block>& blocks) {
  std::vector<int> fds;
  fds.reserve(blocks.size());
  for (const auto& b : blocks) fds.push_back(b.fd);
  return fds;
}

// How long a writer facing a full ring spins before it sleeps, and how often it then looks
// whether the reader is gone.
constexpr std::chrono::microseconds room_spin(50);
constexpr std::chrono::milliseconds room_check(10);

}  // namespace

std::string_view frame::next_attachment(std::uint64_t length) {
  if (!from_) throw protocol_error("bad frame: an attachment where none can be");
  blocks_.push_back(adopt_block(from_->take_fd(), length));
  return {blocks_.back().data, static_cast<std::size_t>(length)};
}

ref_ptr<shared_region> frame::next_region(std::uint64_t size) {
  if (!from_) throw protocol_error("bad frame: a shared buffer where none can be");
  return shared_region::adopt(from_->take_fd(), size);
}

ref_ptr<shared_region> frame::held_region(std::uint64_t inode, std::uint64_t size) {
  ref_ptr<shared_region> r = shared_region::held(inode, size);
  if (!r) throw protocol_error("bad frame: a shared buffer named that this process does not hold");
  return r;
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
      ring_(std::move(other.ring_)),
      wake_parent_fd_(std::exchange(other.wake_parent_fd_, -1)),
      signals_read_(std::exchange(other.signals_read_, 0)),
      out_(std::move(other.out_)),
      out_blocks_(std::move(other.out_blocks_)),
      out_since_(other.out_since_),
      in_(std::move(other.in_)),
      fds_(std::move(other.fds_)) {
  other.fds_.clear();
}

channel& channel::operator=(channel&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    ring_ = std::move(other.ring_);
    wake_parent_fd_ = std::exchange(other.wake_parent_fd_, -1);
    signals_read_ = std::exchange(other.signals_read_, 0);
    out_ = std::move(other.out_);
    out_blocks_ = std::move(other.out_blocks_);
    out_since_ = other.out_since_;
    in_ = std::move(other.in_);
    fds_ = std::move(other.fds_);
    other.fds_.clear();
  }
  return *this;
}

channel::~channel() { close(); }

void channel::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (wake_parent_fd_ >= 0) ::close(wake_parent_fd_);
  wake_parent_fd_ = -1;
  for (int fd : fds_) ::close(fd);
  fds_.clear();
  in_.clear();
  out_.clear();
  for (auto& b : out_blocks_) drop_block(b);
  out_blocks_.clear();
}

void channel::close_inherited() noexcept {
  if (fd_ >= 0) ::close(fd_);
  if (wake_parent_fd_ >= 0) ::close(wake_parent_fd_);
  for (int fd : fds_) ::close(fd);
  ring_.unmap();
}

channel channel::parent_end(int fd, int wake_fd) {
  channel c(fd);
  int memfd = -1;
  c.ring_ = shared_ring::create(memfd);
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_after{memfd};
  send_descriptors(fd, {memfd, wake_fd});
  return c;
}

channel channel::worker_end(int fd) {
  channel c(fd);
  while (c.fds_.empty()) {
    if (!c.read_signals(0)) throw error("the process pool ended before the worker started");
  }
  if (c.fds_.size() != 2 || c.signals_read_ != 1) {
    throw protocol_error("bad start: expected the shared ring and the pool's eventfd alone");
  }
  const int memfd = c.fds_.front();  // attach() closes it, even when it fails
  c.wake_parent_fd_ = c.fds_.back();
  c.fds_.clear();
  c.ring_ = shared_ring::attach(memfd);
  c.signals_read_ = 0;  // the parent counts the bytes sent after this one
  return c;
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
    const std::string shm = encode_shm(k, length);
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
  // The memfds first, on the socket: before the bytes of the frames that use them.
  if (!out_blocks_.empty()) ring_.sent_signals(send_descriptors(fd_, descriptors(out_blocks_)));
  const char* data = out_.data();
  std::size_t left = out_.size();
  while (left > 0) {
    const std::size_t n = ring_.write(data, left);
    data += n;
    left -= n;
    if (n > 0 && ring_.reader_needs_wake() && !wake_reader()) {
      fail("cannot write to the other process");
    }
    if (left > 0 && n == 0) wait_for_room();
  }
}

// Wakes the sleeping reader of the ring; false if the peer is gone. The parent sleeps in
// poll() over many workers: a worker writes the manager's eventfd, which no other thread of
// the parent reads (a byte in the socket could be read by a thread other than the sleeping
// one, and the wake-up would be lost). A worker sleeps reading its socket: the parent sends
// one byte. A full socket (EAGAIN) means bytes wait there already, which wake it as well.
bool channel::wake_reader() noexcept {
  if (wake_parent_fd_ >= 0) {
    const std::uint64_t one = 1;
    return ::write(wake_parent_fd_, &one, sizeof one) == sizeof one || errno == EAGAIN;
  }
  const char byte = 0;
  for (;;) {
    const ssize_t n = send(fd_, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == 1) {
      ring_.sent_signals(1);
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// The ring is full: spins for room_spin, then sleeps until the reader, having read, wakes
// it — looking every room_check whether the peer is gone (error). The socket is not read
// here: what waits there is for the reader of this end.
void channel::wait_for_room() {
  const spin_wait spin(room_spin);
  do {
    if (ring_.writable()) return;
  } while (spin.next());
  while (!ring_.sleep_for_room(room_check)) {
    pollfd p{fd_, POLLRDHUP, 0};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
      errno = EPIPE;
      fail("cannot write to the other process");
    }
  }
}

int channel::take_fd() {
  // The memfds were sent before the frame that needs them: they are waiting in the socket,
  // behind any wake-up bytes.
  while (fds_.empty()) {
    const std::uint64_t had = signals_read_;
    if (!read_signals(MSG_DONTWAIT) || signals_read_ == had) break;
  }
  if (fds_.empty()) throw protocol_error("bad frame: a shared payload without its descriptor");
  const int fd = fds_.front();
  fds_.pop_front();
  return fd;
}

// One recvmsg into `to`: the descriptors that come with the bytes join fds_. Returns the
// byte count, 0 at the end of the stream (or a reset), -1 when nothing is there (nonblocking).
ssize_t channel::receive_bytes(char* to, std::size_t size, int flags) {
  iovec iov{to, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  for (;;) {
    const ssize_t n = recvmsg(fd_, &msg, flags | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
    if (n < 0 && errno == ECONNRESET) return 0;
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
    return n;
  }
}

// Reads the socket's wake-up bytes and memfds (a blocking read with flags 0).
// Returns false at the end of the stream.
bool channel::read_signals(int flags) {
  char bytes[256];
  for (;;) {
    const ssize_t n = receive_bytes(bytes, sizeof bytes, flags);
    if (n == 0) return false;
    if (n < 0) return true;
    signals_read_ += static_cast<std::uint64_t>(n);
    if (static_cast<std::size_t>(n) < sizeof bytes) return true;
    flags |= MSG_DONTWAIT;
  }
}

// Reads the socket if bytes were sent on it (memfds, wake-ups), then moves what
// the ring holds into the input buffer. In this order: a frame's memfds are sent before its
// bytes are written, and a wake-up after them. Returns false at the end of the stream.
bool channel::pull() {
  if (ring_.signals_pending(signals_read_) && !read_signals(MSG_DONTWAIT)) return false;
  const std::size_t n = ring_.readable();
  if (n > 0) {
    ring_.read(in_.room(n), n);
    in_.commit(n);
  }
  return true;
}

bool channel::receive(bool block, std::chrono::nanoseconds spin) {
  // pull() may compact the buffer, so compare sizes, not positions.
  const std::size_t held = in_.buffered();
  const std::size_t fds = fds_.size();
  const auto arrived = [&] { return in_.buffered() != held || fds_.size() != fds; };
  if (!pull()) return false;
  if (!block || arrived()) return true;
  const auto until = std::chrono::steady_clock::now() + spin;
  for (int i = 0; spin.count() > 0; ++i) {
    sched_yield();
    if (!pull()) return false;
    if (arrived()) return true;
    if ((i & 7) == 7 && std::chrono::steady_clock::now() >= until) break;
  }
  for (;;) {
    if (!ring_.sleep_for_bytes()) {
      const bool open = read_signals(0);  // until a wake-up byte, a memfd or the end
      ring_.awake();
      if (!open) return false;
    }
    if (!pull()) return false;
    if (arrived()) return true;
  }
}

bool channel::receive_polled() {
  const bool open = read_signals(MSG_DONTWAIT);  // the end of stream shows here
  return pull() && open;                         // what was written before the end is still read
}

bool channel::next(frame& f) {
  f.release();
  frame_reader::cut c;
  if (!in_.next(c)) return false;
  f.from_ = this;
  f.kind = c.kind;
  if (!c.shm) {
    f.payload = c.payload;
    return true;
  }
  f.payload = f.next_attachment(c.shm_length);
  f.body_in_block_ = true;
  return true;
}

}  // namespace cfutures::detail::wire
