// SPDX-License-Identifier: GPL-3.0-or-later
// Control <-> dataplane shared-memory protocol.
//
// One POSIX shm segment per instance (/dev/shm/msgw-<instance>), created by
// msgw-dataplane.  Layout, all offsets from the segment start:
//
//   [SegmentHeader][command ring][event ring][FlowStats x 2*max_flows]
//   [PublishedCounters][SIP in ring][SIP out ring]
//
// The rings are DPDK rte_ring objects (element API) initialised in place, so
// both processes run DPDK's own lock-free ring code on the same memory; an
// rte_ring holds no pointers that matter for enqueue/dequeue, which is what
// makes it usable at different mapping addresses.
//
// Every struct here is fixed-size and trivially copyable; its size is checked
// at compile time because two separately built binaries must agree on it.
// Any change to a layout must bump kLayoutVersion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "msgw/codecs/codec_id.hpp"
#include "msgw/dataplane/counters.hpp"

namespace msgw::dataplane {

inline constexpr uint64_t kMagic = 0x3150445747534d00ull;  // "\0MSGWDP1" little-endian
// 3: LegSpec::codec is codecs::CodecId; 4: PublishedCounters; 5: SipShedState, sip_shed counters;
// 6: SipShedState::admit_rate (rate-based shedding), sip_shed_admitted counter
// 7: SIP datagrams through the segment (SipDatagram, sip_in / sip_out rings, SIP consumer),
//    sip_to_control / sip_from_control counters, four sip_* drop reasons
inline constexpr uint32_t kLayoutVersion = 7;
inline constexpr uint16_t kMessageVersion = 1;
inline constexpr uint32_t kRingElemSize = 128;   // bytes per command/event slot
inline constexpr uint32_t kCommandRingSlots = 1024;  // power of two (rte_ring)
inline constexpr uint32_t kEventRingSlots = 16384;
inline constexpr uint32_t kAllFlows = 0xffffffffu;  // FLOW_DUMP of every flow

enum class SegmentState : uint32_t {
  down = 0,      // dataplane stopped cleanly (or never started)
  starting = 1,  // rings being (re)initialised: do not touch them
  up = 2,
};

// msgw-control's overload state and what the workers need to shed for it
// (dataplane/src/sip_shed.cpp): while shed_until_ns is in the future, a new
// INVITE or REGISTER to one of the listen addresses, bound for the exception
// path, is answered 503 + Retry-After by the worker instead of going through
// the TAP to msgw-control (which would answer it the same way, at several
// times the cost).  shed_until_ns is a lease (CLOCK_MONOTONIC): msgw-control
// renews it while it sheds and clears it when it stops, so a control plane
// that dies while shedding does not leave the dataplane shedding.  Written
// by msgw-control only (Client::publish_sip_listen / set_sip_shed_until),
// zero in a new segment (not shedding).  IPv4 addresses and ports in host
// byte order; ip 0 = any address of the port (a wildcard listen).
//
// Rate-based, not all-or-nothing (the idea of RFC 7415, inside the box):
// while the lease holds, the workers together still let admit_rate new
// calls a second through to msgw-control (each worker admit_rate / n_workers
// through its own token bucket, sip_shed.hpp) and answer only the rest 503.
// admit_rate 0 = shed every one.
inline constexpr uint32_t kMaxSipListen = 8;
struct SipListenAddr {
  uint32_t ip;
  uint16_t port;
  uint16_t reserved;
};
struct SipShedState {
  uint64_t shed_until_ns;   // atomic; 0 = not shedding
  uint32_t retry_after_s;   // atomic; the 503s' Retry-After
  uint32_t n_listen;        // atomic, stored (release) after listen[]
  SipListenAddr listen[kMaxSipListen];
  uint32_t admit_rate;      // atomic; new calls/s let through while the lease holds
  uint32_t reserved;
};
static_assert(sizeof(SipShedState) == 88);

struct SegmentHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_size;
  uint64_t segment_size;
  uint64_t generation;       // bumped at every dataplane start; atomic access
  uint32_t state;            // SegmentState; atomic access
  uint32_t pid;              // of the dataplane that owns the segment
  uint32_t max_flows;        // flow ids are 0 .. max_flows-1, two legs each
  uint32_t n_ports;          // valid LegSpec::port values are 0 .. n_ports-1
  uint32_t cmd_ring_offset;
  uint32_t evt_ring_offset;
  uint64_t stats_offset;
  uint32_t cmd_ring_slots;
  uint32_t evt_ring_slots;
  uint32_t elem_size;
  uint32_t n_workers;
  uint64_t start_time_ns;    // CLOCK_REALTIME at start, for humans
  uint64_t events_dropped;   // event ring full; atomic access
  // Doorbell: the main lcore naps between rounds (up to a millisecond when
  // idle) and a client waiting for an ack would wait out the nap.  The main
  // lcore sets main_napping (atomic) around its nap; a client that enqueued a
  // command while it is set sends doorbell_signal to the main thread (tid =
  // pid), which ends the nap.  0 = no doorbell (the client just waits).
  uint32_t main_napping;
  uint32_t doorbell_signal;
  uint64_t counters_offset;  // PublishedCounters
  SipShedState sip_shed;     // msgw-control -> workers
  // SIP through the segment (SipDatagram below says why and how).
  uint32_t sip_in_offset;        // ring of SipDatagram: workers -> msgw-control
  uint32_t sip_out_offset;       // ring of SipDatagram: msgw-control -> worker 0
  uint32_t sip_consumer_pid;     // atomic; msgw-control taking sip_in, 0 = none (TAP)
  uint32_t sip_consumer_signal;  // atomic; the signal that ends its wait
  uint32_t sip_consumer_napping; // atomic; set by it around its wait
  uint8_t reserved[36];
};
static_assert(sizeof(SegmentHeader) == 256);

