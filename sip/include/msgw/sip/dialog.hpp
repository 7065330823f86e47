// SPDX-License-Identifier: GPL-3.0-or-later
// Dialogs (RFC 3261 §12) on oSIP2's dialog layer: creation from a 1xx/2xx
// with a To-tag, route sets, CSeq rules and in-dialog request construction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "msgw/sip/message.hpp"

struct osip_dialog;  // the dialog layer's state; opaque outside sip/

namespace msgw::sip {

class Dialog {
 public:
  enum class Role { Uac, Uas };
  enum class State { Early, Confirmed, Terminated };

  // UAS side: the INVITE received and the 1xx/2xx (with To-tag) sent for it.
  static std::unique_ptr<Dialog> as_uas(MessageRef request, MessageRef response);
  // UAC side: the 1xx/2xx (with To-tag) received for our request.
  static std::unique_ptr<Dialog> as_uac(MessageRef response);
  ~Dialog();
  Dialog(const Dialog&) = delete;
  Dialog& operator=(const Dialog&) = delete;

  Role role() const { return role_; }
  State state() const { return state_; }
  void confirm();
  void terminate() { state_ = State::Terminated; }
  // UAC: a 2xx may carry a different Contact/Record-Route than the 1xx that
  // created the early dialog; the 2xx wins (RFC 3261 §12.1.2, 13.2.2.4).
  void update_from_2xx(MessageRef response);

  const char* call_id() const;     // never null
  const char* local_tag() const;   // never null
  const char* remote_tag() const;  // never null
  std::string key() const;  // call-id, local tag, remote tag
  static std::string key_for_incoming(MessageRef req);   // To-tag is ours
  static std::string key_for_response(MessageRef resp);  // From-tag is ours

  // RFC 3261 §12.2.2: a request with a CSeq lower than the last one is out of
  // order (answered 500). Records the CSeq when accepted.
  bool accept_remote_cseq(MessageRef req);
  uint32_t local_cseq() const;
  uint32_t remote_cseq() const;
  std::size_t route_count() const;
  std::string remote_target() const;
  std::string route(std::size_t i) const;
  // Target refresh (RFC 3261 §12.2.2, RFC 3311 §5.2): a re-INVITE or UPDATE
  // answered 2xx replaces the remote target with the request's Contact, when
  // it has one (RFC 6141 §3.3: a refused one leaves it as it was). False when
  // the request had no usable Contact.
  bool refresh_target(MessageRef request);
  // RFC 3262 §4, UAC side of an early dialog: whether a reliable provisional
  // response with this RSeq is the next in order (the first one: any RSeq),
  // to be PRACKed and passed on; records it when so. A retransmission or an
  // out-of-order one is not.
  bool accept_rseq(uint32_t rseq);

  // New in-dialog request (BYE, re-INVITE, INFO, ...): next local CSeq,
  // Request-URI from the remote target, Route from the route set (loose
  // routing; strict routers get the RFC 3261 §12.2.1.1 treatment). The stack
  // adds Via, Max-Forwards and Contact when it sends it.
  Message make_request(std::string_view method);
  // ACK for a 2xx to the INVITE with the given CSeq (same CSeq number).
  Message make_ack(uint32_t invite_cseq);

  osip_dialog* raw() { return d_; }  // sip/'s own code

 private:
  Dialog(osip_dialog* d, Role r) : d_(d), role_(r) {}
  Message make(std::string_view method, uint32_t cseq);
  osip_dialog* d_;
  Role role_;
  State state_ = State::Early;
  std::optional<uint32_t> last_rseq_;  // the last reliable provisional PRACKed
};

}  // namespace msgw::sip
