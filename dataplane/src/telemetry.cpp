// DPDK telemetry commands (dpdk-telemetry.py): /msgw/info, /msgw/ports,
// /msgw/workers, /msgw/flow,<id>.  Counters are read relaxed while workers
// write them: each value is exact, the set is a near-snapshot.
#include <cstdlib>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "runtime.hpp"

namespace msgw::dataplane {

namespace {

uint64_t rd(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }

int info(const char*, const char*, rte_tel_data* d) {
  Runtime& rt = *g_runtime;
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_string(d, "instance", rt.instance.c_str());
  rte_tel_data_add_dict_u64(d, "generation", rt.segment->generation());
  rte_tel_data_add_dict_u64(d, "workers", rt.workers.size());
  rte_tel_data_add_dict_u64(d, "ports", rt.ports.size());
  rte_tel_data_add_dict_u64(d, "flows_max", rt.flows->max_flows());
  rte_tel_data_add_dict_u64(d, "legs_in_use", rt.flows->legs_in_use());
  rte_tel_data_add_dict_u64(d, "neighbours", rt.neighbours->size());
  rte_tel_data_add_dict_string(d, "hugepages", rt.hugepages ? "yes" : "no");
  const auto& cc = rt.commands->counters();
  rte_tel_data_add_dict_u64(d, "commands", cc.commands);
  rte_tel_data_add_dict_u64(d, "command_errors", cc.command_errors);
  rte_tel_data_add_dict_u64(d, "media_timeouts", cc.media_timeouts);
  rte_tel_data_add_dict_u64(d, "events_dropped",
                            __atomic_load_n(&rt.segment->header()->events_dropped,
                                            __ATOMIC_RELAXED));
  return 0;
}

int ports(const char*, const char*, rte_tel_data* d) {
  Runtime& rt = *g_runtime;
  rte_tel_data_start_dict(d);
  for (size_t i = 0; i < rt.ports.size(); ++i) {
    const PortRuntime& p = rt.ports[i];
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) return -ENOMEM;
    rte_tel_data_start_dict(c);
    rte_eth_stats s{};
    rte_eth_stats_get(p.eth_id, &s);
    rte_tel_data_add_dict_u64(c, "rx_packets", s.ipackets);
    rte_tel_data_add_dict_u64(c, "tx_packets", s.opackets);
    rte_tel_data_add_dict_u64(c, "rx_missed", s.imissed);
    rte_tel_data_add_dict_u64(c, "rx_errors", s.ierrors);
    rte_tel_data_add_dict_u64(c, "tx_errors", s.oerrors);
    rte_tel_data_add_dict_u64(c, "rx_nombuf", s.rx_nombuf);
    rte_tel_data_add_dict_u64(c, "to_kernel", rd(p.to_kernel));
    rte_tel_data_add_dict_u64(c, "from_kernel", rd(p.from_kernel));
    rte_tel_data_add_dict_u64(c, "to_kernel_dropped", rd(p.to_kernel_dropped));
    rte_tel_data_add_dict_u64(c, "from_kernel_dropped", rd(p.from_kernel_dropped));
    rte_tel_data_add_dict_u64(c, "arp_requests", rd(p.arp_requests));
    rte_tel_data_add_dict_container(d, p.name.c_str(), c, 0);
  }
  return 0;
}

int workers(const char*, const char*, rte_tel_data* d) {
  Runtime& rt = *g_runtime;
  rte_tel_data_start_dict(d);
  for (const Worker& w : rt.workers) {
    const WorkerCounters& k = w.ctx.counters;
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) return -ENOMEM;
    rte_tel_data_start_dict(c);
    rte_tel_data_add_dict_u64(c, "lcore", w.lcore);
    rte_tel_data_add_dict_u64(c, "rx", rd(k.rx));
    rte_tel_data_add_dict_u64(c, "tx", rd(k.tx));
    rte_tel_data_add_dict_u64(c, "relayed", rd(k.relayed));
    rte_tel_data_add_dict_u64(c, "relayed_steady", rd(k.relayed_steady));
    rte_tel_data_add_dict_u64(c, "rtcp_relayed", rd(k.rtcp_relayed));
    rte_tel_data_add_dict_u64(c, "exception", rd(k.exception));
    rte_tel_data_add_dict_u64(c, "handoff_out", rd(k.handoff_out));
    rte_tel_data_add_dict_u64(c, "handoff_in", rd(k.handoff_in));
    rte_tel_data_add_dict_u64(c, "latched", rd(k.latched));
    rte_tel_data_add_dict_u64(c, "dtmf_events", rd(k.dtmf_events));
    rte_tel_data_add_dict_u64(c, "fragments_seen", rd(k.fragments_seen));
    rte_tel_data_add_dict_u64(c, "transcoded_packets", rd(k.transcoded_packets));
    rte_tel_data_add_dict_u64(c, "transcoded_frames", rd(k.transcoded_frames));
    rte_tel_data_add_dict_u64(c, "concealed_frames", rd(k.concealed_frames));
    rte_tel_data_add_dict_u64(c, "transcode_buffered", rd(k.transcode_buffered));
    rte_tel_data_add_dict_u64(c, "rtcp_terminated", rd(k.rtcp_terminated));
    rte_tel_data_add_dict_u64(c, "rtcp_sent", rd(k.rtcp_sent));
    if (w.flow_cache != nullptr) {
      rte_tel_data_add_dict_u64(c, "flow_cache_hits", rd(w.flow_cache->hits));
      rte_tel_data_add_dict_u64(c, "flow_cache_misses", rd(w.flow_cache->misses));
    }
    rte_tel_data_add_dict_u64(c, "sleeps", rd(w.sleeps));
    rte_tel_data_add_dict_u64(c, "slept_us", rd(w.slept_ns) / 1000);
    uint64_t total = 0;
    for (size_t r = 0; r < size_t(Drop::count); ++r) {
      const uint64_t v = rd(k.dropped[r]);
      if (Drop(r) != Drop::held) total += v;  // withheld on hold is not a loss
      rte_tel_data_add_dict_u64(c, (std::string("drop_") + drop_name(Drop(r))).c_str(), v);
    }
    rte_tel_data_add_dict_u64(c, "dropped", total);
    rte_tel_data_add_dict_container(d, ("worker" + std::to_string(w.index)).c_str(), c, 0);
  }
  return 0;
}

