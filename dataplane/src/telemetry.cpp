// SPDX-License-Identifier: GPL-3.0-or-later
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

// A counter telemetry reports: its key and where it is in S.
template <class S>
struct NamedCounter {
  const char* name;
  uint64_t S::*field;
};

// The device counters /msgw/ports reports, by name, in output order.
constexpr NamedCounter<rte_eth_stats> kEthStats[] = {
#define MSGW_ETH_COUNTER_ENTRY(name, field, help) {#name, &rte_eth_stats::field},
    MSGW_FOREACH_ETH_COUNTER(MSGW_ETH_COUNTER_ENTRY)
#undef MSGW_ETH_COUNTER_ENTRY
};

// The leg counters /msgw/flow,<id> reports, by name, in output order (not
// FlowStats' layout order, which the shared-memory protocol fixes).
constexpr NamedCounter<FlowStats> kLegStats[] = {
    {"packets", &FlowStats::packets}, {"bytes", &FlowStats::bytes},
    {"lost", &FlowStats::lost},       {"jitter", &FlowStats::jitter},
    {"dropped", &FlowStats::dropped}, {"sent", &FlowStats::sent},
    {"last_seen_ns", &FlowStats::last_seen_ns},
};

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
#define MSGW_CONTROL_COUNTER_OUT(name) rte_tel_data_add_dict_u64(d, #name, cc.name);
  MSGW_FOREACH_CONTROL_COUNTER(MSGW_CONTROL_COUNTER_OUT)
#undef MSGW_CONTROL_COUNTER_OUT
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
    for (const auto& e : kEthStats) rte_tel_data_add_dict_u64(c, e.name, s.*e.field);
#define MSGW_PORT_COUNTER_OUT(name, help) rte_tel_data_add_dict_u64(c, #name, rd(p.name));
    MSGW_FOREACH_PORT_COUNTER(MSGW_PORT_COUNTER_OUT)
#undef MSGW_PORT_COUNTER_OUT
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
#define MSGW_WORKER_COUNTER_OUT(name, help) rte_tel_data_add_dict_u64(c, #name, rd(k.name));
    MSGW_FOREACH_WORKER_COUNTER(MSGW_WORKER_COUNTER_OUT)
#undef MSGW_WORKER_COUNTER_OUT
    if (w.flow_cache != nullptr) {
      rte_tel_data_add_dict_u64(c, "flow_cache_hits", rd(w.flow_cache->hits));
      rte_tel_data_add_dict_u64(c, "flow_cache_misses", rd(w.flow_cache->misses));
    }
    rte_tel_data_add_dict_u64(c, "sleeps", rd(w.sleeps));
    rte_tel_data_add_dict_u64(c, "slept_us", rd(w.slept_ns) / 1000);
    for (size_t r = 0; r < size_t(Drop::count); ++r)
      rte_tel_data_add_dict_u64(c, (std::string("drop_") + drop_name(Drop(r))).c_str(),
                                rd(k.dropped[r]));
    rte_tel_data_add_dict_u64(c, "dropped", k.dropped_total(rd));
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
    for (const auto& f : kLegStats) rte_tel_data_add_dict_u64(c, f.name, rd(st[l].*f.field));
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
