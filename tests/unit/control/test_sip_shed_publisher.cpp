// SPDX-License-Identifier: GPL-3.0-or-later
// SipShedPublisher: the stack's shedding state as the dataplane's lease.
#include <gtest/gtest.h>

#include <vector>

#include "msgw/control/sip_shed_publisher.hpp"

using msgw::control::SipShedPublisher;
using msgw::dataplane::SipListenAddr;

namespace {

struct FakeSink : msgw::control::SipShedSink {
  uint64_t generation = 0;
  std::vector<SipListenAddr> listen;
  uint32_t retry_after_s = 0, listen_published = 0;
  uint64_t until = 0;
  uint32_t until_writes = 0;
  uint64_t sip_shed_generation() const override { return generation; }
  bool publish_sip_listen(const SipListenAddr* l, uint32_t n, uint32_t retry) override {
    if (generation == 0) return false;
    listen.assign(l, l + n);
    retry_after_s = retry;
    ++listen_published;
    return true;
  }
  uint32_t admit_rate = 0, rate_writes = 0;
  bool set_sip_admit_rate(uint32_t r) override {
    if (generation == 0) return false;
    admit_rate = r;
    ++rate_writes;
    return true;
  }
  bool set_sip_shed_until(uint64_t ns) override {
    if (generation == 0) return false;
    until = ns;
    ++until_writes;
    return true;
  }
};

constexpr uint64_t kMs = 1'000'000;

}  // namespace

TEST(SipShedPublisher, ListenAddressesAreIpv4LiteralsOnlyDeduplicated) {
  std::vector<msgw::config::HostPort> l(5);
  l[0].host = "10.10.0.1";
  l[0].port = 5060;
  l[1].host = "0.0.0.0";
  l[1].port = 5070;
  l[2].host = "sip.example.net";  // a name: the dataplane matches addresses
  l[3].host = "::1";
  l[4] = l[0];
  const auto got = msgw::control::sip_shed_listen(l);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].ip, 0x0a0a0001u);
  EXPECT_EQ(got[0].port, 5060);
  EXPECT_EQ(got[1].ip, 0u);
  EXPECT_EQ(got[1].port, 5070);
}

TEST(SipShedPublisher, LeaseFollowsTheStackAndEveryAttach) {
  FakeSink sink;
  SipShedPublisher pub(sink, {{0x0a0a0001, 5060, 0}});
  const uint64_t lease = uint64_t(SipShedPublisher::kLease.count());
  uint64_t t = 1000 * kMs;
  pub.update(true, 2, t);  // not attached: nothing to write to
  EXPECT_EQ(sink.listen_published, 0u);
  sink.generation = 1;
  pub.update(false, 2, t);
  EXPECT_EQ(sink.listen_published, 1u);
  ASSERT_EQ(sink.listen.size(), 1u);
  EXPECT_EQ(sink.retry_after_s, 2u);
  EXPECT_EQ(sink.until_writes, 0u);
  pub.update(true, 2, t);
  EXPECT_EQ(sink.until, t + lease);
  // Renewed only when half of it is left: no write per pass.
  pub.update(true, 2, t + 100 * kMs);
  EXPECT_EQ(sink.until_writes, 1u);
  pub.update(true, 2, t + lease / 2);
  EXPECT_EQ(sink.until, t + lease / 2 + lease);
  EXPECT_EQ(sink.until_writes, 2u);
  pub.update(false, 2, t + lease);  // shedding ended: cleared at once
  EXPECT_EQ(sink.until, 0u);
  pub.update(false, 2, t + lease + kMs);
  EXPECT_EQ(sink.until_writes, 3u);
  // A new Retry-After is published; a dataplane restart gets everything again.
  pub.update(false, 5, t + 2 * lease);
  EXPECT_EQ(sink.retry_after_s, 5u);
  pub.update(true, 5, t + 2 * lease);
  sink.generation = 2;
  sink.until = 0;  // the new dataplane's segment starts empty
  sink.listen.clear();
  pub.update(true, 5, t + 2 * lease + kMs);
  EXPECT_EQ(sink.listen.size(), 1u);
  EXPECT_EQ(sink.until, t + 2 * lease + kMs + lease);
}

TEST(SipShedPublisher, AdmitRateWrittenWhenItChangesWhileShedding) {
  FakeSink sink;
  sink.generation = 1;
  SipShedPublisher pub(sink, {{0x0a0a0001, 5060, 0}});
  const uint64_t t = 1000 * kMs;
  pub.update(false, 2, t, 300);  // not shedding: no rate
  EXPECT_EQ(sink.rate_writes, 0u);
  pub.update(true, 2, t, 300);
  EXPECT_EQ(sink.admit_rate, 300u);
  EXPECT_NE(sink.until, 0u);
  pub.update(true, 2, t + kMs, 300);
  EXPECT_EQ(sink.rate_writes, 1u);
  pub.update(true, 2, t + 2 * kMs, 225);
  EXPECT_EQ(sink.admit_rate, 225u);
  EXPECT_EQ(sink.rate_writes, 2u);
  // A restarted dataplane's segment starts at 0: written again.
  sink.generation = 2;
  sink.admit_rate = 0;
  pub.update(true, 2, t + 3 * kMs, 225);
  EXPECT_EQ(sink.admit_rate, 225u);
}
