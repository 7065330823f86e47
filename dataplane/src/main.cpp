// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-dataplane: EAL, ports and TAPs from the config file, pinned workers,
// and the main lcore loop (commands, exception path, ARP, timeouts).
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "msgw/common/log.hpp"
#include "msgw/host/cpu_isolation.hpp"
#include "msgw/dataplane/eal_runtime_dir.hpp"
#include "msgw/common/monotonic_clock.hpp"
#include "runtime.hpp"

namespace msgw::dataplane {
Runtime* g_runtime = nullptr;
}

using namespace msgw::dataplane;

namespace {

// Whether mlockall(MCL_FUTURE) can lock whatever gets mapped later without
// making those mappings fail: with a finite RLIMIT_MEMLOCK and no
// CAP_IPC_LOCK, a later mmap over the limit would fail with EAGAIN.
bool have_ipc_lock() {
  rlimit rl{};
  if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY) return true;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    const unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (caps >> 14) & 1;  // CAP_IPC_LOCK
  }
  return false;
}

// Memory mapped after EAL init (a memif peer's shared buffers, mapped when it
// connects; the flow segment; rings) is otherwise faulted in 4 KiB at a time
// by the worker on first touch: ~2,000 page faults per benchmark trial on a
// VM, each a stall of microseconds on the polling core, which is what made
// the relay's p99 latency twice testpmd's (testpmd locks its memory too).
// Hugepage memory is locked already; MCL_CURRENT would pin the whole
// --no-huge arena, which the dataplane may never touch.
void lock_future_mappings() {
  if (!have_ipc_lock()) {
    MSGW_LOG(warn, "memory: not locking later mappings (no CAP_IPC_LOCK, RLIMIT_MEMLOCK finite): "
                   "workers may take page faults on first touch");
    return;
  }
  if (mlockall(MCL_FUTURE) != 0) {
    MSGW_LOG(warn, "memory: mlockall(MCL_FUTURE) failed", {"error", std::strerror(errno)});
    return;
  }
  MSGW_LOG(info, "memory: later mappings are locked and populated when mapped");
}

std::optional<std::string> read_small_file(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text;
  std::getline(in, text);
  if (in.bad()) return std::nullopt;
  return text;
}

void on_signal(int) {
  if (g_runtime != nullptr) g_runtime->stop.store(true);
}

// The doorbell (see SegmentHeader::doorbell_signal) only has to interrupt the
// main lcore's nap; the handler has nothing to do.
void on_doorbell(int) {}
int doorbell_signal() { return SIGRTMIN + 7; }

bool work_queued(Runtime& rt) {
  if (rte_ring_count(rt.segment->command_ring()) != 0 || rte_ring_count(rt.resolve) != 0)
    return true;
  for (const PortRuntime& p : rt.ports)
    if (rte_ring_count(p.exception) != 0) return true;
  return false;
}

// The main lcore's nap: advertised in the segment so that a client enqueuing
// a command, or a worker queuing frames for the kernel, ends it (doorbell),
// and a ppoll() on the TAP queues, so that a frame from the kernel ends it.
// The doorbell signal is blocked outside the nap and unblocked by ppoll()
// atomically, so a ring that comes before the sleep starts still ends it.
// With work already queued the ppoll() only looks at the TAPs (no timeout):
// under a steady load the main lcore may never sleep, and the TAPs must
// still be read.  SIGINT/SIGTERM end it too.
void nap(Runtime& rt, unsigned us, const sigset_t& nap_mask, TapWakeup& taps) {
  SegmentHeader* h = rt.segment->header();
  __atomic_store_n(&h->main_napping, 1u, __ATOMIC_SEQ_CST);
  const bool queued = work_queued(rt);
  if (!queued || taps.polled()) {
    const timespec ts = queued ? timespec{0, 0} : timespec{long(us / 1000000), long(us % 1000000) * 1000};
    taps.after_poll(ppoll(taps.fds(), taps.count(), &ts, &nap_mask));
  }
  __atomic_store_n(&h->main_napping, 0u, __ATOMIC_RELEASE);
}

using msgw::common::monotonic_ns;

