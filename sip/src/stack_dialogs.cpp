// SPDX-License-Identifier: GPL-3.0-or-later
// Dialog bookkeeping: dialogs are made by a To-tagged 1xx/2xx to INVITE
// (received: UAC, sent: UAS), confirmed by the 2xx, ended by a non-2xx final
// to the INVITE or by BYE, and removed with their pending 2xx and sent ACK.
#include "stack_impl.hpp"

namespace msgw::sip {
namespace {

// The UAS-side key of Dialog::key_for_incoming, from the INVITE and the
// To-tag of our response to it.
std::string uas_dialog_key(const osip_message_t* req, const std::string& our_tag) {
  return std::string(req->call_id->number ? req->call_id->number : "") +
         (req->call_id->host ? std::string("@") + req->call_id->host : "") + '\x1f' + our_tag + '\x1f' +
         from_tag(req);
}

}  // namespace

Dialog* Stack::Impl::track_uac_dialog(const osip_message_t* resp) {
  Dialog* d = nullptr;
  const bool invite = cseq_method(resp) == "INVITE";
  if (invite && resp->status_code > 100 && resp->status_code < 300 && !to_tag(resp).empty()) {
    std::string key = Dialog::key_for_response(resp);
    auto dit = dialogs.find(key);
    if (dit == dialogs.end()) {
      if (auto nd = Dialog::as_uac(resp)) dit = dialogs.emplace(key, std::move(nd)).first;
    } else if (resp->status_code >= 200) {
      dit->second->update_from_2xx(resp);
    }
    if (dit != dialogs.end()) d = dit->second.get();
  } else if (invite && resp->status_code >= 300) {
    // A failed initial INVITE ends its early dialog; a failed re-INVITE
    // leaves the confirmed dialog as it was (RFC 3261 §14.1).
    auto dit = dialogs.find(Dialog::key_for_response(resp));
    if (dit != dialogs.end() && dit->second->state() != Dialog::State::Confirmed) dialogs.erase(dit);
  } else if (!invite) {
    auto dit = dialogs.find(Dialog::key_for_response(resp));
    if (dit != dialogs.end()) {
      d = dit->second.get();
      // A BYE answered (or refused as unknown) ends the dialog.
      if (cseq_method(resp) == "BYE" && resp->status_code >= 200) d->terminate();
    }
  }
  return d;
}

Dialog* Stack::Impl::track_uas_dialog(const Txn& t, const osip_message_t* req, osip_message_t* resp) {
  const int status = resp->status_code;
  if (status <= 100) return nullptr;
  const std::string key = uas_dialog_key(req, to_tag(resp));
  if (status >= 300) {
    // Refusing an initial INVITE ends its early dialog; refusing a
    // re-INVITE leaves the confirmed dialog as it was (RFC 3261 §14.2).
    auto dit = dialogs.find(key);
    if (dit != dialogs.end() && dit->second->state() != Dialog::State::Confirmed) dialogs.erase(dit);
    return nullptr;
  }
  Dialog* d = nullptr;
  auto dit = dialogs.find(key);
  if (dit == dialogs.end()) {
    if (auto nd = Dialog::as_uas(req, resp)) dit = dialogs.emplace(key, std::move(nd)).first;
  } else if (status >= 200) {
    // A 2xx to a re-INVITE: the request refreshes the remote target.
    if (dit->second->state() == Dialog::State::Confirmed) dit->second->refresh_target(req);
    dit->second->confirm();
  }
  if (dit != dialogs.end()) d = dit->second.get();
  // Contact is mandatory in a dialog-creating response.
  add_local_contact(t, resp);
  return d;
}

void Stack::Impl::refresh_update_target(const Txn& t, const osip_message_t* req, osip_message_t* resp) {
  if (resp->status_code < 200 || resp->status_code >= 300) return;
  auto dit = dialogs.find(Dialog::key_for_incoming(req));
  if (dit == dialogs.end()) return;
  dit->second->refresh_target(req);
  // RFC 3311 §5.2: the 2xx to an UPDATE carries our Contact, as a re-INVITE's does.
  add_local_contact(t, resp);
}

void Stack::Impl::add_local_contact(const Txn& t, osip_message_t* resp) {
  if (osip_list_size(&resp->contacts) != 0) return;
  std::optional<Endpoint> local;
  if (t.in.local.valid()) local = t.in.local;
  // A wildcard listener has no address to give: ask the transport.
  if (!local || local->is_wildcard()) local = tp->local_for(t.in.proto, t.in.peer);
  if (!local) return;
  std::string c = "<sip:" + local->host_str() + ":" + std::to_string(local->port()) +
                  (t.in.proto == Proto::Tcp ? ";transport=tcp>" : ">");
  osip_message_set_contact(resp, c.c_str());
}

Dialog* Stack::Impl::find_dialog(const std::string& key) {
  auto it = dialogs.find(key);
  return it == dialogs.end() ? nullptr : it->second.get();
}

void Stack::Impl::remove_dialog_key(const std::string& key) {
  auto it = dialogs.find(key);
  if (it == dialogs.end()) return;
  erase_pending_2xx(key);
  sent_acks.erase(key);
  dialogs.erase(it);
  stats.dialogs_live = dialogs.size();
}

}  // namespace msgw::sip
