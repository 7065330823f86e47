// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer: arbitrary text as the host files host check reads
// (/proc/mounts, /proc/cmdline, /proc/net/route and ipv6_route,
// /proc/meminfo) and as the CPU lists of the worker-isolation rule. The
// first byte picks a CPU; the rest is split at the first 0 byte into two
// texts. Nothing may crash, and what comes out must hold together.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "msgw/common/cpu_list.hpp"
#include "msgw/host/cpu_isolation.hpp"
#include "msgw/host/host_files.hpp"

using namespace msgw::host;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const unsigned cpu = data[0];
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = rest.find('\0');
  const std::string a = rest.substr(0, cut);
  const std::string b = cut == std::string::npos ? std::string() : rest.substr(cut + 1);

  if (const auto list = msgw::common::parse_cpu_list(a)) {
    for (size_t i = 0; i < list->size(); ++i)
      if ((*list)[i] > msgw::common::kMaxCpu || (i > 0 && (*list)[i - 1] >= (*list)[i])) std::abort();
  }
  const std::string line = describe_worker_cpu(1, cpu, a, b);
  if (line.rfind("worker lcore 1 (cpu ", 0) != 0) std::abort();
  const WorkerCpuIsolation w = worker_cpu_isolation(cpu, a, b, rest);
  (void)w.shielded();

  for (const Mount& m : parse_mounts(a)) {
    if (m.fstype.empty() || m.target.empty()) std::abort();
    (void)mount_pagesize_kb(m.options);
  }
  const KernelCmdline c = parse_cmdline(a);
  for (const auto& [k, v] : c.params) {
    if (k == "--" && !v) std::abort();  // a bare "--" ends the kernel's words; "--=x" is a parameter
    if (v) (void)cmdline_cpu_list_has(*v, cpu);
  }
  for (const auto& ifname : default_route_interfaces(a, b))
    if (ifname.empty() || ifname == "lo") std::abort();
  (void)meminfo_hugepage_kb(a);
  return 0;
}