// --help goes to stdout (asked for; help2man reads it for the man page:
// "Usage:" is its SYNOPSIS, "Options:" its OPTIONS), the
// same text to stderr after a command-line error. The name is fixed, not
// argv[0], so the text does not depend on where the binary was run from.
void usage(std::FILE* out) {
  std::fprintf(out,
               "Usage: msgw-dataplane --config FILE [OPTION]...\n"
               "The DPDK dataplane of msgw: owns the NIC ports named by the configuration's\n"
               "[[port]] tables, relays and transcodes RTP on pinned worker lcores, and takes\n"
               "its flows from msgw-control through /dev/shm/msgw-NAME. EAL arguments come\n"
               "from the configuration ([dataplane]), not from this command line.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE        msgw TOML configuration ([dataplane], [[port]])\n"
               "  --instance NAME          override [instance].name (shm /dev/shm/msgw-NAME)\n"
               "  --hold-rx-until-flows N  poll ports only once N flows are programmed\n"
               "                           (deterministic pcap replay tests)\n"
               "  --static-neighbour P,IP,MAC  ARP entry known from start (port index P)\n"
               "  -h, --help               this text\n"
               "  --version                the version of msgw\n");
}

// Main lcore: kernel <-> port frames and ARP.
class ExceptionPath {
 public:
  ExceptionPath(Runtime& rt, const TapWakeup& taps) : rt_(rt), taps_(taps) {}

  // Returns the number of frames moved (either way) and ARP requests served.
  unsigned poll(uint64_t now_ns) {
    unsigned moved = 0;
    rte_mbuf* pkts[kBurst];
    for (uint16_t i = 0; i < rt_.ports.size(); ++i) {
      PortRuntime& p = rt_.ports[i];
      // Port -> kernel.
      unsigned n = rte_ring_sc_dequeue_burst(p.exception, reinterpret_cast<void**>(pkts), kBurst,
                                             nullptr);
      moved += n;
      if (n > 0) {
        for (unsigned k = 0; k < n; ++k)
          learn_from_arp(*rt_.neighbours, i, rte_pktmbuf_mtod(pkts[k], const uint8_t*),
                         pkts[k]->data_len);
        const uint16_t sent = rte_eth_tx_burst(p.tap_id, 0, pkts, uint16_t(n));
        p.to_kernel += sent;
        if (sent < n) {
          p.to_kernel_dropped += n - sent;
          rte_pktmbuf_free_bulk(pkts + sent, n - sent);
        }
      }
      // Kernel -> port (through worker 0's TX queue); a TAP the nap's
      // ppoll() saw empty is not read (a read that finds nothing is a
      // system call too).
      n = taps_.ready(i) ? rte_eth_rx_burst(p.tap_id, 0, pkts, kBurst) : 0;
      moved += n;
      if (n > 0) {
        for (unsigned k = 0; k < n; ++k)
          learn_from_arp(*rt_.neighbours, i, rte_pktmbuf_mtod(pkts[k], const uint8_t*),
                         pkts[k]->data_len);
        inject(p, pkts, n);
      }
    }
    // Neighbours workers need: ARP for them, at most twice a second each.
    uint64_t keys[64];
    const unsigned n = rte_ring_sc_dequeue_burst_elem(rt_.resolve, keys, sizeof keys[0], 64,
                                                      nullptr);
    for (unsigned k = 0; k < n; ++k) request(keys[k], now_ns);
    return moved + n;
  }

  void request(uint64_t key, uint64_t now_ns) {
    const uint16_t port = uint16_t(key >> 32);
    const uint32_t ip = uint32_t(key);
    if (port >= rt_.ports.size()) return;
    rte_ether_addr mac;
    if (rt_.neighbours->lookup(port, ip, &mac)) return;
    uint64_t& last = last_request_[key];
    if (last != 0 && now_ns - last < 500'000'000ull) return;
    last = now_ns;
    rte_mbuf* m = rte_pktmbuf_alloc(rt_.pool);
    if (m == nullptr) return;
    uint8_t* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 60));
    std::memset(d, 0, 60);  // minimum frame, zero padded
    build_arp_request(rt_.port_info[port], ip, d);
    ++rt_.ports[port].arp_requests;
    inject(rt_.ports[port], &m, 1);
  }

 private:
  void inject(PortRuntime& p, rte_mbuf** pkts, unsigned n) {
    const unsigned q = rte_ring_sp_enqueue_burst(p.inject, reinterpret_cast<void**>(pkts), n,
                                                 nullptr);
    p.from_kernel += q;
    if (q < n) {
      p.from_kernel_dropped += n - q;
      rte_pktmbuf_free_bulk(pkts + q, n - q);
    }
  }
  Runtime& rt_;
  const TapWakeup& taps_;
  std::unordered_map<uint64_t, uint64_t> last_request_;
};

