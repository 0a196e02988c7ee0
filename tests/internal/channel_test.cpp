// The channel between a process pool and a worker over its shared-memory ring
// (src/process/channel.hpp, shared_ring.hpp): both ends live in this process here, the worker's
// end driven by a thread of its own, as a worker process would.
#include "process/channel.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cfutures/detail/payload.hpp"
#include "cfutures/detail/shared_region.hpp"
#include "cfutures/errors.hpp"
#include "patterned_bytes.hpp"
#include "process/shm_blocks.hpp"

namespace {

namespace wire = cfutures::detail::wire;
using namespace std::chrono_literals;

// The parent's end (with its eventfd) and the worker's end of one connection.
struct connection {
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  wire::channel parent;
  wire::channel worker;

  connection() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      throw std::runtime_error("socketpair");
    parent = wire::channel::parent_end(sv[0], wake_fd);
    worker = wire::channel::worker_end(sv[1]);
  }
  ~connection() { ::close(wake_fd); }
};

// Receives on `link` (blocking) until `count` frames have arrived; returns their payloads.
std::vector<std::string> receive_frames(wire::channel& link, std::size_t count) {
  std::vector<std::string> got;
  wire::frame f;
  while (got.size() < count) {
    while (link.next(f)) got.emplace_back(f.payload);
    if (got.size() < count && !link.receive(true)) break;
  }
  return got;
}

TEST(Channel, FramesArriveInOrderAcrossTheEndOfTheRing) {
  connection c;
  constexpr std::size_t frames = 3000;  // ~7.5 MiB: the ring wraps around many times
  std::vector<std::string> got;
  std::thread reader([&] { got = receive_frames(c.worker, frames); });
  for (std::size_t i = 0; i < frames; ++i) {
    c.parent.put(wire::kind::call,
                 {patterned(1 + (i * 977) % 5000, static_cast<std::uint32_t>(i))});
    if (i % 7 == 6) c.parent.flush();
  }
  c.parent.flush();
  reader.join();
  ASSERT_EQ(got.size(), frames);
  for (std::size_t i = 0; i < frames; ++i) {
    ASSERT_EQ(got[i], patterned(1 + (i * 977) % 5000, static_cast<std::uint32_t>(i))) << i;
  }
}

TEST(Channel, ABatchLargerThanTheRingWaitsForRoom) {
  connection c;
  constexpr std::size_t frames = 24;  // 24 × 60 KiB: over five times the ring
  for (std::size_t i = 0; i < frames; ++i) {
    c.parent.put(wire::kind::call, {patterned(60 << 10, static_cast<std::uint32_t>(i))});
  }
  std::vector<std::string> got;
  std::thread reader([&] {
    std::this_thread::sleep_for(100ms);  // the writer fills the ring and sleeps meanwhile
    got = receive_frames(c.worker, frames);
  });
  c.parent.flush();
  reader.join();
  ASSERT_EQ(got.size(), frames);
  for (std::size_t i = 0; i < frames; ++i) {
    EXPECT_EQ(got[i], patterned(60 << 10, static_cast<std::uint32_t>(i))) << i;
  }
}

TEST(Channel, SharedPayloadsArriveWithTheirFrames) {
  connection c;
  constexpr std::size_t frames = 40;
  for (std::size_t i = 0; i < frames; ++i) {
    const std::string label = "frame " + std::to_string(i);
    if (i % 3 == 0) {
      c.parent.put(wire::kind::call, {label});
      continue;
    }
    const std::string bytes = patterned(100000 + i, static_cast<std::uint32_t>(i));
    auto block = cfutures::detail::acquire_block(bytes.size(), bytes.size());
    std::memcpy(block.data, bytes.data(), bytes.size());
    std::vector<cfutures::detail::shared_block> attachments;
    attachments.push_back(block);
    c.parent.put(wire::kind::call, {label}, std::move(attachments));
    if (i % 5 == 0) c.parent.flush();
  }
  c.parent.flush();
  std::size_t seen = 0;
  wire::frame f;
  while (seen < frames) {
    while (seen < frames && c.worker.next(f)) {
      EXPECT_EQ(f.payload, "frame " + std::to_string(seen));
      if (seen % 3 != 0) {
        const auto attached = f.next_attachment(100000 + seen);
        EXPECT_EQ(attached, patterned(100000 + seen, static_cast<std::uint32_t>(seen))) << seen;
      }
      ++seen;
    }
    if (seen < frames) ASSERT_TRUE(c.worker.receive(true));
  }
}

// A worker's result naming a shared_buffer that came with the call names it by inode: only
// the other buffer's memfd crosses, and the parent finds its own region again.
TEST(Channel, ABufferTheReceiverHoldsIsNamedNotSent) {
  using cfutures::detail::shared_region;
  connection c;
  auto held = shared_region::create(4096);
  auto other = shared_region::create(8192);
  cfutures::detail::payload item;
  item.append("x", 1);
  cfutures::detail::payload::regions_to_add(&item).push_back(held);
  cfutures::detail::payload::regions_to_add(&item).push_back(other);
  std::string body;
  wire::writer w(body);
  std::vector<cfutures::detail::shared_block> attachments;
  std::vector<wire::received_item> answered(1);
  answered[0].regions.push_back(held);
  wire::put_item(w, item, attachments, &answered);
  ASSERT_EQ(attachments.size(), 1u);
  EXPECT_EQ(attachments[0].fd, other->fd());
  c.worker.put(wire::kind::reply, {body}, std::move(attachments));
  c.worker.flush();
  wire::frame f;
  while (!c.parent.next(f)) ASSERT_TRUE(c.parent.receive(true));
  wire::reader r(f.payload);
  const wire::received_item got = r.item(f);
  ASSERT_EQ(got.regions.size(), 2u);
  EXPECT_EQ(got.regions[0].get(), held.get());
  EXPECT_EQ(got.regions[1].get(), other.get());
  EXPECT_EQ(got.bytes, "x");
}

