// SPDX-License-Identifier: GPL-3.0-or-later
// EAL arguments and port/TAP setup.  Setup code: runs once before workers.
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "msgw/common/log.hpp"
#include "runtime.hpp"

namespace msgw::dataplane {

namespace {

bool is_pci_address(const std::string& dev) {
  // 0000:00:1f.6 or 00:1f.6
  unsigned a, b, c, d;
  return std::sscanf(dev.c_str(), "%x:%x:%x.%x", &a, &b, &c, &d) == 4 ||
         std::sscanf(dev.c_str(), "%x:%x.%x", &b, &c, &d) == 3;
}

std::string device_name(const std::string& dev) { return dev.substr(0, dev.find(',')); }

// Free 2 MiB (or other) hugepages and a hugetlbfs mount: both are needed.
bool hugepages_available(std::string* why) {
  std::ifstream mi("/proc/meminfo");
  std::string line;
  long free_pages = 0;
  while (std::getline(mi, line))
    if (line.rfind("HugePages_Free:", 0) == 0) free_pages = std::atol(line.c_str() + 15);
  std::ifstream mounts("/proc/mounts");
  bool mounted = false;
  while (std::getline(mounts, line))
    if (line.find(" hugetlbfs ") != std::string::npos) mounted = true;
  if (free_pages > 0 && mounted) {
    *why = std::to_string(free_pages) + " free hugepages, hugetlbfs mounted";
    return true;
  }
  *why = free_pages > 0 ? "no hugetlbfs mounted" : "no free hugepages";
  return false;
}

bool set_tap_address(const std::string& ifname, uint32_t ip, uint32_t mask, uint32_t next_hop,
                     std::string& err) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    err = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname.c_str());
  auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(ip);
  bool ok = ioctl(fd, SIOCSIFADDR, &ifr) == 0;
  if (ok) {
    sin->sin_addr.s_addr = htonl(mask);
    ok = ioctl(fd, SIOCSIFNETMASK, &ifr) == 0;
  }
  if (ok && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ok = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  }
  if (!ok) err = "configuring " + ifname + ": " + std::strerror(errno);
  if (ok && next_hop != 0) {
    // SIP to off-link peers leaves through the port's next hop too.
    rtentry rt{};
    auto* dst = reinterpret_cast<sockaddr_in*>(&rt.rt_dst);
    auto* gw = reinterpret_cast<sockaddr_in*>(&rt.rt_gateway);
    auto* gm = reinterpret_cast<sockaddr_in*>(&rt.rt_genmask);
    dst->sin_family = gw->sin_family = gm->sin_family = AF_INET;
    gw->sin_addr.s_addr = htonl(next_hop);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    char dev[IFNAMSIZ];
    std::snprintf(dev, sizeof dev, "%s", ifname.c_str());
    rt.rt_dev = dev;
    if (ioctl(fd, SIOCADDRT, &rt) != 0 && errno != EEXIST)
      MSGW_LOG(warn, "cannot add the default route via the next hop", {"tap", ifname},
               {"error", std::strerror(errno)});
  }
  close(fd);
  return ok;
}

