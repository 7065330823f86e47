// SPDX-License-Identifier: GPL-3.0-or-later
// What sdp_parse.cpp and sdp_offer_answer.cpp share. Private to sip/.
#pragma once

#include <string>
#include <string_view>

#include "msgw/sip/sdp.hpp"

namespace msgw::sip::sdp::detail {

// Stores msg in *why (if given); returns false for `return set_error(...)`.
bool set_error(std::string* why, std::string msg);
// RFC 4566 unicast-address: an IP literal of the declared family, or an FQDN.
bool valid_address(std::string_view a, AddrType t);
bool dir_sends(Direction d) noexcept;
bool dir_receives(Direction d) noexcept;
Direction make_dir(bool send, bool recv) noexcept;
// The encoding name of a codec as rtpmap writes it ("PCMU", "G729", ...).
std::string codec_encoding_name(const codecs::CodecParams& p);

}  // namespace msgw::sip::sdp::detail
