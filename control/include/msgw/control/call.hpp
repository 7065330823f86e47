// SPDX-License-Identifier: GPL-3.0-or-later
// One B2BUA call: its two legs, its media session (one dataplane flow) and
// its answer deadline, driven by events through one entry point,
// Call::handle(), which consults the transition table (call_model.hpp)
// before it acts. An event the table does not allow in the call's state gets
// the table's SIP answer and a log line, never an action.
//
// The Gateway creates calls (routing: dial plan, DIDs, registrar contacts)
// and maps dialogs, transactions and flows to them (CallIndex); everything
// that happens to a call after that happens here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "msgw/codecs/codec.hpp"
#include "msgw/common/log.hpp"
#include "msgw/config/config.hpp"
#include "msgw/control/offer.hpp"
#include "msgw/control/call_index.hpp"
#include "msgw/control/call_model.hpp"
#include "msgw/control/gateway_stats.hpp"
#include "msgw/control/media.hpp"
#include "msgw/control/port_allocator.hpp"
#include "msgw/control/state_store.hpp"
#include "msgw/control/trunks.hpp"
#include "msgw/sip/sdp.hpp"
#include "msgw/sip/stack.hpp"

namespace msgw::control {

using Clock = std::chrono::steady_clock;

// One side of the call: its media as the dataplane sees it, and enough of
// its dialog to end it after a control-plane restart, when the stack no
// longer knows it.
struct Leg {
  // media
  int port = 0;              // dataplane port index
  uint32_t local_ip = 0;     // host order
  uint16_t local_port = 0;   // 0: none allocated
  uint32_t remote_ip = 0;
  uint16_t remote_port = 0;
  codecs::CodecParams codec{};
  bool has_codec = false;
  uint8_t dtmf_pt = dataplane::kNoPayloadType;
  uint16_t ptime = 20;       // what we send the peer (its a=ptime, capped by a=maxptime)
  bool latch = false;
  bool payload_passthrough = false;  // static payload types not negotiated here still reach the peer
  bool hold = false;
  uint64_t sdp_session_id = 0, sdp_version = 0;
  std::string sdp_body;      // last SDP the gateway sent on this leg
  // signalling
  std::string sip_call_id;
  std::string dialog_key;    // the stack's dialog; "" when none (yet, or any more)
  sip::Endpoint peer;
  sip::Proto proto = sip::Proto::Udp;
  std::string local_tag, remote_tag, local_uri, remote_uri, remote_target;
  uint32_t cseq = 0;
  // RFC 4028 on this leg: the session interval (0: no session timer) and
  // whether we refresh it (else its peer does, and we watch for that).
  uint32_t session_interval_s = 0;
  bool session_refresher_us = false;
};

// One place B's INVITE may go: a trunk (outbound, several for failover) or
// the subscriber's registered contact (inbound).
struct CalleeTarget {
  std::string trunk;                      // "" for a subscriber
  sip::Endpoint destination;
  sip::Proto proto = sip::Proto::Udp;
  int port = 0;                           // dataplane port index of B's media
  bool latch = false;                     // B is behind NAT (access side)
  std::string request_uri;
  std::vector<codecs::CodecId> codecs;    // B side's codec policy, preferred first
  std::chrono::milliseconds answer_timeout{0};  // 0: rings until cancelled
};

// What a call uses of its gateway. The pointers outlive every call.
struct CallServices {
  sip::Stack* stack = nullptr;
  MediaBackend* media = nullptr;
  StateStore* store = nullptr;             // null: no durability (tests)
  GatewayStats* stats = nullptr;
  CallIndex* index = nullptr;
  const config::Config* config = nullptr;
  std::function<PortAllocator*(int port)> ports;
  std::function<Clock::time_point()> now;
  Trunks* trunks = nullptr;                // null: no trunk state (every trunk routable, no credentials)
};

enum class CallDirection : uint8_t { outbound, inbound };
enum class CallOrigin : uint8_t { placed, restored };  // restored: from the state store after a restart

class Call {
 public:
  struct Input {
    sip::TxnId txn = sip::kNoTxn;  // the server transaction of a request event
    sip::MessageRef msg{};         // the request or response, if any
    sip::Dialog* dialog = nullptr;
    LegId leg = LegId::a;          // which leg sent it (bye, re-INVITE, ack timeout, answers)
    TxnAuth auth = TxnAuth::unanswered;  // a response: whether its request answered a challenge
    std::string_view detail{};     // an event from the dataplane: what it said
    // relay_dialog_gone: the far side's 481 / 408 (0: no answer came). A
    // status, not the response: answering the sender first may free it.
    int status = 0;
  };

