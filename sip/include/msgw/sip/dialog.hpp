// Dialogs (RFC 3261 §12) on oSIP2's osip_dialog_t: creation from a 1xx/2xx
// with a To-tag, route sets, CSeq rules and in-dialog request construction.
#pragma once

#include <sys/time.h>
#include <time.h>

#include <osip2/osip_dialog.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "msgw/sip/message.hpp"

namespace msgw::sip {

class Dialog {
 public:
  enum class Role { Uac, Uas };
  enum class State { Early, Confirmed, Terminated };

  // UAS side: the INVITE received and the 1xx/2xx (with To-tag) sent for it.
  static std::unique_ptr<Dialog> as_uas(const osip_message_t* request, const osip_message_t* response);
  // UAC side: the 1xx/2xx (with To-tag) received for our request.
  static std::unique_ptr<Dialog> as_uac(const osip_message_t* response);
  ~Dialog();
  Dialog(const Dialog&) = delete;
  Dialog& operator=(const Dialog&) = delete;

  Role role() const { return role_; }
  State state() const { return state_; }
  void confirm() { state_ = State::Confirmed; osip_dialog_set_state(d_, DIALOG_CONFIRMED); }
  void terminate() { state_ = State::Terminated; }
  // UAC: a 2xx may carry a different Contact/Record-Route than the 1xx that
  // created the early dialog; the 2xx wins (RFC 3261 §12.1.2, 13.2.2.4).
  void update_from_2xx(const osip_message_t* response);

  const char* call_id() const { return d_->call_id; }
  const char* local_tag() const { return d_->local_tag; }
  const char* remote_tag() const { return d_->remote_tag; }
  std::string key() const;  // call-id, local tag, remote tag
  static std::string key_for_incoming(const osip_message_t* req);   // To-tag is ours
  static std::string key_for_response(const osip_message_t* resp);  // From-tag is ours

  // RFC 3261 §12.2.2: a request with a CSeq lower than the last one is out of
  // order (answered 500). Records the CSeq when accepted.
  bool accept_remote_cseq(const osip_message_t* req);
  uint32_t local_cseq() const { return static_cast<uint32_t>(d_->local_cseq); }
  uint32_t remote_cseq() const { return static_cast<uint32_t>(d_->remote_cseq); }
  std::size_t route_count() const;
  std::string remote_target() const;
  std::string route(std::size_t i) const;

  // New in-dialog request (BYE, re-INVITE, INFO, ...): next local CSeq,
  // Request-URI from the remote target, Route from the route set (loose
  // routing; strict routers get the RFC 3261 §12.2.1.1 treatment). The stack
  // adds Via, Max-Forwards and Contact when it sends it.
  MessagePtr make_request(std::string_view method);
  // ACK for a 2xx to the INVITE with the given CSeq (same CSeq number).
  MessagePtr make_ack(uint32_t invite_cseq);

  osip_dialog_t* raw() { return d_; }

 private:
  Dialog(osip_dialog_t* d, Role r) : d_(d), role_(r) {}
  MessagePtr make(std::string_view method, uint32_t cseq);
  osip_dialog_t* d_;
  Role role_;
  State state_ = State::Early;
};

}  // namespace msgw::sip
