// SPDX-License-Identifier: GPL-3.0-or-later
// The workers' and ports' counters, copied into the segment's
// PublishedCounters for msgw-control's /metrics (protocol.hpp).  Main lcore,
// every kCountersPeriodMs: never on the packet path.  Telemetry reads the
// same counters in place; the segment is what another process can map.
#include <algorithm>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "runtime.hpp"

namespace msgw::dataplane {

namespace {

uint64_t rd(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }
void wr(uint64_t& dst, uint64_t v) { __atomic_store_n(&dst, v, __ATOMIC_RELAXED); }

// Word by word: WorkerCounters is all uint64_t (protocol.hpp checks its size).
void copy_counters(const WorkerCounters& src, WorkerCounters& dst) {
  const auto* s = reinterpret_cast<const uint64_t*>(&src);
  auto* d = reinterpret_cast<uint64_t*>(&dst);
  for (size_t i = 0; i < sizeof(WorkerCounters) / sizeof(uint64_t); ++i) wr(d[i], rd(s[i]));
}

uint64_t packets_of(const WorkerCounters& c) { return rd(c.rx) + rd(c.handoff_in); }

}  // namespace

CountersPublisher::CountersPublisher(Runtime& rt) : rt_(rt) {}

void CountersPublisher::poll(uint64_t now_ns) {
  if (now_ns < next_ns_) return;
  next_ns_ = now_ns + uint64_t(kCountersPeriodMs) * 1000000ull;
  PublishedCounters& out = *rt_.segment->counters();
  const size_t n_workers = std::min<size_t>(rt_.workers.size(), kMaxWorkers);

  // Sessions per owner: the main lcore is the flow table's only writer.
  uint64_t relayed[kMaxWorkers] = {}, transcoded[kMaxWorkers] = {};
  for (uint32_t f = 0; f < rt_.flows->max_flows(); ++f) {
    const SessionConfig* c = rt_.flows->get(f);
    if (c == nullptr || c->owner >= kMaxWorkers) continue;
    ++(c->tc[0] != nullptr || c->tc[1] != nullptr ? transcoded : relayed)[c->owner];
  }

  const uint64_t tsc = rte_rdtsc();
  const uint64_t window = uint64_t(kLoadWindowMs) * rte_get_tsc_hz() / 1000;
  const bool window_done = window_tsc_ != 0 && tsc - window_tsc_ >= window;
  for (size_t i = 0; i < n_workers; ++i) {
    const Worker& w = rt_.workers[i];
    PublishedWorker& p = out.workers[i];
    copy_counters(w.ctx.counters, p.counters);
    wr(p.lcore, w.lcore);
    wr(p.relayed_sessions, relayed[i]);
    wr(p.transcoded_sessions, transcoded[i]);
    const uint64_t busy = rd(w.ctx.counters.busy_cycles), packets = packets_of(w.ctx.counters);
    if (window_done) {
      wr(p.window_cycles, tsc - window_tsc_);
      wr(p.window_busy_cycles, busy - busy0_[i]);
      wr(p.window_packets, packets - packets0_[i]);
    }
    if (window_done || window_tsc_ == 0) {
      busy0_[i] = busy;
      packets0_[i] = packets;
    }
  }
  if (window_done || window_tsc_ == 0) window_tsc_ = tsc;

  const size_t n_ports = std::min<size_t>(rt_.ports.size(), kMaxPorts);
  for (size_t i = 0; i < n_ports; ++i) {
    const PortRuntime& pr = rt_.ports[i];
    PublishedPort& p = out.ports[i];
    rte_eth_stats s{};
    rte_eth_stats_get(pr.eth_id, &s);
#define MSGW_PUBLISH_ETH(name, field, help) wr(p.name, s.field);
    MSGW_FOREACH_ETH_COUNTER(MSGW_PUBLISH_ETH)
#undef MSGW_PUBLISH_ETH
#define MSGW_PUBLISH_PORT(name, help) wr(p.name, rd(pr.name));
    MSGW_FOREACH_PORT_COUNTER(MSGW_PUBLISH_PORT)
#undef MSGW_PUBLISH_PORT
  }
  wr(out.publications, out.publications + 1);
  wr(out.published_ns, now_ns);
}

}  // namespace msgw::dataplane
