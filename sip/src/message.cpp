// SPDX-License-Identifier: GPL-3.0-or-later
// oSIP2 parse glue and message builders.
#include "osip_message.hpp"

#include <arpa/inet.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "msgw/common/ascii.hpp"
#include "msgw/common/sip_admission.hpp"

namespace msgw::sip {
namespace {

bool all_digits(const char* s) {
  if (s == nullptr || *s == '\0') return false;
  for (; *s; ++s)
    if (*s < '0' || *s > '9') return false;
  return true;
}

bool valid_port(const char* s) {
  if (s == nullptr) return true;
  if (!all_digits(s) || std::strlen(s) > 5) return false;
  long v = std::strtol(s, nullptr, 10);
  return v > 0 && v <= 65535;
}

// Host of a URI/Via as oSIP2 stores it (IPv6 references without brackets).
bool valid_host(const char* h) {
  if (h == nullptr || *h == '\0') return false;
  if (std::strchr(h, ':') != nullptr) {
    in6_addr a{};
    return inet_pton(AF_INET6, h, &a) == 1;
  }
  for (const char* p = h; *p; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

bool has_tag_param(std::string_view v) { return common::has_tag_param(v); }

namespace {

// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
std::string_view uri_scheme(std::string_view uri) {
  std::size_t c = uri.find(':');
  if (c == std::string_view::npos || c == 0) return {};
  std::string_view s = uri.substr(0, c);
  if (!std::isalpha(static_cast<unsigned char>(s[0]))) return {};
  for (char ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '-' || ch == '.')) return {};
  return s;
}

// Bytes from the kernel's CSPRNG, fetched 4 KiB at a time per thread: one
// getrandom(2) per ~250 tokens keeps the system call off the per-message
// path (tests/perf/sip_bench), and nothing about one token tells anything
// about another (the splitmix64 stream this replaced was invertible).
class RandomBytes {
 public:
  std::uint8_t next() {
    if (pos_ == buf_.size()) refill();
    return buf_[pos_++];
  }

 private:
  void refill() {
    std::size_t got = 0;
    while (got < buf_.size()) {
      ssize_t r = getrandom(buf_.data() + got, buf_.size() - got, 0);
      if (r > 0) got += static_cast<std::size_t>(r);
      else if (r < 0 && errno != EINTR) throw std::runtime_error("getrandom failed: no token randomness");
    }
    pos_ = 0;
  }
  std::array<std::uint8_t, 4096> buf_{};
  std::size_t pos_ = buf_.size();
};

void discard_trace(const char*, int, osip_trace_level_t, const char*, va_list) {}

}  // namespace

void ensure_parser_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    install_parser_allocator();
    parser_init();
    // Every refusal is counted and answered by the stack; oSIP2's own
    // stderr traces would only duplicate that, per malformed packet.
    osip_trace_initialize_func(OSIP_FATAL, &discard_trace);
    for (int l = 0; l < END_TRACE_LEVEL; ++l) osip_trace_disable_level(static_cast<osip_trace_level_t>(l));
  });
}

const char* default_reason(int status) {
  switch (status) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 181: return "Call Is Being Forwarded";
    case 182: return "Queued";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 202: return "Accepted";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Moved Temporarily";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Unsupported URI Scheme";
    case 420: return "Bad Extension";
    case 422: return "Session Interval Too Small";
    case 423: return "Interval Too Brief";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 482: return "Loop Detected";
    case 483: return "Too Many Hops";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 491: return "Request Pending";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Server Time-out";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    default: return "Unknown";
  }
}

ParseResult parse_message(std::string_view bytes, bool stream, const Limits& limits) {
  return parse_scanned(bytes, scan_message(bytes, stream, limits));
}

