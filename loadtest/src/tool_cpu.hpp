// SPDX-License-Identifier: GPL-3.0-or-later
// How busy the CPUs the tool runs on were during a step, from /proc/stat;
// and, with --sut-cpus, the CPU time the system under test's pinned cores
// spent per completed call (the host's speed varies by hour, a rate alone
// does not compare runs).
// Each SIPp's own CPU share (runner.cpp) misses the case that matters on a
// pinned run: the phone side and the carrier side share one core, each below
// 90 % of it, together (with their kernel receive work) at its limit, and
// then the tool's own answers and ACKs are late and a target's setup delays
// are the tool's.  Parsing is apart from reading so that tests feed text.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace msgw::loadtest {

struct CpuTimes {
  std::uint64_t busy = 0;   // user + nice + system + irq + softirq + steal (jiffies)
  std::uint64_t total = 0;  // busy + idle + iowait
  std::uint64_t nice = 0, steal = 0;  // parts of busy that are not the SUT's work (sut_work_ticks)
};

// The per-CPU lines of /proc/stat ("cpuN user nice system idle iowait irq
// softirq steal ..."); the aggregate "cpu" line and malformed lines are skipped.
std::map<int, CpuTimes> parse_proc_stat(std::string_view text);

// What `cpus` did between two snapshots, summed; nullopt when no time passed
// on them (or none of them is in both).
std::optional<CpuTimes> cpu_delta(const std::map<int, CpuTimes>& before, const std::map<int, CpuTimes>& after,
                                  const std::set<int>& cpus);

// Busy share (0..1) of `cpus` between two snapshots (cpu_delta's busy/total).
std::optional<double> busy_share(const std::map<int, CpuTimes>& before, const std::map<int, CpuTimes>& after,
                                 const std::set<int>& cpus);

// The SUT's work on its cores: busy without nice and steal. The SUTs run at
// nice 0, so niced work on their core (builds sharing the host) is someone
// else's; steal is the hypervisor's, time the core did no work at all.
inline std::uint64_t sut_work_ticks(const CpuTimes& d) { return d.busy - d.nice - d.steal; }
// That work as a share (0..1) of the time that passed on those cores.
inline double sut_work_share(const CpuTimes& d) {
  return d.total ? static_cast<double>(sut_work_ticks(d)) / static_cast<double>(d.total) : 0.0;
}

// CPU microseconds per completed call: `ticks` jiffies of work at
// `ticks_per_s` (USER_HZ) over `calls`; nullopt when no call completed.
std::optional<double> cpu_us_per_call(std::uint64_t ticks, long ticks_per_s, std::uint64_t calls);

// /proc/stat's unit (sysconf(_SC_CLK_TCK), 100 on Linux).
long clock_ticks_per_s();

// A CPU list as taskset -c takes it: "0", "0,2", "0-3,6". Sets *error and
// returns nullopt on an empty list or item, a non-number, a reversed range,
// a CPU past CPU_SETSIZE.
std::optional<std::set<int>> parse_cpu_list(std::string_view text, std::string* error);

// The CPUs this process may run on (the SIPps it starts inherit them).
std::set<int> allowed_cpus();
// /proc/stat now, parsed (empty when unreadable).
std::map<int, CpuTimes> read_proc_stat();

// Busy share (sut_work_ticks) of `cpus` over the next `window_ms` (sleeps that long).
std::optional<double> sample_busy_share(const std::set<int>& cpus, int window_ms);

// RFC 7502's trials are independent, but a step leaves work on the target:
// retransmissions towards a generator that is gone, 2xx without their ACK
// (for 32 s, 64 * T1), calls cut short.  With --sut-cpus the rate search
// waits after a step until the target's cores are back near the busy share
// they had before the first step, for at most max_ms.
struct SettlePolicy {
  double idle_share = 0;  // the cores' busy share before the first step
  double margin = 0.03;   // settled at or under idle_share + margin
  int window_ms = 500;    // one sample
  int max_ms = 35000;     // Timer B / H (32 s) and a little
};
// Samples until one window is settled or max_ms have passed (a window that
// cannot be read counts as settled); returns the milliseconds sampled.
int wait_until_settled(const SettlePolicy& p, const std::function<std::optional<double>(int window_ms)>& sample);

// Above this busy share of its CPUs over a step the tool may have been the limit.
inline constexpr double kToolCpuBusyLimit = 0.9;

}  // namespace msgw::loadtest
