// SPDX-License-Identifier: GPL-3.0-or-later
// Per-packet processing: a pure function over an mbuf burst.
//
// process_burst() classifies every frame of a burst received on one port
// and either relays it (rewritten in place, appended to out.tx[egress port]),
// hands it to the worker owning its session, sends it to the exception path
// of its port, or drops it (freed, counted by reason).  It touches no device,
// so unit tests and the fuzz harness call it directly with mbufs from a
// mempool; the worker loop wraps it with rx/tx bursts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "msgw/codecs/transcoder.hpp"
#include "msgw/dataplane/counters.hpp"
#include "msgw/dataplane/flow_table.hpp"
#include "msgw/dataplane/neighbour.hpp"
#include "msgw/dataplane/protocol.hpp"
#include "msgw/dataplane/sip_admit_limiter.hpp"

namespace msgw::dataplane {

class Segment;

inline constexpr uint16_t kBurst = 32;    // packets processed together (one lookup pass)
inline constexpr uint16_t kRxBurst = 64;  // packets a worker takes from a queue per poll
inline constexpr uint16_t kTxCap = 4 * kBurst;  // transcoding may emit several packets per input
inline constexpr uint32_t kMaxFrame = 1518 + 4;  // one VLAN tag over a 1500-byte MTU

struct PortInfo {
  rte_ether_addr mac{};
  uint32_t ip = 0;          // host order
  uint32_t netmask = 0;     // host order
  uint32_t next_hop = 0;    // 0 = none (only on-link destinations)
  bool tx_ip_cksum = false; // device computes IPv4 header checksum
  bool tx_udp_cksum = false;
};

struct WorkerContext {
  uint16_t worker_id = 0;
  uint16_t n_ports = 0;
  const PortInfo* ports = nullptr;      // n_ports entries
  const FlowTable* flows = nullptr;
  FlowCache* flow_cache = nullptr;      // this worker's; null = rte_hash only
  const NeighbourTable* neighbours = nullptr;
  FlowStats* stats = nullptr;           // 2 * max_flows (segment stats area)
  Segment* events = nullptr;            // event ring producer; may be null
  rte_ring* resolve = nullptr;          // (port << 32 | ip) ARP wishes to the main lcore
  uint32_t latch_packets = 3;
  uint64_t tsc_hz = 1;
  uint64_t rtcp_interval_ns = 5'000'000'000ull;  // own SR on transcoded legs
  int64_t realtime_offset_ns = 0;  // CLOCK_REALTIME - CLOCK_MONOTONIC, for NTP timestamps
  // The steady relayed stream's short path (process_chunk); off, every packet
  // takes the general one (the unit tests compare the two).
  bool steady_fast_path = true;
  // msgw-control's overload state (the segment header's; null: never shed)
  // and the key of the To tags of the worker's 503s (sip_shed.hpp).
  const SipShedState* sip_shed = nullptr;
  uint64_t sip_tag_key = 0;
  // The admission rate while shedding, all workers' one limiter
  // (sip_admit_limiter.hpp; the Runtime's; null: none admitted).
  SipAdmitLimiter* sip_admit = nullptr;
  // SIP through the segment (sip_divert.hpp): the segment whose sip_in ring
  // takes SIP datagrams while msgw-control is attached as their consumer
  // (null: SIP always takes the exception path), and how many this worker
  // posted since it last woke the consumer (worker.cpp, after each burst).
  Segment* sip = nullptr;
  uint32_t sip_posted = 0;
  // Scratch for the codec engine's output, reused by every call.
  codecs::EgressPacket tc_out[codecs::kMaxEgressPerCall];
  // Written by this worker only; read by telemetry (relaxed).
  WorkerCounters counters;
};

struct BurstOutput {
  rte_mbuf* tx[kMaxPorts][kTxCap];
  uint16_t n_tx[kMaxPorts];
  rte_mbuf* exception[kMaxPorts][kBurst];
  uint16_t n_exception[kMaxPorts];
  rte_mbuf* handoff[kMaxWorkers][kBurst];
  uint16_t n_handoff[kMaxWorkers];
  void clear() {
    for (auto& n : n_tx) n = 0;
    for (auto& n : n_exception) n = 0;
    for (auto& n : n_handoff) n = 0;
  }
};

// Ones'-complement sum of len bytes, folded to 16 bits, in the same form as
// rte_raw_cksum() (native-order 16-bit words; an odd last byte padded with
// zero).  DPDK 22.11's loop adds 2 bytes per step, which made the UDP
// checksum check ~40 % of a relayed packet's processing; this adds 16 at a
// time, in SSE2 registers (every x86-64 has them) where there are any.
inline uint16_t raw_cksum(const void* buf, uint32_t len) {
  const auto* p = static_cast<const uint8_t*>(buf);
  // Independent 64-bit sums: no carries to track (2^32 words would be
  // needed to overflow one) and no chain of dependent adds.
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#if defined(__SSE2__)
  // Each 16-bit word widened to a 32-bit lane (eight lanes in two
  // registers); a lane takes at most 0xffff per block, so lanes are emptied
  // into the 64-bit sums every 2^15 blocks, before the pairs could wrap.
  const __m128i zero = _mm_setzero_si128();
  while (len >= 16) {
    __m128i lo = zero, hi = zero;
    for (uint32_t blocks = 0; len >= 16 && blocks < (1u << 15); ++blocks, p += 16, len -= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      lo = _mm_add_epi32(lo, _mm_unpacklo_epi16(v, zero));
      hi = _mm_add_epi32(hi, _mm_unpackhi_epi16(v, zero));
    }
    // lo + hi per lane stays under 2 * 0xffff * 2^15 < 2^32; then widened.
    const __m128i four = _mm_add_epi32(lo, hi);
    const __m128i two = _mm_add_epi64(_mm_unpacklo_epi32(four, zero),
                                      _mm_unpackhi_epi32(four, zero));
    s0 += uint64_t(_mm_cvtsi128_si64(two));
    s1 += uint64_t(_mm_cvtsi128_si64(_mm_unpackhi_epi64(two, two)));
  }
#else
  for (; len >= 16; p += 16, len -= 16) {
    uint32_t w[4];
    __builtin_memcpy(w, p, 16);
    s0 += w[0];
    s1 += w[1];
    s2 += w[2];
    s3 += w[3];
  }
#endif
  for (; len >= 4; p += 4, len -= 4) {
    uint32_t a;
    __builtin_memcpy(&a, p, 4);
    s0 += a;
  }
  if (len >= 2) {
    uint16_t a;
    __builtin_memcpy(&a, p, 2);
    s1 += a;
    p += 2;
    len -= 2;
  }
  if (len != 0) {
    uint16_t left = 0;
    __builtin_memcpy(&left, p, 1);
    s2 += left;
  }
  // 2^32 and 2^16 are 1 modulo 0xffff: folding keeps the ones'-complement
  // value.  Each s_i < 2^62 for any frame, so the total cannot overflow.
  uint64_t sum = s0 + s1 + s2 + s3;
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// Pseudo-header sum of an IPv4 UDP datagram of l4_len bytes, as
// rte_ipv4_phdr_cksum() returns it (whose 12-byte sum runs 2 bytes a step).
// Summed in registers: built as a 12-byte array of byte stores and read back
// in words, it stalled store forwarding (~17 % of the UDP checksum check in
// a profile).  Each word is what a native 16-bit load of the header's bytes
// would give, hence the byte swaps.
inline uint16_t udp_pseudo_header_cksum(const uint8_t* ip, uint16_t l4_len) {
  uint32_t src, dst;
  __builtin_memcpy(&src, ip + 12, 4);
  __builtin_memcpy(&dst, ip + 16, 4);
  uint64_t sum = uint64_t(src) + dst + rte_cpu_to_be_16(uint16_t(ip[9])) + rte_cpu_to_be_16(l4_len);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// The flow-cache slots that n packets will look up, fetched while the
// packets before them are processed: under load a worker takes kRxBurst
// packets and processes them kBurst at a time, and the slots of the second
// half are then in cache when its lookup pass comes (a slot's load was the
// largest stall of a relayed packet in a profile under load).  The keys are
// guessed from fixed offsets (untagged IPv4 without options, UDP): a wrong
// guess costs one useless prefetch, nothing else.
void prefetch_flow_slots(const WorkerContext& ctx, uint16_t rx_port, rte_mbuf* const* pkts,
                         uint16_t n);

// n <= kBurst.  `handed_off` marks a burst that came from another worker's
// hand-off ring (never handed on again).  now_tsc / now_ns: the burst's
// arrival time (TSC for jitter, CLOCK_MONOTONIC ns for last-seen).
void process_burst(WorkerContext& ctx, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                   bool handed_off, uint64_t now_tsc, uint64_t now_ns, BurstOutput& out);

}  // namespace msgw::dataplane
