// SPDX-License-Identifier: GPL-3.0-or-later
// sip/'s own view of messages in the parser's representation (oSIP2). Not a
// seam: nothing outside sip/ (and its white-box tests) includes this.
#pragma once

#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>

#include <cstdint>
#include <string>
#include <vector>
#include <string_view>

#include "msgw/sip/message.hpp"

namespace msgw::sip {

// The owned message: unique_ptr-like (get, release, reset, ->, bool).
using MessagePtr = Message;

// Response to a parsed request per RFC 3261 §8.2.6: Via list, From, Call-ID,
// CSeq copied; To copied and given `to_tag` when it has none.
MessagePtr make_response(const osip_message_t* request, int status, std::string_view reason = {},
                         std::string_view to_tag = {});

std::string serialize(const osip_message_t* msg);
std::string header_value(const osip_message_t* msg, const char* name, int index = 0);
std::string via_branch(const osip_message_t* msg);
std::string call_id(const osip_message_t* msg);  // "number@host" as sent, "" if none
// The tag parameter of a From or To header (osip_to_t is osip_from_t), or
// null. oSIP2's osip_from_get_tag/osip_to_get_tag macros pass the literal
// "tag" as a char*, which C++ forbids (-Wwritable-strings).
inline osip_generic_param_t* tag_param(osip_from_t* header) {
  osip_generic_param_t* t = nullptr;
  osip_generic_param_get_byname(&header->gen_params, const_cast<char*>("tag"), &t);
  return t;
}
std::string to_tag(const osip_message_t* msg);
std::string from_tag(const osip_message_t* msg);
uint32_t cseq_number(const osip_message_t* msg);
std::string cseq_method(const osip_message_t* msg);
// The option tags of every `header` (Require, Supported) line, trimmed, in
// order (RFC 3261 §20.32, §20.37); at most 64 lines are read.
std::vector<std::string> option_tags(const osip_message_t* msg, const char* header);
std::string body_of(const osip_message_t* msg);  // first body part, "" if none
std::string sdp_of(const osip_message_t* msg);   // see MessageRef::sdp()
// Whether an INVITE's or UPDATE's body is one we can take (RFC 5621 §9):
// SDP, or a multipart whose other parts are ISUP/QSIG (RFC 3204) or marked
// handling=optional; an ISUP-only body (a SIP-I delayed offer). Else 415.
bool offer_body_acceptable(const osip_message_t* msg);
std::string uri_text(const osip_uri_t* uri);     // "" for none

}  // namespace msgw::sip
