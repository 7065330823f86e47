// SPDX-License-Identifier: GPL-3.0-or-later
// Calls as JSON and records (see call_json.hpp).
#include "msgw/control/call_json.hpp"

#include <charconv>
#include <string_view>
#include <type_traits>

#include "msgw/common/wall_clock.hpp"

namespace msgw::control {

using codecs::CodecId;
using common::wall_ms;

namespace {

std::string codec_name(CodecId c) { return std::string(codecs::codec_info(c).sdp_name); }

// Each field of a call's summary and of its live state is named once, in the
// functions below; a sink turns them into a nlohmann::json (`show calls`) or
// straight into JSON text (the live state written at every answer: building
// it as nlohmann objects, a std::map per object, cost more CPU than the SQLite
// write it fed — 4-6 % of msgw-control's time at 700 calls/s).
template <typename Put>
void summary_fields(const Call& c, Put&& put) {
  const Leg& a = c.leg(LegId::a);
  const Leg& b = c.leg(LegId::b);
  put("call", c.id());
  put("direction", c.direction() == CallDirection::inbound ? "inbound" : "outbound");
  put("from", c.from_uri);
  put("to", c.to_uri);
  put("trunk", c.trunk);
  put("state", std::string(state_name(c.state())));
  put("a_codec", a.has_codec ? codec_name(a.codec.id) : "");
  put("b_codec", b.has_codec ? codec_name(b.codec.id) : "");
  put("media", c.flow_programmed() ? (c.transcoding() ? "transcode" : "relay") : "none");
  put("hold", a.hold || b.hold);
  put("seconds", c.answer_ms ? (wall_ms() - c.answer_ms) / 1000 : 0);
  put("restored", c.origin() == CallOrigin::restored);
}

template <typename Put>
void leg_fields(const Leg& l, Put&& put) {
  put("port", l.port);
  put("local_ip", l.local_ip);
  put("local_port", l.local_port);
  put("remote_ip", l.remote_ip);
  put("remote_port", l.remote_port);
  put("codec", int(l.codec.id));
  put("pt", l.codec.payload_type);
  put("dtmf_pt", l.dtmf_pt);
  put("ptime", l.ptime);
  put("latch", l.latch);
  put("hold", l.hold);
  put("annexb", l.codec.g729_annexb);
  put("aal2", l.codec.g726_packing == codecs::G726Packing::Aal2);
  put("passthrough", l.payload_passthrough);
  put("call_id", l.sip_call_id);
  put("local_tag", l.local_tag);
  put("remote_tag", l.remote_tag);
  put("local_uri", l.local_uri);
  put("remote_uri", l.remote_uri);
  put("remote_target", l.remote_target);
  put("cseq", l.cseq);
  put("peer_ip", l.peer.ip());
  put("peer_port", l.peer.port());
  put("tcp", l.proto == sip::Proto::Tcp);
  put("session_expires", l.session_interval_s);
  put("session_refresher_us", l.session_refresher_us);
}

// What the live state has besides the summary and the legs.
template <typename Put>
void live_fields(const Call& c, Put&& put) {
  put("flow_id", c.flow_id() ? int64_t(*c.flow_id()) : int64_t(-1));
  put("start_ms", c.start_ms);
  put("answer_ms", c.answer_ms);
  put("inbound", c.direction() == CallDirection::inbound);
}

// JSON text written field by field.  Strings with a byte past ASCII go
// through nlohmann (its UTF-8 check throws on invalid text, as the live state
// always did); the rest is escaped here.
class JsonText {
 public:
  std::string out;

  void open(char bracket) {
    comma();
    out += bracket;
  }
  void close(char bracket) { out += bracket; }
  void key(std::string_view k) {
    comma();
    string(k);
    out += ':';
    after_key_ = true;
  }
  void operator()(std::string_view k, bool v) {
    key(k);
    value(v ? "true" : "false");
  }
  template <typename T>
    requires std::is_integral_v<T>
  void operator()(std::string_view k, T v) {
    key(k);
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    value(std::string_view(buf, std::size_t(r.ptr - buf)));
  }
  void operator()(std::string_view k, const char* v) { (*this)(k, std::string_view(v)); }
  void operator()(std::string_view k, std::string_view v) {
    key(k);
    after_key_ = false;
    string(v);
  }

 private:
  bool after_key_ = false;

  void comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!out.empty() && out.back() != '{' && out.back() != '[') out += ',';
  }
  void value(std::string_view text) {
    after_key_ = false;
    out += text;
  }
  void string(std::string_view v) {
    for (unsigned char ch : v)
      if (ch >= 0x80) {
        out += nlohmann::json(std::string(v)).dump();
        return;
      }
    out += '"';
    for (char ch : v) {
      if (ch == '"' || ch == '\\') {
        out += '\\';
        out += ch;
      } else if (static_cast<unsigned char>(ch) < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[(ch >> 4) & 0xf];
        out += kHex[ch & 0xf];
      } else {
        out += ch;
      }
    }
    out += '"';
  }
};

