// SPDX-License-Identifier: GPL-3.0-or-later
// Per-message pre-scan (hot path): one pass over the header section, no
// allocation except the Via list, every index checked against the buffer end.
#include <cstring>
#include <string>

#include "msgw/sip/message.hpp"

#include "msgw/common/ascii.hpp"
#include "msgw/common/text.hpp"

namespace msgw::sip {
namespace {

bool is_token_char(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::strchr("-.!%*_+`'~", c) != nullptr && c != 0;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!is_token_char(c)) return false;
  return true;
}

using common::iequals;
using common::is_lws;
using common::trim_lws;

// Parses a decimal without sign; false on empty, non-digit or > max.
bool parse_uint(std::string_view s, unsigned long long max, unsigned long long& out) {
  if (s.empty() || s.size() > 20) return false;
  unsigned long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    unsigned d = static_cast<unsigned>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// Calls visit(i, c) for each character of v outside quoted strings (the
// opening quote included; inside quotes a backslash escapes the next
// character, RFC 3261 §25.1). visit returning false stops the walk.
template <typename F>
void for_each_unquoted(std::string_view v, F&& visit) {
  bool inq = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (inq) {
      if (c == '\\') ++i;
      else if (c == '"') inq = false;
      continue;
    }
    if (c == '"') inq = true;
    if (!visit(i, c)) return;
  }
}

// Splits at top-level commas: outside quoted strings and <...>.
template <typename F>
bool for_each_value(std::string_view v, F&& f) {
  int angle = 0;
  std::size_t start = 0;
  bool ok = true;
  for_each_unquoted(v, [&](std::size_t i, char c) {
    if (c == '<') ++angle;
    else if (c == '>') --angle;
    else if (c == ',' && angle == 0) {
      if (!f(trim_lws(v.substr(start, i - start)))) return ok = false;
      start = i + 1;
    }
    return true;
  });
  return ok && f(trim_lws(v.substr(start)));
}

// Quote balance; reports a NUL that is escaped inside a quoted string.
enum class QuoteCheck { Ok, Unterminated, BareNul };
QuoteCheck check_quotes(std::string_view v, bool& quoted_nul) {
  bool inq = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (inq) {
      if (c == '\\') {
        if (i + 1 >= v.size()) return QuoteCheck::Unterminated;
        if (v[i + 1] == '\0') quoted_nul = true;
        ++i;
        continue;
      }
      if (c == '"') inq = false;
      continue;
    }
    if (c == '\0') return QuoteCheck::BareNul;
    if (c == '"') inq = true;
  }
  return inq ? QuoteCheck::Unterminated : QuoteCheck::Ok;
}

// True when a URI carries "?headers" after its host part (the user part may
// legally contain '?').
bool uri_has_headers(std::string_view uri) {
  std::size_t at = uri.rfind('@');
  std::size_t from = at == std::string_view::npos ? 0 : at;
  return uri.find('?', from) != std::string_view::npos;
}

// Empty ";;" parameters outside quotes and angle brackets.
bool has_empty_param(std::string_view v) {
  int angle = 0;
  bool after_semi = false;
  bool empty = false;
  for_each_unquoted(v, [&](std::size_t, char c) {
    if (c == '"' || c == '<') {
      angle += c == '<';
      after_semi = false;
    } else if (c == '>') {
      --angle;
    } else if (angle == 0 && !is_lws(c)) {
      if ((c == ';' || c == ',') && after_semi) return !(empty = true);
      after_semi = c == ';';
    }
    return true;
  });
  return empty || after_semi;
}

// name-addr / addr-spec sanity for one value of To/From/Contact/Route.
// Returns nullptr when fine, else a short description of the problem.
const char* check_name_addr(std::string_view v, bool is_contact) {
  if (v.empty()) return "empty value";
  if (is_contact && v == "*") return nullptr;
  std::size_t lt = std::string_view::npos;
  for_each_unquoted(v, [&](std::size_t i, char c) {
    if (c != '<') return true;
    lt = i;
    return false;
  });
  if (lt == std::string_view::npos) {
    // addr-spec form: parameters after the URI belong to the header, so a
    // URI with headers would be ambiguous (RFC 3261 §20).
    std::size_t semi = v.find(';');
    std::string_view uri = trim_lws(v.substr(0, semi));
    if (uri_has_headers(uri)) return "URI with headers must be enclosed in <>";
    if (uri.find(' ') != std::string_view::npos || uri.find('\t') != std::string_view::npos)
      return "invalid display name";
    return nullptr;
  }
  std::string_view dn = trim_lws(v.substr(0, lt));
  if (!dn.empty() && dn.front() != '"') {
    // Unquoted display name: tokens and LWS only.
    for (char c : dn)
      if (!is_lws(c) && !is_token_char(static_cast<unsigned char>(c))) return "invalid display name";
  }
  std::size_t gt = v.find('>', lt);
  if (gt == std::string_view::npos) return "unbalanced angle brackets";
  if (gt == lt + 1) return "empty URI";
  if (is_lws(v[lt + 1]) || is_lws(v[gt - 1])) return "whitespace inside angle brackets";
  return nullptr;
}

