// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/host/cpu_isolation.hpp"

#include <algorithm>

#include "msgw/host/host_files.hpp"
#include "msgw/common/cpu_list.hpp"

namespace msgw::host {

std::optional<bool> cpu_in_list(const std::optional<std::string>& list_text, unsigned cpu) {
  if (!list_text) return std::nullopt;
  const auto list = common::parse_cpu_list(*list_text);
  if (!list) return std::nullopt;
  return std::binary_search(list->begin(), list->end(), cpu);
}

std::string describe_worker_cpu(unsigned lcore, unsigned cpu,
                                const std::optional<std::string>& isolated_file,
                                const std::optional<std::string>& nohz_full_file) {
  const std::string who =
      "worker lcore " + std::to_string(lcore) + " (cpu " + std::to_string(cpu) + "): ";
  const std::optional<bool> iso = cpu_in_list(isolated_file, cpu);
  const std::optional<bool> nohz = cpu_in_list(nohz_full_file, cpu);
  if (!iso && !nohz) return who + "isolation unknown (no readable /sys/devices/system/cpu/isolated or nohz_full)";
  if (iso.value_or(false) && nohz.value_or(false)) return who + "isolated (isolcpus, nohz_full)";
  // No nohz_full file: a kernel built without NO_HZ_FULL, nothing to ask for.
  std::string missing;
  if (!iso.value_or(false)) missing += "isolcpus";
  if (nohz && !*nohz) missing += missing.empty() ? "nohz_full" : ", nohz_full";
  if (missing.empty()) return who + "isolated (isolcpus; this kernel has no nohz_full)";
  const std::string c = std::to_string(cpu);
  return who + "not in " + missing +
         ": the kernel's tick, RCU callbacks and kworkers run there and preempt the worker "
         "(latency spikes of tens of us); on a production host boot with isolcpus=" + c +
         (nohz ? " nohz_full=" + c : std::string()) + " rcu_nocbs=" + c;
}

WorkerCpuIsolation worker_cpu_isolation(unsigned cpu, const std::optional<std::string>& isolated_file,
                                        const std::optional<std::string>& nohz_full_file,
                                        std::string_view cmdline) {
  const KernelCmdline args = parse_cmdline(cmdline);
  WorkerCpuIsolation w;
  w.isolcpus = cpu_in_list(isolated_file, cpu);
  if (!w.isolcpus) {
    if (auto v = args.value("isolcpus")) w.isolcpus = cmdline_cpu_list_has(*v, cpu).value_or(false);
  }
  if (nohz_full_file) w.nohz_full = cpu_in_list(nohz_full_file, cpu).value_or(false);
  bool nohz_named = w.nohz_full.value_or(false);
  if (!nohz_full_file)
    if (auto v = args.value("nohz_full")) nohz_named = cmdline_cpu_list_has(*v, cpu).value_or(false);
  // A bare "rcu_nocbs" (no list) does not say this CPU is off-loaded: not counted.
  if (auto v = args.value("rcu_nocbs")) w.rcu_nocbs = cmdline_cpu_list_has(*v, cpu).value_or(false);
  // nohz_full= off-loads the RCU callbacks of its CPUs as rcu_nocbs= does.
  w.rcu_nocbs = w.rcu_nocbs || nohz_named;
  return w;
}

}  // namespace msgw::host
