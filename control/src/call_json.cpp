// SPDX-License-Identifier: GPL-3.0-or-later
// Calls as JSON and records (see call_json.hpp).
#include "msgw/control/call_json.hpp"

#include "msgw/common/wall_clock.hpp"

namespace msgw::control {

using common::wall_ms;

using codecs::CodecId;

namespace {

std::string codec_name(CodecId c) { return std::string(codecs::codec_info(c).sdp_name); }

nlohmann::json leg_state(const Leg& l) {
  return nlohmann::json{{"port", l.port}, {"local_ip", l.local_ip}, {"local_port", l.local_port},
                        {"remote_ip", l.remote_ip}, {"remote_port", l.remote_port},
                        {"codec", int(l.codec.id)}, {"pt", l.codec.payload_type}, {"dtmf_pt", l.dtmf_pt},
                        {"ptime", l.ptime}, {"latch", l.latch}, {"hold", l.hold},
                        {"annexb", l.codec.g729_annexb}, {"aal2", l.codec.g726_packing == codecs::G726Packing::Aal2},
                        {"passthrough", l.payload_passthrough}, {"call_id", l.sip_call_id},
                        {"local_tag", l.local_tag}, {"remote_tag", l.remote_tag}, {"local_uri", l.local_uri},
                        {"remote_uri", l.remote_uri}, {"remote_target", l.remote_target},
                        {"cseq", l.cseq}, {"peer_ip", l.peer.ip()}, {"peer_port", l.peer.port()},
                        {"tcp", l.proto == sip::Proto::Tcp}};
}

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
  if (auto e = sip::Endpoint::from(lj.at("peer_ip").get<std::string>(), lj.at("peer_port").get<uint16_t>()))
    l.peer = *e;
}

}  // namespace

nlohmann::json call_summary_json(const Call& c) {
  const Leg& a = c.leg(LegId::a);
  const Leg& b = c.leg(LegId::b);
  return nlohmann::json{{"call", c.id()},
                        {"direction", c.direction() == CallDirection::inbound ? "inbound" : "outbound"},
                        {"from", c.from_uri},
                        {"to", c.to_uri},
                        {"trunk", c.trunk},
                        {"state", std::string(state_name(c.state()))},
                        {"a_codec", a.has_codec ? codec_name(a.codec.id) : ""},
                        {"b_codec", b.has_codec ? codec_name(b.codec.id) : ""},
                        {"media", c.flow_programmed() ? (c.transcoding() ? "transcode" : "relay") : "none"},
                        {"hold", a.hold || b.hold},
                        {"seconds", c.answer_ms ? (wall_ms() - c.answer_ms) / 1000 : 0},
                        {"restored", c.origin() == CallOrigin::restored}};
}

nlohmann::json live_state_json(const Call& c) {
  nlohmann::json j = call_summary_json(c);
  j["legs"] = {leg_state(c.leg(LegId::a)), leg_state(c.leg(LegId::b))};
  j["flow_id"] = c.flow_id() ? int64_t(*c.flow_id()) : -1;
  j["start_ms"] = c.start_ms;
  j["answer_ms"] = c.answer_ms;
  j["inbound"] = c.direction() == CallDirection::inbound;
  return j;
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
