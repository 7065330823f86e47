// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-dataplane process state shared by the main lcore, the workers and the
// telemetry callbacks.  Internal to the binary.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include "msgw/config/config.hpp"
#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/control_loop.hpp"
#include "msgw/dataplane/flow_table.hpp"
#include "msgw/dataplane/neighbour.hpp"
#include "msgw/dataplane/packet.hpp"

namespace msgw::dataplane {

struct PortRuntime {
  std::string name;
  uint16_t eth_id = 0;     // DPDK port id of the device
  uint16_t tap_id = 0;     // DPDK port id of its net_tap
  std::string tap_ifname;
  uint16_t n_rxq = 1;
  uint16_t n_txq = 1;
  bool shared_tx = false;  // fewer TX queues than workers: take the lock
  rte_spinlock_t tx_lock[kMaxWorkers];
  rte_ring* exception = nullptr;  // workers -> main -> TAP
  rte_ring* inject = nullptr;     // main (TAP, ARP) -> worker 0 -> port
  // Main lcore counters.
#define MSGW_PORT_COUNTER_FIELD(name, help) uint64_t name = 0;
  MSGW_FOREACH_PORT_COUNTER(MSGW_PORT_COUNTER_FIELD)
#undef MSGW_PORT_COUNTER_FIELD
};

struct alignas(64) Worker {
  uint16_t index = 0;
  unsigned lcore = 0;
  // (port index, queue) pairs this worker polls
  std::vector<std::pair<uint16_t, uint16_t>> rx;
  rte_ring* handoff = nullptr;  // other workers -> this one
  uint64_t sleep_max_ns = 0;    // [dataplane] worker_sleep_max_us; 0 = busy-poll
  uint64_t sleeps = 0;          // light-load sleeps taken
  uint64_t slept_ns = 0;        // time asked for in them
  uint64_t arp_wishes_kicked = 0;  // ctx.counters.arp_wishes when the main lcore was last kicked
  std::unique_ptr<FlowCache> flow_cache;  // ctx.flow_cache
  WorkerContext ctx;
};

struct Runtime {
  config::Config cfg;
  std::string instance;
  uint32_t hold_rx_until_flows = 0;  // test knob: workers poll RX only after N flows exist
  std::atomic<bool> stop{false};
  std::atomic<bool> rx_enabled{true};
  rte_mempool* pool = nullptr;
  std::vector<PortRuntime> ports;
  std::vector<PortInfo> port_info;
  std::vector<Worker> workers;
  std::optional<Segment> segment;
  std::optional<FlowTable> flows;
  std::optional<NeighbourTable> neighbours;
  std::optional<CommandProcessor> commands;
  rte_rcu_qsbr* rcu = nullptr;
  rte_ring* resolve = nullptr;
  // msgw-control's admission rate while it sheds: one for all workers.
  SipAdmitLimiter sip_admit;
  bool hugepages = false;
  // The main lcore's thread and its doorbell signal (0 = none yet): what
  // kick_main() needs.
  pid_t main_tid = 0;
  int doorbell_signal = 0;
};

// Ends the main lcore's nap, if it is napping, so that frames for the kernel
// and ARP wishes do not wait out the nap.
// The caller has queued its work first; the fence pairs with the one in the
// main lcore's nap (it sets main_napping, then looks at the rings), so either
// the nap sees the work or this sees the nap.  Async-signal-safe.
void kick_main(Runtime& rt);

// tap_wakeup.cpp: the TAP queues' readiness, polled by the main lcore in its
// nap instead of net_tap's signal per frame (see there).
class TapWakeup {
 public:
  TapWakeup();
  // After setup_ports, before the workers run: turns net_tap's signal off on
  // every port's TAP queue and polls the queues instead.  False (nothing
  // changed, every port read every round as before) when the TAPs are not
  // set up the way it knows; *why says how.
  bool take_over(const Runtime& rt, std::string* why);
  bool polled() const { return !fds_.empty(); }
  pollfd* fds() { return fds_.data(); }
  nfds_t count() const { return fds_.size(); }
  // After ppoll(fds(), count(), ...) returned `ready`: which ports' queues
  // have frames; tells net_tap (its rx burst reads only after its signal).
  void after_poll(int ready);
  // Whether the main lcore should read port p's TAP this round.
  bool ready(uint16_t p) const { return ready_[p]; }

 private:
  std::vector<pollfd> fds_;
  std::vector<uint16_t> port_of_;
  void (*trigger_)(int) = nullptr;
  int signo_ = 0;
  bool ready_[kMaxPorts];
};

// ports.cpp
std::vector<std::string> build_eal_args(const config::Config& cfg, const std::string& argv0,
                                        bool* hugepages, std::string* why);
bool setup_ports(Runtime& rt, std::string& err);
void shutdown_ports(Runtime& rt);
// worker.cpp
int worker_main(void* arg);  // arg: Runtime*, worker index from lcore
// telemetry.cpp
void register_telemetry(Runtime& rt);
// counters_publish.cpp: the workers' and ports' counters into the segment's
// PublishedCounters every kCountersPeriodMs, with the load window figures.
class CountersPublisher {
 public:
  explicit CountersPublisher(Runtime& rt);
  void poll(uint64_t now_ns);  // main lcore, every round; copies when due

 private:
  Runtime& rt_;
  uint64_t next_ns_ = 0;
  uint64_t window_tsc_ = 0;  // start of the load window (0 = none yet)
  uint64_t busy0_[kMaxWorkers] = {};
  uint64_t packets0_[kMaxWorkers] = {};
};

extern Runtime* g_runtime;

}  // namespace msgw::dataplane
