// SPDX-License-Identifier: GPL-3.0-or-later
// Which oSIP2 transaction timer is due, from oSIP2's public structures (see
// osip_timers.hpp for why msgw, not oSIP2, finds due timers).
#include "osip_timers.hpp"

#include <osip2/osip_time.h>

#include <cstdlib>  // osip_malloc may expand to malloc
#include <cstring>
#include <span>

namespace msgw::sip {
namespace {

// One timer of one transaction kind: the event its expiry feeds to the state
// machine, the states in which oSIP2 fires it (a timer left armed in another
// state is ignored there), and where its deadline lives.
struct TimerRule {
  type_t event;
  state_t fires_in, or_in;
  const timeval* (*deadline)(const osip_transaction_t&);
};

// The deadline field `Field` of the context `Context` (nullptr without one).
template <auto Context, auto Field>
const timeval* deadline_of(const osip_transaction_t& tr) {
  const auto* context = tr.*Context;
  return context != nullptr ? &(context->*Field) : nullptr;
}

using T = osip_transaction_t;

// Per kind, in the order oSIP2's osip_timers_*_execute checks them (the
// transaction-ending timer first): at most one fires per check, and the
// first due wins.
constexpr TimerRule kIctRules[] = {
    {TIMEOUT_B, ICT_CALLING, ICT_CALLING, &deadline_of<&T::ict_context, &osip_ict::timer_b_start>},
    {TIMEOUT_A, ICT_CALLING, ICT_CALLING, &deadline_of<&T::ict_context, &osip_ict::timer_a_start>},
    {TIMEOUT_D, ICT_COMPLETED, ICT_COMPLETED, &deadline_of<&T::ict_context, &osip_ict::timer_d_start>},
};
constexpr TimerRule kIstRules[] = {
    {TIMEOUT_I, IST_CONFIRMED, IST_CONFIRMED, &deadline_of<&T::ist_context, &osip_ist::timer_i_start>},
    {TIMEOUT_H, IST_COMPLETED, IST_COMPLETED, &deadline_of<&T::ist_context, &osip_ist::timer_h_start>},
    {TIMEOUT_G, IST_COMPLETED, IST_COMPLETED, &deadline_of<&T::ist_context, &osip_ist::timer_g_start>},
};
constexpr TimerRule kNictRules[] = {
    {TIMEOUT_K, NICT_COMPLETED, NICT_COMPLETED, &deadline_of<&T::nict_context, &osip_nict::timer_k_start>},
    {TIMEOUT_F, NICT_TRYING, NICT_PROCEEDING, &deadline_of<&T::nict_context, &osip_nict::timer_f_start>},
    {TIMEOUT_E, NICT_TRYING, NICT_PROCEEDING, &deadline_of<&T::nict_context, &osip_nict::timer_e_start>},
};
constexpr TimerRule kNistRules[] = {
    {TIMEOUT_J, NIST_COMPLETED, NIST_COMPLETED, &deadline_of<&T::nist_context, &osip_nist::timer_j_start>},
};

std::span<const TimerRule> rules_for(const osip_transaction_t& tr) {
  switch (tr.ctx_type) {
    case ICT: return kIctRules;
    case IST: return kIstRules;
    case NICT: return kNictRules;
    case NIST: return kNistRules;
  }
  return {};
}

// The rule's deadline in microseconds if it is armed and may fire in the
// transaction's state, else kNever.
int64_t armed_deadline(const TimerRule& rule, const osip_transaction_t& tr) {
  if (tr.state != rule.fires_in && tr.state != rule.or_in) return kNever;
  const timeval* tv = rule.deadline(tr);
  if (tv == nullptr || tv->tv_sec == -1) return kNever;  // oSIP2's "not started"
  return to_us(*tv);
}

}  // namespace

int64_t osip_now_us() {
  timeval tv{};
  osip_gettimeofday(&tv, nullptr);
  return to_us(tv);
}

int64_t next_timer_deadline(const osip_transaction_t* tr, int64_t after) {
  int64_t best = kNever;
  for (const TimerRule& rule : rules_for(*tr)) {
    const int64_t d = armed_deadline(rule, *tr);
    if (d != kNever && d > after && d < best) best = d;
  }
  return best;
}

osip_event_t* due_timer_event(const osip_transaction_t* tr, int64_t now_us) {
  for (const TimerRule& rule : rules_for(*tr)) {
    const int64_t d = armed_deadline(rule, *tr);
    if (d == kNever || !(now_us > d)) continue;  // oSIP2 fires once `now` is strictly past
    auto* ev = static_cast<osip_event_t*>(osip_malloc(sizeof(osip_event_t)));
    if (ev == nullptr) return nullptr;
    std::memset(ev, 0, sizeof *ev);
    ev->type = rule.event;
    ev->transactionid = tr->transactionid;
    return ev;
  }
  return nullptr;
}

}  // namespace msgw::sip
