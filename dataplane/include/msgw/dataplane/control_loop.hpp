// SPDX-License-Identifier: GPL-3.0-or-later
// Main-lcore service of the shared-memory protocol: commands in, acks and
// flow events out, deferred deletions, media timeouts.  Single-threaded by
// design (the flow table's one writer).
#pragma once

#include <cstdint>
#include <vector>

#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/flow_table.hpp"

namespace msgw::dataplane {

// The main lcore's command-service counters, reported by telemetry
// (/msgw/info, these names in this order): one list for fields and output.
#define MSGW_FOREACH_CONTROL_COUNTER(X) \
  X(commands)                           \
  X(command_errors)                     \
  X(media_timeouts)

struct ControlCounters {
#define MSGW_CONTROL_COUNTER_FIELD(name) uint64_t name = 0;
  MSGW_FOREACH_CONTROL_COUNTER(MSGW_CONTROL_COUNTER_FIELD)
#undef MSGW_CONTROL_COUNTER_FIELD
};

class CommandProcessor {
 public:
  CommandProcessor(Segment& seg, FlowTable& flows, uint32_t media_timeout_ms);
  // One service round: up to 64 commands, reclamation, a slice of the
  // timeout scan.  now_ns is CLOCK_MONOTONIC.  True when the round had work
  // (commands, acks or a dump in progress), so the caller polls again soon.
  bool poll(uint64_t now_ns);
  // Work that no doorbell announces and that only polling advances: a dump
  // still streaming, deletions whose acks wait for RCU.  The main lcore
  // naps short while this holds and long otherwise.
  bool wants_poll() const { return dumping_ || flows_.reclaim_pending(); }
  const ControlCounters& counters() const { return counters_; }

 private:
  Segment& seg_;
  FlowTable& flows_;
  uint64_t timeout_ns_;
  ControlCounters counters_;
  std::vector<uint64_t> added_ns_;     // per flow id: when (re)programmed
  std::vector<uint8_t> timed_out_;     // per flow id: MEDIA_TIMEOUT already sent
  uint32_t scan_cursor_ = 0;
  uint64_t last_scan_ns_ = 0;
  bool dumping_ = false;
  uint32_t dump_request_ = 0;
  uint32_t dump_cursor_ = 0;

  void handle(const Command& c, uint64_t now_ns);
  void ack(uint32_t request_id, uint32_t flow_id, Status s, uint64_t now_ns);
  bool post_flow(uint32_t flow_id, uint32_t request_id, uint64_t now_ns);
  void continue_dump(uint64_t now_ns);
  void scan_timeouts(uint64_t now_ns);
};

}  // namespace msgw::dataplane
