// SPDX-License-Identifier: GPL-3.0-or-later
// Transaction timers and identifiers. The transaction state machines are
// oSIP2's ICT/IST/NICT/NIST; the stack (stack.hpp) owns them and drives their
// timers from its event loop.
#pragma once

#include <chrono>

namespace msgw::sip {

// RFC 3261 §17 timer base values. Tests shorten T1 so that the full
// retransmission / timeout schedule runs in about a second; every timer that
// the RFC derives from T1 (A, B, D, E, F, G, H, J, and the 2xx retransmission)
// scales with it.
struct Timers {
  std::chrono::milliseconds t1{500};
  std::chrono::milliseconds t2{4000};
  std::chrono::milliseconds t4{5000};
};

// oSIP2's transaction id: unique per stack instance, never reused.
using TxnId = int;
constexpr TxnId kNoTxn = 0;

}  // namespace msgw::sip
