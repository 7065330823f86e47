// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Whether the worker cores are shielded from the kernel's own work.  A
// busy-polling worker on a CPU that also runs the timer tick, RCU callbacks
// and kworkers is preempted several times a second (measured on the test VM:
// ~10 involuntary switches a second, to rcu_preempt and kworker/1), and each
// preemption is a latency spike of tens of microseconds on every flow it owns.
//
// One rule for both readers: msgw-dataplane's start-up log line
// (describe_worker_cpu) and `msgwctl host check` (worker_cpu_isolation).
#include <optional>
#include <string>
#include <string_view>

namespace msgw::host {

// Whether `cpu` is in a CPU list file's text (nullopt: no file, or not a
// CPU list).
std::optional<bool> cpu_in_list(const std::optional<std::string>& list_text, unsigned cpu);

// The log line for a worker's CPU, from the contents of
// /sys/devices/system/cpu/isolated and .../nohz_full (nullopt: file missing
// or unreadable).
std::string describe_worker_cpu(unsigned lcore, unsigned cpu,
                                const std::optional<std::string>& isolated_file,
                                const std::optional<std::string>& nohz_full_file);

// What shields one CPU, from the same two files and the kernel command line
// (/proc/cmdline): sysfs says what the kernel applied, the command line
// answers where sysfs has no file (rcu_nocbs has none).
struct WorkerCpuIsolation {
  std::optional<bool> isolcpus;   // nullopt: unknown (no file, no isolcpus= on the command line)
  std::optional<bool> nohz_full;  // nullopt: this kernel has no nohz_full (no sysfs file)
  bool rcu_nocbs = false;         // rcu_nocbs= names it, or nohz_full does (which implies it)
  bool shielded() const { return isolcpus.value_or(false) && nohz_full.value_or(true) && rcu_nocbs; }
};
WorkerCpuIsolation worker_cpu_isolation(unsigned cpu, const std::optional<std::string>& isolated_file,
                                        const std::optional<std::string>& nohz_full_file,
                                        std::string_view cmdline);

}  // namespace msgw::host