// A buffer named that this process does not hold (any more), or with another size, is a
// protocol error: never a mapping of something else.
TEST(Channel, ANamedBufferThisProcessDoesNotHoldIsAProtocolError) {
  using cfutures::detail::shared_region;
  auto live = shared_region::create(4096);
  std::uint64_t gone_inode = 0;
  {
    auto gone = shared_region::create(4096);
    gone_inode = gone->inode();
  }
  const auto named = [](std::uint64_t inode, std::uint64_t size) {
    std::string body;
    wire::writer w(body);
    w.u32(wire::regions_item);
    w.u32(1);
    w.u64(size | wire::held_region_flag);
    w.u64(inode);
    w.bytes("x");
    return body;
  };
  for (const std::string& body : {named(gone_inode, 4096), named(live->inode(), 8192)}) {
    connection c;
    c.worker.put(wire::kind::reply, {body});
    c.worker.flush();
    wire::frame f;
    while (!c.parent.next(f)) ASSERT_TRUE(c.parent.receive(true));
    wire::reader r(f.payload);
    EXPECT_THROW(r.item(f), cfutures::protocol_error);
  }
}

TEST(Channel, ASleepingWorkerIsWokenByTheParentsWrite) {
  connection c;
  std::vector<std::string> got;
  std::thread reader([&] { got = receive_frames(c.worker, 1); });
  std::this_thread::sleep_for(50ms);  // past the worker's spin: it sleeps reading its socket
  c.parent.put(wire::kind::call, {"wake up"});
  c.parent.flush();
  reader.join();
  EXPECT_EQ(got, std::vector<std::string>{"wake up"});
}

TEST(Channel, ASleepingParentIsWokenThroughItsEventfd) {
  connection c;
  ASSERT_FALSE(c.parent.ring().sleep_for_bytes());  // nothing yet: the parent goes to sleep
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    c.worker.put(wire::kind::reply, {"done"});
    c.worker.flush();
  });
  pollfd p{c.wake_fd, POLLIN, 0};
  const int ready = poll(&p, 1, 20000);
  c.parent.ring().awake();
  writer.join();
  ASSERT_EQ(ready, 1);
  std::uint64_t count = 0;
  EXPECT_EQ(::read(c.wake_fd, &count, sizeof count), static_cast<ssize_t>(sizeof count));
  EXPECT_TRUE(c.parent.input_waiting());
  ASSERT_TRUE(c.parent.receive(false));
  wire::frame f;
  ASSERT_TRUE(c.parent.next(f));
  EXPECT_EQ(f.kind, wire::kind::reply);
  EXPECT_EQ(f.payload, "done");
}

TEST(Channel, AnAwakeParentIsNotWoken) {
  connection c;
  c.worker.put(wire::kind::reply, {"done"});
  c.worker.flush();
  std::uint64_t count = 0;
  EXPECT_EQ(::read(c.wake_fd, &count, sizeof count), -1);  // EAGAIN: no system call was spent
  EXPECT_TRUE(c.parent.input_waiting());
}

TEST(Channel, TheWorkerSeesTheEndWhileItSleeps) {
  connection c;
  bool open = true;
  std::thread reader([&] { open = c.worker.receive(true); });
  std::this_thread::sleep_for(50ms);
  c.parent.close();
  reader.join();
  EXPECT_FALSE(open);
}

TEST(Channel, AWriterWaitingForRoomFailsOnceTheReaderIsGone) {
  connection c;
  for (int i = 0; i < 8; ++i) c.parent.put(wire::kind::call, {patterned(60 << 10, 1)});
  std::thread closer([&] {
    std::this_thread::sleep_for(100ms);  // the writer has filled the ring and sleeps
    c.worker.close();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(c.parent.flush(), std::exception);
  closer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(Channel, PositionsMadeInconsistentByThePeerAreAProtocolError) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  wire::channel parent = wire::channel::parent_end(sv[0], wake_fd);
  // The worker's end by hand: the ring's memfd and the eventfd, then the mapping.
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ASSERT_EQ(recvmsg(sv[1], &msg, MSG_CMSG_CLOEXEC), 1);
  int fds[2];
  std::memcpy(fds, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof fds);
  const std::size_t size = 4096 + 2 * wire::shared_ring::capacity;
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
  ASSERT_NE(base, MAP_FAILED);
  auto* controls = static_cast<wire::shared_ring::control*>(base);

  // worker → parent: more bytes than the ring holds
  controls[1].tail.store(wire::shared_ring::capacity + 1);
  EXPECT_THROW(parent.receive(false), cfutures::detail::protocol_error);
  // parent → worker: the reader ahead of the writer
  controls[0].head.store(5);
  parent.put(wire::kind::call, {"call"});
  EXPECT_THROW(parent.flush(), cfutures::detail::protocol_error);

  munmap(base, size);
  for (int fd : {fds[0], fds[1], sv[1], wake_fd}) ::close(fd);
}

}  // namespace
