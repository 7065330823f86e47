// SPDX-License-Identifier: GPL-3.0-or-later
// Points in time as operators type them on msgwctl's command line (show cdrs
// --since T): unix seconds, or ISO-8601 in UTC or with an offset.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace msgw::mgmt {

// "1765000000", "2026-12-06", "2026-12-06T03:10", "2026-12-06T03:10:00Z",
// "2026-12-06 03:10:00+01:00" → milliseconds since the epoch; nullopt for
// anything else (a bad field, a date that does not exist, trailing text).
std::optional<int64_t> parse_time_ms(std::string_view text);

}  // namespace msgw::mgmt
