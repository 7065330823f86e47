// SPDX-License-Identifier: GPL-3.0-or-later
// Per packet, while msgw-control sheds (sip_shed.hpp): the strict scan of a
// SIP request, the stateless 503 + Retry-After built from it (RFC 3261
// §8.2.6: Via lines in order, From, To with a tag added, Call-ID, CSeq;
// Content-Length: 0), the frame turned around towards its sender, and the
// ACKs of those 503s absorbed.  No allocation, no system call; every read
// bounded by the datagram.  Out of line from packet.cpp on purpose: only
// frames bound for the exception path while shedding get here.
#include "msgw/dataplane/sip_shed.hpp"

#include <cstring>

#include <rte_byteorder.h>

#include "msgw/common/ascii.hpp"
#include "msgw/common/byte_order.hpp"
#include "msgw/common/sip_admission.hpp"

namespace msgw::dataplane {

namespace {

using common::iequals;
using common::load_be16;
using common::load_be32;
using common::store_be16;
using common::store_be32;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint8_t kIpProtoUdp = 17;

bool token_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '.': case '!': case '%': case '*': case '_': case '+': case '`': case '\'': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!token_char(c)) return false;
  return true;
}

bool is_digits(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool lws(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && lws(s.front())) s.remove_prefix(1);
  while (!s.empty() && lws(s.back())) s.remove_suffix(1);
  return s;
}

// Quoted strings closed (a backslash escapes the next character) and, when
// there is a '<', a '>' after it.  What msgw-control's scan would refuse
// with a 400 is not for the dataplane to answer 503.
bool sane_value(std::string_view v) {
  bool inq = false;
  int angle = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (inq) {
      if (c == '\\') {
        if (++i >= v.size()) return false;
      } else if (c == '"') {
        inq = false;
      }
      continue;
    }
    if (c == '"') inq = true;
    else if (c == '<') ++angle;
    else if (c == '>' && --angle < 0) return false;
  }
  return !inq && angle == 0;
}

// The header fields the 503 copies, found by one strict pass.
struct Scan {
  std::string_view method;
  std::string_view via[kSipShedMaxVia];
  uint32_t n_via = 0;
  std::string_view from, to, call_id, cseq;
  bool credentials = false;
};

enum class Field : uint8_t { other, via, from, to, call_id, cseq, content_length };

Field field_of(std::string_view name) {
  if (name.size() == 1) {
    switch (common::ascii_lower(name[0])) {
      case 'v': return Field::via;
      case 'f': return Field::from;
      case 't': return Field::to;
      case 'i': return Field::call_id;
      case 'l': return Field::content_length;
      default: return Field::other;
    }
  }
  if (iequals(name, "via")) return Field::via;
  if (iequals(name, "from")) return Field::from;
  if (iequals(name, "to")) return Field::to;
  if (iequals(name, "call-id")) return Field::call_id;
  if (iequals(name, "cseq")) return Field::cseq;
  if (iequals(name, "content-length")) return Field::content_length;
  return Field::other;
}

