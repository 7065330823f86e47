// SPDX-License-Identifier: GPL-3.0-or-later
// The trunk state machines' tables (see trunk_state.hpp), checked at
// compile time to be total and in slot order.
#include "msgw/control/trunk_state.hpp"

namespace msgw::control {
namespace {

using H = TrunkHealth;
using HE = TrunkHealthEvent;

constexpr std::array<HealthTransition, kTrunkHealthCount * kTrunkHealthEventCount> kHealth = {{
    {H::up, HE::ping_ok, H::up, H::up},
    {H::up, HE::ping_failed, H::failing, H::down},      // down_after = 1 goes down at once
    {H::failing, HE::ping_ok, H::up, H::up},            // one good answer clears a failing run
    {H::failing, HE::ping_failed, H::failing, H::down},
    {H::down, HE::ping_ok, H::recovering, H::up},       // up_after = 1 comes up at once
    {H::down, HE::ping_failed, H::down, H::down},
    {H::recovering, HE::ping_ok, H::recovering, H::up},
    {H::recovering, HE::ping_failed, H::down, H::down}, // a failure restarts the count
}};

using R = RegState;
using RE = RegEvent;

constexpr RegTransition ok(R from, RE e, R to) { return {from, e, true, to}; }
constexpr RegTransition stray(R from, RE e) { return {from, e, false, from}; }

constexpr std::array<RegTransition, kRegStateCount * kRegEventCount> kReg = {{
    ok(R::off, RE::due, R::registering),  // register turned on (start, reload)
    stray(R::off, RE::challenged),
    stray(R::off, RE::too_brief),
    stray(R::off, RE::accepted),
    stray(R::off, RE::refused),
    stray(R::registering, RE::due),       // one REGISTER in flight at a time
    ok(R::registering, RE::challenged, R::registering),
    ok(R::registering, RE::too_brief, R::registering),  // RFC 3261 §10.2.8
    ok(R::registering, RE::accepted, R::registered),
    ok(R::registering, RE::refused, R::failed),
    ok(R::registered, RE::due, R::registering),  // refresh before expiry
    stray(R::registered, RE::challenged),
    stray(R::registered, RE::too_brief),
    stray(R::registered, RE::accepted),
    stray(R::registered, RE::refused),
    ok(R::failed, RE::due, R::registering),      // retry after the back-off
    stray(R::failed, RE::challenged),
    stray(R::failed, RE::too_brief),
    stray(R::failed, RE::accepted),
    stray(R::failed, RE::refused),
}};

template <class T, std::size_t N, std::size_t Events>
constexpr bool in_slot_order(const std::array<T, N>& table) {
  for (std::size_t i = 0; i < N; ++i)
    if (static_cast<std::size_t>(table[i].from) * Events + static_cast<std::size_t>(table[i].event) != i)
      return false;
  return true;
}
static_assert(in_slot_order<HealthTransition, kHealth.size(), kTrunkHealthEventCount>(kHealth),
              "trunk health table: one row per (state, event), in order");
static_assert(in_slot_order<RegTransition, kReg.size(), kRegEventCount>(kReg),
              "trunk registration table: one row per (state, event), in order");

// Each list's names, from the list itself (trunk_state.hpp).
#define MSGW_NAME_OF(name) #name,
constexpr std::string_view kHealthNames[] = {MSGW_TRUNK_HEALTH_STATES(MSGW_NAME_OF)};
constexpr std::string_view kHealthEventNames[] = {MSGW_TRUNK_HEALTH_EVENTS(MSGW_NAME_OF)};
constexpr std::string_view kRegNames[] = {MSGW_TRUNK_REG_STATES(MSGW_NAME_OF)};
constexpr std::string_view kRegEventNames[] = {MSGW_TRUNK_REG_EVENTS(MSGW_NAME_OF)};
#undef MSGW_NAME_OF
static_assert(std::size(kHealthNames) == kTrunkHealthCount && std::size(kHealthEventNames) == kTrunkHealthEventCount);
static_assert(std::size(kRegNames) == kRegStateCount && std::size(kRegEventNames) == kRegEventCount);

}  // namespace

std::string_view health_name(TrunkHealth h) { return kHealthNames[static_cast<std::size_t>(h)]; }
std::string_view health_event_name(TrunkHealthEvent e) { return kHealthEventNames[static_cast<std::size_t>(e)]; }
const HealthTransition& health_transition(TrunkHealth from, TrunkHealthEvent event) {
  return kHealth[static_cast<std::size_t>(from) * kTrunkHealthEventCount + static_cast<std::size_t>(event)];
}
const std::array<HealthTransition, kTrunkHealthCount * kTrunkHealthEventCount>& health_table() { return kHealth; }

std::string_view reg_state_name(RegState s) { return kRegNames[static_cast<std::size_t>(s)]; }
std::string_view reg_event_name(RegEvent e) { return kRegEventNames[static_cast<std::size_t>(e)]; }
const RegTransition& reg_transition(RegState from, RegEvent event) {
  return kReg[static_cast<std::size_t>(from) * kRegEventCount + static_cast<std::size_t>(event)];
}
const std::array<RegTransition, kRegStateCount * kRegEventCount>& reg_table() { return kReg; }

}  // namespace msgw::control