// SIP over UDP through the segment, not through the TAP and the kernel.
//
// Why: every SIP datagram used to cross the exception path twice over (a
// worker -> the main lcore -> a TAP write -> the kernel's IP and UDP ->
// msgw-control's socket, and back the same way), ~40 system calls and
// several wake-ups per call on the core both daemons share.  A datagram now
// costs a copy into a ring slot each way.
//
// In (sip_in, multi-producer, one consumer): while sip_consumer_pid is set,
// a worker copies an unfragmented IPv4 UDP datagram with good checksums,
// addressed to one of the SIP listen addresses (SipShedState::listen) of
// the port it came in on and no longer than kSipDatagramMax, into a slot
// instead of passing the frame to the TAP; everything else (TCP, fragments,
// IP options, ARP, ICMP, larger datagrams) takes the TAP as before.  A full
// ring drops the datagram, counted, as a full socket buffer would: SIP over
// UDP retransmits.  After enqueueing, a worker that sees
// sip_consumer_napping set clears it and sends sip_consumer_signal to
// sip_consumer_pid (one signal per wait: the consumer sets the flag, then
// looks at the ring once more before it sleeps, so nothing is missed).
//
// Out (sip_out, any producer, worker 0 consumes): msgw-control puts a
// datagram from one of its listen addresses (local_ip/local_port, which
// names the dataplane port) to a remote address; worker 0 builds the
// Ethernet, IPv4 and UDP headers (the next hop's MAC from the neighbour
// table, ARP asked for and the datagram held for a moment when unknown) and
// sends it out of that port.  Larger datagrams and TCP still go through
// msgw-control's kernel sockets and the TAP.
//
// The consumer: msgw-control sets sip_consumer_signal then sip_consumer_pid
// when it attaches (and again after a dataplane restart: a new segment has
// none) and clears the pid when it stops.  The main lcore clears a pid whose
// process is gone, so a control plane that dies does not take the SIP with
// it: the TAP and the kernel's sockets carry it again, and a new
// msgw-control binds them as before.
inline constexpr uint32_t kSipDatagramMax = 1500 - 20 - 8;  // one unfragmented IPv4 frame
inline constexpr uint32_t kSipInSlots = 4096;               // power of two (rte_ring)
inline constexpr uint32_t kSipOutSlots = 4096;
struct SipDatagram {
  uint32_t local_ip;      // the gateway's address: in, destination; out, source (host order)
  uint32_t remote_ip;     // the peer: in, source; out, destination
  uint16_t local_port;
  uint16_t remote_port;
  uint16_t port;          // in: dataplane port index it came in on; out: ignored
  uint16_t length;        // bytes of data used, 1 .. kSipDatagramMax
  uint64_t time_ns;       // in: CLOCK_MONOTONIC when the worker received it; out: 0
  uint8_t reserved[40];
  char data[kSipDatagramMax];
};
static_assert(sizeof(SipDatagram) == 64 + kSipDatagramMax);
static_assert(sizeof(SipDatagram) % 4 == 0, "rte_ring element sizes are multiples of 4");
static_assert(std::is_trivially_copyable_v<SipDatagram>);

