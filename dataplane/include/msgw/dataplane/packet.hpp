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
#include "msgw/dataplane/flow_table.hpp"
#include "msgw/dataplane/neighbour.hpp"
#include "msgw/dataplane/protocol.hpp"

namespace msgw::dataplane {

class Segment;

inline constexpr uint16_t kMaxPorts = 8;
inline constexpr uint16_t kMaxWorkers = 16;
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

// Why a packet was dropped: one list, expanded into the Drop enum,
// drop_name(), the per-worker drop counters and their telemetry keys
// (drop_<name>, in this order).  X(name, loss): loss = the packet counts in
// dropped_total(); held packets were withheld on purpose, not lost.
#define MSGW_FOREACH_DROP(X)                                                          \
  X(truncated_ether, true)                                                            \
  X(truncated_ip, true)                                                               \
  X(bad_ip_version, true)                                                             \
  X(bad_ip_ihl, true)                                                                 \
  X(bad_ip_length, true)                                                              \
  X(bad_ip_checksum, true)                                                            \
  X(fragment, true)                                                                   \
  X(truncated_udp, true)                                                              \
  X(bad_udp_length, true)                                                             \
  X(bad_udp_checksum, true)                                                           \
  X(oversized, true)                                                                  \
  X(truncated_rtp, true)                                                              \
  X(bad_rtp_version, true)                                                            \
  X(bad_rtp_csrc, true)                                                               \
  X(bad_rtp_extension, true)                                                          \
  X(bad_rtp_padding, true)                                                            \
  X(bad_rtcp, true)                                                                   \
  X(rtp_bleed, true)               /* another source tried to take over a latch */    \
  X(wrong_source, true)            /* non-latching leg, packet not from its remote */ \
  X(unexpected_payload_type, true) /* dynamic PT not negotiated on this / other leg */ \
  X(payload_type_not_negotiated, true) /* static PT not negotiated (PCMU on a G.729 call) */ \
  X(no_destination, true)          /* other leg's remote unknown yet */               \
  X(no_neighbour, true)            /* next hop MAC not resolved yet (ARP requested) */ \
  X(unsupported_codec, true)       /* session needs transcoding, not available */     \
  X(tx_full, true)                 /* device or ring did not take the burst */        \
  X(exception_full, true)                                                             \
  X(handoff_full, true)                                                               \
  X(held, false) /* towards a leg on hold (kLegHold): withheld, not an error */

enum class Drop : uint8_t {
#define MSGW_DROP_ENUMERATOR(name, loss) name,
  MSGW_FOREACH_DROP(MSGW_DROP_ENUMERATOR)
#undef MSGW_DROP_ENUMERATOR
  count
};

namespace detail {
inline constexpr const char* kDropNames[] = {
#define MSGW_DROP_NAME(name, loss) #name,
    MSGW_FOREACH_DROP(MSGW_DROP_NAME)
#undef MSGW_DROP_NAME
};
inline constexpr bool kDropIsLoss[] = {
#define MSGW_DROP_LOSS(name, loss) loss,
    MSGW_FOREACH_DROP(MSGW_DROP_LOSS)
#undef MSGW_DROP_LOSS
};
static_assert(std::size(kDropNames) == size_t(Drop::count));
}  // namespace detail

constexpr const char* drop_name(Drop d) {
  return size_t(d) < size_t(Drop::count) ? detail::kDropNames[size_t(d)] : "unknown";
}
// Counts in dropped_total(): everything but packets withheld on purpose.
constexpr bool drop_is_loss(Drop d) {
  return size_t(d) < size_t(Drop::count) && detail::kDropIsLoss[size_t(d)];
}

// Per-worker counters reported by telemetry (/msgw/workers, these names, in
// this order): one list for the fields, their names and the output.
#define MSGW_FOREACH_WORKER_COUNTER(X)                                                 \
  X(rx)                                                                                \
  X(tx)                                                                                \
  X(relayed)                                                                           \
  X(relayed_steady)     /* of those, by the steady stream's short path */              \
  X(rtcp_relayed)                                                                      \
  X(exception)                                                                         \
  X(handoff_out)                                                                       \
  X(handoff_in)                                                                        \
  X(latched)                                                                           \
  X(dtmf_events)                                                                       \
  X(fragments_seen)     /* incl. those passed to the kernel */                         \
  X(transcoded_packets) /* egress packets built by the codec engine */                 \
  X(transcoded_frames)  /* codec frames encoded */                                     \
  X(concealed_frames)   /* 10 ms frames synthesised for lost audio */                  \
  X(transcode_buffered) /* ingress packets absorbed by re-framing (no output yet) */   \
  X(rtcp_terminated)    /* RTCP received on transcoded legs (not relayed) */           \
  X(rtcp_sent)          /* own SR sent on transcoded legs */

struct WorkerCounters {
#define MSGW_WORKER_COUNTER_FIELD(name) uint64_t name = 0;
  MSGW_FOREACH_WORKER_COUNTER(MSGW_WORKER_COUNTER_FIELD)
#undef MSGW_WORKER_COUNTER_FIELD
  // Next hops queued for the main lcore to resolve: the worker's signal to
  // kick the main lcore (worker.cpp), not a figure telemetry reports.
  uint64_t arp_wishes = 0;
  uint64_t dropped[size_t(Drop::count)] = {};

  // Packets lost to errors and limits (drop_is_loss).  read: how a counter
  // is read (telemetry reads relaxed-atomic while the worker writes).
  template <class Read>
  uint64_t dropped_total(Read read) const {
    uint64_t t = 0;
    for (size_t r = 0; r < size_t(Drop::count); ++r)
      if (drop_is_loss(Drop(r))) t += read(dropped[r]);
    return t;
  }
  uint64_t dropped_total() const {
    return dropped_total([](const uint64_t& v) { return v; });
  }
  // Adds another worker's counters (totals at exit).
  void add(const WorkerCounters& o) {
#define MSGW_WORKER_COUNTER_ADD(name) name += o.name;
    MSGW_FOREACH_WORKER_COUNTER(MSGW_WORKER_COUNTER_ADD)
#undef MSGW_WORKER_COUNTER_ADD
    arp_wishes += o.arp_wishes;
    for (size_t r = 0; r < size_t(Drop::count); ++r) dropped[r] += o.dropped[r];
  }
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
