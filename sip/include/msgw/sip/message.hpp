// SIP message handling on top of oSIP2's parser: a bounds-checked pre-scan
// that catches what oSIP2 is lenient about (and what RFC 4475 says must be
// refused), the oSIP2 parse itself, and helpers to build responses.
#pragma once

#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgw/sip/limits.hpp"

namespace msgw::sip {

struct MessageDeleter {
  void operator()(osip_message_t* m) const noexcept { osip_message_free(m); }
};
using MessagePtr = std::unique_ptr<osip_message_t, MessageDeleter>;

// oSIP2's parser tables are global; this makes sure they are built once
// (and installs the allocator below first).
void ensure_parser_init();

// Routes oSIP2's allocations to per-thread size-class pools
// (sip/osip_allocator.cpp); a no-op under AddressSanitizer.  Safe to call at
// any time: blocks oSIP2 got from libc before are still freed by libc.
void install_osip_allocator();

enum class Verdict { Ok, Reply, Drop };

// What the pre-scan learned. Raw header values point into the input bytes so
// that a stateless error response can be formed even when oSIP2 cannot parse.
struct ScanResult {
  Verdict verdict = Verdict::Drop;
  int status = 0;             // response to send when verdict == Reply
  std::string reason;         // reason phrase naming the problem / drop cause
  bool is_request = false;
  std::string_view method;
  std::string_view request_uri;
  int response_code = 0;
  std::size_t head_len = 0;   // bytes up to and including the empty line
  std::size_t body_len = 0;   // body bytes that belong to this message
  std::size_t header_count = 0;
  std::size_t via_count = 0;
  bool has_content_length = false;
  bool quoted_nul = false;    // NUL inside a quoted-pair: legal, but oSIP2 parses C strings
  std::vector<std::string_view> via_values;  // one entry per Via header line
  std::string_view from, to, call_id, cseq;
  // Which limit was hit, for the stats.
  bool over_size = false, over_headers = false, over_via = false;
};

// Looks at one complete message (a datagram, or a framed stream message).
// `stream` is true for TCP: there the framer has already cut the message at
// Content-Length, and a missing Content-Length means an empty body.
ScanResult scan_message(std::string_view bytes, bool stream, const Limits& limits);

struct ParseResult {
  MessagePtr msg;   // set when verdict == Ok
  ScanResult scan;
};

// scan_message + osip_message_parse + the checks every element makes on a
// parsed message (mandatory headers, URI and Via sanity).
ParseResult parse_message(std::string_view bytes, bool stream, const Limits& limits);

// Response to an unparsed request, built only from the raw header lines the
// scan kept (Via, From, To, Call-ID, CSeq). Empty when no Via was found: with
// nowhere to send it, no response can be formed.
std::string build_stateless_response(const ScanResult& scan, int status, std::string_view reason,
                                     std::string_view to_tag,
                                     std::string_view extra_headers = {});

// Response to a parsed request per RFC 3261 §8.2.6: Via list, From, Call-ID,
// CSeq copied; To copied and given `to_tag` when it has none.
MessagePtr make_response(const osip_message_t* request, int status, std::string_view reason = {},
                         std::string_view to_tag = {});

// Standard reason phrase for a status code ("Unknown" for unlisted codes).
const char* default_reason(int status);

std::string serialize(const osip_message_t* msg);
std::string header_value(const osip_message_t* msg, const char* name, int index = 0);
std::string via_branch(const osip_message_t* msg);
std::string call_id(const osip_message_t* msg);  // "number@host" as sent, "" if none
std::string to_tag(const osip_message_t* msg);
std::string from_tag(const osip_message_t* msg);
uint32_t cseq_number(const osip_message_t* msg);
std::string cseq_method(const osip_message_t* msg);
std::string random_token(std::size_t len = 16);
std::string body_of(const osip_message_t* msg);  // first body part, "" if none

// Canonical long name for a header name or its compact form, lower case.
std::string_view canonical_header_name(std::string_view name);

}  // namespace msgw::sip