bool start_port(uint16_t id, uint16_t nrx, uint16_t ntx, uint16_t rxd, uint16_t txd,
                rte_mempool* pool, bool want_cksum, PortInfo* info, std::string& err) {
  rte_eth_dev_info di{};
  if (rte_eth_dev_info_get(id, &di) != 0) {
    err = "rte_eth_dev_info_get failed";
    return false;
  }
  rte_eth_conf conf{};
  if (want_cksum) {
    const uint64_t tx = di.tx_offload_capa;
    if (tx & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    if (tx & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    if (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM)
      conf.rxmode.offloads |= di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM;
    if (info != nullptr) {
      info->tx_ip_cksum = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
      info->tx_udp_cksum = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
    }
  }
  if (nrx > di.max_rx_queues) nrx = di.max_rx_queues;
  if (ntx > di.max_tx_queues) ntx = di.max_tx_queues;
  // Several RX queues need RSS to spread the load over the workers (without
  // it a NIC puts everything on queue 0). Hashing on addresses and UDP ports
  // keeps each leg's stream on one queue; a leg whose queue belongs to
  // another worker than the flow's owner is handed over, as before. Devices
  // that do not hash (flow_type_rss_offloads 0) are configured as before.
  const uint64_t rss_hf =
      di.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_NONFRAG_IPV4_UDP);
  if (nrx > 1 && rss_hf != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = nullptr;  // the PMD's default key
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    char hash[24];
    std::snprintf(hash, sizeof hash, "0x%" PRIx64, rss_hf);
    MSGW_LOG(info, "RSS spreads rx queues", {"dpdk_port", id}, {"rx_queues", nrx}, {"hash_types", hash});
  } else if (nrx > 1) {
    MSGW_LOG(warn,
             "several rx queues but no RSS: the device decides which queue a frame takes, "
             "and workers hand packets over to the flow's owner",
             {"dpdk_port", id}, {"rx_queues", nrx});
  }
  int rc = rte_eth_dev_configure(id, nrx, ntx, &conf);
  if (rc != 0) {
    err = "rte_eth_dev_configure: " + std::string(rte_strerror(-rc));
    return false;
  }
  rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
  const int socket = rte_eth_dev_socket_id(id);
  for (uint16_t q = 0; q < nrx; ++q) {
    rc = rte_eth_rx_queue_setup(id, q, rxd, socket < 0 ? SOCKET_ID_ANY : unsigned(socket), nullptr,
                                pool);
    if (rc != 0) {
      err = "rx queue " + std::to_string(q) + ": " + rte_strerror(-rc);
      return false;
    }
  }
  for (uint16_t q = 0; q < ntx; ++q) {
    rte_eth_txconf txc = di.default_txconf;
    txc.offloads = conf.txmode.offloads;
    rc = rte_eth_tx_queue_setup(id, q, txd, socket < 0 ? SOCKET_ID_ANY : unsigned(socket), &txc);
    if (rc != 0) {
      err = "tx queue " + std::to_string(q) + ": " + rte_strerror(-rc);
      return false;
    }
  }
  rc = rte_eth_dev_start(id);
  if (rc != 0) {
    err = "rte_eth_dev_start: " + std::string(rte_strerror(-rc));
    return false;
  }
  rte_eth_promiscuous_enable(id);
  return true;
}

// One TX queue per worker unless the operator asked for fewer (a device
// with few queues shared by many ports) or more (left unused).
uint16_t tx_queue_count(const config::PortSection& pc, uint16_t n_workers) {
  return pc.tx_queues != 0 ? pc.tx_queues : std::max<uint16_t>(1, n_workers);
}

}  // namespace

std::vector<std::string> build_eal_args(const config::Config& cfg, const std::string& argv0,
                                        bool* hugepages, std::string* why) {
  const auto& dp = cfg.dataplane;
  std::vector<std::string> a = {argv0};
  std::string lcores = std::to_string(dp.main_lcore);
  for (uint32_t w : dp.worker_lcores) lcores += "," + std::to_string(w);
  a.insert(a.end(), {"-l", lcores, "--main-lcore", std::to_string(dp.main_lcore)});
  a.insert(a.end(), {"--file-prefix", "msgw-" + cfg.instance.name});
  bool memif = false, pci = false;
  for (const auto& p : cfg.ports) {
    if (!p.pci.empty()) {  // [[port]] pci: canonical, the name DPDK gives the device
      pci = true;
      a.insert(a.end(), {"-a", p.pci});
      continue;
    }
    if (p.device.rfind("net_memif", 0) == 0) memif = true;
    if (is_pci_address(p.device)) {
      pci = true;
      a.insert(a.end(), {"-a", p.device});
    } else {
      a.insert(a.end(), {"--vdev", p.device});
    }
  }
  for (const auto& e : dp.eal_args)
    if (e.find("memif") != std::string::npos) memif = true;
  for (size_t i = 0; i < cfg.ports.size(); ++i) {
    const auto& p = cfg.ports[i];
    std::string tap = p.tap_name.empty() ? "msgw-" + p.name : p.tap_name;
    a.insert(a.end(), {"--vdev", "net_tap" + std::to_string(i) + ",iface=" + tap});
  }
  if (!pci) a.push_back("--no-pci");
  if (dp.hugepages == "on") {
    *hugepages = true;
    *why = "hugepages = on";
  } else if (dp.hugepages == "off") {
    *hugepages = false;
    *why = "hugepages = off";
  } else {
    *hugepages = hugepages_available(why);
  }
  a.insert(a.end(), {"-m", std::to_string(dp.memory_mb)});
  if (!*hugepages) a.push_back("--no-huge");
  // net_memif needs the multi-process channel; otherwise keep nothing on disk
  // so a crash leaves no hugepage files behind.
  if (!memif) a.push_back(*hugepages ? "--in-memory" : "--no-shconf");
  // DPDK's own log follows [instance] log_level (info: DPDK's default);
  // an --log-level in eal_args, later on the line, still wins.
  const std::string& lvl = cfg.instance.log_level;
  if (lvl == "trace" || lvl == "debug") a.push_back("--log-level=debug");
  else if (lvl == "warn") a.push_back("--log-level=warning");
  else if (lvl == "error") a.push_back("--log-level=error");
  for (const auto& e : dp.eal_args) a.push_back(e);
  return a;
}

