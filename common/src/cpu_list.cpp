// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/common/cpu_list.hpp"

#include <charconv>

namespace msgw::common {

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

}  // namespace msgw::common
