// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/host/host_files.hpp"

#include <algorithm>
#include <charconv>

#include "msgw/common/cpu_list.hpp"
#include "msgw/common/text.hpp"

namespace msgw::host {

namespace {

// White-space separated fields of one line.
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// /proc/mounts escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string_view o = s.substr(i + 1, 3);
      if (std::all_of(o.begin(), o.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out.push_back(char(((o[0] - '0') << 6) | ((o[1] - '0') << 3) | (o[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool parse_hex32(std::string_view s, uint32_t& out) {
  if (s.empty() || s.size() > 8) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && p == s.data() + s.size() && s.front() != '-' && s.front() != '+';
}

}  // namespace

std::vector<Mount> parse_mounts(std::string_view text) {
  std::vector<Mount> out;
  for_each_line(text, [&](std::string_view line) {
    const auto f = fields(line);
    if (f.size() < 4) return;
    out.push_back({unescape_octal(f[0]), unescape_octal(f[1]), unescape_octal(f[2]), unescape_octal(f[3])});
  });
  return out;
}

uint64_t mount_pagesize_kb(std::string_view options) {
  while (!options.empty()) {
    const size_t comma = options.find(',');
    const std::string_view o = options.substr(0, comma);
    if (o.rfind("pagesize=", 0) == 0) {
      std::string_view v = o.substr(9);
      uint64_t mult = 1;  // bytes
      if (!v.empty()) {
        const char u = v.back();
        if (u == 'K' || u == 'k') mult = 1ull << 10;
        else if (u == 'M' || u == 'm') mult = 1ull << 20;
        else if (u == 'G' || u == 'g') mult = 1ull << 30;
        if (mult != 1) v.remove_suffix(1);
      }
      uint64_t n = 0;
      if (!common::parse_uint(v, n) || n > (uint64_t(1) << 40)) return 0;
      return n * mult / 1024;
    }
    if (comma == std::string_view::npos) break;
    options.remove_prefix(comma + 1);
  }
  return 0;
}

std::optional<std::string> KernelCmdline::value(std::string_view key) const {
  std::optional<std::string> v;
  for (const auto& [k, val] : params)
    if (k == key) v = val.value_or(std::string());
  return v;
}

KernelCmdline parse_cmdline(std::string_view text) {
  KernelCmdline c;
  size_t i = 0;
  auto space = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; };
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    if (i >= text.size()) break;
    // One word; double quotes group white space (and are dropped).
    std::string word;
    bool quoted = false;
    while (i < text.size() && (quoted || !space(text[i]))) {
      if (text[i] == '"') quoted = !quoted;
      else word.push_back(text[i]);
      ++i;
    }
    if (word == "--") break;
    const size_t eq = word.find('=');
    if (eq == std::string::npos) c.params.emplace_back(word, std::nullopt);
    else c.params.emplace_back(word.substr(0, eq), word.substr(eq + 1));
  }
  return c;
}

std::optional<bool> cmdline_cpu_list_has(std::string_view value, unsigned cpu) {
  // isolcpus=[flag,...]list: flags are words, the list starts at the first digit.
  while (!value.empty() && !(value.front() >= '0' && value.front() <= '9')) {
    const size_t comma = value.find(',');
    const std::string_view word = value.substr(0, comma);
    if (word == "all") return true;
    if (word != "nohz" && word != "domain" && word != "managed_irq") return std::nullopt;
    if (comma == std::string_view::npos) return false;  // flags and no CPU
    value.remove_prefix(comma + 1);
  }
  const auto list = common::parse_cpu_list(value);
  if (!list) return std::nullopt;
  return std::binary_search(list->begin(), list->end(), cpu);
}

std::vector<std::string> default_route_interfaces(std::string_view route, std::string_view ipv6_route) {
  std::vector<std::string> out;
  auto add = [&](std::string_view ifname) {
    if (!ifname.empty() && ifname != "lo" && std::find(out.begin(), out.end(), ifname) == out.end())
      out.emplace_back(ifname);
  };
  constexpr uint32_t kRtfUp = 0x1, kRtfReject = 0x200;
  // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT (hex, header first)
  for_each_line(route, [&](std::string_view line) {
    const auto f = fields(line);
    uint32_t dest = 0, flags = 0, mask = 0;
    if (f.size() < 8 || !parse_hex32(f[1], dest) || !parse_hex32(f[3], flags) || !parse_hex32(f[7], mask)) return;
    if (dest == 0 && mask == 0 && (flags & kRtfUp) && !(flags & kRtfReject)) add(f[0]);
  });
  // dest plen src plen next-hop metric refcnt use flags iface (hex)
  for_each_line(ipv6_route, [&](std::string_view line) {
    const auto f = fields(line);
    uint32_t plen = 0, flags = 0;
    if (f.size() < 10 || f[0].size() != 32 || !parse_hex32(f[1], plen) || !parse_hex32(f[8], flags)) return;
    const bool zero = std::all_of(f[0].begin(), f[0].end(), [](char ch) { return ch == '0'; });
    if (zero && plen == 0 && (flags & kRtfUp) && !(flags & kRtfReject)) add(f[9]);
  });
  return out;
}

std::optional<uint64_t> meminfo_hugepage_kb(std::string_view meminfo) {
  std::optional<uint64_t> kb;
  for_each_line(meminfo, [&](std::string_view line) {
    const auto f = fields(line);
    uint64_t n = 0;
    if (f.size() >= 2 && f[0] == "Hugepagesize:" && common::parse_uint(f[1], n)) kb = n;
  });
  return kb;
}

}  // namespace msgw::host
