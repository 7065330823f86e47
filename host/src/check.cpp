// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/host/check.hpp"

#include <algorithm>

#include "host_tree.hpp"
#include "msgw/common/text.hpp"
#include "msgw/host/cpu_isolation.hpp"
#include "msgw/host/prepare.hpp"

namespace msgw::host {

namespace {

struct CheckInfo {
  std::string_view name, description;
};
constexpr CheckInfo kChecks[] = {
#define MSGW_X(id, what) {#id, what},
    MSGW_HOST_CHECKS(MSGW_X)
#undef MSGW_X
};

std::string mb(uint64_t kb) { return std::to_string((kb + 1023) / 1024) + " MB"; }

std::string join(const std::vector<unsigned>& v) {
  std::string s;
  for (unsigned x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

// The commands of the planned actions for `subject`, as one shell line.
std::string fix_from_plan(const Plan& p, const std::string& subject) {
  std::string s;
  for (const auto& a : p.actions)
    if (a.subject == subject) s += (s.empty() ? "" : " && ") + a.command();
  return s;
}

const char* kIommuOn =
    "add intel_iommu=on iommu=pt (Intel) or amd_iommu=on iommu=pt (AMD) to GRUB_CMDLINE_LINUX in "
    "/etc/default/grub, run update-grub, reboot (and enable VT-d / AMD-Vi in the firmware)";

class Checker {
 public:
  Checker(const config::Config& c, const HostEnv& env) : c_(c), env_(env), t_(env.root), plan_(plan(c, env)) {}

  std::vector<Item> run() {
    hugepages();
    hugetlbfs();
    iommu();
    devices();
    workers();
    memlock();
    return std::move(items_);
  }

 private:
  void add(CheckId id, std::string subject, Status s, std::string message, std::string fix = {}) {
    items_.push_back({id, std::move(subject), s, std::move(message), s == Status::ok ? std::string() : std::move(fix)});
  }

  bool has_pci() const {
    return std::any_of(c_.ports.begin(), c_.ports.end(), [](const auto& p) { return config::port_pci_address(p).has_value(); });
  }
  // How bad missing hugepages are: `on` does not start, `auto` falls back
  // to --no-huge, which a NIC cannot DMA from.
  Status hugepage_shortfall() const {
    return c_.dataplane.hugepages == "on" || has_pci() ? Status::fail : Status::warn;
  }

  void hugepages() {
    if (!hugepages_required(c_)) {
      add(CheckId::hugepages, "dataplane", has_pci() ? Status::warn : Status::ok,
          "not used ([dataplane] hugepages = \"off\": --no-huge)",
          "hugepages = \"auto\" in [dataplane]: a NIC's DMA wants hugepage memory");
      return;
    }
    for (const auto& need : hugepage_needs(c_, t_)) {
      const NodeHugepages h = node_hugepages(t_, need.node);
      std::string sizes;
      for (const auto& s : h.sizes)
        sizes += (sizes.empty() ? "" : ", ") + std::to_string(s.nr) + " x " + std::to_string(s.kb) + "kB (" +
                 std::to_string(s.free) + " free)";
      if (sizes.empty()) sizes = "no hugepage pools";
      const std::string subject = "node" + std::to_string(need.node);
      const std::string msg = sizes + " reserved; the config needs " + mb(need.kb) + " here (lcores " +
                              join(need.lcores) + " of memory_mb = " + std::to_string(c_.dataplane.memory_mb) + ")";
      if (h.reserved_kb() >= need.kb) {
        add(CheckId::hugepages, subject, Status::ok, msg);
      } else {
        std::string fix = fix_from_plan(plan_, subject);
        add(CheckId::hugepages, subject, hugepage_shortfall(),
            msg + (c_.dataplane.hugepages == "auto" ? ": the dataplane would run with --no-huge" : ""),
            fix.empty() ? "reserve them at boot: hugepages=N on the kernel command line" : "msgwctl host prepare, or: " + fix);
      }
    }
  }

  void hugetlbfs() {
    if (!hugepages_required(c_)) return;
    if (auto m = hugetlbfs_mount(t_)) {
      const uint64_t kb = mount_pagesize_kb(m->options);
      add(CheckId::hugetlbfs, m->target, Status::ok,
          "hugetlbfs mounted" + (kb ? " (pagesize " + std::to_string(kb) + "kB)" : std::string()));
    } else {
      add(CheckId::hugetlbfs, "/dev/hugepages", hugepage_shortfall(), "no hugetlbfs mounted",
          "msgwctl host prepare, or: " + fix_from_plan(plan_, "hugetlbfs"));
    }
  }

  void iommu() {
    if (!has_pci()) {
      add(CheckId::iommu, "host", Status::ok, "not needed: the config names no PCI device");
      return;
    }
    const auto iommus = t_.list("sys/class/iommu");
    if (!iommus.empty()) {
      std::string names;
      for (const auto& n : iommus) names += (names.empty() ? "" : ", ") + n;
      add(CheckId::iommu, "host", Status::ok, "IOMMU on (" + names + ")");
      return;
    }
    const KernelCmdline args = parse_cmdline(t_.read("proc/cmdline").value_or(""));
    const bool asked = args.value("intel_iommu").value_or("").find("on") != std::string::npos ||
                       args.value("amd_iommu").value_or("").find("on") != std::string::npos;
    if (noiommu_mode(t_)) {
      add(CheckId::iommu, "host", Status::warn,
          "no IOMMU; vfio runs in unsafe no-IOMMU mode (a device can DMA anywhere in memory)", kIommuOn);
    } else if (asked) {
      add(CheckId::iommu, "host", Status::fail,
          "the kernel command line asks for the IOMMU but none is registered (/sys/class/iommu is empty)",
          "enable VT-d / AMD-Vi in the firmware settings, reboot");
    } else {
      add(CheckId::iommu, "host", Status::fail, "no IOMMU: vfio-pci cannot take a device", kIommuOn);
    }
  }

  void devices() {
    const auto devs = pci_devices(c_, t_);
    for (const auto& d : devs) {
      if (!d.exists) {
        add(CheckId::pci_driver, d.subject, Status::fail, "no such PCI device on this host",
            "lspci -D lists the host's devices: correct pci (or device) of port " + d.port);
        continue;
      }
      driver(d);
      group(d);
      numa(d);
    }
  }

  void driver(const PciDevice& d) {
    const std::string on = d.driver ? "on " + *d.driver : std::string("on no driver");
    if (d.driver == kVfioPci) {
      add(CheckId::pci_driver, d.subject, Status::ok, on);
      return;
    }
    if (d.driver && is_bifurcated_driver(*d.driver)) {
      add(CheckId::pci_driver, d.subject, Status::ok, on + ": bifurcated, DPDK drives it beside the kernel");
      return;
    }
    std::string netdevs;
    for (const auto& n : d.netdevs) netdevs += (netdevs.empty() ? " (interface " : ", ") + n;
    if (!netdevs.empty()) netdevs += ")";
    if (const std::string why = in_use_reason(d, t_, env_); !why.empty()) {
      add(CheckId::pci_driver, d.subject, Status::fail, on + netdevs + ", not vfio-pci; " + why,
          "take the route/address off it (it is how the host is reached?), then msgwctl host prepare");
      return;
    }
    const std::string fix = fix_from_plan(plan_, d.subject);
    add(CheckId::pci_driver, d.subject, Status::fail, on + netdevs + ", not vfio-pci",
        fix.empty() ? std::string(kIommuOn) + "; then msgwctl host prepare" : "msgwctl host prepare, or: " + fix);
  }

  void group(const PciDevice& d) {
    if (d.driver && is_bifurcated_driver(*d.driver)) return;
    if (!d.iommu_group) {
      add(CheckId::iommu_group, d.subject, noiommu_mode(t_) ? Status::warn : Status::fail,
          noiommu_mode(t_) ? "no IOMMU group (vfio no-IOMMU mode)" : "no IOMMU group: the IOMMU is off", kIommuOn);
      return;
    }
    std::string others;
    for (const auto& m : d.group_members) {
      const auto drv = driver_of(t_, m);
      // A bridge (pcieport) or a driverless device does not keep vfio from the group.
      if (drv && *drv != kVfioPci && *drv != "pcieport" && *drv != "pci-stub")
        others += (others.empty() ? "" : ", ") + m + " on " + *drv;
    }
    const std::string g = "IOMMU group " + *d.iommu_group;
    if (others.empty()) {
      add(CheckId::iommu_group, d.subject, Status::ok,
          g + (d.group_members.empty() ? " (alone in it)" : " (shared with devices vfio tolerates)"));
    } else {
      add(CheckId::iommu_group, d.subject, Status::fail,
          g + " also holds " + others + ": vfio opens a group only when all of it is on vfio-pci",
          "name those devices in the config too, or move the NIC to a slot with its own group "
          "(ACS), or bind them to vfio-pci by hand if the host does not need them");
    }
  }

  void numa(const PciDevice& d) {
    if (!d.numa_node || *d.numa_node < 0) {
      add(CheckId::numa, d.subject, Status::ok, "the platform reports no NUMA node for it (one node)");
      return;
    }
    const unsigned nic = unsigned(*d.numa_node);
    std::vector<unsigned> far;
    for (unsigned l : polling_lcores(c_, d.port_index))
      if (auto n = cpu_node(t_, l); n && *n != nic) far.push_back(l);
    if (far.empty()) {
      add(CheckId::numa, d.subject, Status::ok,
          "on node " + std::to_string(nic) + " with its worker lcores " + join(polling_lcores(c_, d.port_index)));
      return;
    }
    const auto cpulist = t_.read("sys/devices/system/node/node" + std::to_string(nic) + "/cpulist");
    const std::string cpus(common::trim_lws(cpulist.value_or("")));
    add(CheckId::numa, d.subject, Status::warn,
        "on node " + std::to_string(nic) + ", polled by worker lcores " + join(far) +
            " of another node: every packet and descriptor crosses the interconnect",
        "worker_lcores in [dataplane] from node " + std::to_string(nic) +
            (cpus.empty() ? std::string() : " (CPUs " + cpus + ")") + ", or move the NIC");
  }

  void workers() {
    const auto isolated = t_.read("sys/devices/system/cpu/isolated");
    const auto nohz = t_.read("sys/devices/system/cpu/nohz_full");
    const std::string cmdline = t_.read("proc/cmdline").value_or("");
    for (unsigned l : c_.dataplane.worker_lcores) {
      const std::string subject = "cpu " + std::to_string(l) + " (worker lcore " + std::to_string(l) + ")";
      const WorkerCpuIsolation w = worker_cpu_isolation(l, isolated, nohz, cmdline);
      std::string missing, boot;
      auto lacks = [&](const char* param) {
        missing += (missing.empty() ? "" : ", ") + std::string(param);
        boot += (boot.empty() ? "" : " ") + std::string(param) + "=" + std::to_string(l);
      };
      if (!w.isolcpus.value_or(false)) lacks("isolcpus");
      if (w.nohz_full == false) lacks("nohz_full");
      if (!w.rcu_nocbs) lacks("rcu_nocbs");
      if (w.shielded())
        add(CheckId::isolation, subject, Status::ok,
            w.nohz_full ? "isolated (isolcpus, nohz_full, rcu_nocbs)" : "isolated (isolcpus, rcu_nocbs; this kernel has no nohz_full)");
      else
        add(CheckId::isolation, subject, Status::warn,
            "not in " + missing + ": the kernel's tick, RCU callbacks and kworkers preempt the worker "
            "(latency spikes of tens of us)",
            "add " + boot + " (with the other workers' CPUs) to GRUB_CMDLINE_LINUX in /etc/default/grub, "
            "run update-grub, reboot");
      governor(l, subject);
    }
  }

  void governor(unsigned cpu, const std::string& subject) {
    const std::string rel = "sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq/scaling_governor";
    const auto g = t_.read(rel);
    if (!g) {
      add(CheckId::governor, subject, Status::ok, "no cpufreq: the kernel does not scale this CPU's frequency");
      return;
    }
    const std::string name(common::trim_lws(*g));
    if (name == "performance") {
      add(CheckId::governor, subject, Status::ok, "governor performance");
      return;
    }
    add(CheckId::governor, subject, Status::warn,
        "governor " + name + ": a polling worker looks busy, but idle phases clock it down and the next burst waits",
        "echo performance > " + t_.path(rel).string() + " (or: cpupower -c " + std::to_string(cpu) +
            " frequency-set -g performance)");
  }

  void memlock() {
    const auto& m = env_.memlock;
    const uint64_t need = uint64_t(c_.dataplane.memory_mb) << 20;
    const std::string fix = "LimitMEMLOCK=infinity in the service unit; by hand: ulimit -l unlimited";
    if (!m.limit_bytes) {
      add(CheckId::memlock, "process", Status::ok, "RLIMIT_MEMLOCK unlimited");
    } else if (m.cap_ipc_lock) {
      add(CheckId::memlock, "process", Status::ok,
          "RLIMIT_MEMLOCK " + std::to_string(*m.limit_bytes >> 10) + " kB, lifted by CAP_IPC_LOCK");
    } else if (has_pci() && *m.limit_bytes < need) {
      add(CheckId::memlock, "process", Status::fail,
          "RLIMIT_MEMLOCK " + std::to_string(*m.limit_bytes >> 10) + " kB and no CAP_IPC_LOCK: vfio cannot pin the " +
              std::to_string(c_.dataplane.memory_mb) + " MB DPDK maps for DMA",
          fix);
    } else {
      add(CheckId::memlock, "process", Status::warn,
          "RLIMIT_MEMLOCK " + std::to_string(*m.limit_bytes >> 10) +
              " kB and no CAP_IPC_LOCK: the dataplane cannot lock later mappings (page faults on the workers)",
          fix);
    }
  }

  const config::Config& c_;
  const HostEnv& env_;
  HostTree t_;
  Plan plan_;
  std::vector<Item> items_;
};

}  // namespace

std::string_view check_name(CheckId id) { return kChecks[size_t(id)].name; }
std::string_view check_description(CheckId id) { return kChecks[size_t(id)].description; }

std::string_view status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::warn: return "warn";
    case Status::fail: return "fail";
  }
  return "?";
}

std::vector<Item> check(const config::Config& config, const HostEnv& env) { return Checker(config, env).run(); }

Status worst(const std::vector<Item>& items) {
  Status w = Status::ok;
  for (const auto& i : items) w = std::max(w, i.status);
  return w;
}

}  // namespace msgw::host
