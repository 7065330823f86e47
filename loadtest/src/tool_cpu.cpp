// SPDX-License-Identifier: GPL-3.0-or-later
#include "tool_cpu.hpp"

#include <sched.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

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
    out[cpu] = t;
  }
  return out;
}

std::optional<double> busy_share(const std::map<int, CpuTimes>& before, const std::map<int, CpuTimes>& after,
                                 const std::set<int>& cpus) {
  std::uint64_t busy = 0, total = 0;
  for (int c : cpus) {
    auto b = before.find(c), a = after.find(c);
    if (b == before.end() || a == after.end() || a->second.total < b->second.total ||
        a->second.busy < b->second.busy)
      continue;  // a CPU taken offline and back restarts its counters
    busy += a->second.busy - b->second.busy;
    total += a->second.total - b->second.total;
  }
  if (total == 0) return std::nullopt;
  return static_cast<double>(busy) / static_cast<double>(total);
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
  std::ifstream f("/proc/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return parse_proc_stat(text);
}

}  // namespace msgw::loadtest
