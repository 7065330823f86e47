// SPDX-License-Identifier: GPL-3.0-or-later
// A host as files in a temporary directory, shaped like the parts of /sys
// and /proc that host check and host prepare read. Each test builds the
// host it needs; the directory goes with the object.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace msgw::host::testing {

namespace fs = std::filesystem;

class FixtureHost {
 public:
  FixtureHost() {
    std::string tmpl = (fs::temp_directory_path() / "msgw-host.XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
    write("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n");
    write("proc/mounts", "sysfs /sys sysfs rw,nosuid 0 0\nproc /proc proc rw 0 0\n");
    write("proc/meminfo", "MemTotal: 16318412 kB\nHugepagesize:       2048 kB\n");
    write("proc/net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
    write("proc/net/ipv6_route", "");
    mkdir("sys/class/iommu");
    mkdir("sys/bus/pci/drivers");
    write("sys/devices/system/cpu/isolated", "\n");
    write("sys/devices/system/cpu/nohz_full", "\n");
  }
  ~FixtureHost() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  FixtureHost(const FixtureHost&) = delete;
  FixtureHost& operator=(const FixtureHost&) = delete;

  const fs::path& root() const { return root_; }
  fs::path path(const std::string& rel) const { return root_ / rel; }

  void write(const std::string& rel, const std::string& text) {
    fs::create_directories(path(rel).parent_path());
    std::ofstream(path(rel)) << text;
  }
  std::string read(const std::string& rel) const {
    std::ifstream in(path(rel));
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return s;
  }
  void mkdir(const std::string& rel) { fs::create_directories(path(rel)); }
  void link(const std::string& rel, const std::string& target_rel) {
    fs::create_directories(path(rel).parent_path());
    fs::remove(path(rel));
    fs::create_directory_symlink(path(target_rel), path(rel));
  }

  // A NUMA node with CPUs and 2 MiB (and 1 GiB, empty) hugepage pools.
  void node(unsigned n, std::vector<unsigned> cpus, unsigned pages_2m = 0) {
    const std::string d = "sys/devices/system/node/node" + std::to_string(n);
    std::string list;
    for (unsigned c : cpus) {
      list += (list.empty() ? "" : ",") + std::to_string(c);
      const std::string cpu = "sys/devices/system/cpu/cpu" + std::to_string(c);
      mkdir(cpu);
      link(cpu + "/node" + std::to_string(n), d);
      write(cpu + "/cpufreq/scaling_governor", "performance\n");
    }
    write(d + "/cpulist", list + "\n");
    hugepages(n, pages_2m);
    write(d + "/hugepages/hugepages-1048576kB/nr_hugepages", "0\n");
    write(d + "/hugepages/hugepages-1048576kB/free_hugepages", "0\n");
  }
  void hugepages(unsigned node, unsigned pages_2m) {
    const std::string d = "sys/devices/system/node/node" + std::to_string(node) + "/hugepages/hugepages-2048kB";
    write(d + "/nr_hugepages", std::to_string(pages_2m) + "\n");
    write(d + "/free_hugepages", std::to_string(pages_2m) + "\n");
  }
  std::string nr_hugepages_file(unsigned node) const {
    return "sys/devices/system/node/node" + std::to_string(node) + "/hugepages/hugepages-2048kB/nr_hugepages";
  }
  void mount_hugetlbfs() {
    write("proc/mounts", read("proc/mounts") + "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n");
  }
  void iommu() { mkdir("sys/class/iommu/dmar0"); }
  void isolate(const std::string& cpus) {
    write("sys/devices/system/cpu/isolated", cpus + "\n");
    write("sys/devices/system/cpu/nohz_full", cpus + "\n");
    write("proc/cmdline", "BOOT_IMAGE=/vmlinuz ro isolcpus=" + cpus + " nohz_full=" + cpus + " rcu_nocbs=" + cpus + "\n");
  }
  void driver(const std::string& name) {
    const std::string d = "sys/bus/pci/drivers/" + name;
    write(d + "/bind", "");
    write(d + "/unbind", "");
  }
  // A PCI device on `drv` ("" none), NUMA node, IOMMU group, network interface.
  void pci(const std::string& addr, const std::string& drv, int numa, int group, const std::string& ifname = "") {
    const std::string d = "sys/bus/pci/devices/" + addr;
    mkdir(d);
    write(d + "/driver_override", "(null)\n");
    write(d + "/numa_node", std::to_string(numa) + "\n");
    if (!drv.empty()) bind(addr, drv);
    if (group >= 0) {
      const std::string g = "sys/kernel/iommu_groups/" + std::to_string(group);
      write(g + "/devices/" + addr, "");
      link(d + "/iommu_group", g);
    }
    if (!ifname.empty()) mkdir(d + "/net/" + ifname);
  }
  // What the kernel does on a bind: the driver link.
  void bind(const std::string& addr, const std::string& drv) {
    driver(drv);
    link("sys/bus/pci/devices/" + addr + "/driver", "sys/bus/pci/drivers/" + drv);
  }
  void default_route(const std::string& ifname) {
    write("proc/net/route", read("proc/net/route") + ifname +
                                "\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
  }

 private:
  fs::path root_;
};

}  // namespace msgw::host::testing