ParseResult parse_scanned(std::string_view bytes, ScanResult scan) {
  ensure_parser_init();
  ParseResult out;
  out.scan = std::move(scan);
  ScanResult& s = out.scan;
  if (s.verdict != Verdict::Ok) return out;

  auto refuse = [&](const char* reason) {
    if (s.is_request) {
      s.verdict = s.via_values.empty() ? Verdict::Drop : Verdict::Reply;
      s.status = 400;
    } else {
      s.verdict = Verdict::Drop;
    }
    s.reason = reason;
    out.msg.reset();
    return std::move(out);
  };

  std::size_t lead = 0;
  while (lead < bytes.size() && (bytes[lead] == '\r' || bytes[lead] == '\n')) ++lead;
  const std::size_t len = s.head_len + s.body_len - lead;
  std::string fixed;
  const char* buf = bytes.data() + lead;
  if (s.quoted_nul) {
    // oSIP2 parses C strings: an escaped NUL in a display name would cut the
    // header short. The escape keeps its meaning with a space in its place.
    fixed.assign(buf, len);
    for (std::size_t i = 0; i + 1 < s.head_len - lead; ++i)
      if (fixed[i] == '\\' && fixed[i + 1] == '\0') fixed[i + 1] = ' ';
    buf = fixed.data();
  }

  osip_message_t* m = nullptr;
  if (osip_message_init(&m) != 0) return refuse("Out Of Memory");
  out.msg.reset(m);
  if (osip_message_parse(m, buf, len) != 0) {
    // oSIP2 only knows how to parse some URI schemes; a well-formed request
    // for another scheme deserves 416, not 400 (RFC 3261 §8.2.2.1).
    std::string_view scheme = s.is_request ? uri_scheme(s.request_uri) : std::string_view{};
    if (!scheme.empty() && !common::iequals(scheme, "sip") && !common::iequals(scheme, "sips") &&
        !common::iequals(scheme, "tel")) {
      out.msg.reset();
      s.verdict = Verdict::Reply;
      s.status = 416;
      s.reason = "Unsupported URI Scheme";
      return out;
    }
    return refuse("Malformed Message");
  }

  if (m->cseq == nullptr || m->cseq->number == nullptr || m->cseq->method == nullptr)
    return refuse("Missing CSeq Header");
  if (m->call_id == nullptr || m->call_id->number == nullptr) return refuse("Missing Call-ID Header");
  if (m->from == nullptr) return refuse("Missing From Header");
  if (m->to == nullptr) return refuse("Missing To Header");
  osip_via_t* via = static_cast<osip_via_t*>(osip_list_get(&m->vias, 0));
  if (via == nullptr) {
    out.msg.reset();
    s.verdict = Verdict::Drop;
    s.reason = "no parsable Via";
    return out;
  }
  if (via->protocol == nullptr || !valid_host(via->host) || !valid_port(via->port))
    return refuse("Invalid Via Sent-By");

  if (MSG_IS_REQUEST(m)) {
    if (m->req_uri == nullptr || m->req_uri->scheme == nullptr) return refuse("Invalid Request-URI");
    const char* scheme = m->req_uri->scheme;
    if (common::iequals(scheme, "sip") || common::iequals(scheme, "sips")) {
      if (!valid_port(m->req_uri->port)) return refuse("Invalid Request-URI Port");
      if (m->req_uri->host != nullptr && std::strchr(m->req_uri->host, ':') != nullptr &&
          !valid_host(m->req_uri->host))
        return refuse("Invalid IPv6 Reference In Request-URI");
      if (m->req_uri->host == nullptr || m->req_uri->host[0] == '\0') return refuse("Request-URI Without Host");
    }
  } else if (m->status_code < 100 || m->status_code > 699) {
    s.verdict = Verdict::Drop;
    s.reason = "bad status code";
    out.msg.reset();
  }
  return out;
}

std::string build_stateless_response(const ScanResult& scan, int status, std::string_view reason,
                                     std::string_view tag, std::string_view extra_headers) {
  if (scan.via_values.empty()) return {};
  std::string out;
  out.reserve(512);
  out += "SIP/2.0 ";
  out += std::to_string(status);
  out += ' ';
  out += reason.empty() ? std::string_view(default_reason(status)) : reason;
  out += "\r\n";
  for (auto v : scan.via_values) {
    out += "Via: ";
    out += v;
    out += "\r\n";
  }
  if (!scan.from.empty()) { out += "From: "; out += scan.from; out += "\r\n"; }
  if (!scan.to.empty()) {
    out += "To: ";
    out += scan.to;
    if (!has_tag_param(scan.to) && !tag.empty()) { out += ";tag="; out += tag; }
    out += "\r\n";
  }
  if (!scan.call_id.empty()) { out += "Call-ID: "; out += scan.call_id; out += "\r\n"; }
  if (!scan.cseq.empty()) { out += "CSeq: "; out += scan.cseq; out += "\r\n"; }
  out += extra_headers;
  out += "Content-Length: 0\r\n\r\n";
  return out;
}

