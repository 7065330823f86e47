// SPDX-License-Identifier: GPL-3.0-or-later
// DataplaneSipPath (dataplane_sip_path.hpp): SIP datagrams to and from the
// segment's rings, addresses between sockaddr and the ring's host order.
#include "msgw/control/dataplane_sip_path.hpp"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "msgw/common/log.hpp"
#include "msgw/control/media.hpp"
#include "msgw/dataplane/client.hpp"
#include "msgw/common/monotonic_clock.hpp"

namespace msgw::control {

namespace dp = msgw::dataplane;

namespace {

sip::Endpoint endpoint(uint32_t ip, uint16_t port) {
  sip::Endpoint e;
  auto* sa = reinterpret_cast<sockaddr_in*>(&e.addr);
  sa->sin_family = AF_INET;
  sa->sin_addr.s_addr = htonl(ip);
  sa->sin_port = htons(port);
  e.len = sizeof(sockaddr_in);
  return e;
}

// Host-order address and port of an IPv4 endpoint (the stack offers no other).
void host_order(const sip::Endpoint& e, uint32_t& ip, uint16_t& port) {
  const auto* sa = reinterpret_cast<const sockaddr_in*>(&e.addr);
  ip = ntohl(sa->sin_addr.s_addr);
  port = ntohs(sa->sin_port);
}

}  // namespace

DataplaneSipPath::DataplaneSipPath(DataplaneMedia& media, int signal, std::function<uint64_t()> monotonic_ns)
    : media_(media),
      monotonic_ns_(monotonic_ns ? std::move(monotonic_ns) : std::function<uint64_t()>(msgw::common::monotonic_ns)),
      in_(std::make_unique<dp::SipDatagram[]>(kBatch)),
      out_(std::make_unique<dp::SipDatagram>()) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, signal);
  sfd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd_ < 0) {
    MSGW_LOG(error, "no signalfd for the dataplane's SIP wake-up: SIP stays on the kernel's sockets",
             {"error", std::strerror(errno)});
    return;
  }
  media_.set_sip_consumer(signal);
}

DataplaneSipPath::~DataplaneSipPath() {
  if (sfd_ < 0) return;
  media_.set_sip_consumer(0);
  close(sfd_);
}

bool DataplaneSipPath::send(const sip::Endpoint& local, const sip::Endpoint& dst, std::string_view bytes) {
  dp::Client* c = media_.sip_client();
  if (c == nullptr || local.addr.ss_family != AF_INET || dst.addr.ss_family != AF_INET || bytes.empty() ||
      bytes.size() > dp::kSipDatagramMax)
    return false;
  dp::SipDatagram& d = *out_;
  host_order(local, d.local_ip, d.local_port);
  host_order(dst, d.remote_ip, d.remote_port);
  d.port = 0;
  d.length = uint16_t(bytes.size());
  d.time_ns = 0;
  std::memcpy(d.data, bytes.data(), bytes.size());
  return c->send_sip(d);
}

std::size_t DataplaneSipPath::receive(const OnDatagram& on_datagram, std::size_t max) {
  dp::Client* c = media_.sip_client();
  if (c == nullptr || max == 0) return 0;
  const unsigned n = c->take_sip(in_.get(), unsigned(std::min(max, kBatch)));
  for (unsigned i = 0; i < n; ++i) {
    const dp::SipDatagram& d = in_[i];
    // A length the worker should never write is cut to the slot, not
    // trusted: the stack counts what it cannot parse.
    const std::size_t len = std::min<std::size_t>(d.length, dp::kSipDatagramMax);
    // Taken per datagram, just before it is handed over, as on_udp does:
    // the time spent on the batch's earlier datagrams counts too.
    int64_t age_us = -1;
    if (d.time_ns != 0) age_us = std::max<int64_t>(0, int64_t(monotonic_ns_() - d.time_ns) / 1000);
    on_datagram(endpoint(d.local_ip, d.local_port), endpoint(d.remote_ip, d.remote_port),
                std::string_view(d.data, len), age_us);
  }
  return n;
}

void DataplaneSipPath::clear_wake() {
  // One read takes every pending signal that fits: a short one means the
  // signalfd is empty (no second read just to see EAGAIN, once per wake-up).
  signalfd_siginfo si[8];
  while (read(sfd_, si, sizeof si) == ssize_t(sizeof si)) {
  }
}

bool DataplaneSipPath::nap_begin() {
  dp::Client* c = media_.sip_client();
  return c == nullptr || c->sip_nap_begin();
}

void DataplaneSipPath::nap_end() {
  if (dp::Client* c = media_.sip_client()) c->sip_nap_end();
}

std::size_t DataplaneSipPath::max_datagram() const { return dp::kSipDatagramMax; }

}  // namespace msgw::control
