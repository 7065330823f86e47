// SPDX-License-Identifier: GPL-3.0-or-later
// Overload shedding in the worker, for msgw-control (SipShedState in
// protocol.hpp says when).
//
// msgw-control sheds new INVITEs and REGISTERs before its oSIP2 parse when
// it falls behind its input (sip/admission.hpp), but each one it sheds still
// costs three datagrams through the exception path (the request in through
// the TAP and the kernel, the 503 out, its ACK in): at ten times its
// capacity that work alone fills the core both daemons share.  While the
// control plane's lease says it sheds, the worker answers those requests
// itself with the same stateless 503 + Retry-After, sent back out the port
// they came in on, and drops the ACKs of its own 503s (recognised by the To
// tag it made: a keyed hash of the Call-ID).  The rule of what may be shed
// is the control plane's (msgw/common/sip_admission.hpp): INVITE or
// REGISTER, no To tag, no credentials.  Anything the strict scan below does
// not fully understand (odd framing, folded or over-long lines, missing or
// repeated headers, a CSeq of another method, a message that does not fit)
// goes to the exception path as before, and msgw-control answers it.
//
// Only frames already bound for the exception path come here, and only
// while shedding: the relay path's per-packet cost is unchanged.
#pragma once

#include <cstdint>
#include <string_view>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/packet.hpp"
#include "msgw/dataplane/protocol.hpp"

namespace msgw::dataplane {

enum class SipShedVerdict : uint8_t {
  pass,    // not ours to answer: the exception path, as ever
  answer,  // a 503 + Retry-After was written
  absorb,  // the ACK of one of our 503s: drop it
};

// Limits of the strict scan; a message past any of them passes.
inline constexpr uint32_t kSipShedMaxVia = 16;
inline constexpr uint32_t kSipShedMaxHeaders = 64;
inline constexpr uint32_t kSipShedMaxLine = 1024;
// The largest 503 (a UDP payload in one 1500-byte IPv4 packet).
inline constexpr uint32_t kSipShedMaxResponse = 1500 - 20 - 8;

// "dp" + 16 hex digits.
inline constexpr uint32_t kSipShedTagLen = 18;
// The To tag of the 503 for a request of this Call-ID (the same for its
// retransmissions, so they get the same answer).
void sip_shed_tag(std::string_view call_id, uint64_t key, char out[kSipShedTagLen]);

// The message-level decision on one UDP payload.  answer: the 503 is in
// out[0 .. *out_len) (out holds kSipShedMaxResponse bytes).
SipShedVerdict sip_shed_message(std::string_view msg, uint32_t retry_after_s, uint64_t tag_key,
                                char* out, uint32_t* out_len);

// A frame bound for the exception path of rx_port, while shedding (the
// caller checked the lease): true when it was answered (the frame turned
// into the 503, queued on out.tx[rx_port]) or absorbed (freed), each
// counted; false leaves m untouched for the exception path.  A request it
// could answer still goes through while the worker's share of admit_rate
// has a token (ctx.sip_admit, at now_ns; counted sip_shed_admitted).
// With admit_by_rate false no request goes through (sip_ring_crowded()).
bool sip_shed_frame(WorkerContext& ctx, uint16_t rx_port, rte_mbuf* m, uint64_t now_ns, BurstOutput& out,
                    bool admit_by_rate = true);

// msgw-control's SIP ring (sip_in) holds more than this many datagrams: it
// is that far behind, whatever its lease says yet (its controller acts on
// the queue's age, a step later).  New calls are then answered 503 here and
// none admitted, so that the rest of the ring stays for the messages of the
// calls already taken in (the carrier's 200, the phones' ACKs and BYEs),
// which a full ring would drop (sip_ring_full) and leave to SIP's
// retransmission timers, past any setup threshold.
inline constexpr uint32_t kSipInCrowded = kSipInSlots / 2;
inline bool sip_ring_crowded(const WorkerContext& ctx) {
  return ctx.sip != nullptr && rte_ring_count(ctx.sip->sip_in_ring()) > kSipInCrowded;
}

// The caller's check, inline: shedding now (the lease is in the future).
inline bool sip_shedding(const WorkerContext& ctx, uint64_t now_ns) {
  return ctx.sip_shed != nullptr && now_ns < __atomic_load_n(&ctx.sip_shed->shed_until_ns, __ATOMIC_RELAXED);
}

}  // namespace msgw::dataplane
