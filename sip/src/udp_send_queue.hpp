// SPDX-License-Identifier: GPL-3.0-or-later
// Outgoing SIP datagrams held for the rest of one processing pass and sent
// with sendmmsg(2), one system call per socket (hot path).  A call is ~17 datagrams; one sendto each was ~14 % of
// msgw-control's CPU at 700 calls/s, most of it the per-call entry cost.
//
// Order: each socket's datagrams leave in the order they were queued, so
// two datagrams of one flow never swap; the sockets' runs are not ordered
// among themselves (they go to other peers from other addresses).
// Bounded: at kCapacity datagrams push() sends what is queued first, so a
// datagram waits at most for the rest of its pass or 63 later datagrams.
// Memory: the bytes are copied into one arena that keeps its capacity, so a
// steady state allocates nothing per datagram.
// Errors: each datagram the kernel refuses is counted (Stats::tx_errors,
// as a refused sendto was) and reported with its tag; the datagrams after
// it are still sent.  The queue never retries: UDP's reliability is SIP's
// retransmissions, as before.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "msgw/sip/limits.hpp"
#include "msgw/sip/transport.hpp"

namespace msgw::sip {

class UdpSendQueue {
 public:
  static constexpr std::size_t kCapacity = 64;
  // sendmmsg(2)'s contract: datagrams sent from the front (>= 1), or -1 and
  // errno for the first one.  Tests substitute partial sends and errors.
  using SendFn = std::function<int(int fd, mmsghdr* msgs, unsigned count)>;
  // A datagram the kernel refused: the tag it was queued with, and errno.
  // Called during flush(): it must record, not push (the queue is being sent).
  using FailFn = std::function<void(uint64_t tag, int error)>;

  // Counts into stats.tx_messages / tx_errors as datagrams leave.
  UdpSendQueue(Stats& stats, FailFn on_fail, SendFn send = {});

  // Copies `bytes`; sends the queue first when it is full.
  void push(int fd, const Endpoint& dst, std::string_view bytes, uint64_t tag);
  // Sends everything queued; returns how many system calls it made.
  std::size_t flush();

  // Whether a queued datagram goes to `dst` (a datagram sent another way
  // now must not overtake it: SocketTransport's datagram path).
  bool queued_to(const Endpoint& dst) const;
  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }

 private:
  struct Entry {
    int fd;
    socklen_t dst_len;
    std::size_t offset, length;  // in arena_
    uint64_t tag;
    sockaddr_storage dst;
  };
  std::size_t send_run(std::size_t begin, std::size_t end);
  void failed(std::size_t index, int error);

  Stats& stats_;
  FailFn on_fail_;
  SendFn send_;
  std::array<Entry, kCapacity> entries_{};
  std::size_t count_ = 0;
  std::string arena_;
  std::array<mmsghdr, kCapacity> msgs_{};
  std::array<iovec, kCapacity> iov_{};
};

}  // namespace msgw::sip
