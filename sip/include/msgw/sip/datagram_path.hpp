// SPDX-License-Identifier: GPL-3.0-or-later
// Another way for SIP datagrams to come in and go out than the kernel's UDP
// sockets: SocketTransport::set_datagram_path.  msgw-control plugs in the
// dataplane's shared-memory rings (control/dataplane_sip_path.hpp), where a
// datagram costs a copy into a ring slot instead of a TAP write, the
// kernel's IP and UDP, and a socket wake-up each way (~15-25 % of
// msgw-control's CPU per call).  The sockets stay bound: they carry what the
// path does not (IPv6, TCP, larger datagrams, wildcard listeners) and
// everything while the path refuses (its far end down).
//
// The interface knows nothing of the dataplane, so the SIP library does not
// depend on it and tests plug in a fake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "msgw/sip/transport.hpp"

namespace msgw::sip {

class DatagramPath {
 public:
  // One received datagram: to `local` (the gateway's address) from `peer`;
  // queue_age_us is how long it waited since it was received (-1 unknown).
  // `bytes` is valid during the call only.
  using OnDatagram =
      std::function<void(const Endpoint& local, const Endpoint& peer, std::string_view bytes, int64_t queue_age_us)>;

  virtual ~DatagramPath() = default;
  // Non-blocking.  False: not taken (full, far end down); the caller sends
  // it through the kernel instead.  Only IPv4 `local` and `dst`, and
  // bytes.size() <= max_datagram(), are offered.
  virtual bool send(const Endpoint& local, const Endpoint& dst, std::string_view bytes) = 0;
  // Non-blocking: hands over at most `max` datagrams; returns how many.
  virtual std::size_t receive(const OnDatagram& on_datagram, std::size_t max) = 0;
  // Readable when receive() may have work; -1: none (then the owner must
  // not block while the path is in use).
  virtual int wake_fd() const = 0;
  // The wake fd was reported readable: clear it (level-triggered epoll
  // would report it again).
  virtual void clear_wake() {}
  // Around the owner's blocking wait.  nap_begin: false = datagrams are
  // already waiting, do not block (the wait ends at once); true = the far
  // end makes wake_fd readable when the next one arrives.  nap_end after
  // the wait, whatever nap_begin said.
  virtual bool nap_begin() = 0;
  virtual void nap_end() = 0;
  virtual std::size_t max_datagram() const = 0;
};

}  // namespace msgw::sip
