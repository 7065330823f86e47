// SPDX-License-Identifier: GPL-3.0-or-later
// Command service on the main lcore.  Control path: may allocate.
#include "msgw/dataplane/control_loop.hpp"

#include <cstring>

#include <rte_ring.h>

namespace msgw::dataplane {

namespace {
// Leave room in the event ring for workers' LATCHED/DTMF events while a
// large dump streams out.
constexpr unsigned kDumpReserve = 256;
// The whole flow table is swept for media timeouts once per this period, in
// slices sized by the time since the last round.  Timeouts are seconds, so
// 100 ms of detection slack is invisible, and the main lcore no longer walks
// 80 M table slots a second (it shares a core with other work).
constexpr uint64_t kTimeoutSweepNs = 100'000'000;
constexpr uint32_t kTimeoutMinSlice = 64;
}  // namespace

CommandProcessor::CommandProcessor(Segment& seg, FlowTable& flows, uint32_t media_timeout_ms)
    : seg_(seg), flows_(flows), timeout_ns_(uint64_t(media_timeout_ms) * 1000000ull) {
  flows_.set_stats_area(seg.stats());
  added_ns_.assign(flows.max_flows(), 0);
  timed_out_.assign(flows.max_flows(), 0);
}

void CommandProcessor::ack(uint32_t request_id, uint32_t flow_id, Status s, uint64_t now_ns) {
  Event e{};
  e.version = kMessageVersion;
  e.type = uint16_t(EventType::ack);
  e.request_id = request_id;
  e.flow_id = flow_id;
  e.status = int32_t(s);
  e.time_ns = now_ns;
  seg_.post_event(e);
  if (s != Status::ok) ++counters_.command_errors;
}

bool CommandProcessor::post_flow(uint32_t flow_id, uint32_t request_id, uint64_t now_ns) {
  const SessionConfig* c = flows_.get(flow_id);
  if (c == nullptr) return false;
  Event e{};
  e.version = kMessageVersion;
  e.type = uint16_t(EventType::flow);
  e.request_id = request_id;
  e.flow_id = flow_id;
  e.status = 2;
  e.time_ns = now_ns;
  e.u.flow.legs[0] = c->legs[0];
  e.u.flow.legs[1] = c->legs[1];
  // The worker writes these; a racy read shows the latch of a moment.
  const SessionRuntime* rt = flows_.runtime(flow_id);
  for (int i = 0; i < 2; ++i) {
    e.u.flow.latched_ip[i] = __atomic_load_n(&rt->legs[i].remote_ip, __ATOMIC_RELAXED);
    e.u.flow.latched_port[i] = __atomic_load_n(&rt->legs[i].remote_port, __ATOMIC_RELAXED);
  }
  seg_.post_event(e);
  return true;
}

void CommandProcessor::handle(const Command& c, uint64_t now_ns) {
  ++counters_.commands;
  if (c.version != kMessageVersion) {
    ack(c.request_id, c.flow_id, Status::bad_version, now_ns);
    return;
  }
  switch (CommandType(c.type)) {
    case CommandType::flow_add:
    case CommandType::flow_modify: {
      // A modified flow restarts its media-timeout clock like a new one.
      const Status s = CommandType(c.type) == CommandType::flow_add ? flows_.add(c.flow_id, c.legs)
                                                                    : flows_.modify(c.flow_id, c.legs);
      if (s == Status::ok) {
        added_ns_[c.flow_id] = now_ns;
        timed_out_[c.flow_id] = 0;
      }
      ack(c.request_id, c.flow_id, s, now_ns);
      return;
    }
    case CommandType::flow_del: {
      // Acked by poll() once the id is really free again.
      const Status s = flows_.del(c.flow_id, c.request_id);
      if (s != Status::ok) ack(c.request_id, c.flow_id, s, now_ns);
      return;
    }
    case CommandType::flow_dump: {
      if (c.flow_id == kAllFlows) {
        if (dumping_) {
          ack(c.request_id, c.flow_id, Status::unsupported, now_ns);  // one dump at a time
          return;
        }
        dumping_ = true;
        dump_request_ = c.request_id;
        dump_cursor_ = 0;
        continue_dump(now_ns);
        return;
      }
      if (c.flow_id >= flows_.max_flows()) {
        ack(c.request_id, c.flow_id, Status::bad_flow_id, now_ns);
      } else if (!post_flow(c.flow_id, c.request_id, now_ns)) {
        ack(c.request_id, c.flow_id, Status::no_such_flow, now_ns);
      } else {
        ack(c.request_id, c.flow_id, Status::ok, now_ns);
      }
      return;
    }
  }
  ack(c.request_id, c.flow_id, Status::unknown_command, now_ns);
}

void CommandProcessor::continue_dump(uint64_t now_ns) {
  rte_ring* r = seg_.event_ring();
  while (dump_cursor_ < flows_.max_flows()) {
    if (rte_ring_free_count(r) <= kDumpReserve) return;  // resume next round
    post_flow(dump_cursor_, dump_request_, now_ns);
    ++dump_cursor_;
  }
  dumping_ = false;
  ack(dump_request_, kAllFlows, Status::ok, now_ns);
}

void CommandProcessor::scan_timeouts(uint64_t now_ns) {
  if (timeout_ns_ == 0) return;
  const uint32_t n = flows_.max_flows();
  const FlowStats* st = seg_.stats();
  const uint64_t elapsed = now_ns > last_scan_ns_ ? now_ns - last_scan_ns_ : 0;
  last_scan_ns_ = now_ns;
  const uint64_t want = elapsed >= kTimeoutSweepNs ? n : uint64_t(n) * elapsed / kTimeoutSweepNs;
  const uint32_t slice = uint32_t(want < kTimeoutMinSlice ? kTimeoutMinSlice : want);
  for (uint32_t k = 0; k < slice && k < n; ++k) {
    const uint32_t f = scan_cursor_;
    scan_cursor_ = scan_cursor_ + 1 >= n ? 0 : scan_cursor_ + 1;
    if (flows_.get(f) == nullptr) continue;
    uint64_t last = added_ns_[f];
    for (int i = 0; i < 2; ++i) {
      const uint64_t seen = __atomic_load_n(&st[size_t(f) * 2 + i].last_seen_ns, __ATOMIC_RELAXED);
      if (seen > last) last = seen;
    }
    if (now_ns > last && now_ns - last >= timeout_ns_) {
      if (!timed_out_[f]) {
        timed_out_[f] = 1;
        ++counters_.media_timeouts;
        Event e{};
        e.version = kMessageVersion;
        e.type = uint16_t(EventType::media_timeout);
        e.flow_id = f;
        e.time_ns = now_ns;
        seg_.post_event(e);
      }
    } else {
      timed_out_[f] = 0;  // media came back: a later silence reports again
    }
  }
}

bool CommandProcessor::poll(uint64_t now_ns) {
  bool busy = dumping_;
  for (const FlowTable::Freed& f : flows_.reclaim(false)) {
    ack(f.request_id, f.flow_id, Status::ok, now_ns);
    busy = true;
  }
  // A large dump streams over several rounds; other commands keep being
  // served meanwhile (every event carries its request id).
  if (dumping_) continue_dump(now_ns);
  Command cmds[64];
  const unsigned n = seg_.take_commands(cmds, 64);
  for (unsigned i = 0; i < n; ++i) handle(cmds[i], now_ns);
  // Deletions whose readers are already quiescent complete in this round.
  if (n > 0)
    for (const FlowTable::Freed& f : flows_.reclaim(false))
      ack(f.request_id, f.flow_id, Status::ok, now_ns);
  scan_timeouts(now_ns);
  return busy || n > 0;
}

}  // namespace msgw::dataplane
