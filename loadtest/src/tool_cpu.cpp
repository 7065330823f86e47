// SPDX-License-Identifier: GPL-3.0-or-later
#include "tool_cpu.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <sstream>
#include <vector>

#include "msgw/common/monotonic_clock.hpp"
#include "text_file.hpp"

namespace msgw::loadtest {

std::map<int, CpuTimes> parse_proc_stat(std::string_view text) {
  std::map<int, CpuTimes> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.size() < 4 || line.compare(0, 3, "cpu") != 0 || line[3] < '0' || line[3] > '9') continue;
    std::istringstream f(line.substr(3));
    int cpu = -1;
    std::vector<std::uint64_t> v;
    if (!(f >> cpu) || cpu < 0) continue;
    for (std::uint64_t x; v.size() < 8 && f >> x;) v.push_back(x);
    if (v.size() < 4) continue;  // user nice system idle at least
    v.resize(8, 0);
    CpuTimes t;
    t.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    t.total = t.busy + v[3] + v[4];
    t.nice = v[1];
    t.steal = v[7];
    out[cpu] = t;
  }
  return out;
}

std::optional<CpuTimes> cpu_delta(const std::map<int, CpuTimes>& before, const std::map<int, CpuTimes>& after,
                                  const std::set<int>& cpus) {
  CpuTimes d;
  for (int c : cpus) {
    auto b = before.find(c), a = after.find(c);
    if (b == before.end() || a == after.end() || a->second.total < b->second.total ||
        a->second.busy < b->second.busy || a->second.nice < b->second.nice || a->second.steal < b->second.steal)
      continue;  // a CPU taken offline and back restarts its counters
    d.busy += a->second.busy - b->second.busy;
    d.total += a->second.total - b->second.total;
    d.nice += a->second.nice - b->second.nice;
    d.steal += a->second.steal - b->second.steal;
  }
  if (d.total == 0) return std::nullopt;
  return d;
}

std::optional<double> busy_share(const std::map<int, CpuTimes>& before, const std::map<int, CpuTimes>& after,
                                 const std::set<int>& cpus) {
  auto d = cpu_delta(before, after, cpus);
  if (!d) return std::nullopt;
  return static_cast<double>(d->busy) / static_cast<double>(d->total);
}

std::optional<double> cpu_us_per_call(std::uint64_t ticks, long ticks_per_s, std::uint64_t calls) {
  if (calls == 0 || ticks_per_s <= 0) return std::nullopt;
  return 1e6 * static_cast<double>(ticks) / static_cast<double>(ticks_per_s) / static_cast<double>(calls);
}

long clock_ticks_per_s() { return sysconf(_SC_CLK_TCK); }

std::optional<std::set<int>> parse_cpu_list(std::string_view text, std::string* error) {
  std::set<int> out;
  std::string_view item;
  auto cpu = [&](std::string_view s, int& n) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || n < 0) {
      *error = "'" + std::string(item) + "' is not a CPU number or a range N-M";
      return false;
    }
    if (n >= CPU_SETSIZE) {
      *error = "CPU " + std::to_string(n) + " is past the most this host can have (" + std::to_string(CPU_SETSIZE) + ")";
      return false;
    }
    return true;
  };
  if (text.empty()) {
    *error = "a CPU list expected (e.g. 0 or 0,2 or 0-3)";
    return std::nullopt;
  }
  for (std::string_view rest = text;;) {
    const auto comma = rest.find(',');
    item = rest.substr(0, comma);
    if (item.empty()) {
      *error = "an empty item in '" + std::string(text) + "'";
      return std::nullopt;
    }
    const auto dash = item.find('-');
    int lo = 0, hi = 0;
    if (!cpu(item.substr(0, dash), lo)) return std::nullopt;
    hi = lo;
    if (dash != std::string_view::npos) {
      if (!cpu(item.substr(dash + 1), hi)) return std::nullopt;
      if (hi < lo) {
        *error = "the range '" + std::string(item) + "' runs backwards";
        return std::nullopt;
      }
    }
    for (int c = lo; c <= hi; ++c) out.insert(c);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

std::set<int> allowed_cpus() {
  std::set<int> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.insert(c);
  return out;
}

std::map<int, CpuTimes> read_proc_stat() {
  return parse_proc_stat(read_text_file("/proc/stat"));
}

std::optional<double> sample_busy_share(const std::set<int>& cpus, int window_ms) {
  const auto before = read_proc_stat();
  common::sleep_ms(window_ms);
  const auto d_cpu = cpu_delta(before, read_proc_stat(), cpus);
  if (!d_cpu) return std::nullopt;
  return sut_work_share(*d_cpu);
}

int wait_until_settled(const SettlePolicy& p, const std::function<std::optional<double>(int window_ms)>& sample) {
  int waited = 0;
  while (waited < p.max_ms) {
    const auto busy = sample(p.window_ms);
    waited += p.window_ms;
    if (!busy || *busy <= p.idle_share + p.margin) break;
  }
  return waited;
}

}  // namespace msgw::loadtest