// Printable ASCII and HT (and bytes >= 0x80: UTF-8 in display names).
bool clean_line(std::string_view line) {
  for (unsigned char c : line)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

// False for anything odd: the exception path then takes the message.
bool scan(std::string_view msg, Scan& s) {
  std::size_t eol = msg.find("\r\n");
  if (eol == std::string_view::npos || eol > kSipShedMaxLine) return false;
  const std::string_view start = msg.substr(0, eol);
  if (!clean_line(start)) return false;
  const std::size_t sp1 = start.find(' ');
  if (sp1 == std::string_view::npos) return false;
  const std::size_t sp2 = start.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return false;
  s.method = start.substr(0, sp1);
  const std::string_view uri = start.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!is_token(s.method) || uri.empty() || uri.find_first_of("<>\t") != std::string_view::npos ||
      start.substr(sp2 + 1) != "SIP/2.0")
    return false;

  std::size_t pos = eol + 2;
  uint32_t n_headers = 0;
  bool have_length = false;
  uint64_t content_length = 0;
  for (;;) {
    if (msg.size() - pos >= 2 && msg[pos] == '\r' && msg[pos + 1] == '\n') {
      pos += 2;
      break;
    }
    eol = msg.find("\r\n", pos);
    if (eol == std::string_view::npos) return false;  // headers never end
    const std::string_view line = msg.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.size() > kSipShedMaxLine || ++n_headers > kSipShedMaxHeaders || lws(line.front()) ||
        !clean_line(line))
      return false;  // over a limit, a folded line, a control character
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (!is_token(name)) return false;
    if (common::is_credentials_header(line)) s.credentials = true;
    auto once = [&](std::string_view& field) {
      if (!field.empty() || value.empty()) return false;
      field = value;
      return true;
    };
    switch (field_of(name)) {
      case Field::via:
        if (s.n_via == kSipShedMaxVia || value.empty() || !sane_value(value)) return false;
        s.via[s.n_via++] = value;
        break;
      case Field::from:
        if (!once(s.from) || !sane_value(value)) return false;
        break;
      case Field::to:
        if (!once(s.to) || !sane_value(value)) return false;
        break;
      case Field::call_id:
        if (!once(s.call_id)) return false;
        break;
      case Field::cseq:
        if (!once(s.cseq)) return false;
        break;
      case Field::content_length: {
        if (!is_digits(value, 9)) return false;
        uint64_t v = 0;
        for (char c : value) v = v * 10 + uint64_t(c - '0');
        if (have_length && v != content_length) return false;
        have_length = true;
        content_length = v;
        break;
      }
      case Field::other:
        break;
    }
  }
  if (s.n_via == 0 || s.from.empty() || s.to.empty() || s.call_id.empty() || s.cseq.empty())
    return false;
  if (have_length && content_length > msg.size() - pos) return false;
  // CSeq: a number, LWS, this request's method.
  std::size_t sp = 0;
  while (sp < s.cseq.size() && !lws(s.cseq[sp])) ++sp;
  if (!is_digits(s.cseq.substr(0, sp), 10) || trim(s.cseq.substr(sp)) != s.method) return false;
  return true;
}

// The tag value of a To header (up to ';', ',' or LWS).
std::string_view tag_value(std::string_view to) {
  std::size_t p = common::tag_param_value_pos(to);
  if (p == std::string_view::npos) return {};
  while (p < to.size() && lws(to[p])) ++p;
  std::size_t e = p;
  while (e < to.size() && to[e] != ';' && to[e] != ',' && !lws(to[e])) ++e;
  return to.substr(p, e - p);
}

// Bounded appends; a response that would not fit is not sent.
struct Writer {
  char* out;
  uint32_t cap, len = 0;
  bool ok = true;
  void put(std::string_view s) {
    if (!ok || s.size() > cap - len) {
      ok = false;
      return;
    }
    std::memcpy(out + len, s.data(), s.size());
    len += uint32_t(s.size());
  }
  void put_uint(uint32_t v) {
    char d[10];
    int n = 0;
    do {
      d[n++] = char('0' + v % 10);
      v /= 10;
    } while (v != 0);
    char r[10];
    for (int i = 0; i < n; ++i) r[i] = d[n - 1 - i];
    put(std::string_view(r, std::size_t(n)));
  }
};

uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

void sip_shed_tag(std::string_view call_id, uint64_t key, char out[kSipShedTagLen]) {
  uint64_t h = 0xcbf29ce484222325ull ^ mix64(key);
  for (unsigned char c : call_id) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h = mix64(h ^ key);
  static constexpr char kHex[] = "0123456789abcdef";
  out[0] = 'd';
  out[1] = 'p';
  for (int i = 0; i < 16; ++i) out[2 + i] = kHex[(h >> (60 - 4 * i)) & 0xf];
}

