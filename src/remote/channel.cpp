#include "channel.hpp"

#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#include "cfutures/detail/futex.hpp"

namespace cfutures::detail::wire {
namespace {

constexpr std::size_t read_chunk = 64 << 10;
constexpr std::size_t max_fds_per_read = 8;

[[noreturn]] void fail(const char* what) {
  throw error(std::string(what) + ": " + std::strerror(errno));
}

void send_all(int fd, std::vector<iovec>& iov, int memfd) {
  std::size_t first = 0;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  while (first < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = std::min<std::size_t>(iov.size() - first, IOV_MAX);
    if (memfd >= 0) {  // only with the first byte of the frame that refers to it
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &memfd, sizeof(int));
    }
    const ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write to the other process");
    }
    memfd = -1;
    auto left = static_cast<std::size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
}

}  // namespace

shared_bytes::shared_bytes(int fd, std::size_t length) : length_(length) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) < length) {
    ::close(fd);
    throw protocol_error("bad shared frame: the memory is smaller than its length");
  }
  if (length > 0) {
    data_ = mmap(nullptr, length, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  }
  ::close(fd);
  if (data_ == MAP_FAILED) {
    data_ = nullptr;
    length_ = 0;
    fail("cannot map a shared payload");
  }
}

shared_bytes::shared_bytes(shared_bytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), length_(std::exchange(other.length_, 0)) {}

shared_bytes& shared_bytes::operator=(shared_bytes&& other) noexcept {
  if (this != &other) {
    if (data_) munmap(data_, length_);
    data_ = std::exchange(other.data_, nullptr);
    length_ = std::exchange(other.length_, 0);
  }
  return *this;
}

shared_bytes::~shared_bytes() {
  if (data_) munmap(data_, length_);
}

channel::channel(channel&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      out_(std::move(other.out_)),
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
}

void channel::close_inherited() noexcept {
  if (fd_ >= 0) ::close(fd_);
  for (int fd : fds_) ::close(fd);
}

void channel::put(kind k, std::initializer_list<std::string_view> parts) {
  put(k, std::vector<std::string_view>(parts));
}

void channel::put(kind k, const std::vector<std::string_view>& parts) {
  std::size_t length = 0;
  for (auto p : parts) length += p.size();
  if (length > shm_threshold) {
    send_shared(k, parts, length);
    return;
  }
  if (out_.empty()) out_since_ = std::chrono::steady_clock::now();
  const auto head = encode_header(k, length);
  out_.append(head.data(), head.size());
  for (auto p : parts) out_.append(p);
}

void channel::send_shared(kind k, const std::vector<std::string_view>& parts, std::size_t length) {
  if (length > max_payload) throw protocol_error("message too large to send");
  // What is queued goes first: frames keep their order.
  flush();
  const int memfd = memfd_create("cfutures", MFD_CLOEXEC);
  if (memfd < 0) fail("memfd_create");
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_memfd{memfd};
  if (ftruncate(memfd, static_cast<off_t>(length)) != 0) fail("cannot size a shared payload");
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, memfd, 0);
  if (p == MAP_FAILED) fail("cannot map a shared payload");
  char* at = static_cast<char*>(p);
  for (auto part : parts) {
    std::memcpy(at, part.data(), part.size());
    at += part.size();
  }
  munmap(p, length);
  std::string body;
  writer w(body);
  w.u32(static_cast<std::uint32_t>(k));
  w.u32(0);
  w.u64(length);
  const auto head = encode_header(kind::shm, body.size());
  std::vector<iovec> iov{{const_cast<char*>(head.data()), head.size()}, {body.data(), body.size()}};
  send_all(fd_, iov, memfd);
}

void channel::flush() {
  if (out_.empty()) return;
  std::vector<iovec> iov{{out_.data(), out_.size()}};
  send_all(fd_, iov, -1);
  out_.clear();
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
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_read)];
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
  f.shared = shared_bytes();
  if (in_end_ - in_begin_ < header_size) return false;
  const header h = decode_header(in_.data() + in_begin_);
  if (in_end_ - in_begin_ - header_size < h.length) {
    // Make room for the whole frame so that the next reads complete it.
    if (in_.size() - in_begin_ < header_size + h.length) {
      in_.resize(in_begin_ + header_size + h.length + read_chunk);
    }
    return false;
  }
  std::string_view payload(in_.data() + in_begin_ + header_size, h.length);
  in_begin_ += header_size + h.length;
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
  if (fds_.empty()) throw protocol_error("bad shared frame: no descriptor");
  const int fd = fds_.front();
  fds_.pop_front();
  f.kind = static_cast<kind>(k);
  f.shared = shared_bytes(fd, length);
  f.payload = f.shared.view();
  return true;
}

}  // namespace cfutures::detail::wire