// LegSpec::codec carries codecs::CodecId (one definition for codecs/,
// dataplane/ and control/).  Its numbers are part of this layout: layout 2
// numbered G.729 2 and G.726-32 3, layout 3 uses CodecId's own numbers.
using codecs::CodecId;
using codecs::kCodecCount;
using codecs::kNoPayloadType;
static_assert(sizeof(CodecId) == 1);
static_assert(uint8_t(CodecId::Pcmu) == 0 && uint8_t(CodecId::Pcma) == 1 &&
                  uint8_t(CodecId::G726_32) == 2 && uint8_t(CodecId::G729) == 3,
              "codec numbers on the ring changed: bump kLayoutVersion");
static_assert(kCodecCount == 4, "a codec was added: check the dataplane can carry it");
static_assert(kNoPayloadType == 0xff);

// LegSpec::flags
inline constexpr uint8_t kLegLatch = 0x01;  // symmetric RTP: learn the remote from valid packets
inline constexpr uint8_t kLegG726Aal2 = 0x02;     // G.726-32 in AAL2 nibble order (SPA/Asterisk)
inline constexpr uint8_t kLegG729NoAnnexB = 0x04; // peer declared annexb=no
// The party on this leg takes no media now (it offered sendonly or inactive,
// or c=0.0.0.0: on hold): nothing is sent out of this leg, packets towards it
// are counted as `held`.  Media it sends still flows to the other leg.
inline constexpr uint8_t kLegHold = 0x08;
// Static payload types (< 96) not negotiated on the other leg are still
// forwarded to this one, unchanged, on a relayed session (a trunk that takes
// them).  Without it only the negotiated codec and telephone-event reach it.
inline constexpr uint8_t kLegPayloadPassthrough = 0x10;

// One leg of a media session: the gateway address it owns and the remote peer.
// Addresses are IPv4 in host byte order; ports in host byte order.
struct LegSpec {
  uint32_t local_ip;
  uint32_t remote_ip;       // 0 = not known yet (latch from the first valid stream)
  uint16_t port;            // dataplane port index
  uint16_t local_port;      // even; RTCP uses local_port + 1
  uint16_t remote_port;     // RTP; RTCP is remote_port + 1 until latched otherwise
  uint8_t codec;            // codecs::CodecId
  uint8_t payload_type;     // RTP payload type of codec on this leg
  uint8_t dtmf_pt;          // telephone-event payload type, kNoPayloadType = none
  uint8_t ptime_ms;         // egress packetisation
  uint8_t flags;            // kLeg*
  uint8_t reserved;
};
static_assert(sizeof(LegSpec) == 20);
static_assert(offsetof(LegSpec, codec) == 14 && sizeof(LegSpec::codec) == 1);

// The flags that change how a codec's payload is encoded on the wire.
inline constexpr uint8_t kLegMediaFlags = kLegG726Aal2 | kLegG729NoAnnexB;

// A leg's packet time; 0 (not stated) is 20 ms.
constexpr uint8_t ptime_or_default(const LegSpec& l) { return l.ptime_ms ? l.ptime_ms : 20; }

// Packets of one leg can go to the other unchanged (but for PT, seq, ts and
// SSRC): the same codec, packed the same way, at the same packet time, and
// no Annex B silence frames towards a leg that refused them.  Anything else
// goes through the codec engine (G.726 repacking, re-framing, SID-free
// G.729), even for one codec on both legs.  The dataplane decides with this;
// msgw-control reports relay/transcode with it.
constexpr bool relayable(const LegSpec& a, const LegSpec& b) {
  return a.codec == b.codec && ptime_or_default(a) == ptime_or_default(b) &&
         (a.flags & kLegMediaFlags) == (b.flags & kLegMediaFlags);
}