SipShedVerdict sip_shed_message(std::string_view msg, uint32_t retry_after_s, uint64_t tag_key,
                                char* out, uint32_t* out_len) {
  const common::LimitedMethod lm = common::limited_method(msg);
  const bool ack = msg.substr(0, 4) == "ACK ";
  if (lm == common::LimitedMethod::none && !ack) return SipShedVerdict::pass;
  Scan s;
  if (!scan(msg, s)) return SipShedVerdict::pass;
  char tag[kSipShedTagLen];
  sip_shed_tag(s.call_id, tag_key, tag);
  const std::string_view our_tag(tag, kSipShedTagLen);
  if (ack) return tag_value(s.to) == our_tag ? SipShedVerdict::absorb : SipShedVerdict::pass;
  // The control plane's rule: out of any dialog, no credentials.
  if (common::has_tag_param(s.to) || s.credentials) return SipShedVerdict::pass;

  Writer w{out, kSipShedMaxResponse};
  w.put("SIP/2.0 503 Service Unavailable\r\n");
  for (uint32_t i = 0; i < s.n_via; ++i) {
    w.put("Via: ");
    w.put(s.via[i]);
    w.put("\r\n");
  }
  w.put("From: ");
  w.put(s.from);
  w.put("\r\nTo: ");
  w.put(s.to);
  w.put(";tag=");
  w.put(our_tag);
  w.put("\r\nCall-ID: ");
  w.put(s.call_id);
  w.put("\r\nCSeq: ");
  w.put(s.cseq);
  w.put("\r\nRetry-After: ");
  w.put_uint(retry_after_s);
  w.put("\r\nContent-Length: 0\r\n\r\n");
  if (!w.ok) return SipShedVerdict::pass;
  *out_len = w.len;
  return SipShedVerdict::answer;
}

