// SPDX-License-Identifier: GPL-3.0-or-later
// SocketTransport's datagram path (datagram_path.hpp), per datagram (hot
// path): which datagrams it carries out, and the ones it brings in handed
// to the stack as from the UDP listener they are addressed to.
#include <netinet/in.h>

#include <cstring>

#include "msgw/sip/datagram_path.hpp"
#include "msgw/sip/transport.hpp"
#include "udp_send_queue.hpp"

namespace msgw::sip {

namespace {

const sockaddr_in& v4(const Endpoint& e) { return *reinterpret_cast<const sockaddr_in*>(&e.addr); }
bool is_v4(const Endpoint& e) { return e.addr.ss_family == AF_INET; }

// 64 datagrams a pass, as on_udp takes from one socket: then the other
// sockets, the timers and the application get their turn; what is left
// keeps the path's nap_begin() false, so the loop comes straight back.
constexpr std::size_t kPathBatch = 32, kPathRounds = 2;

}  // namespace

// Only a listener bound to one IPv4 address names the source address the
// path needs (the dataplane builds the IP header itself); a wildcard
// listener's datagrams leave through its socket, whose source address the
// kernel picks.
bool SocketTransport::send_via_path(const Sock& listener, const Endpoint& dst, std::string_view bytes) {
  if (!is_v4(listener.local) || !is_v4(dst) || listener.local.is_wildcard() ||
      bytes.size() > path_->max_datagram())
    return false;
  // Only a peer the kernel would reach from this listener's address (the
  // route through its port's TAP): not the host itself (a local tool, the
  // rig's OPTIONS probe from msgw-gw: its request came through the kernel,
  // so does its answer) and not a network behind another interface of the
  // host (a management network), which the dataplane's port cannot reach.
  if (dst.same_host(listener.local)) return false;
  const std::optional<Endpoint> src = route_source(dst);
  if (!src || !src->same_host(listener.local) || src->same_host(dst)) return false;
  // Order towards one peer: a datagram to it still in the send batch would
  // leave at the batch's end, after this one (a large INVITE queued, then
  // its CANCEL through the path); send the batch first.  Rare: with the
  // path up, only datagrams it cannot carry are queued.  The other way
  // round is safe: a datagram in the path's ring is out of the dataplane
  // within microseconds, long before one that is still to go through the
  // kernel, the TAP and the dataplane's exception path.
  if (!udp_tx_->empty() && udp_tx_->queued_to(dst)) udp_tx_->flush();
  if (path_->send(listener.local, dst, bytes)) {
    ++stats_.segment_tx_datagrams;
    return true;
  }
  ++stats_.segment_tx_fallbacks;
  return false;
}

// The listener bound to exactly `local`, else one bound to any address on
// its port (as the kernel would deliver it); 0: none.
uint64_t SocketTransport::path_listener(const Endpoint& local) const {
  if (!is_v4(local)) return 0;
  const sockaddr_in& want = v4(local);
  uint64_t wildcard = 0;
  for (const auto& l : udp_listeners_) {
    if (!is_v4(l.local) || v4(l.local).sin_port != want.sin_port) continue;
    if (v4(l.local).sin_addr.s_addr == want.sin_addr.s_addr) return l.id;
    if (v4(l.local).sin_addr.s_addr == INADDR_ANY && wildcard == 0) wildcard = l.id;
  }
  return wildcard;
}

// Each datagram reaches the stack exactly as one recvmmsg'd from the
// listener's socket (on_udp): the same Inbound (local: the listener's
// address, as the kernel path reports it) and the same on_message_, which
// counts it, checks its size and observes its queue age.
void SocketTransport::drain_path() {
  const DatagramPath::OnDatagram deliver = [this](const Endpoint& local, const Endpoint& peer,
                                                  std::string_view bytes, int64_t queue_age_us) {
    const uint64_t id = path_listener(local);
    auto it = id != 0 ? socks_.find(id) : socks_.end();
    if (it == socks_.end()) {
      ++stats_.segment_rx_no_listener;
      return;
    }
    ++stats_.segment_rx_datagrams;
    Inbound in;
    in.proto = Proto::Udp;
    in.peer = peer;
    in.local = it->second.local;
    in.socket = id;
    in.queue_age_us = queue_age_us;
    on_message_(in, bytes);
  };
  for (std::size_t round = 0; round < kPathRounds && path_ != nullptr; ++round)
    if (path_->receive(deliver, kPathBatch) < kPathBatch) return;
}

}  // namespace msgw::sip