int flow(const char*, const char* params, rte_tel_data* d) {
  Runtime& rt = *g_runtime;
  if (params == nullptr || *params == '\0') return -EINVAL;
  char* end = nullptr;
  const unsigned long id = std::strtoul(params, &end, 10);
  if (end == params || id >= rt.flows->max_flows()) return -EINVAL;
  const FlowStats* st = rt.segment->stats() + id * 2;
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_int(d, "active", rt.flows->get(uint32_t(id)) != nullptr);
  for (int l = 0; l < 2; ++l) {
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) return -ENOMEM;
    rte_tel_data_start_dict(c);
    rte_tel_data_add_dict_u64(c, "packets", rd(st[l].packets));
    rte_tel_data_add_dict_u64(c, "bytes", rd(st[l].bytes));
    rte_tel_data_add_dict_u64(c, "lost", rd(st[l].lost));
    rte_tel_data_add_dict_u64(c, "jitter", rd(st[l].jitter));
    rte_tel_data_add_dict_u64(c, "dropped", rd(st[l].dropped));
    rte_tel_data_add_dict_u64(c, "sent", rd(st[l].sent));
    rte_tel_data_add_dict_u64(c, "last_seen_ns", rd(st[l].last_seen_ns));
    rte_tel_data_add_dict_container(d, l == 0 ? "leg0" : "leg1", c, 0);
  }
  return 0;
}

}  // namespace

void register_telemetry(Runtime&) {
  rte_telemetry_register_cmd("/msgw/info", info, "Instance, generation, flow table, commands");
  rte_telemetry_register_cmd("/msgw/ports", ports, "Per-port counters incl. exception path");
  rte_telemetry_register_cmd("/msgw/workers", workers, "Per-worker counters, drops by reason");
  rte_telemetry_register_cmd("/msgw/flow", flow, "Per-flow leg counters. Parameters: flow id");
}

}  // namespace msgw::dataplane
