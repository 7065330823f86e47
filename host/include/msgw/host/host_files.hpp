// SPDX-License-Identifier: GPL-3.0-or-later
// Parsers of the host's own text files that `host check` and `host prepare`
// read: /proc/mounts, /proc/cmdline, /proc/net/route, /proc/net/ipv6_route,
// /proc/meminfo. Pure text in, values out: bad text gives fewer entries or
// nullopt, never a crash (tests/fuzz/host_files_fuzz.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace msgw::host {

// One line of /proc/mounts (octal escapes such as \040 decoded).
struct Mount {
  std::string source, target, fstype, options;
};
std::vector<Mount> parse_mounts(std::string_view text);
// The value of "pagesize=2M" among comma-separated mount options, in kB (0: absent or malformed).
uint64_t mount_pagesize_kb(std::string_view options);

// The kernel command line: words separated by white space, a value may be
// quoted (key="a b"); everything after a lone "--" goes to init and is not
// the kernel's.
struct KernelCmdline {
  std::vector<std::pair<std::string, std::optional<std::string>>> params;  // key, value (nullopt: bare word)
  // The last value of `key` ("" for a bare word), nullopt when absent.
  std::optional<std::string> value(std::string_view key) const;
};
KernelCmdline parse_cmdline(std::string_view text);
// Whether `cpu` is in a command-line CPU list: isolcpus= may start with
// flags ("nohz,domain,managed_irq,2-5"); "all" is every CPU. nullopt when
// the list is malformed.
std::optional<bool> cmdline_cpu_list_has(std::string_view value, unsigned cpu);

// The interfaces that carry a default route: /proc/net/route (destination
// and mask 0) and /proc/net/ipv6_route (::/0); either text may be empty.
std::vector<std::string> default_route_interfaces(std::string_view route, std::string_view ipv6_route);

// "Hugepagesize:  2048 kB" of /proc/meminfo, in kB; nullopt when absent.
std::optional<uint64_t> meminfo_hugepage_kb(std::string_view meminfo);

}  // namespace msgw::host
