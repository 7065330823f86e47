// SPDX-License-Identifier: GPL-3.0-or-later
// How busy the CPUs the tool runs on were during a step, from /proc/stat.
// Each SIPp's own CPU share (runner.cpp) misses the case that matters on a
// pinned run: the phone side and the carrier side share one core, each below
// 90 % of it, together (with their kernel receive work) at its limit, and
// then the tool's own answers and ACKs are late and a target's setup delays
// are the tool's.  Parsing is apart from reading so that tests feed text.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace msgw::loadtest {

struct CpuTimes {
  std::uint64_t busy = 0;   // user + nice + system + irq + softirq + steal (jiffies)
  std::uint64_t total = 0;  // busy + idle + iowait
};

// The per-CPU lines of /proc/stat ("cpuN user nice system idle iowait irq
// softirq steal ..."); the aggregate "cpu" line and malformed lines are skipped.
std::map<int, CpuTimes> parse_proc_stat(std::string_view text);

// Busy share (0..1) of `cpus` between two snapshots; nullopt when no time
// passed on them (or none of them is in both).
std::optional<double> busy_share(const std::map<int, CpuTimes>& before, const std::map<int, CpuTimes>& after,
                                 const std::set<int>& cpus);

// The CPUs this process may run on (the SIPps it starts inherit them).
std::set<int> allowed_cpus();
// /proc/stat now, parsed (empty when unreadable).
std::map<int, CpuTimes> read_proc_stat();

// Above this busy share of its CPUs over a step the tool may have been the limit.
inline constexpr double kToolCpuBusyLimit = 0.9;

}  // namespace msgw::loadtest
