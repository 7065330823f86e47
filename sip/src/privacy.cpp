// SPDX-License-Identifier: GPL-3.0-or-later
// Caller identity privacy read from a request (see privacy.hpp).
#include "msgw/sip/privacy.hpp"

#include "msgw/common/ascii.hpp"
#include "msgw/common/text.hpp"

namespace msgw::sip {

bool privacy_hides_identity(std::string_view value) {
  // priv-value *(";" priv-value); commas too, for a header folded from several.
  while (!value.empty()) {
    const std::size_t end = value.find_first_of(";,");
    const std::string_view one = common::trim_lws(value.substr(0, end));
    if (common::iequals(one, "id") || common::iequals(one, "header") || common::iequals(one, "user")) return true;
    if (end == std::string_view::npos) break;
    value.remove_prefix(end + 1);
  }
  return false;
}

bool caller_withheld(MessageRef request) {
  if (!request) return false;
  for (std::size_t i = 0; i < 8; ++i) {
    const std::string p = request.header("Privacy", i);
    if (p.empty()) break;
    if (privacy_hides_identity(p)) return true;
  }
  return common::iequals(request.from_user(), "anonymous") || common::iequals(request.from_display(), "anonymous");
}

}  // namespace msgw::sip
