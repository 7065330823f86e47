// SPDX-License-Identifier: GPL-3.0-or-later
// MessageRef / Message: msgw's view of a SIP message over the parser's
// representation, so that code outside sip/ never handles oSIP2 types.
#include <osipparser2/osip_port.h>

#include <cstdlib>
#include <cstring>

#include "msgw/common/ascii.hpp"
#include "osip_message.hpp"

namespace msgw::sip {
namespace {

std::string str_or_empty(const char* s) { return s ? std::string(s) : std::string(); }

std::string unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

std::optional<Uri> parse_uri(std::string_view text) {
  ensure_parser_init();
  osip_uri_t* u = nullptr;
  if (osip_uri_init(&u) != 0) return std::nullopt;
  std::optional<Uri> out;
  const std::string t(text);
  if (osip_uri_parse(u, t.c_str()) == 0) {
    Uri r;
    r.scheme = str_or_empty(u->scheme);
    r.user = str_or_empty(u->username);
    r.host = str_or_empty(u->host);
    if (u->port != nullptr) {
      char* end = nullptr;
      long p = std::strtol(u->port, &end, 10);
      if (end != u->port && *end == '\0' && p > 0 && p <= 65535) r.port = static_cast<uint16_t>(p);
      else r.host.clear();  // an unusable port makes the URI unusable as an address
    }
    if (!r.host.empty() || r.scheme == "tel") out = std::move(r);
  }
  osip_uri_free(u);
  return out;
}

bool MessageRef::is_request() const { return m_ != nullptr && MSG_IS_REQUEST(m_); }

std::string MessageRef::method() const { return m_ ? str_or_empty(m_->sip_method) : std::string(); }

int MessageRef::status() const { return m_ ? m_->status_code : 0; }

std::string MessageRef::reason_phrase() const { return m_ ? str_or_empty(m_->reason_phrase) : std::string(); }

std::string MessageRef::request_uri() const { return m_ ? uri_text(m_->req_uri) : std::string(); }

std::string MessageRef::request_uri_user() const {
  return m_ && m_->req_uri ? str_or_empty(m_->req_uri->username) : std::string();
}

std::string MessageRef::from_uri() const { return m_ && m_->from ? uri_text(m_->from->url) : std::string(); }

std::string MessageRef::from_user() const {
  return m_ && m_->from && m_->from->url ? str_or_empty(m_->from->url->username) : std::string();
}

std::string MessageRef::from_display() const {
  return m_ && m_->from ? unquote(str_or_empty(m_->from->displayname)) : std::string();
}

std::string MessageRef::from_tag() const { return m_ ? sip::from_tag(m_) : std::string(); }

std::string MessageRef::to_uri() const { return m_ && m_->to ? uri_text(m_->to->url) : std::string(); }

std::string MessageRef::to_user() const {
  return m_ && m_->to && m_->to->url ? str_or_empty(m_->to->url->username) : std::string();
}

std::string MessageRef::to_tag() const { return m_ ? sip::to_tag(m_) : std::string(); }

std::string MessageRef::call_id() const { return sip::call_id(m_); }

uint32_t MessageRef::cseq_number() const { return m_ ? sip::cseq_number(m_) : 0; }

std::string MessageRef::cseq_method() const { return m_ ? sip::cseq_method(m_) : std::string(); }

std::size_t MessageRef::contact_count() const {
  return m_ ? static_cast<std::size_t>(osip_list_size(&m_->contacts)) : 0;
}

std::string MessageRef::contact_uri(std::size_t index) const {
  if (!m_) return {};
  auto* ct = static_cast<osip_contact_t*>(osip_list_get(&m_->contacts, static_cast<int>(index)));
  return ct ? uri_text(ct->url) : std::string();
}

std::string MessageRef::contact_param(std::size_t index, std::string_view name) const {
  if (!m_) return {};
  auto* ct = static_cast<osip_contact_t*>(osip_list_get(&m_->contacts, static_cast<int>(index)));
  if (ct == nullptr) return {};
  for (int k = 0; !osip_list_eol(&ct->gen_params, k); ++k) {
    auto* p = static_cast<osip_generic_param_t*>(osip_list_get(&ct->gen_params, k));
    if (p == nullptr || p->gname == nullptr) continue;
    if (common::iequals(p->gname, name)) return str_or_empty(p->gvalue);
  }
  return {};
}

std::optional<int> MessageRef::max_forwards() const {
  if (!m_) return std::nullopt;
  osip_header_t* mf = nullptr;
  if (osip_message_get_max_forwards(m_, 0, &mf) < 0 || mf == nullptr || mf->hvalue == nullptr) return std::nullopt;
  char* end = nullptr;
  long v = std::strtol(mf->hvalue, &end, 10);
  if (end == mf->hvalue || v < 0 || v > 255) return std::nullopt;
  return static_cast<int>(v);
}

std::string MessageRef::header(std::string_view name, std::size_t index) const {
  if (!m_) return {};
  std::string n(name);
  std::string v = header_value(m_, n.c_str(), static_cast<int>(index));
  if (!v.empty()) return v;
  std::string canonical(canonical_header_name(name));
  if (canonical.empty() || canonical == n) return v;
  return header_value(m_, canonical.c_str(), static_cast<int>(index));
}

std::string MessageRef::body() const { return m_ ? body_of(m_) : std::string(); }

std::string MessageRef::sdp() const { return m_ ? sdp_of(m_) : std::string(); }

std::string MessageRef::content_type() const {
  if (!m_ || !m_->content_type || !m_->content_type->type) return {};
  std::string t = m_->content_type->type;
  if (m_->content_type->subtype) (t += '/') += m_->content_type->subtype;
  return t;
}

std::string MessageRef::via_branch() const { return m_ ? sip::via_branch(m_) : std::string(); }

std::string MessageRef::to_text() const { return m_ ? serialize(m_) : std::string(); }

void Message::reset(osip_message* m) noexcept {
  osip_message* old = const_cast<osip_message*>(std::exchange(m_, m));
  if (old != nullptr) osip_message_free(old);
}

Message Message::request(std::string_view method, std::string_view request_uri, std::string_view from,
                         std::string_view to, std::string_view call_id, uint32_t cseq) {
  ensure_parser_init();
  osip_message_t* raw = nullptr;
  if (osip_message_init(&raw) != 0) return {};
  Message m(raw);
  const std::string meth(method), ruri(request_uri), f(from), t(to), cid(call_id);
  osip_message_set_method(raw, osip_strdup(meth.c_str()));
  osip_message_set_version(raw, osip_strdup("SIP/2.0"));
  osip_uri_t* u = nullptr;
  if (osip_uri_init(&u) != 0) return {};
  if (osip_uri_parse(u, ruri.c_str()) != 0) {
    osip_uri_free(u);
    return {};
  }
  osip_message_set_uri(raw, u);
  if (osip_message_set_from(raw, f.c_str()) != 0 || osip_message_set_to(raw, t.c_str()) != 0 ||
      osip_message_set_call_id(raw, cid.c_str()) != 0)
    return {};
  if (osip_message_set_cseq(raw, (std::to_string(cseq) + " " + meth).c_str()) != 0) return {};
  return m;
}

bool Message::add_header(std::string_view name, std::string_view value) {
  if (!m_) return false;
  const std::string n(name), v(value);
  return osip_message_set_header(get(), n.c_str(), v.c_str()) == 0;
}

bool Message::set_max_forwards(int hops) {
  if (!m_) return false;
  osip_message_t* m = get();
  // Replace, not add: one Max-Forwards per message (RFC 3261 §20.22).
  osip_header_t* h = nullptr;
  for (int pos; (pos = osip_message_get_max_forwards(m, 0, &h)) >= 0 && h != nullptr; h = nullptr) {
    osip_list_remove(&m->headers, pos);
    osip_header_free(h);
  }
  return osip_message_set_max_forwards(m, std::to_string(hops < 0 ? 0 : hops).c_str()) == 0;
}

bool Message::set_body(std::string_view content_type, std::string_view body) {
  if (!m_) return false;
  osip_message_t* m = get();
  while (osip_list_size(&m->bodies) > 0) {
    auto* b = static_cast<osip_body_t*>(osip_list_get(&m->bodies, 0));
    osip_list_remove(&m->bodies, 0);
    osip_body_free(b);
  }
  if (body.empty()) return true;
  if (osip_message_set_body(m, body.data(), body.size()) != 0) return false;
  if (m->content_type != nullptr) {
    osip_content_type_free(m->content_type);
    m->content_type = nullptr;
  }
  const std::string ct(content_type);
  return osip_message_set_content_type(m, ct.c_str()) == 0;
}

bool Message::copy_body_from(MessageRef from) {
  if (!m_ || !from) return false;
  osip_message_t* m = get();
  if (!set_body({}, {})) return false;  // drops the bodies we had
  if (m->content_type != nullptr) {
    osip_content_type_free(m->content_type);
    m->content_type = nullptr;
  }
  const osip_message_t* src = from.get();
  if (osip_list_size(&src->bodies) == 0) return true;
  if (src->content_type != nullptr && osip_content_type_clone(src->content_type, &m->content_type) != 0) return false;
  for (int i = 0; i < osip_list_size(&src->bodies); ++i) {
    osip_body_t* copy = nullptr;
    if (osip_body_clone(static_cast<osip_body_t*>(osip_list_get(&src->bodies, i)), &copy) != 0) return false;
    osip_list_add(&m->bodies, copy, -1);
  }
  return true;
}

}  // namespace msgw::sip
