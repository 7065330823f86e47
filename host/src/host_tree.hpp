// SPDX-License-Identifier: GPL-3.0-or-later
// The host as check() and plan() see it: files under the root, and the
// facts both derive from them (hugepages per node, CPU nodes, PCI devices,
// what the config needs). One reader, so that a check and the action that
// fixes it never disagree about the host.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "msgw/config/config.hpp"
#include "msgw/host/environment.hpp"
#include "msgw/host/host_files.hpp"

namespace msgw::host {

class HostTree {
 public:
  explicit HostTree(std::filesystem::path root) : root_(std::move(root)) {}
  // "sys/..." under the root.
  std::filesystem::path path(const std::string& rel) const { return root_ / rel; }
  // The file's text (at most 1 MiB), nullopt when it cannot be read.
  std::optional<std::string> read(const std::string& rel) const;
  std::optional<uint64_t> read_uint(const std::string& rel) const;
  bool exists(const std::string& rel) const;
  // The last component of a symbolic link's target (a driver's or group's name).
  std::optional<std::string> link_name(const std::string& rel) const;
  // Names in a directory, sorted (empty when it is absent).
  std::vector<std::string> list(const std::string& rel) const;

 private:
  std::filesystem::path root_;
};

struct PageSize {
  uint64_t kb = 0;
  uint64_t nr = 0, free = 0;
  std::string nr_file;  // relative to the root
};
struct NodeHugepages {
  unsigned node = 0;
  std::vector<PageSize> sizes;  // ascending
  uint64_t reserved_kb() const;
};
// Numbers of the NUMA nodes (sys/devices/system/node/nodeN); {} on a kernel without NUMA.
std::vector<unsigned> numa_nodes(const HostTree& t);
// A node's hugepages; without NUMA (node 0) the host's, from sys/kernel/mm/hugepages.
NodeHugepages node_hugepages(const HostTree& t, unsigned node);
// The page size host prepare reserves: Hugepagesize of /proc/meminfo, else 2048 kB.
uint64_t default_page_kb(const HostTree& t);
std::optional<Mount> hugetlbfs_mount(const HostTree& t);
// The node of a CPU (sys/devices/system/cpu/cpuN/nodeM); nullopt when the kernel does not say.
std::optional<unsigned> cpu_node(const HostTree& t, unsigned cpu);

// Hugepage memory the dataplane takes on a node: DPDK spreads -m over the
// nodes of its lcores in proportion to their count (the remainder on the
// first), and EAL lcore N runs on CPU N (-l).
struct NodeNeed {
  unsigned node = 0;
  uint64_t kb = 0;
  std::vector<unsigned> lcores;
};
std::vector<NodeNeed> hugepage_needs(const config::Config& c, const HostTree& t);
// Without hugepages the dataplane does not run (on), runs with --no-huge
// (auto; a NIC cannot DMA then: fail with a PCI device) or does not want
// them (off).
bool hugepages_required(const config::Config& c);

struct PciDevice {
  std::string address;
  std::string port;                        // the [[port]] that names it
  size_t port_index = 0;
  std::string subject;                     // "0000:03:00.0 (port access)"
  bool exists = false;
  std::optional<std::string> driver;       // bound driver, nullopt: none
  std::optional<std::string> driver_override;
  std::optional<std::string> iommu_group;
  std::vector<std::string> group_members;  // other devices in the group
  std::optional<int> numa_node;            // nullopt or -1: not reported
  std::vector<std::string> netdevs;        // sys/bus/pci/devices/<addr>/net/*
  std::string rel() const { return "sys/bus/pci/devices/" + address; }
};
// The config's PCI devices, each once, in port order.
std::vector<PciDevice> pci_devices(const config::Config& c, const HostTree& t);
std::optional<std::string> driver_of(const HostTree& t, const std::string& address);

// Drivers DPDK uses beside the kernel (Mellanox): the device stays on them.
bool is_bifurcated_driver(const std::string& driver);
inline constexpr const char* kVfioPci = "vfio-pci";
bool noiommu_mode(const HostTree& t);
bool iommu_present(const HostTree& t);

// Why prepare must not take a device: it carries the default route or an
// address. Empty when it may.
std::string in_use_reason(const PciDevice& d, const HostTree& t, const HostEnv& env);

// The worker lcores that poll `port_index`: queue q of every port goes to
// worker q % n (dataplane/src/main.cpp).
std::vector<unsigned> polling_lcores(const config::Config& c, size_t port_index);

}  // namespace msgw::host
