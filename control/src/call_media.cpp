// SPDX-License-Identifier: GPL-3.0-or-later
// A call's media in the dataplane: its flow (programmed when the legs'
// media is known, re-programmed when it moves or the dataplane restarts),
// whether the flow transcodes, and each peer's media settings (setup/control
// code: runs per SIP message or media event, never per packet).
#include <utility>

#include "call_detail.hpp"
#include "msgw/common/log.hpp"
#include "msgw/control/call.hpp"
#include "msgw/control/media_policy.hpp"

namespace msgw::control {

namespace dp = msgw::dataplane;
using codecs::CodecId;

namespace {

dp::LegSpec leg_spec(const Leg& l) {
  dp::LegSpec s{};
  s.local_ip = l.local_ip;
  s.remote_ip = l.remote_ip;
  s.port = static_cast<uint16_t>(l.port);
  s.local_port = l.local_port;
  s.remote_port = l.remote_port;
  s.codec = static_cast<uint8_t>(l.codec.id);  // the ring carries CodecId's numbers
  s.payload_type = l.codec.payload_type;
  s.dtmf_pt = l.dtmf_pt;
  s.ptime_ms = static_cast<uint8_t>(l.ptime);
  uint8_t f = (l.latch ? dp::kLegLatch : 0) | (l.hold ? dp::kLegHold : 0);
  if (l.codec.id == CodecId::G726_32 && l.codec.g726_packing == codecs::G726Packing::Aal2) f |= dp::kLegG726Aal2;
  if (l.codec.id == CodecId::G729 && !l.codec.g729_annexb) f |= dp::kLegG729NoAnnexB;
  if (l.payload_passthrough) f |= dp::kLegPayloadPassthrough;
  s.flags = f;
  return s;
}

}  // namespace

// The dataplane's own rule: one codec on both legs is still transcoded when
// packet time, G.726 packing or Annex B differ.
bool Call::transcoding() const {
  const Leg& a = leg(LegId::a);
  const Leg& b = leg(LegId::b);
  return a.has_codec && b.has_codec && !dp::relayable(leg_spec(a), leg_spec(b));
}

std::optional<Call::Failure> Call::program_flow() {
  if (!flow_id_) {
    uint32_t limit = svc_.media->max_flows();
    if (limit == 0) limit = svc_.config->dataplane.flow_capacity / 2;
    flow_id_ = svc_.index->allocate_flow(limit, id_);
    if (!flow_id_) return Failure{CallError::flow_table_full, "dataplane flow table full"};
    flow_state_ = FlowState::reserved;
  }
  std::string why;
  const dp::LegSpec a = leg_spec(leg(LegId::a)), b = leg_spec(leg(LegId::b));
  // Both are only queued here (false: the ring is full or the dataplane
  // down). A modify's refusal or timeout comes back as flow_update_failed;
  // an add's ack as flow_ready or flow_refused, which the call waits for in
  // its state (connecting, early) where it needs the flow before it goes on.
  // A modify may follow an add not yet acked: the ring is FIFO.
  const bool adding = !flow_posted();
  const bool ok = adding ? svc_.media->add(*flow_id_, a, b, &why) : svc_.media->modify(*flow_id_, a, b, &why);
  if (!ok) {
    ++svc_.stats->media_errors;
    return Failure{CallError::dataplane_refused, why};
  }
  if (adding) flow_state_ = FlowState::adding;
  return std::nullopt;
}

PeerMedia Call::peer_media_of(LegId l) const {
  const config::Config& cfg = *svc_.config;
  // Outbound: A is the subscriber, B the trunk; inbound the other way round.
  const bool subscriber_leg = (l == LegId::a) == (direction_ == CallDirection::outbound);
  const config::SubscriberSection* sub = nullptr;
  const config::TrunkSection* tr = nullptr;
  if (subscriber_leg) {
    for (const auto& s : cfg.subscribers)
      if (s.user == subscriber) sub = &s;
  } else {
    for (const auto& t : cfg.trunks)
      if (t.name == trunk) tr = &t;
  }
  return peer_media(cfg, sub, tr);
}

void Call::on_flow_update_failed(const Input& in) {
  // The dataplane kept the flow as it was before the modify (counted in
  // media_errors by the Gateway, like every refusal).
  const std::string detail(in.detail);
  log_event(log::Level::warn, "flow re-programming failed", CallEvent::flow_update_failed, detail);
  // Early media: the answer programs the flow again in full.
  if (state_ != CallState::answered) return;
  // Both legs were answered with media the dataplane does not carry.
  const ErrorInfo& info = error_info(CallError::media_update_failed);
  end(info.status, std::string(info.name) + ": " + detail, true, true,
      call_detail::reason(info.status, info.reason));
}

void Call::on_dataplane_restart() {
  // A new dataplane generation has no flows and answers no command posted
  // to the old one: add this one again (an add still waiting too).
  if (!flow_posted()) return;
  flow_state_ = FlowState::reserved;
  // In routing the flow carried an earlier trunk's early media, which ended
  // with that attempt: the next trunk's 183 or 200 programs a new one.
  if (state_ == CallState::routing) {
    early_relay_ = 0;
    return;
  }
  if (auto failure = program_flow()) {
    // Not even posted: what a refusal of the add does in this state.
    if (state_ == CallState::connecting) {
      refuse_answer(*failure);
    } else if (state_ == CallState::offering) {
      drop_offering(*failure);
    } else if (state_ == CallState::early && early_relay_ != 0) {
      respond_a(std::exchange(early_relay_, 0));
    } else {
      log_event(log::Level::warn, "flow re-programming failed", CallEvent::dataplane_restart, failure->detail);
    }
  }
  // The add's ack counts the flow re-programmed (flow_ready).
}

void Call::on_flow_ready() {
  flow_state_ = FlowState::programmed;
  switch (state_) {
    case CallState::routing:  // a failed trunk's early media: kept for the next answer
      early_relay_ = 0;
      return;
    case CallState::early:
      if (early_relay_ != 0) {
        early_relay_ = 0;
        respond_a(183, leg(LegId::a).sdp_body);  // early media reaches A from now on
      } else {
        ++svc_.stats->flows_reprogrammed;  // after a dataplane restart
      }
      return;
    case CallState::connecting: finish_answer(); return;
    case CallState::offering: mark_answered(); return;  // A's ACK brought the answer: media flows
    case CallState::answered: ++svc_.stats->flows_reprogrammed; return;  // after a dataplane restart
    case CallState::ended: return;
  }
}

void Call::on_flow_refused(const Input& in) {
  // Counted in media_errors by the Gateway, like every refusal.
  flow_state_ = FlowState::reserved;  // not in the dataplane: the next answer adds it again
  const std::string detail(in.detail);
  switch (state_) {
    case CallState::routing: early_relay_ = 0; return;
    case CallState::early:
      if (early_relay_ != 0) {
        // The provisional without its media, as a refused early add always was.
        log_event(log::Level::warn, "early media flow refused", CallEvent::flow_refused, detail);
        respond_a(std::exchange(early_relay_, 0));
        return;
      }
      log_event(log::Level::warn, "flow re-programming failed", CallEvent::flow_refused, detail);
      return;
    case CallState::connecting: refuse_answer(Failure{CallError::dataplane_refused, detail}); return;
    case CallState::offering: drop_offering(Failure{CallError::dataplane_refused, detail}); return;
    case CallState::answered:
      log_event(log::Level::warn, "flow re-programming failed", CallEvent::flow_refused, detail);
      return;
    case CallState::ended: return;
  }
}

}  // namespace msgw::control
