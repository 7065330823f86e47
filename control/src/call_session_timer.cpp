// SPDX-License-Identifier: GPL-3.0-or-later
// A call's RFC 4028 session timers, one per leg: what our 2xx accepts of a
// refresh request's Session-Expires, what a 2xx to our INVITE or re-INVITE
// settles, the refresh re-INVITE we send when we are a leg's refresher, and
// the end of a call whose refresher went silent (its far end died without
// a BYE: the media timeout does not see a call on hold). Setup code: runs
// once per refresh interval per leg, never per packet.
//
// We never ask for a timer ourselves (no Supported: timer on B's INVITE),
// and accept one on the leg whose UA asks: that UA refreshes unless it
// asked us to (refresher=uas).
#include <algorithm>

#include "call_detail.hpp"
#include "msgw/control/call.hpp"
#include "msgw/sip/dialog.hpp"
#include "msgw/sip/session_timer.hpp"

namespace msgw::control {

using call_detail::reason;

sip::Headers Call::accept_session_timer(LegId from, sip::MessageRef request) {
  Leg& l = leg(from);
  const sip::SessionTimerHeaders t = sip::session_timer_of(request);
  if (!t.session_expires || !t.timer_supported) {
    // No timer asked for (a refresh without Session-Expires ends it, §9);
    // one asked for by a UA that cannot refresh is not taken up (we would
    // be the refresher of a peer that does not know it, §9 "MAY").
    l.session_interval_s = 0;
    arm_session_timer(from);
    return {};
  }
  const uint32_t interval = std::max({t.session_expires->interval_s, t.min_se, sip::kMinSessionExpires});
  const sip::Refresher who =
      t.session_expires->refresher == sip::Refresher::uas ? sip::Refresher::uas : sip::Refresher::uac;
  l.session_interval_s = interval;
  l.session_refresher_us = who == sip::Refresher::uas;
  arm_session_timer(from);
  return {{"Session-Expires", sip::format_session_expires({interval, who})}, {"Require", "timer"}};
}

bool Call::refuse_short_session(const Input& in) {
  if (!sip::session_interval_too_small(sip::session_timer_of(in.msg))) return false;
  ++svc_.stats->session_intervals_too_small;
  svc_.stack->respond(in.txn, 422, {}, {{"Min-SE", std::to_string(sip::kMinSessionExpires)}});
  return true;
}

void Call::take_session_timer_answer(LegId to, sip::MessageRef resp) {
  Leg& l = leg(to);
  const sip::SessionTimerHeaders t = sip::session_timer_of(resp);
  if (!t.session_expires) {
    l.session_interval_s = 0;  // the peer runs none (§7.2)
  } else {
    // Our request was the UAC's: refresher=uac is us. A 2xx that names no
    // refresher breaks §9; the peer chose the timer, the peer refreshes.
    l.session_interval_s = std::max<uint32_t>(t.session_expires->interval_s, 1);
    l.session_refresher_us = t.session_expires->refresher == sip::Refresher::uac;
  }
  arm_session_timer(to);
}

void Call::add_session_timer(sip::Message& request, LegId to) const {
  const Leg& l = leg(to);
  if (l.session_interval_s == 0 || !request) return;
  // In our request we are the UAC: uac names us, uas the peer.
  request.add_header("Session-Expires",
                     sip::format_session_expires({l.session_interval_s, l.session_refresher_us ? sip::Refresher::uac
                                                                                              : sip::Refresher::uas}));
  request.add_header("Supported", "timer");
}

void Call::arm_session_timer(LegId which) {
  auto& due = session_due_[index(which)];
  const Leg& l = leg(which);
  if (l.session_interval_s == 0) {
    due.reset();
    return;
  }
  const std::chrono::seconds interval(l.session_interval_s);
  const std::chrono::seconds wait =
      l.session_refresher_us ? interval / 2 : interval - std::min<std::chrono::seconds>(std::chrono::seconds(32), interval / 3);
  due = svc_.now() + wait;
  svc_.index->schedule_session(*due, id_);
}

void Call::on_session_timer() {
  const auto now = svc_.now();
  for (LegId which : {LegId::a, LegId::b}) {
    auto& due = session_due_[index(which)];
    if (!due || *due > now) continue;  // a stale entry: a refresh re-armed it
    due.reset();
    if (leg(which).session_refresher_us) {
      refresh_session(which);
      continue;
    }
    // RFC 4028 §10: no refresh from the leg's refresher before the session
    // expired: BYE (both legs: the B2BUA's other side has lost its peer).
    ++svc_.stats->sessions_expired;
    const std::string why = "session timer expired on " + std::string(leg_name(which));
    log_event(log::Level::info, "session expired", CallEvent::session_timer, why);
    end(200, why, true, true, reason(408, "session expired"));
    return;
  }
}

void Call::refresh_session(LegId which) {
  // A re-INVITE of ours already pending on the leg refreshes it when
  // answered. Ours offers the session as it is: the SDP we last sent, its
  // version unchanged (RFC 3264 §8: an offer that changes nothing).
  if (!reinvite_pending(which)) {
    Leg& l = leg(which);
    if (l.dialog_key.empty() || !svc_.stack->find_dialog(l.dialog_key)) {
      l.session_interval_s = 0;  // no dialog to refresh: nothing more to do on this leg
      return;
    }
    if (send_reinvite(which)) ++svc_.stats->session_refreshes;
  }
  arm_session_timer(which);  // its 2xx may settle another interval (take_session_timer_answer)
}

}  // namespace msgw::control
