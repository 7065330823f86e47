// Control <-> dataplane shared-memory protocol.
//
// One POSIX shm segment per instance (/dev/shm/msgw-<instance>), created by
// msgw-dataplane.  Layout, all offsets from the segment start:
//
//   [SegmentHeader][command ring][event ring][FlowStats x 2*max_flows]
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

namespace msgw::dataplane {

inline constexpr uint64_t kMagic = 0x3150445747534d00ull;  // "\0MSGWDP1" little-endian
inline constexpr uint32_t kLayoutVersion = 2;
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
  uint8_t reserved[152];
};
static_assert(sizeof(SegmentHeader) == 256);

enum class Codec : uint8_t {
  pcmu = 0,
  pcma = 1,
  g729 = 2,
  g726_32 = 3,
};
inline constexpr uint8_t kCodecCount = 4;
inline constexpr uint8_t kNoPayloadType = 0xff;

// LegSpec::flags
inline constexpr uint8_t kLegLatch = 0x01;  // symmetric RTP: learn the remote from valid packets
inline constexpr uint8_t kLegG726Aal2 = 0x02;     // G.726-32 in AAL2 nibble order (SPA/Asterisk)
inline constexpr uint8_t kLegG729NoAnnexB = 0x04; // peer declared annexb=no
// The party on this leg takes no media now (it offered sendonly or inactive,
// or c=0.0.0.0: on hold): nothing is sent out of this leg, packets towards it
// are counted as `held`.  Media it sends still flows to the other leg.
inline constexpr uint8_t kLegHold = 0x08;

// One leg of a media session: the gateway address it owns and the remote peer.
// Addresses are IPv4 in host byte order; ports in host byte order.
struct LegSpec {
  uint32_t local_ip;
  uint32_t remote_ip;       // 0 = not known yet (latch from the first valid stream)
  uint16_t port;            // dataplane port index
  uint16_t local_port;      // even; RTCP uses local_port + 1
  uint16_t remote_port;     // RTP; RTCP is remote_port + 1 until latched otherwise
  uint8_t codec;            // Codec
  uint8_t payload_type;     // RTP payload type of codec on this leg
  uint8_t dtmf_pt;          // telephone-event payload type, kNoPayloadType = none
  uint8_t ptime_ms;         // egress packetisation
  uint8_t flags;            // kLeg*
  uint8_t reserved;
};
static_assert(sizeof(LegSpec) == 20);

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

enum class EventType : uint16_t {
  ack = 1,             // answer to a command: status + request_id
  flow = 2,            // one flow in a FLOW_DUMP answer (sent before the ack)
  latched = 3,         // a leg learned or moved its remote address
  media_timeout = 4,   // no packet on any leg for media_timeout_ms
  dtmf = 5,            // RFC 4733 event end seen on a leg
  stats = 6,           // periodic per-flow counters snapshot
};

enum class Status : int32_t {
  ok = 0,
  bad_version = 1,
  unknown_command = 2,
  bad_flow_id = 3,          // out of range
  flow_exists = 4,          // FLOW_ADD of an id in use
  no_such_flow = 5,
  unknown_codec = 6,
  bad_port = 7,             // port index out of range
  bad_address = 8,          // zero local ip, odd or zero local port, ...
  duplicate_address = 9,    // local address already used by another leg (or both legs)
  table_full = 10,
  bad_payload_type = 11,
  unsupported = 12,         // valid request the dataplane cannot carry (codec engine refused it)
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

// Offsets, computed identically by both sides from the header values.
struct SegmentLayout {
  uint64_t cmd_ring_offset;
  uint64_t evt_ring_offset;
  uint64_t stats_offset;
  uint64_t total_size;
};
// Needs librte_ring (rte_ring_get_memsize_elem), not EAL.
SegmentLayout compute_layout(uint32_t max_flows);

}  // namespace msgw::dataplane
