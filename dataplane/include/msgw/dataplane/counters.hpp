// SPDX-License-Identifier: GPL-3.0-or-later
// The dataplane's counters, defined once: drop reasons, per-worker and
// per-port counters.  The lists expand into the structs the workers and the
// main lcore write, DPDK telemetry's keys (/msgw/workers, /msgw/ports), the
// segment's published counters (protocol.hpp) and msgw-control's /metrics.
// DPDK-free so that msgw-control's metrics can name them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

namespace msgw::dataplane {

inline constexpr uint16_t kMaxPorts = 8;
inline constexpr uint16_t kMaxWorkers = 16;

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
  X(held, false) /* towards a leg on hold (kLegHold): withheld, not an error */       \
  X(sip_ring_full, true)    /* SIP datagram for msgw-control: its ring (sip_in) full */ \
  X(sip_bad_datagram, true) /* from msgw-control: bad length, not a port's address, no peer */ \
  X(sip_no_route, true)     /* from msgw-control: peer off the port's subnet, no next hop */ \
  X(sip_no_neighbour, true) /* from msgw-control: next hop's MAC not learned within 1 s, or too many held */

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
// this order) and /metrics (msgw_dataplane_worker_<name>_total, with the
// help text): one list for the fields, their names and the output.
// X(name, help).
#define MSGW_FOREACH_WORKER_COUNTER(X) \
  X(rx, "packets received from the NIC") \
  X(tx, "packets sent to the NIC") \
  X(relayed, "RTP/RTCP packets relayed to the other leg") \
  X(relayed_steady, "of the relayed, by the steady stream's short path") \
  X(rtcp_relayed, "RTCP packets relayed") \
  X(exception, "frames passed to the kernel (exception path)") \
  X(handoff_out, "packets handed to the worker owning their session") \
  X(handoff_in, "packets handed in by other workers") \
  X(latched, "media sources latched") \
  X(dtmf_events, "RFC 4733 events ended") \
  X(fragments_seen, "IP fragments seen (incl. those passed to the kernel)") \
  X(transcoded_packets, "egress packets built by the codec engine") \
  X(transcoded_frames, "codec frames encoded") \
  X(concealed_frames, "10 ms frames synthesised for lost audio") \
  X(transcode_buffered, "ingress packets absorbed by re-framing (no output yet)") \
  X(rtcp_terminated, "RTCP received on transcoded legs (not relayed)") \
  X(rtcp_sent, "own RTCP SR sent on transcoded legs") \
  X(busy_cycles, "TSC cycles of poll passes that had packets") \
  X(sip_shed, "new INVITEs/REGISTERs answered 503 + Retry-After by the worker while msgw-control sheds or its SIP ring is crowded") \
  X(sip_shed_acks_absorbed, "ACKs of those 503s dropped by the worker") \
  X(sip_shed_admitted, "new INVITEs/REGISTERs let through to msgw-control at its admission rate while it sheds (the rest: sip_shed)") \
  X(sip_to_control, "SIP datagrams passed to msgw-control through the segment (not the TAP)") \
  X(sip_from_control, "SIP datagrams from msgw-control built into frames and queued on a port (worker 0)")

struct WorkerCounters {
#define MSGW_WORKER_COUNTER_FIELD(name, help) uint64_t name = 0;
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
#define MSGW_WORKER_COUNTER_ADD(name, help) name += o.name;
    MSGW_FOREACH_WORKER_COUNTER(MSGW_WORKER_COUNTER_ADD)
#undef MSGW_WORKER_COUNTER_ADD
    arp_wishes += o.arp_wishes;
    for (size_t r = 0; r < size_t(Drop::count); ++r) dropped[r] += o.dropped[r];
  }
};

// A port's exception-path counters, kept by the main lcore and reported by
// telemetry (/msgw/ports, after the device's own counters, these names in
// this order): one list for the fields, their names and the output.
// X(name, help).
#define MSGW_FOREACH_PORT_COUNTER(X)                                              \
  X(to_kernel, "frames passed to the kernel through the TAP")                     \
  X(from_kernel, "frames the kernel sent through the TAP")                        \
  X(to_kernel_dropped, "frames for the kernel dropped (TAP full)")                \
  X(from_kernel_dropped, "frames from the kernel dropped (port did not take them)") \
  X(arp_requests, "ARP requests sent for next hops")


// The device's own counters (rte_eth_stats) a port reports, before the
// exception-path counters: X(name, rte_eth_stats field).  Telemetry
// (/msgw/ports) and the segment's published counters use these names.
// X(name, field, help).
#define MSGW_FOREACH_ETH_COUNTER(X)                                                    \
  X(rx_packets, ipackets, "packets the device received")                               \
  X(tx_packets, opackets, "packets the device sent")                                   \
  X(rx_missed, imissed, "packets the device dropped: RX queues full (workers too slow)") \
  X(rx_errors, ierrors, "packets received with errors")                                \
  X(tx_errors, oerrors, "packets the device failed to send")                           \
  X(rx_nombuf, rx_nombuf, "packets dropped: no mbuf to receive into")

}  // namespace msgw::dataplane