MessagePtr make_response(const osip_message_t* req, int status, std::string_view reason,
                         std::string_view tag) {
  osip_message_t* r = nullptr;
  if (osip_message_init(&r) != 0) return {};
  MessagePtr resp(r);
  osip_message_set_version(r, osip_strdup("SIP/2.0"));
  osip_message_set_status_code(r, status);
  std::string rs(reason.empty() ? std::string_view(default_reason(status)) : reason);
  osip_message_set_reason_phrase(r, osip_strdup(rs.c_str()));
  if (osip_list_clone(&req->vias, &r->vias, reinterpret_cast<int (*)(void*, void**)>(&osip_via_clone)) != 0)
    return {};
  if (req->from && osip_from_clone(req->from, &r->from) != 0) return {};
  if (req->to && osip_to_clone(req->to, &r->to) != 0) return {};
  if (req->call_id && osip_call_id_clone(req->call_id, &r->call_id) != 0) return {};
  if (req->cseq && osip_cseq_clone(req->cseq, &r->cseq) != 0) return {};
  if (r->to != nullptr && status > 100 && !tag.empty() && tag_param(r->to) == nullptr)
    osip_to_set_tag(r->to, osip_strdup(std::string(tag).c_str()));
  return resp;
}

std::string serialize(const osip_message_t* msg) {
  char* s = nullptr;
  size_t len = 0;
  if (osip_message_to_str(const_cast<osip_message_t*>(msg), &s, &len) != 0 || s == nullptr) return {};
  std::string out(s, len);
  osip_free(s);
  return out;
}

std::string header_value(const osip_message_t* msg, const char* name, int index) {
  osip_header_t* h = nullptr;
  if (osip_message_header_get_byname(msg, name, index, &h) < 0 || h == nullptr || h->hvalue == nullptr) return {};
  return h->hvalue;
}

std::string via_branch(const osip_message_t* msg) {
  osip_via_t* via = static_cast<osip_via_t*>(osip_list_get(&msg->vias, 0));
  if (via == nullptr) return {};
  osip_generic_param_t* b = nullptr;
  osip_via_param_get_byname(via, const_cast<char*>("branch"), &b);
  return (b && b->gvalue) ? b->gvalue : std::string();
}

std::string call_id(const osip_message_t* msg) {
  if (msg == nullptr || msg->call_id == nullptr || msg->call_id->number == nullptr) return {};
  std::string id = msg->call_id->number;
  if (msg->call_id->host) (id += '@') += msg->call_id->host;
  return id;
}

std::string to_tag(const osip_message_t* msg) {
  const osip_generic_param_t* t = msg->to ? tag_param(msg->to) : nullptr;
  return (t && t->gvalue) ? t->gvalue : std::string();
}

std::string from_tag(const osip_message_t* msg) {
  const osip_generic_param_t* t = msg->from ? tag_param(msg->from) : nullptr;
  return (t && t->gvalue) ? t->gvalue : std::string();
}

uint32_t cseq_number(const osip_message_t* msg) {
  if (!msg->cseq || !msg->cseq->number) return 0;
  return static_cast<uint32_t>(std::strtoul(msg->cseq->number, nullptr, 10));
}