enum class CommandType : uint16_t {
  flow_add = 1,
  flow_modify = 2,
  flow_del = 3,
  flow_dump = 4,
};

struct Command {
  uint16_t version;         // kMessageVersion
  uint16_t type;            // CommandType
  uint32_t request_id;      // echoed in the ack
  uint32_t flow_id;         // 0 .. max_flows-1 (kAllFlows for dump)
  uint32_t reserved0;
  LegSpec legs[2];
  uint8_t reserved[kRingElemSize - 16 - 2 * sizeof(LegSpec)];
};
static_assert(sizeof(Command) == kRingElemSize);
static_assert(std::is_trivially_copyable_v<Command>);

// Event types and command statuses: each one list, expanded into the enum
// (the numbers are on the wire) and into event_name() / status_name().
#define MSGW_FOREACH_EVENT_TYPE(X)                                                   \
  X(ack, 1)           /* answer to a command: status + request_id */                 \
  X(flow, 2)          /* one flow in a FLOW_DUMP answer (sent before the ack) */     \
  X(latched, 3)       /* a leg learned or moved its remote address */                \
  X(media_timeout, 4) /* no packet on any leg for media_timeout_ms */                \
  X(dtmf, 5)          /* RFC 4733 event end seen on a leg */                         \
  X(stats, 6)         /* periodic per-flow counters snapshot */

enum class EventType : uint16_t {
#define MSGW_EVENT_TYPE_ENUMERATOR(name, value) name = value,
  MSGW_FOREACH_EVENT_TYPE(MSGW_EVENT_TYPE_ENUMERATOR)
#undef MSGW_EVENT_TYPE_ENUMERATOR
};

// X(name, value, text): text is what status_name() says (for log lines and
// errors shown to an operator).
#define MSGW_FOREACH_STATUS(X)                                                        \
  X(ok, 0, "ok")                                                                      \
  X(bad_version, 1, "bad message version")                                            \
  X(unknown_command, 2, "unknown command")                                            \
  X(bad_flow_id, 3, "flow id out of range")                                           \
  X(flow_exists, 4, "flow id already in use")         /* FLOW_ADD of an id in use */  \
  X(no_such_flow, 5, "no such flow")                                                  \
  X(unknown_codec, 6, "unknown codec")                                                \
  X(bad_port, 7, "port index out of range")                                           \
  X(bad_address, 8, "bad local address")       /* zero local ip, odd or zero port */  \
  X(duplicate_address, 9, "local address already in use") /* by another leg (or both) */ \
  X(table_full, 10, "flow table full")                                                \
  X(bad_payload_type, 11, "bad payload type")                                         \
  /* valid request the dataplane cannot carry (codec engine refused it) */            \
  X(unsupported, 12, "unsupported by this dataplane")

enum class Status : int32_t {
#define MSGW_STATUS_ENUMERATOR(name, value, text) name = value,
  MSGW_FOREACH_STATUS(MSGW_STATUS_ENUMERATOR)
#undef MSGW_STATUS_ENUMERATOR
};
const char* status_name(Status s);
const char* event_name(EventType t);

struct Event {
  uint16_t version;
  uint16_t type;            // EventType
  uint32_t request_id;      // ack/flow: the command's; otherwise 0
  uint32_t flow_id;
  int32_t status;           // ack: Status; flow: leg count
  uint64_t time_ns;         // CLOCK_MONOTONIC when produced
  uint8_t leg;              // 0/1 for leg events
  uint8_t reserved1[7];
  union {
    struct {                // latched
      uint32_t ip;
      uint16_t port;
      uint16_t reserved;
      uint32_t ssrc;
    } latched;
    struct {                // dtmf
      uint8_t event;        // 0-9, 10 = *, 11 = #, 12-15 = A-D, others per RFC 4733
      uint8_t volume;
      uint16_t duration;    // in the leg's RTP clock units
      uint32_t timestamp;
    } dtmf;
    struct {                // flow (dump)
      LegSpec legs[2];
      uint32_t latched_ip[2];
      uint16_t latched_port[2];
    } flow;
    struct {                // stats: compact snapshot of one leg
      uint64_t packets;
      uint64_t bytes;
      uint32_t lost;
      uint32_t jitter;
    } stats;
    uint8_t raw[kRingElemSize - 32];
  } u;
};
static_assert(sizeof(Event) == kRingElemSize);
static_assert(std::is_trivially_copyable_v<Event>);