struct Fail {
  ScanResult& r;
  void reply(int status, std::string reason) {
    if (r.verdict != Verdict::Ok) return;  // first problem wins
    r.verdict = Verdict::Reply;
    r.status = status;
    r.reason = std::move(reason);
  }
  void drop(std::string reason) {
    if (r.verdict != Verdict::Ok) return;
    r.verdict = Verdict::Drop;
    r.reason = std::move(reason);
  }
};

std::string pretty(std::string_view canon) {
  static constexpr std::pair<std::string_view, std::string_view> names[] = {
      {"call-id", "Call-ID"}, {"cseq", "CSeq"}, {"from", "From"}, {"to", "To"},
      {"via", "Via"}, {"max-forwards", "Max-Forwards"}, {"contact", "Contact"},
      {"content-length", "Content-Length"}, {"content-type", "Content-Type"},
      {"route", "Route"}, {"record-route", "Record-Route"}, {"date", "Date"}};
  for (auto& [k, v] : names)
    if (k == canon) return std::string(v);
  return std::string(canon);
}

}  // namespace

std::string_view canonical_header_name(std::string_view name) {
  if (name.size() == 1) {
    switch (name[0] | 0x20) {
      case 'i': return "call-id";
      case 'f': return "from";
      case 't': return "to";
      case 'v': return "via";
      case 'l': return "content-length";
      case 'c': return "content-type";
      case 'm': return "contact";
      case 'k': return "supported";
      case 's': return "subject";
      case 'e': return "content-encoding";
      case 'o': return "event";
      case 'r': return "refer-to";
      case 'u': return "allow-events";
      case 'x': return "session-expires";
      default: break;
    }
  }
  static constexpr std::string_view known[] = {
      "call-id", "from", "to", "via", "content-length", "content-type", "contact", "cseq",
      "max-forwards", "route", "record-route", "date", "require", "proxy-require",
      "supported", "accept", "expires", "authorization", "proxy-authorization"};
  for (auto k : known)
    if (iequals(k, name)) return k;
  return {};
}

