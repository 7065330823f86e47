// SPDX-License-Identifier: GPL-3.0-or-later
// Digest credentials from the parser's already-parsed Authorization header
// (sip/'s own code and its white-box tests only).
#pragma once

#include <osipparser2/osip_message.h>

#include "msgw/sip/digest.hpp"

namespace msgw::sip {

// Same as parsing the header value; views point into `h`.
AuthVerdict digest_credentials_from_osip(const osip_authorization_t& h, DigestCredentials& out);

}  // namespace msgw::sip
