// SPDX-License-Identifier: GPL-3.0-or-later
// SIP datagrams through the segment (sip_divert.hpp): the worker's check of
// a frame bound for the exception path and its copy into sip_in, and worker
// 0's frames built around what msgw-control put in sip_out.  No system
// call, no allocation after SipEgress's construction; every read of a frame
// bounded by its first segment, every datagram from the ring validated
// before it is used.
#include "msgw/dataplane/sip_divert.hpp"

#include <cstring>

#include "packet_internal.hpp"

namespace msgw::dataplane {

using namespace packet_detail;

namespace {

constexpr uint32_t kHeaders = 14 + 20 + 8;  // Ethernet, IPv4 without options, UDP

// To one of msgw-control's SIP listen addresses on this port (ip 0 = any
// address of the port).  listen[] is published before n_listen (release).
bool listening(const SipShedState& st, uint32_t ip, uint16_t port) {
  const uint32_t n = __atomic_load_n(&st.n_listen, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < n && i < kMaxSipListen; ++i) {
    const uint32_t lip = __atomic_load_n(&st.listen[i].ip, __ATOMIC_RELAXED);
    const uint16_t lport = __atomic_load_n(&st.listen[i].port, __ATOMIC_RELAXED);
    if (lport == port && (lip == 0 || lip == ip)) return true;
  }
  return false;
}

// A peer a frame can be addressed to: not "this network" (0/8), loopback or
// multicast/reserved (224/3).
bool unicast(uint32_t ip) {
  const uint32_t a = ip >> 24;
  return a != 0 && a != 127 && a < 224;
}

}  // namespace

bool sip_divert_frame(WorkerContext& ctx, uint16_t rx_port, rte_mbuf* m, uint64_t now_ns) {
  if (ctx.sip == nullptr || rx_port >= ctx.n_ports || rx_port >= kMaxPorts) return false;
  if (m->nb_segs != 1 || m->pkt_len != m->data_len) return false;
  const uint8_t* const f = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = m->data_len;
  // Untagged IPv4 without options, not a fragment (MF clear, offset 0),
  // UDP; the IP and UDP lengths agree with each other and the frame (which
  // may carry Ethernet padding past them).  Options, fragments and the rest
  // are the kernel's.
  if (len < kHeaders + 1 || load_be16(f + 12) != kEtherIpv4) return false;
  const uint8_t* const ip = f + 14;
  if (ip[0] != 0x45 || (load_be16(ip + 6) & 0x3fff) != 0 || ip[9] != IPPROTO_UDP) return false;
  const uint32_t total = load_be16(ip + 2);
  if (total < 20 + 8 + 1 || 14 + total > len) return false;
  const uint8_t* const udp = ip + 20;
  const uint32_t ulen = load_be16(udp + 4);
  if (ulen != total - 20) return false;
  const uint32_t plen = ulen - 8;
  if (plen > kSipDatagramMax) return false;
  // To this port's own address, one of msgw-control's SIP listen addresses.
  const uint32_t dst_ip = load_be32(ip + 16);
  const uint16_t dst_port = load_be16(udp + 2);
  if (dst_ip == 0 || dst_ip != ctx.ports[rx_port].ip ||
      !listening(ctx.sip->header()->sip_shed, dst_ip, dst_port))
    return false;
  // Good checksums: the kernel would discard a bad one silently, and so
  // does its path (the frame goes there and is counted as before).
  const uint64_t ipck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (ipck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
      (ipck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && raw_cksum(ip, 20) != 0xffff))
    return false;
  if (load_be16(udp + 6) != 0) {
    const uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
        (l4 != RTE_MBUF_F_RX_L4_CKSUM_GOOD && !udp_checksum_ok(ip, udp, ulen)))
      return false;
  }

  SipDatagram d;
  d.local_ip = dst_ip;
  d.remote_ip = load_be32(ip + 12);
  d.local_port = dst_port;
  d.remote_port = load_be16(udp);
  d.port = rx_port;
  d.length = uint16_t(plen);
  d.time_ns = now_ns;
  std::memset(d.reserved, 0, sizeof d.reserved);
  std::memcpy(d.data, udp + 8, plen);
  // The slot is copied whole; the bytes past `length` are never read.
  if (ctx.sip->post_sip(d)) {
    ++ctx.counters.sip_to_control;
    ++ctx.sip_posted;
  } else {
    // As a full socket buffer: SIP over UDP retransmits.
    ++ctx.counters.dropped[size_t(Drop::sip_ring_full)];
  }
  rte_pktmbuf_free(m);
  return true;
}

struct SipEgress::Held {
  SipDatagram d;
  uint64_t since_ns;  // when it was held
  uint32_t nh;        // next hop whose MAC it waits for
  uint16_t port;
};

SipEgress::SipEgress()
    : held_(new Held[kSipHoldMax]), in_(new SipDatagram[kSipEgressBurst]) {}

SipEgress::~SipEgress() = default;

bool SipEgress::pending(const Segment& seg) const {
  return n_held_ != 0 || rte_ring_count(seg.sip_out_ring()) != 0;
}

