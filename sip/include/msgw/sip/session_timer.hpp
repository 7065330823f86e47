// SPDX-License-Identifier: GPL-3.0-or-later
// RFC 4028 session timers as headers: Session-Expires (with its refresher)
// and Min-SE read from a request or a 2xx, written back. What a call does
// with them (who refreshes, when a silent peer's session expires) is the
// B2BUA's: control/src/call_session_timer.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "msgw/sip/message.hpp"

namespace msgw::sip {

// RFC 4028 §4: no Min-SE may be below 90 s; it is also ours.
inline constexpr uint32_t kMinSessionExpires = 90;

enum class Refresher : uint8_t { unspecified, uac, uas };

struct SessionExpires {
  uint32_t interval_s = 0;
  Refresher refresher = Refresher::unspecified;
};

// "1800;refresher=uac" (delta-seconds, then generic parameters, any case,
// spaces around ';' and '='). nullopt: not a delta-seconds, zero, or a
// refresher parameter that is neither uac nor uas.
std::optional<SessionExpires> parse_session_expires(std::string_view value);
// "1800;refresher=uac" (no parameter when unspecified).
std::string format_session_expires(const SessionExpires& se);

// What a session refresh request (the INVITE, a re-INVITE, an UPDATE) or
// a 2xx to one says about the timer.
struct SessionTimerHeaders {
  std::optional<SessionExpires> session_expires;  // absent, or malformed (see `malformed`)
  uint32_t min_se = 0;                            // 0: no (usable) Min-SE
  bool timer_supported = false;                   // "timer" in Supported or Require
  bool malformed = false;                         // a Session-Expires that did not parse
};
SessionTimerHeaders session_timer_of(MessageRef m);

// RFC 4028 §8.1/§9: a request from a UA that supports the timer asking for
// an interval below ours is answered 422 with our Min-SE (one that does not
// support it cannot retry; its request goes on without a timer).
inline bool session_interval_too_small(const SessionTimerHeaders& t) {
  return t.timer_supported && t.session_expires && t.session_expires->interval_s < kMinSessionExpires;
}

}  // namespace msgw::sip
