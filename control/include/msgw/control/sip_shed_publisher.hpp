// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-control's overload state, pushed to msgw-dataplane's workers so that
// they shed new INVITEs and REGISTERs for it while it is behind (the
// segment's SipShedState; dataplane/include/msgw/dataplane/sip_shed.hpp).
//
// The SIP stack decides when it sheds (sip::OverloadGate, its `overloaded`
// stat); this only publishes the decision, so sip/ knows nothing of the
// dataplane and the dataplane nothing of sip/.  Once per attach (a new
// dataplane generation starts with an empty state): the UDP listen addresses
// and the Retry-After.  While shedding: a lease (kLease from now, renewed
// when half of it is left), cleared at once when shedding ends, so a control
// plane that dies while shedding leaves the dataplane shedding for at most
// the lease.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "msgw/config/config.hpp"
#include "msgw/dataplane/protocol.hpp"

namespace msgw::control {

// Where the state goes (DataplaneMedia; a fake in tests).
class SipShedSink {
 public:
  virtual ~SipShedSink() = default;
  // 0 while not attached; changes when the dataplane restarted.
  virtual uint64_t sip_shed_generation() const = 0;
  virtual bool publish_sip_listen(const dataplane::SipListenAddr* listen, uint32_t n,
                                  uint32_t retry_after_s) = 0;
  virtual bool set_sip_shed_until(uint64_t monotonic_ns) = 0;
  virtual bool set_sip_admit_rate(uint32_t calls_per_s) = 0;
};

// [sip] listen as the dataplane matches it: IPv4 literals (0.0.0.0 = any
// address of the port); names and IPv6 are skipped (the dataplane carries
// IPv4 only), duplicates dropped, at most dataplane::kMaxSipListen.
std::vector<dataplane::SipListenAddr> sip_shed_listen(const std::vector<config::HostPort>& listen);

class SipShedPublisher {
 public:
  static constexpr std::chrono::nanoseconds kLease = std::chrono::seconds(1);
  SipShedPublisher(SipShedSink& sink, std::vector<dataplane::SipListenAddr> listen)
      : sink_(&sink), listen_(std::move(listen)) {}
  // Once per loop pass: the overload state now, its Retry-After,
  // CLOCK_MONOTONIC, and while shedding the new calls/s the workers still
  // admit (AdmissionRateController; 0 = shed all), written before the lease.
  void update(bool shedding, uint32_t retry_after_s, uint64_t now_ns, uint32_t admit_rate = 0);
  uint64_t lease_until_ns() const { return lease_until_ns_; }

 private:
  SipShedSink* sink_;
  std::vector<dataplane::SipListenAddr> listen_;
  uint64_t generation_ = 0;  // the dataplane the listen addresses went to
  uint32_t retry_after_s_ = 0;
  uint64_t lease_until_ns_ = 0;  // as published; 0 = not shedding
  uint32_t admit_rate_ = 0;      // as published
};

}  // namespace msgw::control