unsigned SipEgress::poll(WorkerContext& ctx, Segment& seg, rte_mempool* pool, uint64_t now_ns,
                         BurstOutput& out) {
  // The held ones first: they are older than anything in the ring.
  if (n_held_ != 0) retry(ctx, pool, now_ns, out);
  const unsigned n = seg.take_sip_out(in_.get(), kSipEgressBurst);
  for (unsigned i = 0; i < n; ++i) send(ctx, in_[i], pool, now_ns, out);
  return n;
}

void SipEgress::send(WorkerContext& ctx, const SipDatagram& d, rte_mempool* pool,
                     uint64_t now_ns, BurstOutput& out) {
  // The ring is msgw-control's (or any local tool's): nothing in it is
  // trusted further than these checks.
  uint16_t port = ctx.n_ports;
  if (d.local_ip != 0)
    for (uint16_t p = 0; p < ctx.n_ports && p < kMaxPorts; ++p)
      if (ctx.ports[p].ip == d.local_ip) {
        port = p;
        break;
      }
  if (d.length == 0 || d.length > kSipDatagramMax || port == ctx.n_ports || d.local_port == 0 ||
      d.remote_port == 0 || !unicast(d.remote_ip) || d.remote_ip == d.local_ip) {
    ++ctx.counters.dropped[size_t(Drop::sip_bad_datagram)];
    return;
  }
  const PortInfo& op = ctx.ports[port];
  uint32_t nh = d.remote_ip;
  if ((d.remote_ip & op.netmask) != (op.ip & op.netmask)) {
    if (op.next_hop == 0) {
      ++ctx.counters.dropped[size_t(Drop::sip_no_route)];
      return;
    }
    nh = op.next_hop;
  }
  const uint64_t version = ctx.neighbours != nullptr ? ctx.neighbours->version() : 0;
  rte_ether_addr mac;
  if (ctx.neighbours != nullptr && ctx.neighbours->lookup(port, nh, &mac)) {
    emit(ctx, d, port, mac, pool, out);
    return;
  }
  // Unknown next hop: ARP for it as the media path does, and keep the
  // datagram for a moment (the first INVITE to a new peer would otherwise
  // wait for its retransmission, 500 ms).
  wish_neighbour(ctx, port, nh);
  if (n_held_ == kSipHoldMax) {
    ++ctx.counters.dropped[size_t(Drop::sip_no_neighbour)];
    return;
  }
  if (n_held_ == 0) held_version_ = version;  // retried once the table moves on
  Held& h = held_[(head_ + n_held_) % kSipHoldMax];
  std::memcpy(static_cast<void*>(&h.d), &d, sizeof d);
  h.since_ns = now_ns;
  h.nh = nh;
  h.port = port;
  ++n_held_;
}

void SipEgress::retry(WorkerContext& ctx, rte_mempool* pool, uint64_t now_ns, BurstOutput& out) {
  // Oldest first, so those held too long are at the head.
  while (n_held_ != 0 && now_ns >= held_[head_].since_ns + kSipHoldNs) {
    ++ctx.counters.dropped[size_t(Drop::sip_no_neighbour)];
    head_ = (head_ + 1) % kSipHoldMax;
    --n_held_;
  }
  if (n_held_ == 0 || ctx.neighbours == nullptr) return;
  const uint64_t version = ctx.neighbours->version();
  if (version == held_version_) return;  // nothing learned since: nothing to send
  held_version_ = version;
  // Send those whose next hop is known now; the rest keep their order.
  uint32_t kept = 0;
  for (uint32_t i = 0; i < n_held_; ++i) {
    Held& h = held_[(head_ + i) % kSipHoldMax];
    rte_ether_addr mac;
    if (ctx.neighbours->lookup(h.port, h.nh, &mac)) {
      if (out.n_tx[h.port] < kTxCap) {
        emit(ctx, h.d, h.port, mac, pool, out);
        continue;
      }
      held_version_ = 0;  // no room in this pass: again in the next
    }
    if (kept != i) {
      Held& to = held_[(head_ + kept) % kSipHoldMax];
      std::memcpy(static_cast<void*>(&to), &h, sizeof h);
    }
    ++kept;
  }
  n_held_ = kept;
}

void SipEgress::emit(WorkerContext& ctx, const SipDatagram& d, uint16_t port,
                     const rte_ether_addr& mac, rte_mempool* pool, BurstOutput& out) {
  if (out.n_tx[port] >= kTxCap) {
    ++ctx.counters.dropped[size_t(Drop::tx_full)];
    return;
  }
  rte_mbuf* m = pool != nullptr ? rte_pktmbuf_alloc(pool) : nullptr;
  uint8_t* payload = m != nullptr ? build_udp(m, mac, ctx.ports[port], d.local_ip, d.local_port,
                                              d.remote_ip, d.remote_port, ip_id_++, d.length,
                                              kSignallingIp)
                                  : nullptr;
  if (payload == nullptr) {  // no mbuf: counted as the transcoder's egress counts it
    if (m != nullptr) rte_pktmbuf_free(m);
    ++ctx.counters.dropped[size_t(Drop::tx_full)];
    return;
  }
  std::memcpy(payload, d.data, d.length);
  finish_built(m, ctx.ports[port]);  // checksums by the device where the port offers them
  out.tx[port][out.n_tx[port]++] = m;
  ++ctx.counters.sip_from_control;
}

}  // namespace msgw::dataplane