// Who takes SIP, checked about once a second: a consumer whose process is
// gone is cleared (SIP takes the TAP and the kernel's sockets again), and
// each change is logged once, so operators see where SIP goes.
class SipConsumerWatch {
 public:
  explicit SipConsumerWatch(Segment& seg) : seg_(seg) {}
  void poll(uint64_t now_ns) {
    if (now_ns < next_ns_) return;
    next_ns_ = now_ns + 1'000'000'000ull;
    if (seg_.check_sip_consumer()) {
      MSGW_LOG(info, "SIP: msgw-control's process is gone; SIP takes the TAP and the kernel again",
               {"pid", pid_});
      pid_ = 0;
    }
    const uint32_t pid = __atomic_load_n(&seg_.header()->sip_consumer_pid, __ATOMIC_ACQUIRE);
    if (pid == pid_) return;
    if (pid != 0)
      MSGW_LOG(info, "SIP: msgw-control takes SIP over UDP through the segment (not the TAP)",
               {"pid", pid});
    else
      MSGW_LOG(info, "SIP: no consumer attached; SIP takes the TAP and the kernel", {"pid", pid_});
    pid_ = pid;
  }

 private:
  Segment& seg_;
  uint64_t next_ns_ = 0;
  uint32_t pid_ = 0;  // as last logged
};

}  // namespace

void msgw::dataplane::kick_main(Runtime& rt) {
  if (rt.main_tid == 0 || rt.doorbell_signal == 0 || !rt.segment) return;
  SegmentHeader* h = rt.segment->header();
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (__atomic_load_n(&h->main_napping, __ATOMIC_RELAXED) == 0) return;
  // One signal per nap: whoever clears the flag sends it.
  if (__atomic_exchange_n(&h->main_napping, 0u, __ATOMIC_SEQ_CST) != 0)
    syscall(SYS_tgkill, rt.main_tid, rt.main_tid, rt.doorbell_signal);  // main thread: tid = pid
}