std::vector<std::string> option_tags(const osip_message_t* msg, const char* header) {
  std::vector<std::string> tags;
  osip_header_t* h = nullptr;
  for (int i = 0; i <= 64 && osip_message_header_get_byname(msg, header, i, &h) >= 0 && h; ++i, h = nullptr) {
    std::string_view v = h->hvalue ? h->hvalue : "";
    while (true) {
      const std::size_t comma = v.find(',');
      std::string_view one = v.substr(0, comma);
      while (!one.empty() && (one.front() == ' ' || one.front() == '\t')) one.remove_prefix(1);
      while (!one.empty() && (one.back() == ' ' || one.back() == '\t')) one.remove_suffix(1);
      if (!one.empty()) tags.emplace_back(one);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return tags;
}

std::string cseq_method(const osip_message_t* msg) {
  return (msg->cseq && msg->cseq->method) ? msg->cseq->method : std::string();
}

std::string uri_text(const osip_uri_t* u) {
  if (u == nullptr) return {};
  char* s = nullptr;
  if (osip_uri_to_str(u, &s) != 0 || s == nullptr) return {};
  std::string out(s);
  osip_free(s);
  return out;
}

std::string body_of(const osip_message_t* msg) {
  osip_body_t* b = static_cast<osip_body_t*>(osip_list_get(&msg->bodies, 0));
  if (b == nullptr || b->body == nullptr) return {};
  return std::string(b->body, b->length);
}

namespace {
bool is_type(const osip_content_type_t* ct, std::string_view type, std::string_view subtype) {
  return ct != nullptr && ct->type != nullptr && ct->subtype != nullptr && common::iequals(ct->type, type) &&
         common::iequals(ct->subtype, subtype);
}
bool is_sdp_type(const osip_content_type_t* ct) { return is_type(ct, "application", "sdp"); }
// ISUP and QSIG beside the SDP (RFC 3204): what a SIP-I / SIP-T carrier
// sends, and what a gateway interworking to plain SIP consumes by design.
bool is_tunnelled_signalling(const osip_content_type_t* ct) {
  return is_type(ct, "application", "isup") || is_type(ct, "application", "qsig");
}
bool optional_disposition(std::string_view disposition) {
  std::string d(disposition);
  for (char& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  d.erase(std::remove(d.begin(), d.end(), ' '), d.end());
  return d.find("handling=optional") != std::string::npos;
}
bool optional_part(const osip_body_t* b) {
  if (b->headers == nullptr) return false;
  for (int i = 0; i < osip_list_size(b->headers); ++i) {
    const auto* h = static_cast<const osip_header_t*>(osip_list_get(b->headers, i));
    if (h && h->hname && h->hvalue && common::iequals(h->hname, "content-disposition") &&
        optional_disposition(h->hvalue))
      return true;
  }
  return false;
}
}  // namespace

bool offer_body_acceptable(const osip_message_t* msg) {
  const osip_content_type_t* ct = msg->content_type;
  if (osip_list_size(&msg->bodies) == 0 || ct == nullptr || ct->type == nullptr || ct->subtype == nullptr ||
      is_sdp_type(ct))
    return true;
  if (common::iequals(ct->type, "multipart")) {
    for (int i = 0; i < osip_list_size(&msg->bodies); ++i) {
      const auto* b = static_cast<const osip_body_t*>(osip_list_get(&msg->bodies, i));
      if (b == nullptr || is_sdp_type(b->content_type) || is_tunnelled_signalling(b->content_type) || optional_part(b))
        continue;
      return false;  // a part we must understand and do not (handling=required is the default)
    }
    return true;
  }
  return is_tunnelled_signalling(ct) || optional_disposition(header_value(msg, "content-disposition"));
}

std::string sdp_of(const osip_message_t* msg) {
  const osip_content_type_t* ct = msg->content_type;
  // No Content-Type: the body, if the parser kept one (RFC 3261 §20.15
  // wants a type; an SDP is the only body a gateway is sent untyped).
  if (ct == nullptr || ct->type == nullptr || is_sdp_type(ct)) return body_of(msg);
  if (!common::iequals(ct->type, "multipart")) return {};
  // The parser split the parts at the boundary, each with its own Content-Type.
  for (int i = 0; i < osip_list_size(&msg->bodies); ++i) {
    const auto* b = static_cast<const osip_body_t*>(osip_list_get(&msg->bodies, i));
    if (b != nullptr && b->body != nullptr && is_sdp_type(b->content_type)) return std::string(b->body, b->length);
  }
  return {};
}

std::string random_token(std::size_t len) {
  static thread_local RandomBytes random;
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out(len, '0');
  for (std::size_t i = 0; i < len; ++i) {
    // Bytes of 252 and over are skipped so each character is uniform (252 = 7 * 36).
    std::uint8_t b = random.next();
    while (b >= 252) b = random.next();
    out[i] = alphabet[b % 36];
  }
  return out;
}

namespace {
// '-' is not in random_token's alphabet: no transaction or dialog tag starts so.
constexpr std::string_view kStatelessTagPrefix = "sl-";
}  // namespace

std::string stateless_to_tag() { return std::string(kStatelessTagPrefix) + random_token(10); }

bool is_stateless_ack(const ScanResult& scan) {
  if (scan.verdict != Verdict::Ok || !scan.is_request || scan.method != "ACK") return false;
  std::size_t p = common::tag_param_value_pos(scan.to);
  if (p == std::string_view::npos) return false;
  std::string_view tag = scan.to.substr(p);
  while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
  return tag.substr(0, kStatelessTagPrefix.size()) == kStatelessTagPrefix;
}

}  // namespace msgw::sip
