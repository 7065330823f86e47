#pragma once
// Whether the worker cores are shielded from the kernel's own work.  A
// busy-polling worker on a CPU that also runs the timer tick, RCU callbacks
// and kworkers is preempted several times a second (measured on the test VM:
// ~10 involuntary switches a second, to rcu_preempt and kworker/1), and each
// preemption is a latency spike of tens of microseconds on every flow it owns.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace msgw::dataplane {

// Linux's CPU list format as sysfs writes it ("0-3,8,10-11", a trailing
// newline, empty for none).  nullopt when malformed: a bad token, a reversed
// range, a CPU beyond kMaxCpu, or the stride form (sysfs never writes it).
inline constexpr unsigned kMaxCpu = 8191;
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text);

struct CpuIsolation {
  bool isolated = false;   // isolcpus= (kept out of the scheduler's balancing)
  bool nohz_full = false;  // nohz_full= (no tick while one task runs; RCU callbacks off-loaded)
};

// The log line for a worker's CPU, from the contents of
// /sys/devices/system/cpu/isolated and .../nohz_full (nullopt: file missing
// or unreadable).
std::string describe_worker_cpu(unsigned lcore, unsigned cpu,
                                const std::optional<std::string>& isolated_file,
                                const std::optional<std::string>& nohz_full_file);

}  // namespace msgw::dataplane