int main(int argc, char** argv) {
  msgw::log::init("msgw-dataplane");
  std::string config_file, instance;
  uint32_t hold = 0;
  struct StaticNeighbour {
    uint16_t port;
    uint32_t ip;
    rte_ether_addr mac;
  };
  std::vector<StaticNeighbour> statics;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        MSGW_LOG(error, "option needs a value", {"option", name});
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--config" || a == "-c") {
      config_file = value("--config");
    } else if (a == "--instance") {
      instance = value("--instance");
    } else if (a == "--hold-rx-until-flows") {
      hold = uint32_t(std::strtoul(value("--hold-rx-until-flows").c_str(), nullptr, 10));
    } else if (a == "--static-neighbour") {
      const std::string v = value("--static-neighbour");
      const size_t c1 = v.find(','), c2 = v.find(',', c1 == std::string::npos ? c1 : c1 + 1);
      StaticNeighbour n{};
      std::optional<uint32_t> ip;
      if (c1 != std::string::npos && c2 != std::string::npos)
        ip = msgw::config::parse_ipv4(v.substr(c1 + 1, c2 - c1 - 1));
      if (!ip || rte_ether_unformat_addr(v.substr(c2 + 1).c_str(), &n.mac) != 0) {
        MSGW_LOG(error, "--static-neighbour wants PORT,IPV4,MAC", {"value", v});
        return 2;
      }
      n.port = uint16_t(std::strtoul(v.c_str(), nullptr, 10));
      n.ip = *ip;
      statics.push_back(n);
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("msgw-dataplane %s\n", MSGW_VERSION);
      return 0;
    } else {
      MSGW_LOG(error, "unknown argument", {"argument", a});
      usage(stderr);
      return 2;
    }
  }
  if (config_file.empty()) {
    usage(stderr);
    return 2;
  }
  auto loaded = msgw::config::load_file(config_file, msgw::config::Scope::dataplane);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) MSGW_LOG(error, "configuration rejected", {"error", e.to_string()});
    return 2;
  }
  if (auto level = msgw::log::parse_level(loaded.config->instance.log_level)) msgw::log::set_level(*level);
  static Runtime rt;
  g_runtime = &rt;
  rt.cfg = *loaded.config;
  if (!instance.empty()) rt.cfg.instance.name = instance;
  rt.instance = rt.cfg.instance.name;
  rt.hold_rx_until_flows = hold;
  const auto& dp = rt.cfg.dataplane;
  static_assert(msgw::config::kMaxPorts == kMaxPorts && msgw::config::kMaxWorkers == kMaxWorkers,
                "config/ checks the dataplane's limits: keep them equal");
  if (rt.cfg.ports.empty() || rt.cfg.ports.size() > kMaxPorts) {
    MSGW_LOG(error, "wrong number of [[port]] sections", {"file", config_file}, {"ports", rt.cfg.ports.size()},
             {"min", 1}, {"max", kMaxPorts});
    return 2;
  }
  if (dp.worker_lcores.empty() || dp.worker_lcores.size() > kMaxWorkers) {
    MSGW_LOG(error, "wrong number of dataplane.worker_lcores", {"file", config_file},
             {"lcores", dp.worker_lcores.size()}, {"min", 1}, {"max", kMaxWorkers});
    return 2;
  }

  std::string why;
  std::vector<std::string> eal = build_eal_args(rt.cfg, argv[0], &rt.hugepages, &why);
  std::string line;
  for (const auto& a : eal) line += " " + a;
  MSGW_LOG(info, "starting", {"instance", rt.instance}, {"hugepages", rt.hugepages}, {"why", why},
           {"log_level", msgw::log::level_name(msgw::log::level())});
  MSGW_LOG(info, "EAL arguments", {"args", line.empty() ? line : line.substr(1)});
  std::vector<char*> eal_argv;
  for (auto& a : eal) eal_argv.push_back(a.data());
  if (rte_eal_init(int(eal_argv.size()), eal_argv.data()) < 0) {
    MSGW_LOG(error, "EAL init failed", {"error", rte_strerror(rte_errno)});
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  lock_future_mappings();

  const uint16_t n_workers = uint16_t(dp.worker_lcores.size());
  rt.workers.resize(n_workers);
  for (uint16_t w = 0; w < n_workers; ++w) {
    rt.workers[w].index = w;
    rt.workers[w].lcore = dp.worker_lcores[w];
    if (!rte_lcore_is_enabled(rt.workers[w].lcore)) {
      MSGW_LOG(error, "worker lcore is not enabled", {"lcore", rt.workers[w].lcore});
      eal_cleanup_and_remove_runtime_dir();
      return 1;
    }
  }
  {
    const auto isolated = read_small_file("/sys/devices/system/cpu/isolated");
    const auto nohz_full = read_small_file("/sys/devices/system/cpu/nohz_full");
    // rte_lcore_to_cpu_id() is the topology's core id, not the CPU number.
    for (const auto& w : rt.workers) {
      const rte_cpuset_t set = rte_lcore_cpuset(w.lcore);
      for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set))
          MSGW_LOG(info, msgw::host::describe_worker_cpu(w.lcore, unsigned(cpu), isolated, nohz_full));
    }
  }
  std::string err;
  if (!setup_ports(rt, err)) {
    MSGW_LOG(error, "port setup failed", {"error", err});
    eal_cleanup_and_remove_runtime_dir();
    return 1;
  }
  const uint32_t max_flows = std::max<uint32_t>(1, dp.flow_capacity / 2);
  auto seg = Segment::create(rt.instance, max_flows, uint32_t(rt.ports.size()), n_workers, err);
  if (!seg) {
    MSGW_LOG(error, "cannot create the shared segment", {"error", err});
    shutdown_ports(rt);
    eal_cleanup_and_remove_runtime_dir();
    return 1;
  }
  rt.segment.emplace(std::move(*seg));
  const size_t rcu_size = rte_rcu_qsbr_get_memsize(n_workers);
  rt.rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc("msgw_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
  rte_rcu_qsbr_init(rt.rcu, n_workers);
  rt.flows.emplace("msgw_flows", max_flows, uint32_t(rt.ports.size()), n_workers, rt.rcu,
                   int(rte_socket_id()));
  rt.neighbours.emplace("msgw_neigh", 16384, int(rte_socket_id()));
  rt.resolve = rte_ring_create_elem("msgw_resolve", sizeof(uint64_t), 1024, rte_socket_id(),
                                    RING_F_SC_DEQ);
  if (!rt.flows->ok() || !rt.neighbours->ok() || rt.resolve == nullptr || rt.rcu == nullptr) {
    MSGW_LOG(error, "cannot allocate tables", {"flows", max_flows}, {"error", rte_strerror(rte_errno)});
    rt.segment->mark_down();
    shutdown_ports(rt);
    eal_cleanup_and_remove_runtime_dir();
    return 1;
  }
  rt.commands.emplace(*rt.segment, *rt.flows, dp.media_timeout_ms);
  for (const auto& n : statics) {
    if (n.port >= rt.ports.size() || !rt.neighbours->learn(n.port, n.ip, n.mac)) {
      MSGW_LOG(error, "static neighbour rejected", {"port", n.port});
      rt.segment->mark_down();
      shutdown_ports(rt);
      eal_cleanup_and_remove_runtime_dir();
      return 2;
    }
  }
  // RX queues round-robin over workers: queue q of every port -> worker q % n.
  for (uint16_t p = 0; p < rt.ports.size(); ++p)
    for (uint16_t q = 0; q < rt.ports[p].n_rxq; ++q)
      rt.workers[q % n_workers].rx.emplace_back(p, q);
  const uint64_t sip_tag_key = rte_rand();  // one for all workers: an ACK may reach another one
  for (Worker& w : rt.workers) {
    const std::string hn = "msgw_handoff" + std::to_string(w.index);
    w.handoff = rte_ring_create(hn.c_str(), 4096, rte_socket_id(), RING_F_SC_DEQ);
    w.sleep_max_ns = uint64_t(dp.worker_sleep_max_us) * 1000;
    w.flow_cache = std::make_unique<FlowCache>(max_flows * 2, int(rte_socket_id()));
    if (!w.flow_cache->ok()) {
      MSGW_LOG(error, "cannot allocate a worker's flow cache", {"worker", w.index});
      for (Worker& o : rt.workers) o.flow_cache.reset();
      rt.segment->mark_down();
      shutdown_ports(rt);
      eal_cleanup_and_remove_runtime_dir();
      return 1;
    }
    WorkerContext& c = w.ctx;
    c.worker_id = w.index;
    c.flow_cache = w.flow_cache.get();
    c.n_ports = uint16_t(rt.ports.size());
    c.ports = rt.port_info.data();
    c.flows = &*rt.flows;
    c.neighbours = &*rt.neighbours;
    c.stats = rt.segment->stats();
    c.events = &*rt.segment;
    c.resolve = rt.resolve;
    c.sip_shed = &rt.segment->header()->sip_shed;  // msgw-control's overload state (sip_shed.hpp)
    c.sip = &*rt.segment;  // SIP datagrams while msgw-control takes them (sip_divert.hpp)
    c.sip_tag_key = sip_tag_key;
    c.sip_admit = &rt.sip_admit;
    c.latch_packets = dp.latch_packets;
    c.tsc_hz = rte_get_tsc_hz();
    c.rtcp_interval_ns = uint64_t(dp.rtcp_interval_ms) * 1000000ull;
    timespec rt_now, mono_now;
    clock_gettime(CLOCK_REALTIME, &rt_now);
    clock_gettime(CLOCK_MONOTONIC, &mono_now);
    c.realtime_offset_ns = (int64_t(rt_now.tv_sec) - int64_t(mono_now.tv_sec)) * 1000000000ll +
                           (int64_t(rt_now.tv_nsec) - int64_t(mono_now.tv_nsec));
  }
  register_telemetry(rt);
  rt.rx_enabled.store(hold == 0);
  // The doorbell: blocked in the main thread except during its nap (ppoll),
  // so that no ring can fall between the check and the sleep.
  sigset_t nap_mask;
  {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, doorbell_signal());
    pthread_sigmask(SIG_BLOCK, &block, &nap_mask);
    sigdelset(&nap_mask, doorbell_signal());
    struct sigaction sa {};
    sa.sa_handler = on_doorbell;
    sigemptyset(&sa.sa_mask);
    rt.main_tid = pid_t(syscall(SYS_gettid));
    if (sigaction(doorbell_signal(), &sa, nullptr) == 0) {
      rt.doorbell_signal = doorbell_signal();
      __atomic_store_n(&rt.segment->header()->doorbell_signal, uint32_t(doorbell_signal()), __ATOMIC_RELEASE);
    }
  }
  TapWakeup taps;
  {
    std::string why;
    if (taps.take_over(rt, &why))
      MSGW_LOG(info, "exception path: the main lcore polls the TAP queues (net_tap's signal per frame is off)",
               {"queues", taps.count()});
    else
      MSGW_LOG(warn, "exception path: TAP queues left to net_tap's signal; frames from the kernel may wait "
                     "out the main lcore's nap", {"why", why});
  }
  // After the doorbell's handler and rt.main_tid: workers may kick from now on.
  for (Worker& w : rt.workers) rte_eal_remote_launch(worker_main, &rt, w.lcore);
  rt.segment->mark_up();
  MSGW_LOG(info, "up", {"generation", rt.segment->generation()}, {"flows", max_flows},
           {"legs", max_flows * 2}, {"ports", rt.ports.size()}, {"workers", n_workers},
           {"rx_held_until_flows", hold});

  ExceptionPath exc(rt, taps);
  CountersPublisher publisher(rt);
  SipConsumerWatch sip_consumer(*rt.segment);
  uint32_t active = 0;
  // Poll-mode main lcore that need not burn a core: it shares one with the
  // control plane (and, in the benchmark, the load generator).  Whatever has
  // to be handled at once ends its nap: commands (the clients' doorbell),
  // frames for the kernel and ARP wishes (the workers kick), frames from the
  // kernel (the nap polls the TAP queues).  So it naps 10 ms whenever nothing
  // but the clock can advance its work (an idle appliance wakes 100 times a
  // second: at 1,000 the wake-ups cost a load generator sharing the core ~20 %
  // of its rate), and 20 us, doubling, only while a dump streams or deletions
  // wait for RCU.  Each wake-up costs ~30-40 us of CPU on the rig's VM: the
  // 20 us ladder it used to climb after every busy round was ~3 wake-ups per
  // batch of SIP datagrams.  Without the TAP poll (net_tap set up otherwise)
  // it climbs the ladder after any busy round, as a frame from the kernel
  // then only ends the nap by chance (net_tap's signal goes to any thread).
  constexpr unsigned kNapMinUs = 20, kNapMaxUs = 10000;
  unsigned nap_us = kNapMinUs;
  while (!rt.stop.load()) {
    const uint64_t now = monotonic_ns();
    bool busy = rt.commands->poll(now);
    busy = exc.poll(now) > 0 || busy;
    publisher.poll(now);
    sip_consumer.poll(now);
    if (!rt.rx_enabled.load(std::memory_order_relaxed)) {
      active = 0;
      for (uint32_t f = 0; f < max_flows && active < hold; ++f)
        if (rt.flows->get(f) != nullptr) ++active;
      if (active >= hold) rt.rx_enabled.store(true);
    }
    if (taps.polled() && !rt.commands->wants_poll())
      nap_us = kNapMaxUs;
    else
      nap_us = busy ? kNapMinUs : std::min(nap_us * 2, kNapMaxUs);
    nap(rt, nap_us, nap_mask, taps);
  }

  MSGW_LOG(info, "stopping");
  rte_eal_mp_wait_lcore();
  rt.segment->mark_down();
  shutdown_ports(rt);
  WorkerCounters total;
  for (const Worker& w : rt.workers) total.add(w.ctx.counters);
  // Scripts grep this line ("exception N ", "REASON=N"): keep its words.
  std::string totals = "totals rx " + std::to_string(total.rx) + " tx " + std::to_string(total.tx) +
                       " relayed " + std::to_string(total.relayed) + " exception " +
                       std::to_string(total.exception) + " dropped " + std::to_string(total.dropped_total());
  for (size_t r = 0; r < size_t(Drop::count); ++r)
    if (total.dropped[r]) totals += " " + std::string(drop_name(Drop(r))) + "=" + std::to_string(total.dropped[r]);
  MSGW_LOG(info, totals);
  MSGW_LOG(info, "segment marked down", {"generation", rt.segment->generation()});
  rt.commands.reset();
  for (Worker& w : rt.workers) w.flow_cache.reset();  // rte_malloc'd: before EAL cleanup
  rt.flows.reset();
  rt.neighbours.reset();
  eal_cleanup_and_remove_runtime_dir();
  return 0;
}
