#include "msgw/dataplane/cpu_isolation.hpp"

#include <algorithm>
#include <charconv>

namespace msgw::dataplane {

namespace {

bool parse_cpu(std::string_view s, unsigned& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out <= kMaxCpu;
}

}  // namespace

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::vector<unsigned> cpus;
  if (text.empty()) return cpus;
  // A set, so that overlapping ranges cost no memory beyond it.
  std::vector<bool> in(kMaxCpu + 1, false);
  size_t pos = 0;
  while (true) {
    const size_t comma = text.find(',', pos);
    const std::string_view item =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    const size_t dash = item.find('-');
    unsigned lo = 0, hi = 0;
    if (dash == std::string_view::npos) {
      if (!parse_cpu(item, lo)) return std::nullopt;
      hi = lo;
    } else if (!parse_cpu(item.substr(0, dash), lo) || !parse_cpu(item.substr(dash + 1), hi) ||
               hi < lo) {
      return std::nullopt;
    }
    for (unsigned c = lo; c <= hi; ++c) in[c] = true;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  for (unsigned c = 0; c <= kMaxCpu; ++c)
    if (in[c]) cpus.push_back(c);
  return cpus;
}

std::string describe_worker_cpu(unsigned lcore, unsigned cpu,
                                const std::optional<std::string>& isolated_file,
                                const std::optional<std::string>& nohz_full_file) {
  const std::string who =
      "worker lcore " + std::to_string(lcore) + " (cpu " + std::to_string(cpu) + "): ";
  auto member = [cpu](const std::optional<std::string>& file) -> std::optional<bool> {
    if (!file) return std::nullopt;
    const auto list = parse_cpu_list(*file);
    if (!list) return std::nullopt;
    return std::binary_search(list->begin(), list->end(), cpu);
  };
  const std::optional<bool> iso = member(isolated_file);
  const std::optional<bool> nohz = member(nohz_full_file);
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

}  // namespace msgw::dataplane
