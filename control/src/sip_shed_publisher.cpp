// SPDX-License-Identifier: GPL-3.0-or-later
// SipShedPublisher: the stack's shedding state into the dataplane's segment.
#include "msgw/control/sip_shed_publisher.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace msgw::control {

std::vector<dataplane::SipListenAddr> sip_shed_listen(const std::vector<config::HostPort>& listen) {
  std::vector<dataplane::SipListenAddr> out;
  for (const auto& hp : listen) {
    in_addr a{};
    if (inet_pton(AF_INET, hp.host.c_str(), &a) != 1) continue;
    dataplane::SipListenAddr l{};
    l.ip = ntohl(a.s_addr);
    l.port = hp.port;
    const bool dup = std::any_of(out.begin(), out.end(),
                                 [&](const auto& o) { return o.ip == l.ip && o.port == l.port; });
    if (!dup && out.size() < dataplane::kMaxSipListen) out.push_back(l);
  }
  return out;
}

void SipShedPublisher::update(bool shedding, uint32_t retry_after_s, uint64_t now_ns, uint32_t admit_rate) {
  const uint64_t gen = sink_->sip_shed_generation();
  if (gen == 0) {  // not attached: a later attach starts from an empty state
    generation_ = 0;
    lease_until_ns_ = 0;
    return;
  }
  if (gen != generation_ || retry_after_s != retry_after_s_) {
    if (!sink_->publish_sip_listen(listen_.data(), uint32_t(listen_.size()), retry_after_s)) return;
    if (gen != generation_) lease_until_ns_ = admit_rate_ = 0;  // a new segment: not shedding
    generation_ = gen;
    retry_after_s_ = retry_after_s;
  }
  const uint64_t lease = uint64_t(kLease.count());
  if (shedding) {
    if (admit_rate != admit_rate_ && sink_->set_sip_admit_rate(admit_rate)) admit_rate_ = admit_rate;
    if (lease_until_ns_ == 0 || lease_until_ns_ - std::min(lease_until_ns_, now_ns) <= lease / 2)
      if (sink_->set_sip_shed_until(now_ns + lease)) lease_until_ns_ = now_ns + lease;
  } else if (lease_until_ns_ != 0) {
    if (sink_->set_sip_shed_until(0)) lease_until_ns_ = 0;
  }
}

}  // namespace msgw::control