bool setup_ports(Runtime& rt, std::string& err) {
  const auto& cfg = rt.cfg;
  const uint16_t n_workers = uint16_t(rt.workers.size());
  uint32_t descs = 0;
  for (const auto& p : cfg.ports)
    descs += uint32_t(p.rx_descriptors) * p.rx_queues +
             uint32_t(p.tx_descriptors) * tx_queue_count(p, n_workers);
  const unsigned n_mbufs = std::max(8191u, descs * 2 + 4096 * (n_workers + 1));
  rt.pool = rte_pktmbuf_pool_create("msgw_pool", n_mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    int(rte_socket_id()));
  if (rt.pool == nullptr) {
    err = "mbuf pool of " + std::to_string(n_mbufs) + ": " + rte_strerror(rte_errno);
    return false;
  }
  rt.ports.resize(cfg.ports.size());
  rt.port_info.resize(cfg.ports.size());
  for (size_t i = 0; i < cfg.ports.size(); ++i) {
    const auto& pc = cfg.ports[i];
    PortRuntime& pr = rt.ports[i];
    PortInfo& pi = rt.port_info[i];
    pr.name = pc.name;
    pr.tap_ifname = pc.tap_name.empty() ? "msgw-" + pc.name : pc.tap_name;
    const std::string dev = pc.pci.empty() ? device_name(pc.device) : pc.pci;
    if (rte_eth_dev_get_port_by_name(dev.c_str(), &pr.eth_id) != 0) {
      err = "port '" + pc.name + "': device " + dev + " not found (probe failed?)";
      return false;
    }
    const std::string tap = "net_tap" + std::to_string(i);
    if (rte_eth_dev_get_port_by_name(tap.c_str(), &pr.tap_id) != 0) {
      err = "port '" + pc.name + "': exception-path " + tap + " not found";
      return false;
    }
    pr.n_rxq = pc.rx_queues;
    pr.n_txq = tx_queue_count(pc, n_workers);
    if (!start_port(pr.eth_id, pr.n_rxq, pr.n_txq, pc.rx_descriptors, pc.tx_descriptors, rt.pool,
                    true, &pi, err)) {
      err = "port '" + pc.name + "' (" + dev + "): " + err;
      return false;
    }
    rte_eth_dev_info di{};
    rte_eth_dev_info_get(pr.eth_id, &di);
    pr.n_rxq = std::min<uint16_t>(pr.n_rxq, di.nb_rx_queues);
    pr.n_txq = std::min<uint16_t>(pr.n_txq, di.nb_tx_queues);
    pr.shared_tx = pr.n_txq < n_workers;
    for (auto& l : pr.tx_lock) rte_spinlock_init(&l);
    rte_eth_macaddr_get(pr.eth_id, &pi.mac);
    pi.ip = pc.address.addr;
    pi.netmask = pc.address.prefix == 0 ? 0 : ~uint32_t(0) << (32 - pc.address.prefix);
    pi.next_hop = pc.next_hop.value_or(0);
    // The kernel answers ARP for the port: give it the port's MAC so its
    // replies and its own frames name the right hardware address.
    rte_eth_dev_default_mac_addr_set(pr.tap_id, &pi.mac);
    if (!start_port(pr.tap_id, 1, 1, 512, 512, rt.pool, false, nullptr, err)) {
      err = "TAP " + pr.tap_ifname + ": " + err;
      return false;
    }
    if (!set_tap_address(pr.tap_ifname, pi.ip, pi.netmask, pi.next_hop, err)) return false;
    const std::string rn = "msgw_exc" + std::to_string(i);
    pr.exception = rte_ring_create(rn.c_str(), 4096, rte_socket_id(), RING_F_SC_DEQ);
    const std::string in = "msgw_inj" + std::to_string(i);
    pr.inject = rte_ring_create(in.c_str(), 4096, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (pr.exception == nullptr || pr.inject == nullptr) {
      err = "exception rings: " + std::string(rte_strerror(rte_errno));
      return false;
    }
    char mac[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(mac, sizeof mac, &pi.mac);
    MSGW_LOG(info, "port ready", {"port", i}, {"name", pc.name}, {"device", dev}, {"dpdk_port", pr.eth_id},
             {"mac", mac}, {"rx_queues", pr.n_rxq}, {"tx_queues", pr.n_txq},
             {"tx_shared_by_workers", pr.shared_tx},
             {"checksum", pi.tx_ip_cksum && pi.tx_udp_cksum ? "offloaded" : "in software"},
             {"exception_path", pr.tap_ifname});
  }
  return true;
}

void shutdown_ports(Runtime& rt) {
  for (auto& p : rt.ports) {
    rte_eth_dev_stop(p.eth_id);
    rte_eth_dev_close(p.eth_id);
    rte_eth_dev_stop(p.tap_id);
    rte_eth_dev_close(p.tap_id);
  }
}

}  // namespace msgw::dataplane
