// SPDX-License-Identifier: GPL-3.0-or-later
#include "host_tree.hpp"

#include <algorithm>
#include <fstream>
#include <system_error>

#include "msgw/common/cpu_list.hpp"
#include "msgw/common/text.hpp"

namespace msgw::host {

namespace fs = std::filesystem;

std::optional<std::string> HostTree::read(const std::string& rel) const {
  std::ifstream in(path(rel), std::ios::binary);
  if (!in) return std::nullopt;
  std::string text;
  char chunk[4096];
  while (text.size() < (1u << 20) && in.read(chunk, sizeof chunk), in.gcount() > 0)
    text.append(chunk, size_t(in.gcount()));
  if (in.bad()) return std::nullopt;
  return text;
}

std::optional<uint64_t> HostTree::read_uint(const std::string& rel) const {
  auto text = read(rel);
  uint64_t n = 0;
  if (!text || !common::parse_uint(common::trim_lws(*text), n)) return std::nullopt;
  return n;
}

bool HostTree::exists(const std::string& rel) const {
  std::error_code ec;
  return fs::exists(path(rel), ec);
}

std::optional<std::string> HostTree::link_name(const std::string& rel) const {
  std::error_code ec;
  const fs::path target = fs::read_symlink(path(rel), ec);
  if (ec) return std::nullopt;
  fs::path name = target.filename();
  if (name.empty()) name = target.parent_path().filename();
  if (name.empty()) return std::nullopt;
  return name.string();
}

std::vector<std::string> HostTree::list(const std::string& rel) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(path(rel), ec), end; !ec && it != end; it.increment(ec))
    out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t NodeHugepages::reserved_kb() const {
  uint64_t kb = 0;
  for (const auto& s : sizes) kb += s.nr * s.kb;
  return kb;
}

namespace {

// "node12" -> 12; "hugepages-2048kB" -> 2048 with prefix "hugepages-", suffix "kB".
std::optional<unsigned> number_between(std::string_view name, std::string_view prefix, std::string_view suffix) {
  if (name.size() <= prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix)
    return std::nullopt;
  unsigned n = 0;
  if (!common::parse_uint(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()), n))
    return std::nullopt;
  return n;
}

}  // namespace

std::vector<unsigned> numa_nodes(const HostTree& t) {
  std::vector<unsigned> out;
  for (const auto& name : t.list("sys/devices/system/node"))
    if (auto n = number_between(name, "node", "")) out.push_back(*n);
  std::sort(out.begin(), out.end());
  return out;
}

NodeHugepages node_hugepages(const HostTree& t, unsigned node) {
  NodeHugepages h;
  h.node = node;
  const auto nodes = numa_nodes(t);
  const std::string dir = nodes.empty() ? std::string("sys/kernel/mm/hugepages")
                                        : "sys/devices/system/node/node" + std::to_string(node) + "/hugepages";
  for (const auto& name : t.list(dir)) {
    auto kb = number_between(name, "hugepages-", "kB");
    if (!kb) continue;
    PageSize s;
    s.kb = *kb;
    s.nr_file = dir + "/" + name + "/nr_hugepages";
    s.nr = t.read_uint(s.nr_file).value_or(0);
    s.free = t.read_uint(dir + "/" + name + "/free_hugepages").value_or(0);
    h.sizes.push_back(s);
  }
  std::sort(h.sizes.begin(), h.sizes.end(), [](const PageSize& a, const PageSize& b) { return a.kb < b.kb; });
  return h;
}

uint64_t default_page_kb(const HostTree& t) {
  if (auto m = t.read("proc/meminfo"))
    if (auto kb = meminfo_hugepage_kb(*m); kb && *kb > 0) return *kb;
  return 2048;
}

std::optional<Mount> hugetlbfs_mount(const HostTree& t) {
  const auto text = t.read("proc/mounts");
  if (!text) return std::nullopt;
  for (const auto& m : parse_mounts(*text))
    if (m.fstype == "hugetlbfs") return m;
  return std::nullopt;
}

std::optional<unsigned> cpu_node(const HostTree& t, unsigned cpu) {
  for (const auto& name : t.list("sys/devices/system/cpu/cpu" + std::to_string(cpu)))
    if (auto n = number_between(name, "node", "")) return n;
  return std::nullopt;
}

bool hugepages_required(const config::Config& c) { return c.dataplane.hugepages != "off"; }

