// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/sip/dialog.hpp"

#include <osip2/osip_dialog.h>

#include <cstring>

#include "osip_message.hpp"

namespace msgw::sip {

std::unique_ptr<Dialog> Dialog::as_uas(MessageRef request_ref, MessageRef response_ref) {
  const osip_message_t* request = request_ref.get();
  const osip_message_t* response = response_ref.get();
  osip_dialog_t* d = nullptr;
  if (osip_dialog_init_as_uas(&d, const_cast<osip_message_t*>(request), const_cast<osip_message_t*>(response)) != 0)
    return nullptr;
  std::unique_ptr<Dialog> out(new Dialog(d, Role::Uas));
  if (MSG_IS_STATUS_2XX(response)) out->confirm();
  return out;
}

std::unique_ptr<Dialog> Dialog::as_uac(MessageRef response_ref) {
  const osip_message_t* response = response_ref.get();
  if (to_tag(response).empty()) return nullptr;
  osip_dialog_t* d = nullptr;
  if (osip_dialog_init_as_uac(&d, const_cast<osip_message_t*>(response)) != 0) return nullptr;
  std::unique_ptr<Dialog> out(new Dialog(d, Role::Uac));
  if (MSG_IS_STATUS_2XX(response)) out->confirm();
  return out;
}

Dialog::~Dialog() { osip_dialog_free(d_); }

void Dialog::confirm() {
  state_ = State::Confirmed;
  osip_dialog_set_state(d_, DIALOG_CONFIRMED);
}

const char* Dialog::call_id() const { return d_->call_id ? d_->call_id : ""; }
const char* Dialog::local_tag() const { return d_->local_tag ? d_->local_tag : ""; }
const char* Dialog::remote_tag() const { return d_->remote_tag ? d_->remote_tag : ""; }
uint32_t Dialog::local_cseq() const { return static_cast<uint32_t>(d_->local_cseq); }
uint32_t Dialog::remote_cseq() const { return static_cast<uint32_t>(d_->remote_cseq); }

void Dialog::update_from_2xx(MessageRef response_ref) {
  const osip_message_t* response = response_ref.get();
  osip_dialog_update_route_set_as_uac(d_, const_cast<osip_message_t*>(response));
  confirm();
}

bool Dialog::refresh_target(MessageRef request_ref) {
  const osip_message_t* request = request_ref.get();
  auto* contact = static_cast<osip_contact_t*>(osip_list_get(&request->contacts, 0));
  if (contact == nullptr || contact->url == nullptr) return false;  // none, or "*"
  osip_contact_t* copy = nullptr;
  if (osip_contact_clone(contact, &copy) != 0 || copy == nullptr) return false;
  if (d_->remote_contact_uri != nullptr) osip_contact_free(d_->remote_contact_uri);
  d_->remote_contact_uri = copy;
  return true;
}

bool Dialog::accept_rseq(uint32_t rseq) {
  if (last_rseq_ && rseq != *last_rseq_ + 1) return false;
  last_rseq_ = rseq;
  return true;
}

std::string Dialog::key() const {
  std::string k(d_->call_id ? d_->call_id : "");
  k += '\x1f';
  k += d_->local_tag ? d_->local_tag : "";
  k += '\x1f';
  k += d_->remote_tag ? d_->remote_tag : "";
  return k;
}

std::string Dialog::key_for_incoming(MessageRef req_ref) {
  const osip_message_t* req = req_ref.get();
  std::string k(req->call_id && req->call_id->number ? req->call_id->number : "");
  if (req->call_id && req->call_id->host) {
    k += '@';
    k += req->call_id->host;
  }
  k += '\x1f';
  k += to_tag(req);
  k += '\x1f';
  k += from_tag(req);
  return k;
}

std::string Dialog::key_for_response(MessageRef resp_ref) {
  const osip_message_t* resp = resp_ref.get();
  std::string k(resp->call_id && resp->call_id->number ? resp->call_id->number : "");
  if (resp->call_id && resp->call_id->host) {
    k += '@';
    k += resp->call_id->host;
  }
  k += '\x1f';
  k += from_tag(resp);
  k += '\x1f';
  k += to_tag(resp);
  return k;
}

bool Dialog::accept_remote_cseq(MessageRef req_ref) {
  const osip_message_t* req = req_ref.get();
  uint32_t n = cseq_number(req);
  // ACK and CANCEL reuse the CSeq of the request they refer to.
  if (MSG_IS_ACK(req) || MSG_IS_CANCEL(req)) return true;
  if (d_->remote_cseq > 0 && n <= static_cast<uint32_t>(d_->remote_cseq)) return false;
  d_->remote_cseq = static_cast<int>(n);
  return true;
}

std::size_t Dialog::route_count() const { return static_cast<std::size_t>(osip_list_size(&d_->route_set)); }

std::string Dialog::route(std::size_t i) const {
  auto* rr = static_cast<osip_record_route_t*>(osip_list_get(&d_->route_set, static_cast<int>(i)));
  if (rr == nullptr) return {};
  char* s = nullptr;
  osip_record_route_to_str(rr, &s);
  std::string out(s ? s : "");
  osip_free(s);
  return out;
}

std::string Dialog::remote_target() const {
  if (d_->remote_contact_uri == nullptr || d_->remote_contact_uri->url == nullptr) return {};
  char* s = nullptr;
  osip_uri_to_str(d_->remote_contact_uri->url, &s);
  std::string out(s ? s : "");
  osip_free(s);
  return out;
}

MessagePtr Dialog::make_request(std::string_view method) {
  ++d_->local_cseq;
  return make(method, static_cast<uint32_t>(d_->local_cseq));
}

MessagePtr Dialog::make_ack(uint32_t invite_cseq) { return make("ACK", invite_cseq); }

MessagePtr Dialog::make(std::string_view method, uint32_t cseq) {
  osip_message_t* m = nullptr;
  if (osip_message_init(&m) != 0) return {};
  MessagePtr msg(m);
  std::string meth(method);
  osip_message_set_method(m, osip_strdup(meth.c_str()));
  osip_message_set_version(m, osip_strdup("SIP/2.0"));

  // Request-URI and Route (RFC 3261 §12.2.1.1).
  osip_uri_t* target = nullptr;
  if (d_->remote_contact_uri && d_->remote_contact_uri->url) osip_uri_clone(d_->remote_contact_uri->url, &target);
  else if (d_->remote_uri && d_->remote_uri->url) osip_uri_clone(d_->remote_uri->url, &target);
  if (target == nullptr) return {};
  auto* first = static_cast<osip_record_route_t*>(osip_list_get(&d_->route_set, 0));
  osip_uri_param_t* lr = nullptr;
  if (first && first->url) osip_uri_uparam_get_byname(first->url, const_cast<char*>("lr"), &lr);
  const bool strict = first != nullptr && lr == nullptr;
  int start = 0;
  if (strict) {
    // Strict router: its URI becomes the Request-URI and the remote target
    // goes last in the Route set.
    osip_uri_t* ruri = nullptr;
    osip_uri_clone(first->url, &ruri);
    osip_message_set_uri(m, ruri);
    start = 1;
  } else {
    osip_message_set_uri(m, target);
    target = nullptr;
  }
  for (int i = start; i < osip_list_size(&d_->route_set); ++i) {
    auto* rr = static_cast<osip_record_route_t*>(osip_list_get(&d_->route_set, i));
    osip_route_t* r = nullptr;
    if (osip_record_route_clone(rr, reinterpret_cast<osip_record_route_t**>(&r)) == 0)
      osip_list_add(&m->routes, r, -1);
  }
  if (strict && target) {
    osip_route_t* r = nullptr;
    osip_route_init(&r);
    r->url = target;
    target = nullptr;
    osip_list_add(&m->routes, r, -1);
  }
  if (target) osip_uri_free(target);

  osip_from_clone(d_->local_uri, &m->from);
  osip_to_clone(d_->remote_uri, &m->to);
  // oSIP2 keeps the tags apart from the URIs for the UAS side.
  if (m->from && d_->local_tag && tag_param(m->from) == nullptr)
    osip_from_set_tag(m->from, osip_strdup(d_->local_tag));
  if (m->to && d_->remote_tag && tag_param(m->to) == nullptr)
    osip_to_set_tag(m->to, osip_strdup(d_->remote_tag));
  osip_call_id_init(&m->call_id);
  osip_call_id_parse(m->call_id, d_->call_id);
  osip_cseq_init(&m->cseq);
  osip_cseq_set_number(m->cseq, osip_strdup(std::to_string(cseq).c_str()));
  osip_cseq_set_method(m->cseq, osip_strdup(meth.c_str()));
  return msg;
}

}  // namespace msgw::sip
