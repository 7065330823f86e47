// SPDX-License-Identifier: GPL-3.0-or-later
// Stack: the public face of the SIP stack; each call forwards to Stack::Impl
// (stack_impl.hpp lists the files that implement it, one concern each) and
// settles what the oSIP2 callbacks recorded before returning.
#include "msgw/sip/stack.hpp"

#include <algorithm>

#include "stack_impl.hpp"

namespace msgw::sip {

Stack::Stack(StackConfig config, Handler* handler) : impl_(std::make_unique<Impl>(*this, std::move(config), handler)) {
  impl_->own = std::make_unique<SocketTransport>(
      impl_->cfg.limits, impl_->stats, [this](const Inbound& in, std::string_view b) { impl_->receive(in, b); });
  impl_->own->set_idle_timeout(impl_->cfg.tcp_idle);
  impl_->own->set_send_failed([impl = impl_.get()](uint64_t txn, int) { impl->late_send_failure(txn); });
  impl_->tp = impl_->own.get();
}

Stack::Stack(StackConfig config, Handler* handler, Transport* transport)
    : impl_(std::make_unique<Impl>(*this, std::move(config), handler)) {
  impl_->tp = transport;
}

Stack::~Stack() = default;

std::optional<Endpoint> Stack::listen(Proto proto, std::string_view ip, uint16_t port, std::string* error) {
  if (!impl_->own) {
    if (error) *error = "stack uses an external transport";
    return std::nullopt;
  }
  return impl_->own->listen(proto, ip, port, error);
}

int Stack::fd() const { return impl_->own ? impl_->own->fd() : -1; }
void Stack::set_datagram_path(DatagramPath* path) {
  if (impl_->own) impl_->own->set_datagram_path(path);
}
void Stack::set_route_probe(SocketTransport::RouteProbe probe) {
  if (impl_->own) impl_->own->set_route_probe(std::move(probe));
}
bool Stack::prepare_wait() { return !impl_->own || impl_->own->prepare_wait(); }
void Stack::after_wait() {
  if (impl_->own) impl_->own->after_wait();
}
int Stack::next_timeout_ms() const { return impl_->next_timeout_ms(); }

// One pass: what it sends leaves in one batch at its end (sendmmsg), so the
// answers to a recvmmsg batch cost one system call, not one each.  Sends
// from outside a pass (the application's own timers, management) are
// immediate.  A handler that blocks within the pass (the dataplane's flow
// ack, tens of microseconds) delays the pass's earlier answers by as much.
void Stack::process(int timeout_ms) {
  impl_->begin_send_batch();
  if (impl_->own) impl_->own->process(timeout_ms);
  impl_->admission_idle();
  impl_->run_timers();
  impl_->end_send_batch();
}

void Stack::begin_send_batch() { impl_->begin_send_batch(); }
void Stack::end_send_batch() { impl_->end_send_batch(); }

void Stack::run_timers() {
  impl_->begin_send_batch();
  impl_->run_timers();
  impl_->end_send_batch();
}
void Stack::receive(const Inbound& in, std::string_view bytes) {
  impl_->receive(in, bytes);
  if (in.framing_error) impl_->tp->close_socket(in.socket);
}

bool Stack::respond(TxnId txn, int status, std::string_view reason, const Headers& headers,
                    std::string_view content_type, std::string_view body) {
  bool ok = impl_->respond(txn, status, reason, headers, content_type, body);
  impl_->settle();
  return ok;
}

MessagePtr Stack::response_for(TxnId txn, int status, std::string_view reason) {
  return impl_->build_response(txn, status, reason);
}

bool Stack::respond(TxnId txn, MessagePtr response) {
  bool ok = impl_->send_response(txn, std::move(response));
  impl_->settle();
  return ok;
}

MessagePtr Stack::stateless_response(MessageRef request, int status, std::string_view reason) {
  return impl_->build_stateless(request.get(), status, reason);
}

MessageRef Stack::request_of(TxnId txn) const {
  auto it = impl_->txns.find(txn);
  return it == impl_->txns.end() ? MessageRef() : MessageRef(it->second.tr->orig_request);
}

TxnId Stack::send_request(MessagePtr request, const Endpoint& destination, Proto proto) {
  return impl_->send_request(std::move(request), destination, proto);
}

bool Stack::send_ack(Dialog& dialog, uint32_t invite_cseq, std::string_view content_type, std::string_view body) {
  return impl_->send_ack(dialog, invite_cseq, content_type, body);
}

TxnId Stack::cancel(TxnId invite_txn) { return impl_->cancel(invite_txn); }

Dialog* Stack::find_dialog(const std::string& key) { return impl_->find_dialog(key); }

void Stack::remove_dialog(Dialog* d) {
  if (d) impl_->remove_dialog_key(d->key());
}

std::size_t Stack::dialog_count() const { return impl_->dialogs.size(); }
std::size_t Stack::transaction_count() const { return impl_->live_transactions(); }
const Stats& Stack::stats() const { return impl_->stats; }
const StackConfig& Stack::config() const { return impl_->cfg; }
void Stack::set_shedding_hysteresis(bool on) { impl_->overload.set_hysteresis(on); }
std::string Stack::allow_header() const { return impl_->allow_value(); }

void Stack::add_supported(std::string option_tag) {
  auto& tags = impl_->cfg.supported;
  if (std::find(tags.begin(), tags.end(), option_tag) == tags.end()) tags.push_back(std::move(option_tag));
}

void Stack::set_timers(const Timers& timers) { impl_->cfg.timers = timers; }
void Stack::set_admission(const AdmissionConfig& a) {
  const AdmissionConfig& old = impl_->cfg.admission;
  const bool same_sources = old.source_invite_rate == a.source_invite_rate &&
                            old.source_register_rate == a.source_register_rate &&
                            old.source_burst == a.source_burst && old.source_table_size == a.source_table_size &&
                            old.exempt.size() == a.exempt.size() &&
                            std::equal(old.exempt.begin(), old.exempt.end(), a.exempt.begin(),
                                       [](const SourcePrefix& x, const SourcePrefix& y) {
                                         return x.addr == y.addr && x.len == y.len;
                                       });
  impl_->cfg.admission = a;
  if (!same_sources) impl_->sources.clear();
}
SocketTransport* Stack::sockets() { return impl_->own.get(); }

}  // namespace msgw::sip
