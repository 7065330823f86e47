// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/host/prepare.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "host_tree.hpp"
#include "msgw/common/text.hpp"

namespace msgw::host {

namespace fs = std::filesystem;

std::string_view state_name(ActionState s) {
  switch (s) {
    case ActionState::planned: return "planned";
    case ActionState::done: return "done";
    case ActionState::failed: return "failed";
    case ActionState::skipped: return "skipped";
  }
  return "?";
}

std::string Action::command() const {
  switch (kind) {
    case ActionKind::write: return "echo " + value + " > " + path.string();
    case ActionKind::mkdir: return "mkdir -p " + path.string();
    case ActionKind::run: {
      std::string line;
      for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
      return line;
    }
  }
  return {};
}

bool Plan::ok() const {
  return refused.empty() &&
         std::none_of(actions.begin(), actions.end(), [](const Action& a) { return a.state == ActionState::failed; });
}

namespace {

Action write_action(std::string subject, std::string why, fs::path path, std::string value, bool verify = false) {
  Action a;
  a.subject = std::move(subject);
  a.why = std::move(why);
  a.kind = ActionKind::write;
  a.path = std::move(path);
  a.value = std::move(value);
  a.verify = verify;
  return a;
}

constexpr std::string_view kPerformanceGovernor = "performance";

std::string mb(uint64_t kb) { return std::to_string((kb + 1023) / 1024) + " MB"; }

void plan_hugepages(const config::Config& c, const HostTree& t, Plan& p) {
  const uint64_t page_kb = default_page_kb(t);
  for (const auto& need : hugepage_needs(c, t)) {
    const NodeHugepages h = node_hugepages(t, need.node);
    const uint64_t have = h.reserved_kb();
    if (have >= need.kb) continue;
    const std::string subject = "node" + std::to_string(need.node);
    const auto size = std::find_if(h.sizes.begin(), h.sizes.end(), [&](const PageSize& s) { return s.kb == page_kb; });
    if (size == h.sizes.end()) {
      p.refused.push_back({subject, "no " + std::to_string(page_kb) + "kB hugepage pool on this node (kernel without hugepages?)"});
      continue;
    }
    const uint64_t more = (need.kb - have + page_kb - 1) / page_kb;
    p.actions.push_back(write_action(subject,
                                     "the config needs " + mb(need.kb) + " of hugepages here, " + mb(have) +
                                         " reserved: " + std::to_string(more) + " more " + std::to_string(page_kb) +
                                         "kB pages",
                                     t.path(size->nr_file), std::to_string(size->nr + more), /*verify=*/true));
  }
}

void plan_mount(const config::Config& c, const HostTree& t, Plan& p) {
  if (!hugepages_required(c) || hugetlbfs_mount(t)) return;
  Action d;
  d.subject = "hugetlbfs";
  d.why = "DPDK maps its hugepages through a hugetlbfs mount";
  d.kind = ActionKind::mkdir;
  d.path = t.path("dev/hugepages");
  p.actions.push_back(d);
  Action m = d;
  m.kind = ActionKind::run;
  m.why = "mount hugetlbfs (pages of the default size)";
  m.argv = {"mount", "-t", "hugetlbfs", "nodev", t.path("dev/hugepages").string()};
  p.actions.push_back(m);
}

void plan_devices(const config::Config& c, const HostTree& t, const HostEnv& env, Plan& p) {
  bool modprobe_planned = false;
  for (const auto& d : pci_devices(c, t)) {
    if (!d.exists) {
      p.refused.push_back({d.subject, "no such PCI device on this host (lspci -D lists them)"});
      continue;
    }
    if (d.driver == kVfioPci || (d.driver && is_bifurcated_driver(*d.driver))) continue;
    if (const std::string why = in_use_reason(d, t, env); !why.empty()) {
      p.refused.push_back({d.subject, why + ": not taken from the kernel; move that off it first"});
      continue;
    }
    if (!d.iommu_group && !noiommu_mode(t)) {
      p.refused.push_back({d.subject, "no IOMMU group: vfio-pci cannot take it until the IOMMU is on "
                                      "(intel_iommu=on or amd_iommu=on on the kernel command line)"});
      continue;
    }
    if (!t.exists("sys/bus/pci/drivers/vfio-pci") && !modprobe_planned) {
      Action m;
      m.subject = d.subject;
      m.why = "load the vfio-pci driver";
      m.kind = ActionKind::run;
      m.argv = {"modprobe", "vfio-pci"};
      p.actions.push_back(m);
      modprobe_planned = true;
    }
    const std::string dev = d.rel();
    if (d.driver_override != kVfioPci)
      p.actions.push_back(write_action(d.subject, "only vfio-pci may take the device from now on",
                                       t.path(dev + "/driver_override"), kVfioPci));
    if (d.driver)
      p.actions.push_back(write_action(d.subject, "release it from " + *d.driver, t.path(dev + "/driver/unbind"),
                                       d.address));
    p.actions.push_back(write_action(d.subject, "bind it to vfio-pci", t.path("sys/bus/pci/drivers/vfio-pci/bind"),
                                     d.address));
  }
}

// The worker CPUs' frequency governor: `host check` warns about any other
// than performance (a busy-polling worker is clocked down in idle phases,
// the next burst waits). No cpufreq directory: the kernel does not scale
// the CPU, nothing to set, and the plan says so.
void plan_governors(const config::Config& c, const HostTree& t, Plan& p) {
  for (unsigned cpu : c.dataplane.worker_lcores) {
    const std::string subject = "cpu " + std::to_string(cpu) + " (worker lcore " + std::to_string(cpu) + ")";
    const std::string dir = "sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq";
    const auto g = t.read(dir + "/scaling_governor");
    if (!g) {
      p.notes.push_back({subject, "no cpufreq: the kernel does not scale this CPU's frequency, no governor to set"});
      continue;
    }
    const std::string now(common::trim_lws(*g));
    if (now == kPerformanceGovernor) continue;
    if (const auto avail = t.read(dir + "/scaling_available_governors")) {
      bool listed = false;
      for (std::string_view rest = *avail; !rest.empty();) {
        rest = common::trim_lws(rest);
        const auto sp = rest.find_first_of(" \t\n");
        listed = listed || rest.substr(0, sp) == kPerformanceGovernor;
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
      }
      if (!listed) {
        p.refused.push_back({subject, "governor " + now + ", and this cpufreq driver offers no performance governor (" +
                                          std::string(common::trim_lws(*avail)) + ")"});
        continue;
      }
    }
    p.actions.push_back(write_action(subject,
                                     "governor " + now + ": a polling worker is clocked down in idle phases; "
                                     "performance keeps it at full speed",
                                     t.path(dir + "/scaling_governor"), std::string(kPerformanceGovernor)));
  }
}

// "" or what went wrong. sysfs files are written, never created.
std::string write_file(const fs::path& path, const std::string& value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open: ") + std::strerror(errno);
  const ssize_t n = ::write(fd, value.data(), value.size());
  const int write_errno = errno;
  const int closed = ::close(fd);
  if (n < 0) return std::string("write: ") + std::strerror(write_errno);
  if (size_t(n) != value.size()) return "short write";
  if (closed != 0) return std::string("close: ") + std::strerror(errno);
  return {};
}

std::string execute(const Action& a, const HostEnv& env) {
  switch (a.kind) {
    case ActionKind::write: {
      std::string err = write_file(a.path, a.value);
      if (!err.empty() || !a.verify) return err;
      const auto got = HostTree(a.path.parent_path()).read_uint(a.path.filename().string());
      uint64_t want = 0;
      common::parse_uint(std::string_view(a.value), want);
      if (!got) return "cannot read it back";
      if (*got < want)
        return "the kernel granted " + std::to_string(*got) + " of " + a.value +
               " (memory too fragmented: reserve them at boot with hugepages= on the kernel command line)";
      return {};
    }
    case ActionKind::mkdir: {
      std::error_code ec;
      fs::create_directories(a.path, ec);
      return ec ? ec.message() : std::string();
    }
    case ActionKind::run:
      return env.run ? env.run(a.argv) : std::string("no way to run commands here");
  }
  return "unknown action";
}

}  // namespace

Plan plan(const config::Config& c, const HostEnv& env) {
  const HostTree t(env.root);
  Plan p;
  plan_hugepages(c, t, p);
  plan_mount(c, t, p);
  plan_devices(c, t, env, p);
  plan_governors(c, t, p);
  return p;
}

Plan prepare(const config::Config& c, const HostEnv& env, bool dry_run) {
  Plan p = plan(c, env);
  if (dry_run) return p;
  std::vector<std::string> failed_subjects;
  for (Action& a : p.actions) {
    if (std::find(failed_subjects.begin(), failed_subjects.end(), a.subject) != failed_subjects.end()) {
      a.state = ActionState::skipped;
      a.error = "an earlier step for " + a.subject + " failed";
      continue;
    }
    a.error = execute(a, env);
    a.state = a.error.empty() ? ActionState::done : ActionState::failed;
    if (!a.error.empty()) failed_subjects.push_back(a.subject);
  }
  return p;
}

}  // namespace msgw::host
