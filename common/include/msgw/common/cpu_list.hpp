// SPDX-License-Identifier: GPL-3.0-or-later
// Linux's CPU list format ("0-3,8,10-11"), as sysfs writes it and as the
// kernel command line takes it (isolcpus=, nohz_full=, rcu_nocbs=).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace msgw::common {

// The CPUs of `text`, sorted, each once ("0-3,8,10-11", a trailing newline,
// empty for none). nullopt when malformed: a bad token, a reversed range, a
// CPU beyond kMaxCpu, or the stride form (sysfs never writes it).
inline constexpr unsigned kMaxCpu = 8191;
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text);

}  // namespace msgw::common