void read_leg(const nlohmann::json& lj, Leg& l) {
  l.port = lj.at("port");
  l.local_ip = lj.at("local_ip");
  l.local_port = lj.at("local_port");
  l.remote_ip = lj.at("remote_ip");
  l.remote_port = lj.at("remote_port");
  const int codec = lj.at("codec").get<int>();
  if (!codecs::is_codec_id(codec)) throw std::out_of_range("codec " + std::to_string(codec));
  l.codec.id = CodecId(codec);
  l.codec.payload_type = lj.at("pt");
  l.has_codec = true;
  l.dtmf_pt = lj.at("dtmf_pt");
  l.ptime = lj.at("ptime");
  l.latch = lj.at("latch");
  l.hold = lj.value("hold", false);
  // Absent in the state of an older msgw-control: the defaults of its flows.
  l.codec.g729_annexb = lj.value("annexb", true);
  l.codec.g726_packing = lj.value("aal2", false) ? codecs::G726Packing::Aal2 : codecs::G726Packing::Rfc3551;
  l.codec.ptime_ms = l.ptime;
  l.payload_passthrough = lj.value("passthrough", false);
  l.sip_call_id = lj.at("call_id");
  l.local_tag = lj.at("local_tag");
  l.remote_tag = lj.at("remote_tag");
  l.local_uri = lj.at("local_uri");
  l.remote_uri = lj.at("remote_uri");
  l.remote_target = lj.at("remote_target");
  l.cseq = lj.at("cseq");
  l.proto = lj.value("tcp", false) ? sip::Proto::Tcp : sip::Proto::Udp;
  l.session_interval_s = lj.value("session_expires", 0u);
  l.session_refresher_us = lj.value("session_refresher_us", false);
  if (auto e = sip::Endpoint::from(lj.at("peer_ip").get<std::string>(), lj.at("peer_port").get<uint16_t>()))
    l.peer = *e;
}

}  // namespace

nlohmann::json call_summary_json(const Call& c) {
  nlohmann::json j = nlohmann::json::object();
  summary_fields(c, [&j](std::string_view k, const auto& v) { j[std::string(k)] = v; });
  return j;
}

std::string live_state_text(const Call& c) {
  JsonText w;
  w.out.reserve(1536);
  w.open('{');
  summary_fields(c, w);
  w.key("legs");
  w.open('[');
  for (LegId l : {LegId::a, LegId::b}) {
    w.open('{');
    leg_fields(c.leg(l), w);
    w.close('}');
  }
  w.close(']');
  live_fields(c, w);
  w.close('}');
  return std::move(w.out);
}

std::unique_ptr<Call> restore_call(CallServices& services, const std::string& id, const nlohmann::json& j,
                                   std::string* error) {
  if (!j.is_object() || !j.contains("legs") || !j["legs"].is_array() || j["legs"].size() != 2) {
    *error = "no legs";
    return nullptr;
  }
  std::unique_ptr<Call> c;
  std::optional<uint32_t> flow;
  try {
    const bool inbound = j.value("inbound", false);
    c = std::make_unique<Call>(services, id, inbound ? CallDirection::inbound : CallDirection::outbound,
                               CallOrigin::restored);
    c->from_uri = j.value("from", "");
    c->to_uri = j.value("to", "");
    c->trunk = j.value("trunk", "");
    c->start_ms = j.value("start_ms", int64_t(0));
    c->answer_ms = j.value("answer_ms", int64_t(0));
    const int64_t fid = j.value("flow_id", int64_t(-1));
    if (fid >= 0) flow = uint32_t(fid);
    read_leg(j["legs"][0], c->leg(LegId::a));
    read_leg(j["legs"][1], c->leg(LegId::b));
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
  for (LegId l : {LegId::a, LegId::b}) {
    const Leg& leg = c->leg(l);
    if (PortAllocator* p = services.ports(leg.port)) p->reserve(leg.local_port);
  }
  c->restore_answered(flow);
  return c;
}

CallRecord call_record(const Call& c) {
  CallRecord r;
  r.call_id = c.id();
  r.from_uri = c.from_uri;
  r.to_uri = c.to_uri;
  r.trunk = c.trunk;
  r.direction = c.direction() == CallDirection::inbound ? "inbound" : "outbound";
  r.start_ms = c.start_ms;
  r.answer_ms = c.answer_ms;
  if (c.leg(LegId::a).has_codec) r.a_codec = codec_name(c.leg(LegId::a).codec.id);
  if (c.leg(LegId::b).has_codec) r.b_codec = codec_name(c.leg(LegId::b).codec.id);
  return r;
}

}  // namespace msgw::control
