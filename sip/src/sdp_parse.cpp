// SPDX-License-Identifier: GPL-3.0-or-later
// SDP parse/build on oSIP2's sdp_message_t (RFC 4566), the names of its
// enums and RFC 4733 event lists. Offer/answer is in sdp_offer_answer.cpp.
#include "msgw/sip/sdp.hpp"

#include <arpa/inet.h>
#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

#include <memory>

#include "msgw/common/ascii.hpp"
#include "msgw/common/text.hpp"
#include "sdp_detail.hpp"

namespace msgw::sip::sdp {
namespace detail {

bool set_error(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return false;
}

// RFC 4566 unicast-address: an IP literal of the declared family, or an FQDN
// (Asterisk and some SBCs write host names).
bool valid_address(std::string_view a, AddrType t) {
  if (a.empty() || a.size() > 255) return false;
  std::string s(a);
  unsigned char buf[16];
  if (t == AddrType::ip4 && inet_pton(AF_INET, s.c_str(), buf) == 1) return true;
  if (t == AddrType::ip6 && inet_pton(AF_INET6, s.c_str(), buf) == 1) return true;
  bool has_alpha = false;
  for (char c : a) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) has_alpha = true;
    else if (!((c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return has_alpha;
}

bool dir_sends(Direction d) noexcept { return d == Direction::sendrecv || d == Direction::sendonly; }
bool dir_receives(Direction d) noexcept {
  return d == Direction::sendrecv || d == Direction::recvonly;
}
Direction make_dir(bool send, bool recv) noexcept {
  if (send && recv) return Direction::sendrecv;
  if (send) return Direction::sendonly;
  if (recv) return Direction::recvonly;
  return Direction::inactive;
}

std::string codec_encoding_name(const codecs::CodecParams& p) {
  std::string s = codecs::format_rtpmap(p);
  return s.substr(0, s.find('/'));
}

}  // namespace detail

using namespace detail;

namespace {

using common::iequals;
using common::trim_lws;

std::string_view sv(const char* s) noexcept { return s ? std::string_view(s) : std::string_view{}; }

// Numbers in SDP fields and attribute values, with white space around them
// allowed as before.
template <class T>
bool parse_uint(std::string_view s, T& out) noexcept {
  return common::parse_uint(trim_lws(s), out);
}


std::optional<AddrType> addr_type_of(std::string_view t) noexcept {
  if (iequals(t, "IP4")) return AddrType::ip4;
  if (iequals(t, "IP6")) return AddrType::ip6;
  return std::nullopt;
}

std::string_view addr_type_name(AddrType t) noexcept { return t == AddrType::ip6 ? "IP6" : "IP4"; }


std::optional<Direction> direction_of(std::string_view name) noexcept {
  if (iequals(name, "sendrecv")) return Direction::sendrecv;
  if (iequals(name, "sendonly")) return Direction::sendonly;
  if (iequals(name, "recvonly")) return Direction::recvonly;
  if (iequals(name, "inactive")) return Direction::inactive;
  return std::nullopt;
}


struct SdpDeleter {
  void operator()(sdp_message_t* m) const noexcept { sdp_message_free(m); }
};

template <class T, class F>
void for_each_list(const osip_list_t* list, F&& f) {
  osip_list_iterator_t it;
  for (void* p = osip_list_get_first(const_cast<osip_list_t*>(list), &it); p != nullptr;
       p = osip_list_get_next(&it))
    f(static_cast<T*>(p));
}

// Connection line → (address, type). Returns false with a message on bad input.
bool read_connection(const sdp_connection_t* c, std::string& addr, AddrType& type,
                     std::string* why, std::string_view where) {
  if (!iequals(sv(c->c_nettype), "IN"))
    return set_error(why, std::string(where) + ": c= nettype is not IN");
  auto t = addr_type_of(sv(c->c_addrtype));
  if (!t) return set_error(why, std::string(where) + ": c= addrtype is not IP4/IP6");
  if (!valid_address(sv(c->c_addr), *t))
    return set_error(why, std::string(where) + ": c= address is not valid");
  addr = sv(c->c_addr);
  type = *t;
  return true;
}

// Splits "a=rtpmap:<pt> <rest>" / "a=fmtp:<pt> <rest>" values.
bool split_pt_value(std::string_view v, std::uint8_t& pt, std::string_view& rest) {
  v = trim_lws(v);
  auto sp = v.find_first_of(" \t");
  std::string_view num = v.substr(0, sp);
  unsigned n = 0;
  if (!parse_uint(num, n) || n > 127) return false;
  pt = std::uint8_t(n);
  rest = sp == std::string_view::npos ? std::string_view{} : trim_lws(v.substr(sp + 1));
  return true;
}

// oSIP2's SDP parser searches for separators across line ends and, on a last
// line ending in a bare LF, reads past the buffer (found by tests/fuzz/sdp_fuzz).
// So it only ever sees text we have checked: CRLF line ends, "<letter>=<value>"
// lines, no control characters, single spaces, and the token counts it assumes
// on o=, c=, t= and m=.
bool canonical_for_osip(std::string_view text, std::string& out, std::string* why) {
  out.clear();
  out.reserve(text.size() + 32);
  std::size_t line_no = 0;
  bool saw_blank = false;
  while (!text.empty()) {
    ++line_no;
    auto lf = text.find('\n');
    std::string_view line = text.substr(0, lf);
    text = lf == std::string_view::npos ? std::string_view{} : text.substr(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = "line " + std::to_string(line_no);
    if (line.empty()) {
      saw_blank = true;  // only allowed as trailing padding
      continue;
    }
    if (saw_blank) return set_error(why, where + ": text after an empty line");
    for (char c : line) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f)
        return set_error(why, where + ": control character in SDP");
    }
    if (line.size() < 3 || line[1] != '=' || line[0] < 'a' || line[0] > 'z')
      return set_error(why, where + ": not a <type>=<value> line");
    std::string_view value = line.substr(2);
    std::size_t min_tokens = 0, max_tokens = 0;
    switch (line[0]) {
      case 'o': min_tokens = max_tokens = 6; break;
      case 'c': min_tokens = max_tokens = 3; break;
      case 't': min_tokens = max_tokens = 2; break;
      case 'm': min_tokens = 4; max_tokens = 4 + kMaxFormatsPerMedia; break;
      default: break;
    }
    if (min_tokens) {
      if (value.front() == ' ' || value.back() == ' ' || value.find("  ") != std::string_view::npos ||
          value.find('\t') != std::string_view::npos)
        return set_error(why, where + ": fields must be separated by single spaces");
      std::size_t tokens = 1;
      for (char c : value) tokens += c == ' ';
      if (tokens < min_tokens || tokens > max_tokens)
        return set_error(why, where + ": wrong number of fields on " + std::string(1, line[0]) + "=");
    }
    out.append(line).append("\r\n");
  }
  if (out.empty()) return set_error(why, "no SDP lines");
  return true;
}

bool is_rtp_proto(std::string_view p) noexcept {
  return p.size() >= 4 && iequals(p.substr(0, 4), "RTP/");
}


}  // namespace

std::string_view to_string(Direction d) noexcept {
  switch (d) {
    case Direction::sendrecv: return "sendrecv";
    case Direction::sendonly: return "sendonly";
    case Direction::recvonly: return "recvonly";
    case Direction::inactive: return "inactive";
  }
  return "sendrecv";
}

Direction reverse(Direction d) noexcept { return make_dir(dir_receives(d), dir_sends(d)); }

std::string_view to_string(SdpError e) noexcept {
  switch (e) {
    case SdpError::ok: return "ok";
    case SdpError::empty: return "empty SDP";
    case SdpError::too_large: return "SDP too large";
    case SdpError::syntax: return "SDP syntax error";
    case SdpError::bad_version: return "SDP version is not 0";
    case SdpError::bad_origin: return "bad SDP origin line";
    case SdpError::bad_connection: return "bad SDP connection line";
    case SdpError::missing_connection: return "SDP media without connection address";
    case SdpError::bad_media: return "bad SDP media line";
    case SdpError::too_many_media: return "too many SDP media lines";
    case SdpError::too_many_formats: return "too many formats on an SDP media line";
    case SdpError::no_common_codec: return "no common codec";
    case SdpError::answer_mismatch: return "SDP answer does not match the offer";
    case SdpError::invalid_argument: return "invalid local media policy";
  }
  return "unknown";
}

bool MediaDescription::is_rtp() const noexcept { return is_rtp_proto(proto); }

bool MediaDescription::is_hold_address() const noexcept {
  return has_address && (address == "0.0.0.0" || address == "::");
}

const PayloadFormat* MediaDescription::find_pt(std::uint8_t pt) const noexcept {
  for (const auto& p : payloads)
    if (p.pt == pt) return &p;
  return nullptr;
}

// ---- RFC 4733 event lists ----

std::uint64_t parse_event_list(std::string_view s) noexcept {
  std::uint64_t mask = 0;
  s = trim_lws(s);
  while (!s.empty()) {
    auto comma = s.find(',');
    std::string_view item = trim_lws(s.substr(0, comma));
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    auto dash = item.find('-');
    unsigned lo = 0, hi = 0;
    if (dash == std::string_view::npos) {
      if (!parse_uint(item, lo) || lo > 255) continue;
      hi = lo;
    } else {
      if (!parse_uint(item.substr(0, dash), lo) || !parse_uint(item.substr(dash + 1), hi) ||
          hi > 255 || lo > hi)
        continue;
    }
    for (unsigned e = lo; e <= hi && e < 64; ++e) mask |= std::uint64_t(1) << e;
  }
  return mask;
}

std::string format_event_list(std::uint64_t mask) {
  std::string out;
  unsigned e = 0;
  while (e < 64) {
    if (!(mask >> e & 1)) {
      ++e;
      continue;
    }
    unsigned start = e;
    while (e + 1 < 64 && (mask >> (e + 1) & 1)) ++e;
    if (!out.empty()) out += ',';
    out += std::to_string(start);
    if (e != start) out += '-' + std::to_string(e);
    ++e;
  }
  return out;
}

// ---- parse ----

SdpError parse(std::string_view text, SessionDescription& out, std::string* why) {
  out = SessionDescription{};
  if (trim_lws(text).empty()) {
    set_error(why, "empty body");
    return SdpError::empty;
  }
  if (text.size() > kMaxSdpBytes) {
    set_error(why, "body of " + std::to_string(text.size()) + " bytes exceeds the SDP limit");
    return SdpError::too_large;
  }
  std::string buf;
  if (!canonical_for_osip(text, buf, why)) return SdpError::syntax;
  sdp_message_t* raw = nullptr;
  if (sdp_message_init(&raw) != 0 || raw == nullptr) {
    set_error(why, "out of memory");
    return SdpError::syntax;
  }
  std::unique_ptr<sdp_message_t, SdpDeleter> msg(raw);
  if (sdp_message_parse(raw, buf.c_str()) != 0) {
    set_error(why, "SDP parser rejected the body");
    return SdpError::syntax;
  }
  if (sv(raw->v_version) != "0") {
    set_error(why, "v= line missing or not 0");
    return SdpError::bad_version;
  }
  // o=
  if (raw->o_username == nullptr || raw->o_sess_id == nullptr || raw->o_sess_version == nullptr) {
    set_error(why, "o= line missing or incomplete");
    return SdpError::bad_origin;
  }
  out.origin_user = raw->o_username;
  if (!parse_uint(sv(raw->o_sess_id), out.session_id) ||
      !parse_uint(sv(raw->o_sess_version), out.session_version)) {
    set_error(why, "o= session id/version is not a 64-bit number");
    return SdpError::bad_origin;
  }
  if (auto t = addr_type_of(sv(raw->o_addrtype))) out.origin_addr_type = *t;
  else {
    set_error(why, "o= addrtype is not IP4/IP6");
    return SdpError::bad_origin;
  }
  out.origin_address = sv(raw->o_addr);
  out.session_name = raw->s_name ? raw->s_name : "-";

  // Session-level c= and direction.
  if (raw->c_connection != nullptr) {
    if (!read_connection(raw->c_connection, out.address, out.addr_type, why, "session"))
      return SdpError::bad_connection;
    out.has_address = true;
  }
  Direction session_dir = Direction::sendrecv;
  for_each_list<sdp_attribute_t>(&raw->a_attributes, [&](sdp_attribute_t* a) {
    if (auto d = direction_of(sv(a->a_att_field)); d && a->a_att_value == nullptr) session_dir = *d;
  });

  const int nmedia = osip_list_size(&raw->m_medias);
  if (nmedia > int(kMaxMediaLines)) {
    set_error(why, std::to_string(nmedia) + " m= lines (limit " +
                       std::to_string(kMaxMediaLines) + ")");
    return SdpError::too_many_media;
  }
  SdpError err = SdpError::ok;
  int index = 0;
  for_each_list<sdp_media_t>(&raw->m_medias, [&](sdp_media_t* m) {
    if (err != SdpError::ok) return;
    const std::string where = "m-line " + std::to_string(index++);
    MediaDescription md;
    md.media = sv(m->m_media);
    md.proto = sv(m->m_proto);
    if (md.media.empty() || md.proto.empty() || !parse_uint(sv(m->m_port), md.port)) {
      set_error(why, where + ": bad media, port or proto");
      err = SdpError::bad_media;
      return;
    }
    if (m->m_number_of_port && !parse_uint(sv(m->m_number_of_port), md.port_count)) {
      set_error(why, where + ": bad port count");
      err = SdpError::bad_media;
      return;
    }
    const int nfmt = osip_list_size(&m->m_payloads);
    if (nfmt > int(kMaxFormatsPerMedia)) {
      set_error(why, where + ": " + std::to_string(nfmt) + " formats (limit " +
                         std::to_string(kMaxFormatsPerMedia) + ")");
      err = SdpError::too_many_formats;
      return;
    }
    if (nfmt <= 0) {
      set_error(why, where + ": no formats");
      err = SdpError::bad_media;
      return;
    }
    const bool rtp = is_rtp_proto(md.proto);
    for_each_list<char>(&m->m_payloads, [&](char* f) {
      if (err != SdpError::ok) return;
      md.formats.emplace_back(f ? f : "");
      if (rtp) {
        unsigned pt = 0;
        if (!parse_uint(sv(f), pt) || pt > 127) {
          set_error(why, where + ": RTP format '" + std::string(sv(f)) + "' is not a payload type");
          err = SdpError::bad_media;
          return;
        }
        for (const auto& p : md.payloads)
          if (p.pt == pt) return;  // duplicate PT on the m-line: keep the first
        PayloadFormat pf;
        pf.pt = std::uint8_t(pt);
        md.payloads.push_back(std::move(pf));
      }
    });
    if (err != SdpError::ok) return;

    if (osip_list_size(&m->c_connections) > 0) {
      auto* c = static_cast<sdp_connection_t*>(osip_list_get(&m->c_connections, 0));
      if (!read_connection(c, md.address, md.addr_type, why, where)) {
        err = SdpError::bad_connection;
        return;
      }
      md.has_address = true;
    } else if (out.has_address) {
      md.address = out.address;
      md.addr_type = out.addr_type;
      md.has_address = true;
    } else if (md.port != 0) {
      set_error(why, where + ": no c= line at session or media level");
      err = SdpError::missing_connection;
      return;
    }

    md.direction = session_dir;
    std::vector<std::pair<std::uint8_t, std::string>> rtpmaps, fmtps;
    if (osip_list_size(&m->a_attributes) > int(kMaxAttributesPerMedia)) {
      set_error(why, where + ": too many attributes");
      err = SdpError::bad_media;
      return;
    }
    for_each_list<sdp_attribute_t>(&m->a_attributes, [&](sdp_attribute_t* a) {
      std::string_view name = sv(a->a_att_field), value = sv(a->a_att_value);
      std::uint8_t pt = 0;
      std::string_view rest;
      if (rtp && iequals(name, "rtpmap") && split_pt_value(value, pt, rest)) {
        rtpmaps.emplace_back(pt, std::string(rest));
      } else if (rtp && iequals(name, "fmtp") && split_pt_value(value, pt, rest)) {
        fmtps.emplace_back(pt, std::string(rest));
      } else if (iequals(name, "ptime") && parse_uint(value, md.ptime_ms)) {
      } else if (iequals(name, "maxptime") && parse_uint(value, md.maxptime_ms)) {
      } else if (auto d = direction_of(name); d && value.empty()) {
        md.direction = *d;
      } else {
        md.other_attributes.push_back({std::string(name), std::string(value)});
      }
    });
    for (auto& p : md.payloads) {
      std::string_view map, fmtp;
      for (auto& [pt, v] : rtpmaps)
        if (pt == p.pt) {
          map = v;
          break;
        }
      for (auto& [pt, v] : fmtps)
        if (pt == p.pt) {
          fmtp = v;
          break;
        }
      p.fmtp = fmtp;
      if (!map.empty()) {
        if (auto rm = codecs::parse_rtpmap(map)) {
          p.encoding = rm->encoding;
          p.clock_rate = rm->clock_rate;
          p.channels = rm->channels;
        }
      }
      p.telephone_event = iequals(p.encoding, "telephone-event");
      if (!p.telephone_event) {
        // A rtpmap we could not read is treated as absent for dynamic PTs.
        std::string_view usable = p.encoding.empty() ? std::string_view{} : map;
        if (!usable.empty() || p.pt < 96) p.codec = codecs::params_from_sdp(p.pt, usable, fmtp);
        if (p.codec) {
          if (p.encoding.empty()) {
            p.encoding = codec_encoding_name(*p.codec);
            p.clock_rate = codecs::codec_info(p.codec->id).clock_rate;
          }
          if (md.ptime_ms) p.codec->ptime_ms = md.ptime_ms;
        }
      }
    }
    out.media.push_back(std::move(md));
  });
  if (err != SdpError::ok) return err;
  return SdpError::ok;
}

// ---- build ----

namespace {
void append_rtpmap(std::string& s, const PayloadFormat& p) {
  if (p.encoding.empty()) return;
  s += "a=rtpmap:" + std::to_string(p.pt) + ' ' + p.encoding + '/' + std::to_string(p.clock_rate);
  if (p.channels != 1) s += '/' + std::to_string(p.channels);
  s += "\r\n";
  if (!p.fmtp.empty()) s += "a=fmtp:" + std::to_string(p.pt) + ' ' + p.fmtp + "\r\n";
}
}  // namespace

std::string build(const SessionDescription& d) {
  std::string s;
  s.reserve(512);
  s += "v=0\r\n";
  s += "o=" + (d.origin_user.empty() ? std::string("-") : d.origin_user) + ' ' +
       std::to_string(d.session_id) + ' ' + std::to_string(d.session_version) + " IN " +
       std::string(addr_type_name(d.origin_addr_type)) + ' ' +
       (d.origin_address.empty() ? d.address : d.origin_address) + "\r\n";
  s += "s=" + (d.session_name.empty() ? std::string("-") : d.session_name) + "\r\n";
  if (d.has_address)
    s += "c=IN " + std::string(addr_type_name(d.addr_type)) + ' ' + d.address + "\r\n";
  s += "t=0 0\r\n";
  for (const auto& m : d.media) {
    s += "m=" + m.media + ' ' + std::to_string(m.port);
    if (m.port_count) s += '/' + std::to_string(m.port_count);
    s += ' ' + m.proto;
    for (const auto& f : m.formats) s += ' ' + f;
    s += "\r\n";
    if (m.has_address && (!d.has_address || m.address != d.address || m.addr_type != d.addr_type))
      s += "c=IN " + std::string(addr_type_name(m.addr_type)) + ' ' + m.address + "\r\n";
    if (m.port == 0) continue;  // a rejected stream carries nothing else
    for (const auto& p : m.payloads) append_rtpmap(s, p);
    if (m.ptime_ms) s += "a=ptime:" + std::to_string(m.ptime_ms) + "\r\n";
    if (m.maxptime_ms) s += "a=maxptime:" + std::to_string(m.maxptime_ms) + "\r\n";
    for (const auto& a : m.other_attributes) {
      s += "a=" + a.name;
      if (!a.value.empty()) s += ':' + a.value;
      s += "\r\n";
    }
    s += "a=" + std::string(to_string(m.direction)) + "\r\n";
  }
  return s;
}

}  // namespace msgw::sip::sdp
