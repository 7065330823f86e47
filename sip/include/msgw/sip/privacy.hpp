// SPDX-License-Identifier: GPL-3.0-or-later
// Caller identity privacy as a request states it: RFC 3323's Privacy
// header (id, header, user), or the anonymous From that phones send when
// the user withheld the number (an ATA's "block caller ID", *67).
#pragma once

#include <string_view>

#include "msgw/sip/message.hpp"

namespace msgw::sip {

// "id; critical" → true. The priv-values that hide who calls: id (RFC
// 3325: do not pass the asserted identity on), header and user (RFC 3323).
// "none" and anything else: false.
bool privacy_hides_identity(std::string_view privacy_value);

// The request's caller asked not to be shown: a Privacy header that hides
// the identity, or a From whose user or display name is "anonymous".
bool caller_withheld(MessageRef request);

// RFC 3323 §4.1.1.3: the From of a request whose caller is withheld.
inline constexpr std::string_view kAnonymousFromUri = "sip:anonymous@anonymous.invalid";

}  // namespace msgw::sip
