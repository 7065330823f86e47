// SPDX-License-Identifier: GPL-3.0-or-later
// Bounds on what the stack accepts from the network, and the counters that
// record every message refused or dropped because of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

#include "msgw/sip/admission.hpp"

namespace msgw::sip {

struct Limits {
  // A UDP datagram cannot exceed 65535 bytes; TCP messages are bounded the
  // same way so one peer cannot make the stack buffer without limit.
  std::size_t max_message_bytes = 65535;
  // Bytes a TCP connection may hold while a message is incomplete.
  std::size_t max_stream_buffer = 131072;
  std::size_t max_header_count = 200;
  std::size_t max_header_line = 8192;
  std::size_t max_via_depth = 70;
  // Beyond these the stack sheds load (503 / refused connection) instead of
  // growing without bound under a flood.
  std::size_t max_transactions = 65536;
  // Transactions past their final response, kept as the bytes they resend
  // (stack_completed.cpp) for up to 32 s: one per call's BYE, so rate x 32 s
  // of them (128 K at 4,000 calls/s, ~0.5 KiB each).  Beyond this the
  // soonest to expire go first (Stats::completed_evicted), not new calls.
  std::size_t max_completed = 262144;
  std::size_t max_tcp_connections = 1024;
  // Kernel buffers of each UDP listening socket.  Linux's default (~208 KiB)
  // holds fewer than a hundred datagrams: a burst of INVITEs during a few
  // tens of milliseconds of busy event loop overflowed it at 700 calls/s and
  // every drop came back as a retransmission.  Forced past rmem_max when
  // privileged (SO_RCVBUFFORCE), else as large as the system allows.
  std::size_t udp_socket_buffer = 8u << 20;
};

// The methods the stack knows (others get 501), one list: the known-method
// check and the per-method request counters (msgw-control's /metrics).
#define MSGW_SIP_METHODS(X) \
  X(INVITE) X(ACK) X(BYE) X(CANCEL) X(OPTIONS) X(REGISTER) X(INFO) X(NOTIFY) X(UPDATE) X(PRACK) \
  X(SUBSCRIBE) X(REFER) X(MESSAGE) X(PUBLISH)

inline constexpr std::string_view kSipMethods[] = {
#define MSGW_X(m) #m,
    MSGW_SIP_METHODS(MSGW_X)
#undef MSGW_X
};
inline constexpr std::size_t kSipMethodCount = std::size(kSipMethods);
// Index of a method in kSipMethods; kSipMethodCount for any other.
constexpr std::size_t sip_method_index(std::string_view m) {
  for (std::size_t i = 0; i < kSipMethodCount; ++i)
    if (kSipMethods[i] == m) return i;
  return kSipMethodCount;
}
// Status codes counted one by one: 100..699.
inline constexpr int kFirstCountedStatus = 100, kLastCountedStatus = 699;

// SIP datagrams through a DatagramPath (datagram_path.hpp) instead of the
// kernel's UDP sockets: X(name, help), one list for Stats and /metrics.
#define MSGW_SIP_PATH_COUNTERS(X)                                                                              \
  X(segment_rx_datagrams, "SIP datagrams received through the dataplane's shared memory, not a kernel socket") \
  X(segment_tx_datagrams, "SIP datagrams sent through the dataplane's shared memory, not a kernel socket")     \
  X(segment_tx_fallbacks, "SIP datagrams the shared-memory path refused (ring full, dataplane down), sent "    \
                          "through the kernel's socket instead")                                              \
  X(segment_rx_no_listener, "SIP datagrams from the shared memory to an address:port with no UDP listener, "   \
                            "dropped")

// Answers sent with no transaction, as a stateless server does (RFC 3261
// §16.11, §17.2): X(name, help), one list for Stats and /metrics.
#define MSGW_SIP_STATELESS_COUNTERS(X)                                                                          \
  X(stateless_answers, "new requests answered at once with no transaction (the digest challenge of a request " \
                       "without credentials); a retransmission is answered again")                            \
  X(stateless_acks_absorbed, "ACKs of responses sent with no transaction (challenges, 400s, 503s), dropped "    \
                             "from the pre-scan unparsed")

// The transaction tables' bounds (Limits): X(name, help), one list for Stats and /metrics.
#define MSGW_SIP_TABLE_COUNTERS(X)                                                                              \
  X(overload_rejections, "new requests answered 503 Too Many Transactions: max_transactions running at once")   \
  X(completed_evicted, "transactions past their final response forgotten before their 32 s were up "           \
                       "(over max_completed): a retransmission of theirs is no longer recognised")

// Responses to our INVITEs the stack handles itself: reliable provisionals
// (RFC 3262) and 2xx from forked branches (RFC 3261 §13.2.2.4): X(name, help).
#define MSGW_SIP_UAC_INVITE_COUNTERS(X)                                                                       \
  X(pracks_sent, "PRACKs sent for reliable provisional responses (Require: 100rel) to our INVITEs")            \
  X(reliable_provisionals_discarded, "reliable provisional responses not passed on: a retransmission (PRACK "  \
                                     "already sent) or out of order (RSeq not one more than the last)")       \
  X(forked_2xx_released, "2xx to our INVITE from a branch not taken (a forking proxy's second answer): ACKed " \
                         "and ended with a BYE")

// Counters are plain integers: the stack is driven by one thread.
struct Stats {
  uint64_t rx_messages = 0;
  uint64_t rx_requests = 0;
  uint64_t rx_responses = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_messages = 0;
  uint64_t tx_errors = 0;
  uint64_t bad_messages = 0;          // any input refused (answered or dropped)
  uint64_t dropped_messages = 0;      // refused with no response possible
  uint64_t oversize_messages = 0;     // over max_message_bytes
  uint64_t too_many_headers = 0;
  uint64_t via_too_deep = 0;
  uint64_t framing_errors = 0;        // TCP Content-Length problems
  uint64_t stray_responses = 0;       // no client transaction matched
  uint64_t stray_acks = 0;
  uint64_t retransmissions_absorbed = 0;
  uint64_t retransmissions_sent = 0;
  uint64_t transactions_created = 0;
  uint64_t transactions_timed_out = 0;
  uint64_t transactions_live = 0;
  uint64_t dialogs_live = 0;
  uint64_t tcp_connections_accepted = 0;
  uint64_t tcp_connections_opened = 0;
  uint64_t tcp_connections_closed_idle = 0;
  uint64_t tcp_connections_refused = 0;  // over max_tcp_connections
  // Admission (admission.hpp): shedding and per-source blocks.
#define MSGW_X(name, help) uint64_t name = 0;
  MSGW_SIP_ADMISSION_COUNTERS(MSGW_X)
#undef MSGW_X
#define MSGW_X(name, help) uint64_t name = 0;
  MSGW_SIP_PATH_COUNTERS(MSGW_X)
#undef MSGW_X
#define MSGW_X(name, help) uint64_t name = 0;
  MSGW_SIP_STATELESS_COUNTERS(MSGW_X)
  MSGW_SIP_TABLE_COUNTERS(MSGW_X)
  MSGW_SIP_UAC_INVITE_COUNTERS(MSGW_X)
#undef MSGW_X
  uint64_t overloaded = 0;                  // 1 while shedding
  uint64_t rx_queue_age_recent_max_us = 0;  // oldest datagram met in the last second or two
  uint64_t rx_queue_age_last_us = 0;        // the age of the last datagram met (0: none had one)
  // Well-formed new INVITEs and REGISTERs without credentials taken in
  // (not shed): the requests overload shedding acts on
  // (msgw/common/sip_admission.hpp), so the rate msgw-control admits.
  uint64_t rx_new_requests = 0;
  uint64_t responses_by_class[7] = {};  // index = status / 100, for responses the stack sent
  // Well-formed requests received, by sip_method_index (last: other methods).
  uint64_t rx_requests_by_method[kSipMethodCount + 1] = {};
  // Responses received / sent, by status - kFirstCountedStatus.
  uint64_t rx_responses_by_status[kLastCountedStatus - kFirstCountedStatus + 1] = {};
  uint64_t tx_responses_by_status[kLastCountedStatus - kFirstCountedStatus + 1] = {};
  void count_sent(int status) {
    if (status < kFirstCountedStatus || status > kLastCountedStatus) return;
    ++responses_by_class[status / 100];
    ++tx_responses_by_status[status - kFirstCountedStatus];
  }
};

}  // namespace msgw::sip
