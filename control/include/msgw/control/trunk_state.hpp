// SPDX-License-Identifier: GPL-3.0-or-later
// A carrier trunk's two state machines, defined once as data: its health
// (OPTIONS pings: down after N missed or 5xx answers, up after M good ones)
// and its registration (REGISTER with auth, refreshed before the expiry the
// registrar granted, raised to its Min-Expires on a 423, retried with
// back-off). Each is an enum, an event list and a total transition table
// whose rows name the states the event may lead to; trunks.cpp acts on them,
// tests/unit/control/test_trunks.cpp walks them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace msgw::control {

// ---- health

// X(name): a trunk is routed to unless it is `down`.
#define MSGW_TRUNK_HEALTH_STATES(X) \
  X(up)          /* answering (or never checked)                            */ \
  X(failing)     /* up, but the last pings failed (fewer than down_after)   */ \
  X(down)        /* down_after pings in a row failed: routing skips it      */ \
  X(recovering)  /* down, the last pings succeeded (fewer than up_after)    */

enum class TrunkHealth : uint8_t {
#define MSGW_X(name) name,
  MSGW_TRUNK_HEALTH_STATES(MSGW_X)
#undef MSGW_X
};

// X(name): what a ping's outcome is.
#define MSGW_TRUNK_HEALTH_EVENTS(X) \
  X(ping_ok)      /* any final answer below 500 (a 404/405 proves the trunk alive) */ \
  X(ping_failed)  /* 5xx/6xx, or no answer within the ping timeout                 */

enum class TrunkHealthEvent : uint8_t {
#define MSGW_X(name) name,
  MSGW_TRUNK_HEALTH_EVENTS(MSGW_X)
#undef MSGW_X
};

inline constexpr std::size_t kTrunkHealthCount = 4, kTrunkHealthEventCount = 2;
std::string_view health_name(TrunkHealth h);
std::string_view health_event_name(TrunkHealthEvent e);
constexpr bool routable(TrunkHealth h) { return h != TrunkHealth::down && h != TrunkHealth::recovering; }

// One row: from `from` on `event`, `next` while the run of like outcomes is
// below the threshold, `at_threshold` once it reaches it (down_after failures
// or up_after successes in a row).
struct HealthTransition {
  TrunkHealth from;
  TrunkHealthEvent event;
  TrunkHealth next;
  TrunkHealth at_threshold;
};
const HealthTransition& health_transition(TrunkHealth from, TrunkHealthEvent event);
const std::array<HealthTransition, kTrunkHealthCount * kTrunkHealthEventCount>& health_table();

// ---- registration

#define MSGW_TRUNK_REG_STATES(X) \
  X(off)          /* register = false                                   */ \
  X(registering)  /* a REGISTER is in flight (first, refresh or retry)  */ \
  X(registered)   /* 2xx: the binding holds until its expiry            */ \
  X(failed)       /* refused or unanswered: a retry waits (back-off)    */

enum class RegState : uint8_t {
#define MSGW_X(name) name,
  MSGW_TRUNK_REG_STATES(MSGW_X)
#undef MSGW_X
};

#define MSGW_TRUNK_REG_EVENTS(X) \
  X(due)          /* the refresh or retry time came (or the first start) */ \
  X(challenged)   /* 401/407 answered with credentials: still in flight   */ \
  X(too_brief)    /* 423: sent again with the Min-Expires asked for        */ \
  X(accepted)     /* 2xx granting our binding a lifetime                   */ \
  X(refused)      /* another final answer, a rejected password, a timeout  */

enum class RegEvent : uint8_t {
#define MSGW_X(name) name,
  MSGW_TRUNK_REG_EVENTS(MSGW_X)
#undef MSGW_X
};

inline constexpr std::size_t kRegStateCount = 4, kRegEventCount = 5;
std::string_view reg_state_name(RegState s);
std::string_view reg_event_name(RegEvent e);

// `valid` false: the event cannot happen in the state (a stray answer) and
// is dropped; otherwise the registration goes to `to`.
struct RegTransition {
  RegState from;
  RegEvent event;
  bool valid;
  RegState to;
};
const RegTransition& reg_transition(RegState from, RegEvent event);
const std::array<RegTransition, kRegStateCount * kRegEventCount>& reg_table();

}  // namespace msgw::control
