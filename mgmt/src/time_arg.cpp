// SPDX-License-Identifier: GPL-3.0-or-later
#include "time_arg.hpp"

#include <chrono>

namespace msgw::mgmt {
namespace {

// Reads exactly `n` digits at `p`.
bool digits(std::string_view s, std::size_t& p, int n, int& out) {
  if (p + n > s.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[p + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  p += n;
  return true;
}

}  // namespace

std::optional<int64_t> parse_time_ms(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s.find_first_not_of("0123456789") == std::string_view::npos) {
    if (s.size() > 12) return std::nullopt;  // past year 33658: a typo
    int64_t v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return v * 1000;
  }
  std::size_t p = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, p, 4, y) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, mo) || p >= s.size() ||
      s[p++] != '-' || !digits(s, p, 2, d))
    return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok()) return std::nullopt;
  int offset_min = 0;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != ' ') return std::nullopt;
    ++p;
    if (!digits(s, p, 2, h) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, mi)) return std::nullopt;
    if (p < s.size() && s[p] == ':' && (++p, !digits(s, p, 2, sec))) return std::nullopt;
    if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
    if (p < s.size()) {
      if (s[p] == 'Z' || s[p] == 'z') {
        ++p;
      } else if (s[p] == '+' || s[p] == '-') {
        const int sign = s[p++] == '-' ? -1 : 1;
        int oh, om;
        if (!digits(s, p, 2, oh) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, om) || oh > 23 || om > 59)
          return std::nullopt;
        offset_min = sign * (oh * 60 + om);
      }
      if (p != s.size()) return std::nullopt;
    }
  }
  const int64_t days = sys_days(ymd).time_since_epoch().count();
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - int64_t(offset_min) * 60;
  return secs * 1000;
}

}  // namespace msgw::mgmt