  Call(CallServices& services, std::string id, CallDirection direction, CallOrigin origin = CallOrigin::placed);
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // The one entry point for everything that happens to a started call.
  // True when the event was acted on; false when the table rejected it
  // (answered with its status) or ignored it. A call left in `ended` is
  // erased by its owner.
  bool handle(CallEvent event, const Input& input);
  bool handle(CallEvent event) { return handle(event, Input{}); }

  // Setup, called once by the Gateway after filling in the A leg, the offer
  // and the targets: places B's INVITE (failing over along `targets`), or
  // ends the call with `no_target_error` and `why`.
  void start(CallError no_target_error, const std::string& why);

  CallState state() const { return state_; }
  const std::string& id() const { return id_; }
  CallDirection direction() const { return direction_; }
  CallOrigin origin() const { return origin_; }
  Leg& leg(LegId l) { return legs_[index(l)]; }
  const Leg& leg(LegId l) const { return legs_[index(l)]; }
  // Both legs negotiated and their codecs differ: the dataplane transcodes.
  bool transcoding() const;
  bool flow_programmed() const { return flow_state_ == FlowState::programmed; }
  // Programmed, or its add posted: commands for it may follow (FIFO ring).
  bool flow_posted() const { return flow_state_ == FlowState::programmed || flow_state_ == FlowState::adding; }
  std::optional<uint32_t> flow_id() const { return flow_id_; }
  std::optional<Clock::time_point> answer_deadline() const { return b_deadline_; }
  // Our 2xx to a session refresh request from `from` (A's INVITE, a
  // re-INVITE or UPDATE from either leg): the headers that accept the
  // timer it asks for (RFC 4028 §9); the leg's timer armed, or stopped
  // when the request asks for none.
  sip::Headers accept_session_timer(LegId from, sip::MessageRef request);
  // A's INVITE carried no offer (RFC 3261 §13.2.1): A's 2xx carries ours,
  // A's ACK the answer.
  bool a_offer_delayed() const { return a_offer.media.empty(); }

  // Filled by the Gateway before start().
  sip::TxnId a_txn = sip::kNoTxn;         // A's INVITE until its final response went out
  sip::sdp::SessionDescription a_offer;   // empty: a delayed offer
  std::vector<codecs::CodecId> a_usable;  // what A offered that A's policy allows (delayed: the policy)
  std::vector<CalleeTarget> targets;
  std::string subscriber, from_uri, to_uri, number, caller_display, caller_user;
  // The caller withheld its identity (RFC 3323 Privacy, an anonymous From):
  // B's INVITE goes out as Anonymous with Privacy: id.
  bool caller_withheld = false;
  int max_forwards = 70;                  // for B's INVITE (already decremented)
  int64_t start_ms = 0, answer_ms = 0;    // wall clock
  Clock::time_point invite_received{};    // CallServices::now at A's INVITE: the setup time's start
  std::string trunk;                      // the trunk in use (outbound) or the one it came from
  std::string attempt_failures;           // why earlier trunks of the route were not used (for the CDR)

  // A request the SIP stack sends on its own to leg `to` (a PRACK): the
  // trunk's credentials, as on the call's own requests to it.
  void authorize_stack_request(sip::Message& m, LegId to) { add_trunk_credentials(m, to, m.method()); }

  // Restore after a restart: the call is answered, its flow in the dataplane.
  void restore_answered(std::optional<uint32_t> flow_id);

 private:
  struct Failure {
    CallError error;
    std::string detail;
  };