std::vector<NodeNeed> hugepage_needs(const config::Config& c, const HostTree& t) {
  std::vector<NodeNeed> needs;
  if (!hugepages_required(c)) return needs;
  std::vector<unsigned> lcores{c.dataplane.main_lcore};
  lcores.insert(lcores.end(), c.dataplane.worker_lcores.begin(), c.dataplane.worker_lcores.end());
  std::map<unsigned, std::vector<unsigned>> by_node;
  for (unsigned l : lcores) by_node[cpu_node(t, l).value_or(0)].push_back(l);
  const uint64_t total_kb = uint64_t(c.dataplane.memory_mb) * 1024;
  uint64_t given = 0;
  for (auto& [node, ls] : by_node) {
    const uint64_t kb = total_kb * ls.size() / lcores.size();
    needs.push_back({node, kb, ls});
    given += kb;
  }
  needs.front().kb += total_kb - given;  // DPDK takes the rest from the first node that has it
  return needs;
}

std::optional<std::string> driver_of(const HostTree& t, const std::string& address) {
  return t.link_name("sys/bus/pci/devices/" + address + "/driver");
}

std::vector<PciDevice> pci_devices(const config::Config& c, const HostTree& t) {
  std::vector<PciDevice> out;
  for (size_t i = 0; i < c.ports.size(); ++i) {
    const auto addr = config::port_pci_address(c.ports[i]);
    if (!addr || std::any_of(out.begin(), out.end(), [&](const PciDevice& d) { return d.address == *addr; }))
      continue;
    PciDevice d;
    d.address = *addr;
    d.port = c.ports[i].name;
    d.port_index = i;
    d.subject = d.address + " (port " + d.port + ")";
    const std::string rel = d.rel();
    d.exists = t.exists(rel);
    if (d.exists) {
      d.driver = driver_of(t, d.address);
      if (auto o = t.read(rel + "/driver_override")) {
        const std::string v(common::trim_lws(*o));
        if (!v.empty() && v != "(null)") d.driver_override = v;
      }
      d.iommu_group = t.link_name(rel + "/iommu_group");
      if (d.iommu_group)
        for (const auto& m : t.list(rel + "/iommu_group/devices"))
          if (m != d.address) d.group_members.push_back(m);
      if (auto text = t.read(rel + "/numa_node")) {
        const std::string_view v = common::trim_lws(*text);
        unsigned n = 0;
        if (common::parse_uint(v, n)) d.numa_node = int(n);
        else if (v == "-1") d.numa_node = -1;
      }
      d.netdevs = t.list(rel + "/net");
    }
    out.push_back(std::move(d));
  }
  return out;
}

bool is_bifurcated_driver(const std::string& driver) {
  return driver == "mlx5_core" || driver == "mlx4_core";
}

bool noiommu_mode(const HostTree& t) {
  const auto v = t.read("sys/module/vfio/parameters/enable_unsafe_noiommu_mode");
  return v && common::trim_lws(*v) == "Y";
}

bool iommu_present(const HostTree& t) { return !t.list("sys/class/iommu").empty(); }

std::string in_use_reason(const PciDevice& d, const HostTree& t, const HostEnv& env) {
  const auto routes = default_route_interfaces(t.read("proc/net/route").value_or(""),
                                               t.read("proc/net/ipv6_route").value_or(""));
  for (const auto& ifname : d.netdevs) {
    if (std::find(routes.begin(), routes.end(), ifname) != routes.end())
      return "its interface " + ifname + " carries the host's default route";
    const auto addrs = env.addresses ? env.addresses(ifname) : std::vector<std::string>{};
    if (!addrs.empty()) {
      std::string list;
      for (const auto& a : addrs) list += (list.empty() ? "" : ", ") + a;
      return "its interface " + ifname + " has address " + list + " (the host may be managed through it)";
    }
  }
  return {};
}

std::vector<unsigned> polling_lcores(const config::Config& c, size_t port_index) {
  std::vector<unsigned> out;
  const auto& w = c.dataplane.worker_lcores;
  if (w.empty() || port_index >= c.ports.size()) return out;
  for (unsigned q = 0; q < c.ports[port_index].rx_queues; ++q) {
    const unsigned l = w[q % w.size()];
    if (std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
  }
  return out;
}

}  // namespace msgw::host
