// SPDX-License-Identifier: GPL-3.0-or-later
// SIP over UDP through the shared-memory segment instead of the TAP and the
// kernel (protocol.hpp, above SipDatagram, says why and the contract).
//
// In: a worker gives a frame bound for the exception path to
// sip_divert_frame(); while msgw-control is attached as the SIP consumer, a
// plain SIP datagram to one of its listen addresses is copied into the
// sip_in ring and the frame freed (sip_to_control; sip_ring_full when the
// ring is full).  Anything else goes on to the TAP unchanged.
//
// Out: worker 0's SipEgress takes what msgw-control put in sip_out, builds
// the Ethernet, IPv4 and UDP headers around each datagram and queues the
// frame on the port that owns its source address (sip_from_control).  A
// next hop whose MAC is not known yet is asked for (ARP, as the media path
// asks) and the datagram held, at most kSipHoldMax of them for at most
// kSipHoldNs each, retried when the neighbour table changes.
//
// Per SIP message, not per RTP packet: out of packet.cpp but for one call
// site; the relay path's cost is unchanged.
#pragma once

#include <cstdint>
#include <memory>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/packet.hpp"
#include "msgw/dataplane/protocol.hpp"

namespace msgw::dataplane {

// A frame bound for the exception path of rx_port (the caller's verdict):
// true when it was taken (posted to sip_in, or dropped because the ring was
// full; freed either way, counted; ctx.sip_posted counts the posts), false
// leaves m untouched for the exception path.  now_ns: its arrival
// (CLOCK_MONOTONIC), SipDatagram::time_ns.
bool sip_divert_frame(WorkerContext& ctx, uint16_t rx_port, rte_mbuf* m, uint64_t now_ns);

// The caller's cheap check before sip_divert_frame().
inline bool sip_diverting(const WorkerContext& ctx) {
  return ctx.sip != nullptr && ctx.sip->sip_consumer_attached();
}

inline constexpr uint32_t kSipHoldMax = 256;                 // datagrams waiting for ARP
inline constexpr uint64_t kSipHoldNs = 1'000'000'000ull;     // each at most this long
inline constexpr uint16_t kSipEgressBurst = 32;              // taken from sip_out per poll

// Worker 0's side of sip_out.  Not thread-safe: one instance, one lcore.
class SipEgress {
 public:
  SipEgress();
  ~SipEgress();
  SipEgress(const SipEgress&) = delete;
  SipEgress& operator=(const SipEgress&) = delete;

  // Whether poll() has anything to do: datagrams in sip_out, or held ones.
  bool pending(const Segment& seg) const;
  // Retries the held datagrams when the neighbour table changed, drops
  // those held too long, then takes up to kSipEgressBurst datagrams from
  // sip_out and sends each (send()).  Frames go to out.tx[port]; the
  // caller transmits them (and counts tx and tx_full) and kicks the main
  // lcore for ARP wishes as after a burst.  Returns the datagrams taken.
  unsigned poll(WorkerContext& ctx, Segment& seg, rte_mempool* pool, uint64_t now_ns,
                BurstOutput& out);
  // One datagram: validated, routed, built and queued, or held, or dropped
  // (counted).
  void send(WorkerContext& ctx, const SipDatagram& d, rte_mempool* pool, uint64_t now_ns,
            BurstOutput& out);
  uint32_t held() const { return n_held_; }

 private:
  struct Held;
  void retry(WorkerContext& ctx, rte_mempool* pool, uint64_t now_ns, BurstOutput& out);
  void emit(WorkerContext& ctx, const SipDatagram& d, uint16_t port, const rte_ether_addr& mac,
            rte_mempool* pool, BurstOutput& out);

  std::unique_ptr<Held[]> held_;  // a ring of kSipHoldMax, oldest first
  uint32_t head_ = 0;
  uint32_t n_held_ = 0;
  uint64_t held_version_ = 0;  // the neighbour table's version when last retried
  uint16_t ip_id_ = 0;
  std::unique_ptr<SipDatagram[]> in_;  // kSipEgressBurst: what poll() takes
};

}  // namespace msgw::dataplane
