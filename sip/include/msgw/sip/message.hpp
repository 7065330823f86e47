// SPDX-License-Identifier: GPL-3.0-or-later
// SIP messages as the rest of msgw sees them: a read-only view (MessageRef)
// and an owned message with builders (Message), in msgw's own terms
// (method, URIs, tags, headers by name, body, status). The parser and its
// representation (oSIP2) stay inside sip/: only sip/'s own code uses
// get()/release() and the osip-typed helpers of sip/src/osip_message.hpp.
//
// Also here: the bounds-checked pre-scan that catches what oSIP2 is lenient
// about (and what RFC 4475 says must be refused), and stateless responses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "msgw/sip/limits.hpp"

struct osip_message;  // the parser's message; opaque outside sip/

namespace msgw::sip {

// A SIP or SIPS URI's parts, e.g. "sip:alice@192.0.2.1:5062;transport=tcp".
struct Uri {
  std::string scheme;  // "sip", "sips", "tel", ...
  std::string user;    // "" when none
  std::string host;    // IPv6 references without brackets
  uint16_t port = 0;   // 0 when none given
};
std::optional<Uri> parse_uri(std::string_view text);

// A view of a message owned elsewhere (the stack's transaction, a Message).
// Valid while that owner lives; every accessor returns "" / 0 / nullopt for
// an absent field.
class MessageRef {
 public:
  MessageRef() noexcept = default;
  // sip/'s own code wraps the parser's message.
  MessageRef(const osip_message* m) noexcept : m_(m) {}  // NOLINT: implicit by design
  explicit operator bool() const noexcept { return m_ != nullptr; }
  const osip_message* get() const noexcept { return m_; }
  const osip_message* operator->() const noexcept { return m_; }

  bool is_request() const;
  std::string method() const;          // request method; "" for a response
  int status() const;                  // response status code; 0 for a request
  std::string reason_phrase() const;
  std::string request_uri() const;     // as text
  std::string request_uri_user() const;
  std::string from_uri() const;
  std::string from_user() const;
  std::string from_display() const;    // display name, quotes removed
  std::string from_tag() const;
  std::string to_uri() const;
  std::string to_user() const;
  std::string to_tag() const;
  std::string call_id() const;         // "number@host" as sent
  uint32_t cseq_number() const;
  std::string cseq_method() const;
  std::size_t contact_count() const;
  std::string contact_uri(std::size_t index = 0) const;
  // A Contact's header parameter (after the URI's ">", e.g. expires or q),
  // name case-insensitive; "" when absent or valueless.
  std::string contact_param(std::size_t index, std::string_view name) const;
  std::optional<int> max_forwards() const;
  // A header the parser keeps by name (Reason, Warning, Expires, Allow,
  // User-Agent, extension headers, ...): case-insensitive, compact forms
  // accepted; "" when the message has fewer than index + 1 of them.
  std::string header(std::string_view name, std::size_t index = 0) const;
  std::string body() const;            // first body part
  // The session description the message carries: its body when that is
  // application/sdp (or has no Content-Type), the application/sdp part of a
  // multipart body (RFC 5621: SIP-I / SIP-T carriers send SDP beside ISUP,
  // RFC 3204), else "" (no offer or answer: an ISUP-only body, say).
  std::string sdp() const;
  std::string content_type() const;    // "type/subtype"
  std::string via_branch() const;      // top Via's branch
  std::string to_text() const;         // serialised for the wire

 protected:
  const osip_message* m_ = nullptr;
};

// An owned message. Builders return an empty Message (false) when the input
// cannot form a valid message.
class Message : public MessageRef {
 public:
  Message() noexcept = default;
  explicit Message(osip_message* m) noexcept : MessageRef(m) {}
  Message(Message&& o) noexcept : MessageRef(std::exchange(o.m_, nullptr)) {}
  Message& operator=(Message&& o) noexcept {
    if (this != &o) reset(const_cast<osip_message*>(std::exchange(o.m_, nullptr)));
    return *this;
  }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() { reset(); }

  // A request outside any dialog (or rebuilt from saved dialog fields):
  // `from`/`to` are header values ("Name" <uri>;tag=...).
  static Message request(std::string_view method, std::string_view request_uri, std::string_view from,
                         std::string_view to, std::string_view call_id, uint32_t cseq);

  bool add_header(std::string_view name, std::string_view value);
  bool set_max_forwards(int hops);
  // Replaces the body; an empty body removes it.
  bool set_body(std::string_view content_type, std::string_view body);
  // The body of `from` as it came: its Content-Type with its parameters (a
  // multipart boundary) and every part, each with its own headers, so that
  // a request passed on to the other leg (INFO) carries it whole.
  bool copy_body_from(MessageRef from);

  // sip/'s own code: the parser's message.
  osip_message* get() const noexcept { return const_cast<osip_message*>(m_); }
  osip_message* operator->() const noexcept { return get(); }
  osip_message* release() noexcept { return const_cast<osip_message*>(std::exchange(m_, nullptr)); }
  void reset(osip_message* m = nullptr) noexcept;
};

// oSIP2's parser tables are global; this makes sure they are built once
// (and installs the allocator below first).
void ensure_parser_init();

// Routes the parser's allocations to per-thread size-class pools
// (sip/src/osip_allocator.cpp); a no-op under AddressSanitizer.  Safe to call
// at any time: blocks the parser got from libc before are still freed by libc.
void install_parser_allocator();

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
  Message msg;      // set when scan.verdict == Ok
  ScanResult scan;
};

// scan_message + the parse + the checks every element makes on a parsed
// message (mandatory headers, URI and Via sanity).
ParseResult parse_message(std::string_view bytes, bool stream, const Limits& limits);
// The same, for bytes already scanned (`scan` = scan_message(bytes, ...)):
// a receiver that acts on the scan alone first (an ACK of a stateless
// answer) scans once.
ParseResult parse_scanned(std::string_view bytes, ScanResult scan);

// Response to an unparsed request, built only from the raw header lines the
// scan kept (Via, From, To, Call-ID, CSeq). Empty when no Via was found: with
// nowhere to send it, no response can be formed.
std::string build_stateless_response(const ScanResult& scan, int status, std::string_view reason,
                                     std::string_view to_tag,
                                     std::string_view extra_headers = {});

// True when a To/From header value carries a tag parameter (after the URI).
bool has_tag_param(std::string_view value);

// Standard reason phrase for a status code ("Unknown" for unlisted codes).
const char* default_reason(int status);

std::string random_token(std::size_t len = 16);

// The To tag of a response sent with no transaction (a stateless challenge,
// 400 or 503): random_token's letters behind a prefix no transaction's or
// dialog's tag (random_token alone) can carry.  An ACK whose To tag has it
// acknowledges such a response: nobody waits for it, so the stack drops it
// from the pre-scan, unparsed (is_stateless_ack).
std::string stateless_to_tag();
// The scan is of an ACK for a response sent with a stateless_to_tag().
bool is_stateless_ack(const ScanResult& scan);

// Canonical long name for a header name or its compact form, lower case.
std::string_view canonical_header_name(std::string_view name);

}  // namespace msgw::sip