  // actions, one per event the table lets a call act on
  void on_b_provisional(const Input& in);
  void on_b_answer(const Input& in);
  void on_b_failure(const Input& in);
  void on_b_challenge(const Input& in);
  void on_b_timeout(const Input& in);
  void on_b_deadline();
  void on_a_cancel();
  void on_bye(const Input& in, LegId from);
  void on_reinvite(const Input& in, LegId from);
  void on_reinvite_answer(const Input& in);
  // The direction leg `from` just negotiated (its media `m`: sendonly,
  // inactive or a hold address, else sendrecv) passed on to the other leg,
  // now or after our re-INVITE pending there.
  void pass_on_direction(LegId from, const sip::sdp::MediaDescription& m);
  // A re-INVITE of ours on `to` offering the leg's last SDP (with its
  // session timer and the trunk's credentials); false when not sent.
  bool send_reinvite(LegId to, TxnAuth auth = TxnAuth::unanswered);
  // Hold / resume passed on to leg `to` in a re-INVITE of ours.
  void relay_direction(LegId to, sip::sdp::Direction dir);
  // The direction that waited for our pending re-INVITE to `to`, if any.
  void relay_queued_direction(LegId to);
  // Our `request` to `which` (a re-INVITE, an INFO passed on) was answered
  // 481 / 408 (`code`) or never (0): the call ends.
  void end_for_dead_dialog(LegId which, int code, std::string_view request = "re-INVITE");
  void on_reinvite_challenge(const Input& in);
  void on_in_dialog_other(const Input& in);
  // A 2xx to our INVITE or re-INVITE on `to`: the timer it settled (RFC 4028 §7.2).
  void take_session_timer_answer(LegId to, sip::MessageRef resp);
  // Our re-INVITE on `to` keeps the leg's timer going (RFC 4028 §7.4).
  void add_session_timer(sip::Message& request, LegId to) const;
  // The leg's next session-timer moment: a refresh at half the interval
  // when we refresh; else the interval less min(32 s, a third) (§10).
  void arm_session_timer(LegId which);
  void on_session_timer();
  void refresh_session(LegId which);
  // A refresh request from a UA that supports the timer asking for less
  // than our Min-SE: answered 422 (true).
  bool refuse_short_session(const Input& in);
  // INFO from a leg: passed on in the other leg's dialog, its answer to
  // come back (Gateway::on_relayed_answer).
  void on_info(const Input& in);
  // An ACK of our 2xx: in offering, A's answer to the offer of its 2xx;
  // answered, the answer to the offer of our 2xx to an offerless re-INVITE.
  void on_ack(const Input& in);
  // The answer in the ACK of an offerless re-INVITE's 2xx applied to the leg.
  void take_reinvite_ack_answer(const Input& in);
  // A new offer's or answer's stream as the leg's media: a hold address
  // (c=0.0.0.0) keeps where we send, no a=ptime keeps the packet time.
  void take_renegotiated_stream(LegId which, const sip::sdp::NegotiatedStream& st,
                                const sip::sdp::MediaDescription& m);
  // After a 2xx to a re-INVITE or UPDATE: the leg's remote target as the
  // stack's dialog now has it (a new Contact refreshes it); true if it moved.
  bool take_target_refresh(LegId which);
  // A re-INVITE of ours to `which` has no final response yet: one from that
  // leg now is glare, answered 491 (RFC 3261 §14.2).
  bool reinvite_pending(LegId which) const;
  void on_dataplane_restart();
  void on_flow_update_failed(const Input& in);
  void on_flow_ready();
  void on_flow_refused(const Input& in);
  void on_hangup();

