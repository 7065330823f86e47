// SPDX-License-Identifier: GPL-3.0-or-later
// Arbitrary request-URI user parts through normalisation and routing: only
// digits may come out, and routing must not throw or crash on any of them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "msgw/control/dialplan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const msgw::control::DialPlan plan({
      {"tollfree", "1800", "", {"carrier"}},
      {"intl", "", "^011[0-9]{6,15}$", {"intl"}},
  });
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto n = msgw::control::normalize_number(text);
  if (!n) return 0;
  for (char c : *n)
    if (c < '0' || c > '9') std::abort();
  auto r = plan.route(*n);
  if (r && r->trunks.empty()) std::abort();
  return 0;
}