bool sip_shed_frame(WorkerContext& ctx, uint16_t rx_port, rte_mbuf* m, uint64_t now_ns, BurstOutput& out,
                    bool admit_by_rate) {
  if (rx_port >= ctx.n_ports || rx_port >= kMaxPorts || ctx.sip_shed == nullptr) return false;
  if (m->nb_segs != 1 || m->pkt_len != m->data_len) return false;
  uint8_t* const f = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t len = m->data_len;
  // Untagged IPv4, not a fragment, UDP, lengths that agree, good checksums.
  if (len < 14 + 20 + 8 || load_be16(f + 12) != kEtherIpv4) return false;
  const uint8_t* ip = f + 14;
  const uint32_t ihl = 4u * (ip[0] & 0x0f);
  const uint32_t total = load_be16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl + 8 || 14 + total > len ||
      (load_be16(ip + 6) & 0x3fff) != 0 || ip[9] != kIpProtoUdp)
    return false;
  const uint64_t ipck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (ipck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
      (ipck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && raw_cksum(ip, ihl) != 0xffff))
    return false;
  const uint8_t* udp = ip + ihl;
  const uint32_t ulen = load_be16(udp + 4);
  if (ulen != total - ihl) return false;

  // To one of msgw-control's SIP addresses.
  const SipShedState& st = *ctx.sip_shed;
  const uint32_t dst_ip = load_be32(ip + 16);
  const uint16_t dst_port = load_be16(udp + 2);
  const uint32_t n_listen = __atomic_load_n(&st.n_listen, __ATOMIC_ACQUIRE);
  bool ours = false;
  for (uint32_t i = 0; i < n_listen && i < kMaxSipListen && !ours; ++i) {
    const uint32_t lip = __atomic_load_n(&st.listen[i].ip, __ATOMIC_RELAXED);
    const uint16_t lport = __atomic_load_n(&st.listen[i].port, __ATOMIC_RELAXED);
    ours = lport == dst_port && (lip == dst_ip || (lip == 0 && dst_ip == ctx.ports[rx_port].ip));
  }
  if (!ours) return false;
  if (load_be16(udp + 6) != 0) {
    const uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD) return false;
    if (l4 != RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
      uint32_t sum = uint32_t(raw_cksum(udp, ulen)) + udp_pseudo_header_cksum(ip, uint16_t(ulen));
      sum = (sum & 0xffff) + (sum >> 16);
      sum = (sum & 0xffff) + (sum >> 16);
      if (sum != 0xffff) return false;
    }
  }

  char resp[kSipShedMaxResponse];
  uint32_t rlen = 0;
  const std::string_view msg(reinterpret_cast<const char*>(udp + 8), ulen - 8);
  switch (sip_shed_message(msg, __atomic_load_n(&st.retry_after_s, __ATOMIC_RELAXED), ctx.sip_tag_key,
                           resp, &rlen)) {
    case SipShedVerdict::pass:
      return false;
    case SipShedVerdict::absorb:
      ++ctx.counters.sip_shed_acks_absorbed;
      rte_pktmbuf_free(m);
      return true;
    case SipShedVerdict::answer:
      break;
  }
  // Overloaded, not closed: the control plane's rate still goes through.
  if (admit_by_rate && ctx.sip_admit != nullptr && ctx.sip_admit->take(__atomic_load_n(&st.admit_rate, __ATOMIC_RELAXED), now_ns)) {
    ++ctx.counters.sip_shed_admitted;
    return false;
  }
  if (out.n_tx[rx_port] >= kTxCap) return false;

  // The frame becomes the 503, back to where the request came from.
  rte_ether_addr peer_mac;
  std::memcpy(&peer_mac, f + 6, sizeof peer_mac);
  const uint32_t src_ip = load_be32(ip + 12);
  const uint16_t src_port = load_be16(udp);
  const uint32_t new_len = 14 + 20 + 8 + rlen;
  if (new_len > len) {
    if (rte_pktmbuf_append(m, uint16_t(new_len - len)) == nullptr) return false;
  } else if (new_len < len) {
    rte_pktmbuf_trim(m, uint16_t(len - new_len));
  }
  const PortInfo& port = ctx.ports[rx_port];
  std::memcpy(f, &peer_mac, 6);
  std::memcpy(f + 6, &port.mac, 6);
  store_be16(f + 12, kEtherIpv4);
  uint8_t* oip = f + 14;
  oip[0] = 0x45;
  oip[1] = 0;
  store_be16(oip + 2, uint16_t(20 + 8 + rlen));
  store_be16(oip + 4, 0);       // atomic datagram (RFC 6864)
  store_be16(oip + 6, 0x4000);  // DF
  oip[8] = 64;
  oip[9] = kIpProtoUdp;
  store_be16(oip + 10, 0);
  store_be32(oip + 12, dst_ip);
  store_be32(oip + 16, src_ip);
  // raw_cksum sums native-order words: its complement is stored as is.
  const uint16_t oipck = uint16_t(~raw_cksum(oip, 20));
  std::memcpy(oip + 10, &oipck, 2);
  uint8_t* oudp = oip + 20;
  store_be16(oudp, dst_port);
  store_be16(oudp + 2, src_port);
  store_be16(oudp + 4, uint16_t(8 + rlen));
  store_be16(oudp + 6, 0);
  std::memcpy(oudp + 8, resp, rlen);
  uint32_t sum = uint32_t(raw_cksum(oudp, 8 + rlen)) + udp_pseudo_header_cksum(oip, uint16_t(8 + rlen));
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t ck = uint16_t(~sum);
  std::memcpy(oudp + 6, &ck, 2);
  if (ck == 0) store_be16(oudp + 6, 0xffff);
  m->ol_flags &= ~(RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IPV4);
  out.tx[rx_port][out.n_tx[rx_port]++] = m;
  ++ctx.counters.sip_shed;
  return true;
}

}  // namespace msgw::dataplane
