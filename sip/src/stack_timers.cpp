// SPDX-License-Identifier: GPL-3.0-or-later
// Transaction timers: the RFC 3261 values applied to oSIP2's transactions,
// the deadline heap that replaces oSIP2's walks, and run_timers.
//
// oSIP2 finds due timers by walking every live transaction (and polls each
// one's event queue in a second walk); at 1,000 calls a second some 35,000
// are alive (a BYE's server transaction waits out Timer J, 32 s) and those
// walks were over half of msgw-control's CPU in a bench-calls profile.  So
// the stack indexes deadlines instead: after every event a transaction's
// earliest timer that can fire in its new state goes into a heap, and only
// transactions whose deadline passed are checked (osip_timers.cpp), their
// timeout event run through oSIP2's state machine.  The TU's 2xx
// retransmissions and the RFC 6026 "Accepted" entries are indexed the same
// way (stack_2xx.cpp).
#include "stack_impl.hpp"

#include <osip2/osip_time.h>

#include <algorithm>

namespace msgw::sip {
namespace {

void add_ms(timeval& tv, long ms) { add_gettimeofday(&tv, static_cast<int>(ms)); }

}  // namespace

// oSIP2 arms its timers from compile-time T1/T2/T4; a new transaction gets
// the configured ones (TCP: no retransmission wait for D, I, J, K).
void Stack::Impl::apply_timers(osip_transaction_t* tr, bool reliable) {
  const long t1 = cfg.timers.t1.count(), t4 = cfg.timers.t4.count();
  timeval now{};
  osip_gettimeofday(&now, nullptr);
  if (auto* c = tr->ict_context) {
    if (c->timer_a_length > 0) {
      c->timer_a_length = static_cast<int>(t1);
      c->timer_a_start = now;
      add_ms(c->timer_a_start, t1);
    }
    c->timer_b_length = static_cast<int>(64 * t1);
    c->timer_b_start = now;
    add_ms(c->timer_b_start, 64 * t1);
    c->timer_d_length = reliable ? 0 : static_cast<int>(std::max<long>(64 * t1, std::min<long>(32000, 64 * t1)));
  }
  if (auto* c = tr->nict_context) {
    if (c->timer_e_length > 0) {
      c->timer_e_length = static_cast<int>(t1);
      c->timer_e_start = now;
      add_ms(c->timer_e_start, t1);
    }
    c->timer_f_length = static_cast<int>(64 * t1);
    c->timer_f_start = now;
    add_ms(c->timer_f_start, 64 * t1);
    c->timer_k_length = reliable ? 0 : static_cast<int>(t4);
  }
  if (auto* c = tr->ist_context) {
    if (c->timer_g_length > 0) c->timer_g_length = static_cast<int>(t1);
    c->timer_h_length = static_cast<int>(64 * t1);
    c->timer_i_length = reliable ? 0 : static_cast<int>(t4);
  }
  if (auto* c = tr->nist_context) c->timer_j_length = reliable ? 0 : static_cast<int>(64 * t1);
}

// Timers E and G: oSIP2 steps them with its compile-time T1/T2 (and adds
// 500 ms to values under T1); the RFC 3261 schedule with the configured
// T1/T2 is restored after each firing: E doubles to T2 (T2 once a
// provisional arrived), G doubles to T2.
void Stack::Impl::rearm(osip_transaction_t* tr) {
  auto it = txns.find(id_of(tr));
  if (it == txns.end()) return;
  const long t2 = cfg.timers.t2.count();
  long& rtx = it->second.rtx_ms;
  if (rtx <= 0) rtx = cfg.timers.t1.count();
  timeval now{};
  osip_gettimeofday(&now, nullptr);
  if (auto* c = tr->nict_context; c && c->timer_e_length > 0) {
    rtx = tr->state == NICT_TRYING ? std::min(2 * rtx, t2) : t2;
    c->timer_e_length = static_cast<int>(rtx);
    c->timer_e_start = now;
    add_ms(c->timer_e_start, rtx);
  } else if (auto* g = tr->ist_context; g && g->timer_g_length > 0) {
    rtx = std::min(2 * rtx, t2);
    g->timer_g_length = static_cast<int>(rtx);
    g->timer_g_start = now;
    add_ms(g->timer_g_start, rtx);
  }
}

// Every event goes through here so the transaction's next timer deadline
// is indexed from whatever the state machine just armed.
void Stack::Impl::run_event(osip_transaction_t* tr, osip_event_t* ev, int64_t after) {
  if (ev != nullptr) osip_transaction_execute(tr, ev);
  arm(id_of(tr), after);
  if (only_absorbs(tr)) completing.push_back(id_of(tr));  // settle() keeps it as bytes
}

void Stack::Impl::arm(TxnId id, int64_t after) {
  auto it = txns.find(id);
  if (it == txns.end()) return;
  const int64_t due = next_timer_deadline(it->second.tr, after);
  if (due == it->second.armed_us) return;
  it->second.armed_us = due;
  if (due != kNever) txn_timers.push({due, id});
}

int Stack::Impl::next_timeout_ms() const {
  long best = -1;
  auto consider = [&best](long ms) {
    ms = std::max<long>(0, ms);
    if (best < 0 || ms < best) best = ms;
  };
  // Rounded up: never wake before the deadline.
  if (!txn_timers.empty()) consider(long((txn_timers.top().due_us - osip_now_us() + 999) / 1000));
  auto until = [](Clock::time_point t) {
    return long(std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count()) + 1;
  };
  if (!timers_2xx.empty()) consider(until(timers_2xx.top().due));
  if (!accepted_expiry.empty()) consider(until(accepted_expiry.front().first));
  if (!completed_timers.empty()) consider(long((completed_timers.top().due_us - osip_now_us() + 999) / 1000));
  if (own) {
    int t = own->next_timeout_ms();
    if (t >= 0) consider(t);
  }
  return static_cast<int>(std::min<long>(best, 3600L * 1000));
}

void Stack::Impl::run_transaction_timers() {
  // Take what is due now first: an event may re-arm a timer that is already
  // past, and that one waits for the next pass as it would in oSIP2's walk.
  const int64_t now = osip_now_us();
  std::vector<TxnId> due;
  while (!txn_timers.empty() && txn_timers.top().due_us < now) {
    const TxnTimer e = txn_timers.top();
    txn_timers.pop();
    auto it = txns.find(e.id);
    if (it == txns.end() || it->second.armed_us != e.due_us) continue;  // superseded
    it->second.armed_us = kNever;
    due.push_back(e.id);
  }
  for (TxnId id : due) {
    auto it = txns.find(id);
    if (it == txns.end()) continue;
    osip_transaction_t* tr = it->second.tr;
    const int64_t checked = osip_now_us();
    osip_event_t* ev = due_timer_event(tr, checked);
    // Nothing fired: cannot happen while every event re-indexes its
    // transaction (the entry was due and may fire in this state), but a stale
    // entry must not spin: index only deadlines after this check.
    run_event(tr, ev, ev != nullptr ? kAnyTime : checked - 1);
    settle();
  }
}

void Stack::Impl::run_timers() {
  run_transaction_timers();
  settle();
  expire_completed(osip_now_us());
  run_2xx_timers(Clock::now());
  if (own) own->run_timers();
}

}  // namespace msgw::sip