ScanResult scan_message(std::string_view in, bool stream, const Limits& limits) {
  ScanResult r;
  r.verdict = Verdict::Ok;
  Fail fail{r};

  std::string_view bytes = in;
  if (bytes.size() > limits.max_message_bytes) {
    r.over_size = true;
    fail.reply(513, "Message Too Large");
    // Keep scanning the head (if it fits) so that the 513 can be addressed.
    bytes = bytes.substr(0, limits.max_message_bytes);
  }

  // RFC 3261 §7.5: ignore CRLFs before the start line (keep-alives).
  std::size_t pos = 0;
  while (pos < bytes.size() && (bytes[pos] == '\r' || bytes[pos] == '\n')) ++pos;
  if (pos == bytes.size()) {
    r.verdict = Verdict::Drop;
    r.reason = "empty message";
    return r;
  }

  auto next_line = [&](std::size_t from, std::string_view& line) -> std::size_t {
    std::size_t nl = bytes.find('\n', from);
    if (nl == std::string_view::npos) return std::string_view::npos;
    std::size_t end = nl;
    if (end > from && bytes[end - 1] == '\r') --end;
    line = bytes.substr(from, end - from);
    return nl + 1;
  };

  std::string_view start;
  std::size_t p = next_line(pos, start);
  if (p == std::string_view::npos) {
    r.verdict = Verdict::Drop;
    r.reason = "no end of start line";
    return r;
  }
  if (start.size() > limits.max_header_line) {
    r.verdict = Verdict::Drop;
    r.reason = "start line too long";
    return r;
  }

  // Start line.
  if (start.substr(0, 4) == "SIP/") {
    r.is_request = false;
    // SIP/2.0 SP 3DIGIT SP Reason-Phrase
    std::size_t sp1 = start.find(' ');
    std::string_view ver = start.substr(0, sp1);
    if (sp1 == std::string_view::npos || ver != "SIP/2.0") {
      r.verdict = Verdict::Drop;
      r.reason = "bad status line version";
      return r;
    }
    std::size_t sp2 = start.find(' ', sp1 + 1);
    std::string_view code = start.substr(sp1 + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1);
    unsigned long long c = 0;
    if (code.size() != 3 || !parse_uint(code, 999, c) || c < 100 || c > 699) {
      r.verdict = Verdict::Drop;
      r.reason = "bad status code";
      return r;
    }
    r.response_code = static_cast<int>(c);
  } else {
    r.is_request = true;
    std::size_t sp1 = start.find(' ');
    if (sp1 == std::string_view::npos) {
      r.verdict = Verdict::Drop;
      r.reason = "start line is neither a request nor a status line";
      return r;
    }
    r.method = start.substr(0, sp1);
    std::size_t sp2 = start.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) {
      r.verdict = Verdict::Drop;
      r.reason = "request line without SIP version";
      return r;
    }
    r.request_uri = start.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view ver = start.substr(sp2 + 1);
    if (!is_token(r.method)) {
      r.verdict = Verdict::Drop;
      r.reason = "invalid method token";
      return r;
    }
    if (ver.size() >= 5 && iequals(ver.substr(0, 4), "SIP/") && ver.find(' ') == std::string_view::npos &&
        !iequals(ver, "SIP/2.0")) {
      fail.reply(505, "Version Not Supported");
    } else if (r.request_uri.empty() || ver.find(' ') != std::string_view::npos ||
               !iequals(ver, "SIP/2.0")) {
      fail.reply(400, "Malformed Request-Line (extra whitespace)");
    } else if (r.request_uri.front() == '<' || r.request_uri.find('>') != std::string_view::npos) {
      fail.reply(400, "Request-URI Enclosed In Angle Brackets");
    } else if (uri_has_headers(r.request_uri)) {
      fail.reply(400, "Request-URI Contains Headers");
    }
  }

  // Headers.
  bool seen_from = false, seen_to = false, seen_callid = false, seen_cseq = false, seen_mf = false;
  unsigned long long content_length = 0;
  bool end_found = false;
  std::size_t cur = p;
  while (cur <= bytes.size()) {
    std::string_view line;
    std::size_t after = next_line(cur, line);
    if (after == std::string_view::npos) break;
    if (line.empty()) {
      end_found = true;
      r.head_len = after;
      break;
    }
    // Unfold continuation lines into one logical header.
    std::size_t hdr_start = cur;
    std::size_t hdr_end = cur + line.size();
    std::size_t nxt = after;
    while (nxt < bytes.size() && (bytes[nxt] == ' ' || bytes[nxt] == '\t')) {
      std::string_view cont;
      std::size_t a2 = next_line(nxt, cont);
      if (a2 == std::string_view::npos) break;
      hdr_end = nxt + cont.size();
      nxt = a2;
    }
    cur = nxt;
    std::string_view header = bytes.substr(hdr_start, hdr_end - hdr_start);
    if (header.size() > limits.max_header_line) {
      fail.reply(400, "Header Line Too Long");
      continue;
    }
    if (++r.header_count > limits.max_header_count) {
      if (!r.over_headers) {
        r.over_headers = true;
        fail.reply(400, "Too Many Header Fields");
      }
    }
    std::size_t colon = header.find(':');
    if (colon == std::string_view::npos) {
      fail.reply(400, "Malformed Header Line");
      continue;
    }
    std::string_view name = trim_lws(header.substr(0, colon));
    std::string_view value = trim_lws(header.substr(colon + 1));
    if (!is_token(name)) {
      fail.reply(400, "Malformed Header Name");
      continue;
    }
    std::string_view canon = canonical_header_name(name);
    // Call-ID is a "word": '"' there is an ordinary character.
    if (canon != "call-id") switch (check_quotes(value, r.quoted_nul)) {
      case QuoteCheck::Ok: break;
      case QuoteCheck::Unterminated:
        fail.reply(400, "Unterminated Quoted String In " + std::string(name));
        break;
      case QuoteCheck::BareNul:
        fail.reply(400, "NUL Byte In " + std::string(name));
        break;
    }
    if (canon.empty()) continue;

    if (canon == "via") {
      r.via_values.push_back(value);
      if (has_empty_param(value)) fail.reply(400, "Empty Via Parameter Or Value");
      for_each_value(value, [&](std::string_view v) {
        if (v.empty()) {
          fail.reply(400, "Empty Via Parameter Or Value");
          return true;
        }
        if (++r.via_count > limits.max_via_depth && !r.over_via) {
          r.over_via = true;
          fail.reply(400, "Via Depth Limit Exceeded");
        }
        // branch = "z9hG4bK" alone carries no transaction id.
        std::size_t b = 0;
        while ((b = v.find(';', b)) != std::string_view::npos) {
          std::string_view param = trim_lws(v.substr(b + 1, v.find(';', b + 1) - b - 1));
          if (param.size() >= 7 && iequals(param.substr(0, 7), "branch=")) {
            std::string_view bv = trim_lws(param.substr(7));
            if (bv == "z9hG4bK" || bv.empty()) fail.reply(400, "Invalid Via Branch");
          }
          ++b;
        }
        return true;
      });
    } else if (canon == "content-length") {
      unsigned long long v = 0;
      if (!parse_uint(value, 0xFFFFFFFFull, v)) {
        fail.reply(400, "Invalid Content-Length");
        r.has_content_length = true;
        continue;
      }
      if (r.has_content_length && v != content_length) fail.reply(400, "Conflicting Content-Length Values");
      r.has_content_length = true;
      content_length = v;
    } else if (canon == "call-id") {
      if (seen_callid) fail.reply(400, "Multiple Call-ID Headers");
      seen_callid = true;
      r.call_id = value;
      if (value.empty()) fail.reply(400, "Empty Call-ID");
    } else if (canon == "from" || canon == "to") {
      bool& seen = canon == "from" ? seen_from : seen_to;
      if (seen) fail.reply(400, "Multiple " + pretty(canon) + " Headers");
      seen = true;
      (canon == "from" ? r.from : r.to) = value;
      if (const char* why = check_name_addr(value, false))
        fail.reply(400, "Invalid " + pretty(canon) + ": " + why);
      else if (has_empty_param(value))
        fail.reply(400, "Empty Parameter In " + pretty(canon));
    } else if (canon == "contact" || canon == "route" || canon == "record-route") {
      const bool contact = canon == "contact";
      if (has_empty_param(value)) fail.reply(400, "Empty Parameter In " + pretty(canon));
      for_each_value(value, [&](std::string_view v) {
        if (const char* why = check_name_addr(v, contact)) fail.reply(400, "Invalid " + pretty(canon) + ": " + why);
        return true;
      });
    } else if (canon == "cseq") {
      if (seen_cseq) fail.reply(400, "Multiple CSeq Headers");
      seen_cseq = true;
      r.cseq = value;
      std::size_t sp = value.find_first_of(" \t\r\n");
      unsigned long long n = 0;
      if (sp == std::string_view::npos || !parse_uint(value.substr(0, sp), 0xFFFFFFFFull, n) ||
          !is_token(trim_lws(value.substr(sp)))) {
        if (r.is_request) fail.reply(400, "Invalid CSeq");
        else fail.drop("invalid CSeq in response");
      }
    } else if (canon == "max-forwards") {
      if (seen_mf) fail.reply(400, "Multiple Max-Forwards Headers");
      seen_mf = true;
      unsigned long long n = 0;
      if (!parse_uint(value, 255, n)) fail.reply(400, "Invalid Max-Forwards");
    } else if (canon == "date") {
      if (value.size() < 3 || value.substr(value.size() - 3) != "GMT") fail.reply(400, "Invalid Date (must be GMT)");
    }
  }

  if (!end_found) {
    if (r.over_size) {
      // The 513 can still be addressed if the Via was among the complete
      // lines seen (checked below); otherwise it is a drop.
      r.head_len = bytes.size();
      r.body_len = 0;
      if (r.via_values.empty()) {
        r.verdict = Verdict::Drop;
        r.reason = "message too large, no Via before the size limit";
      }
      return r;
    }
    // A datagram whose headers never end has nowhere to put a body; the
    // header lines still let a 400 be addressed.
    r.head_len = bytes.size();
    fail.reply(400, "Missing Empty Line After Headers");
  }

  const std::size_t avail = in.size() > r.head_len ? in.size() - r.head_len : 0;
  if (r.has_content_length) {
    if (content_length > avail) {
      if (r.verdict == Verdict::Ok) fail.reply(400, "Content-Length Exceeds Message Size");
      r.body_len = avail;
    } else {
      // Octets past Content-Length in a datagram are not part of it (RFC 3261 §18.3).
      r.body_len = static_cast<std::size_t>(content_length);
    }
  } else {
    r.body_len = stream ? 0 : avail;
  }

  if (r.verdict == Verdict::Reply && !r.is_request) {
    // Nobody answers a response: a broken response is dropped.
    r.verdict = Verdict::Drop;
  }
  if (r.verdict == Verdict::Reply && r.via_values.empty()) {
    r.verdict = Verdict::Drop;
    r.reason += " (no Via: cannot respond)";
  }
  return r;
}

}  // namespace msgw::sip
