// SPDX-License-Identifier: GPL-3.0-or-later
#include "dpdk_port.hpp"

#include <sched.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>

namespace msgw::loadtest {

bool eal_init(const std::vector<std::string>& eal_args, bool keep_affinity, std::string* error) {
  rte_openlog_stream(stderr);
  std::vector<std::string> args{"msgw-loadtest"};
  args.insert(args.end(), eal_args.begin(), eal_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const bool had = keep_affinity && sched_getaffinity(0, sizeof cpus, &cpus) == 0;
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    *error = std::string("EAL init failed: ") + rte_strerror(rte_errno);
    return false;
  }
  if (had) sched_setaffinity(0, sizeof cpus, &cpus);
  return true;
}

std::string start_port(std::uint16_t port, rte_mempool* pool, std::uint16_t descriptors) {
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port, 1, 1, &conf);
  const char* step = "configure";
  // Within what the port takes (net_af_xdp and net_memif have their own limits).
  std::uint16_t rx_desc = descriptors, tx_desc = descriptors;
  if (rc == 0 && (rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc)) != 0) step = "descriptors";
  if (rc == 0 && (rc = rte_eth_rx_queue_setup(port, 0, rx_desc, rte_socket_id(), nullptr, pool)) != 0)
    step = "RX queue";
  if (rc == 0 && (rc = rte_eth_tx_queue_setup(port, 0, tx_desc, rte_socket_id(), nullptr)) != 0)
    step = "TX queue";
  if (rc == 0 && (rc = rte_eth_dev_start(port)) != 0) step = "start";
  if (rc == 0) return {};
  return "port " + std::to_string(port) + " setup failed (" + step + "): " + rte_strerror(-rc);
}

bool wait_link(std::uint16_t port, bool up, unsigned seconds) {
  for (unsigned i = 0; i <= seconds * 10; ++i) {
    rte_eth_link link{};
    rte_eth_link_get_nowait(port, &link);
    if (static_cast<bool>(link.link_status) == up) return true;
    if (i < seconds * 10) rte_delay_us_sleep(100'000);
  }
  return false;
}

std::string eal_device_name(const std::vector<std::string>& eal, unsigned n) {
  unsigned seen = 0;
  for (std::size_t i = 0; i < eal.size(); ++i) {
    std::string dev;
    if ((eal[i] == "--vdev" || eal[i] == "-a" || eal[i] == "--allow") && i + 1 < eal.size()) dev = eal[i + 1];
    else if (eal[i].rfind("--vdev=", 0) == 0) dev = eal[i].substr(7);
    if (!dev.empty() && seen++ == n) return dev;
  }
  return "port " + std::to_string(n);
}

}  // namespace msgw::loadtest