  // `redirected`: the next target is a redirect's, not a failover.
  bool try_next_target(bool redirected = false);
  // B's 300/301/302: the next attempt goes to the first SIP Contact (same
  // trunk); false when there is none or kMaxRedirects were followed.
  bool follow_redirect(sip::MessageRef resp);
  static constexpr uint8_t kMaxRedirects = 3;
  // `retry`: the same INVITE again with credentials (same Call-ID and
  // From tag, CSeq + 1) after a challenge.
  bool send_b_invite(const CalleeTarget& t, bool retry = false);
  void arm_deadline(const CalleeTarget& t);
  // The leg toward the trunk: B of an outbound call, A of an inbound one.
  LegId trunk_leg() const { return direction_ == CallDirection::outbound ? LegId::b : LegId::a; }
  // The request's client transaction as the index keeps it (the trunk named
  // when it goes to the trunk's leg).
  ClientTxn client_txn(ClientTxnKind kind, LegId to, TxnAuth auth = TxnAuth::unanswered) const;
  // Credentials from the trunk's cached challenge on a request to the trunk.
  void add_trunk_credentials(sip::Message& m, LegId to, std::string_view method);
  void note_attempt_failure(const std::string& why);
  void note_b_dialog(const Input& in);
  std::optional<Failure> apply_b_answer(sip::MessageRef resp);
  // B's 2xx with the flow in the dataplane: ACK B, 200 to A, answered.
  void finish_answer();
  // The call is answered end to end: counted, timed, persisted.
  void mark_answered();
  // B's usable 2xx to a delayed offer: ACK B, 200 to A with our offer
  // (A's codecs, B's first so that the flow may relay), offering.
  void offer_to_a();
  std::optional<Failure> apply_a_answer(sip::MessageRef ack);
  // Offering went wrong (no answer in the ACK, the flow refused): both legs
  // have their 2xx, so both get a BYE saying why.
  void drop_offering(const Failure& failure);
  // B's 2xx that cannot be taken (unusable, flow refused): ACK and BYE to
  // B, the error to A, ended.
  void refuse_answer(const Failure& failure);
  void ack_b();
  std::optional<Failure> program_flow();
  // The configuration's word on the peer of leg `l` (subscriber or trunk).
  PeerMedia peer_media_of(LegId l) const;
  // Ends an unanswered call: A gets the error's status (or, for
  // callee_failed, `callee_status`) with a Warning saying why.
  void fail(CallError error, const std::string& why, int callee_status = 0);
  // Ends the call: BYE to the legs asked for (with `reason_header` as their
  // RFC 3326 Reason header when not empty), CDR written, resources released.
  void end(int result, const std::string& reason, bool bye_a, bool bye_b,
           const std::string& reason_header = {});
  void abandon_b_invite();
  void send_bye(LegId which, const std::string& reason_header);
  bool respond_a(int status, const std::string& body = {}, const sip::Headers& headers = {},
                 std::string_view reason = {});
  void persist() const;
  void log_event(log::Level level, std::string_view what, std::optional<CallEvent> event,
                 const std::string& detail, int status = 0) const;

  CallServices& svc_;
  std::string id_;  // A's Call-ID: the id operators see
  CallDirection direction_;
  CallOrigin origin_;
  CallState state_ = CallState::routing;
  std::array<Leg, 2> legs_;
  sip::TxnId b_txn_ = sip::kNoTxn;        // B's INVITE while it is pending
  // Our last re-INVITE to each leg; pending while the index still holds it
  // (forgotten at its final response or timeout): reinvite_pending().
  std::array<sip::TxnId, 2> reinvite_out_{sip::kNoTxn, sip::kNoTxn};
  // Per leg: a hold / resume to pass on once our pending re-INVITE to it
  // has its final response (the latest one wins).
  std::array<std::optional<sip::sdp::Direction>, 2> direction_to_relay_{};
  uint32_t b_invite_cseq_ = 1;
  sip::sdp::SessionDescription b_offer_;
  uint32_t b_acked_cseq_ = 0;             // the CSeq of B's INVITE whose 2xx we ACKed
  // Per leg: the CSeq of its offerless re-INVITE whose 2xx carried our
  // offer (0: none); the ACK with that CSeq carries the answer.
  std::array<uint32_t, 2> offer_in_2xx_cseq_{0, 0};
  std::vector<codecs::CodecId> b_prefs_;
  std::size_t next_target_ = 0;
  uint8_t redirects_ = 0;                 // redirects followed by this call
  // Digest answers to the current target's challenges: at most two (a
  // cached nonce the trunk forgot, then a stale one), never a second answer
  // to a challenge of an answer that was not stale.
  uint8_t b_auth_answers_ = 0;
  bool b_auth_retry_ = false;             // the pending INVITE answered a challenge
  // The media session: a flow id reserved at the first answer with SDP,
  // added to the dataplane (adding: posted, its ack not in yet; flow_ready
  // or flow_refused ends that), re-programmed on changes and restarts.
  enum class FlowState : uint8_t { none, reserved, adding, programmed };
  FlowState flow_state_ = FlowState::none;
  // The provisional (180/183) A hears once B's early-media flow is added:
  // 183 with SDP on flow_ready, this status without SDP on flow_refused
  // (0: none waiting).
  int early_relay_ = 0;
  std::optional<uint32_t> flow_id_;
  std::optional<Clock::time_point> b_deadline_;
  std::array<std::optional<Clock::time_point>, 2> session_due_{};  // by leg (arm_session_timer)
};

}  // namespace msgw::control
