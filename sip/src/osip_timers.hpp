// SPDX-License-Identifier: GPL-3.0-or-later
// oSIP2 transaction timers (RFC 3261 §17: A, B, D; E, F, K; G, H, I; J),
// fired by msgw instead of by oSIP2's osip_timers_*_execute.
//
// oSIP2 finds due timers by walking every transaction it holds, four lists
// (ICT, IST, NICT, NIST) on every call; at 1,000 calls a second tens of
// thousands of transactions are alive and those walks were over half of
// msgw-control's CPU.  The stack instead keeps a deadline heap
// (stack_timers.cpp) and looks only at transactions whose deadline passed.
// For that it needs two answers per transaction, given here from oSIP2's
// public structures alone (osip_ict/osip_ist/osip_nict/osip_nist in
// <osip2/osip.h>: each timer is a `timer_x_start` deadline, tv_sec == -1
// when disarmed):
//   - when is its next timer due (to index it), and
//   - which timer is due now, as the timeout event oSIP2's state machine
//     consumes (osip_transaction_execute frees it).
// The rules are oSIP2's own (its per-kind check order, the state each timer
// may fire in, a deadline passed strictly before `now`), listed once in
// osip_timers.cpp; tests/unit/sip/test_core_osip_timers.cpp pins them.
#pragma once

#include <sys/time.h>  // before osip.h, whose structs hold timevals
#include <time.h>

#include <osip2/osip.h>

#include <cstdint>
#include <limits>

namespace msgw::sip {

// A deadline that never comes.
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// oSIP2's clock (osip_gettimeofday: CLOCK_MONOTONIC on Linux) in
// microseconds; its timer deadlines are timevals on that clock.
int64_t osip_now_us();
constexpr int64_t to_us(const timeval& tv) { return int64_t(tv.tv_sec) * 1000000 + tv.tv_usec; }

// Earliest deadline later than `after` among the transaction's armed timers
// that can fire in its current state; kNever if none.  A timer armed in a
// state where oSIP2 would not fire it is left out: the state changes only by
// an event, after which the stack asks again.
int64_t next_timer_deadline(const osip_transaction_t* tr, int64_t after = std::numeric_limits<int64_t>::min());

// The timeout event (type TIMEOUT_x, the transaction's oSIP2 id) of the first
// timer due at `now_us` in oSIP2's check order for the transaction's kind,
// allocated with osip_malloc for osip_transaction_execute; nullptr if none
// is due.
osip_event_t* due_timer_event(const osip_transaction_t* tr, int64_t now_us);

}  // namespace msgw::sip