// Per-leg counters, one cache line each, written only by the worker that owns
// the session and read lock-free (relaxed atomic loads of aligned 64-bit words;
// each field is consistent, the set is a snapshot "near" a moment).
struct alignas(64) FlowStats {
  uint64_t packets;         // valid packets received on this leg
  uint64_t bytes;           // their UDP payload bytes
  uint64_t lost;            // RFC 3550 cumulative lost (never negative here)
  uint64_t jitter;          // RFC 3550 interarrival jitter, RTP clock units
  uint64_t last_seen_ns;    // CLOCK_MONOTONIC of the last valid packet (0 = never)
  uint64_t dropped;         // packets to this leg dropped (bleed, bad RTP, ...)
  uint64_t sent;            // packets sent out of this leg
  uint64_t generation;      // add counter of the slot, to tell reuse apart
};
static_assert(sizeof(FlowStats) == 64);

// The dataplane's own counters as msgw-control reads them (its /metrics):
// the main lcore copies the workers' and ports' counters here every
// kCountersPeriodMs (relaxed atomic stores of 64-bit words; a reader sees
// each value exact and the set near one moment, as telemetry does).  The
// names and order are counters.hpp's lists; changing a list changes this
// layout, hence the counts checked below.
inline constexpr uint32_t kCountersPeriodMs = 200;
inline constexpr uint32_t kLoadWindowMs = 1000;  // window of the load figures

struct alignas(64) PublishedWorker {
  WorkerCounters counters;
  uint64_t lcore;
  uint64_t relayed_sessions;     // sessions this worker owns now, relayed
  uint64_t transcoded_sessions;  // ... and through the codec engine
  // The last complete load window (~kLoadWindowMs): TSC cycles it lasted,
  // cycles spent in poll passes that had packets, packets processed
  // (received and handed in).  Idle ratio = 1 - busy / window; cycles per
  // packet = busy / packets.  0 before the first window ends.
  uint64_t window_cycles;
  uint64_t window_busy_cycles;
  uint64_t window_packets;
};

struct alignas(64) PublishedPort {
#define MSGW_PUBLISHED_ETH_FIELD(name, field, help) uint64_t name;
  MSGW_FOREACH_ETH_COUNTER(MSGW_PUBLISHED_ETH_FIELD)
#undef MSGW_PUBLISHED_ETH_FIELD
#define MSGW_PUBLISHED_PORT_FIELD(name, help) uint64_t name;
  MSGW_FOREACH_PORT_COUNTER(MSGW_PUBLISHED_PORT_FIELD)
#undef MSGW_PUBLISHED_PORT_FIELD
};

struct PublishedCounters {
  uint64_t published_ns;   // CLOCK_MONOTONIC of the last copy; 0 = none yet
  uint64_t publications;   // copies made since the dataplane started
  uint8_t reserved[48];
  PublishedWorker workers[kMaxWorkers];  // header n_workers of them valid
  PublishedPort ports[kMaxPorts];        // header n_ports of them valid
};
static_assert(std::is_trivially_copyable_v<PublishedCounters>);
static_assert(sizeof(PublishedCounters) % sizeof(uint64_t) == 0);
static_assert(sizeof(WorkerCounters) == (23 + 1 + 32) * sizeof(uint64_t),
              "a worker counter or drop reason was added: bump kLayoutVersion, then this check");
static_assert(sizeof(PublishedPort) == 64 * 2, "a port counter was added: bump kLayoutVersion");

// Offsets, computed identically by both sides from the header values.
struct SegmentLayout {
  uint64_t cmd_ring_offset;
  uint64_t evt_ring_offset;
  uint64_t stats_offset;
  uint64_t counters_offset;
  uint64_t sip_in_offset;
  uint64_t sip_out_offset;
  uint64_t total_size;
};
// Needs librte_ring (rte_ring_get_memsize_elem), not EAL.
SegmentLayout compute_layout(uint32_t max_flows);

}  // namespace msgw::dataplane
