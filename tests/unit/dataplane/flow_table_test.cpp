// SPDX-License-Identifier: GPL-3.0-or-later
// Flow table validation, capacity and RCU-deferred reclamation.
#include <chrono>

#include <rte_rcu_qsbr.h>
#include <rte_malloc.h>

#include "msgw/dataplane/flow_table.hpp"
#include "test_support.hpp"

using namespace msgw::dataplane;

namespace {

LegSpec leg(uint16_t port, uint32_t ip, uint16_t udp, CodecId c = CodecId::Pcmu, uint8_t pt = 0) {
  LegSpec l{};
  l.port = port;
  l.local_ip = ip;
  l.local_port = udp;
  l.codec = uint8_t(c);
  l.payload_type = pt;
  l.dtmf_pt = 101;
  l.ptime_ms = 20;
  return l;
}

std::string uniq(const char* t) {
  static int n = 0;
  return std::string(t) + std::to_string(++n);
}

}  // namespace

TEST(FlowTable, AddLookupAndValidationErrorsChangeNothing) {
  ASSERT_NE(dptest::pool(), nullptr);
  FlowTable ft(uniq("ft"), 16, 2, 1, nullptr, SOCKET_ID_ANY);
  ASSERT_TRUE(ft.ok());
  LegSpec a[2] = {leg(0, 0x0a000001, 20000), leg(1, 0xc0a80101, 30000)};
  EXPECT_EQ(ft.add(3, a), Status::ok);
  uint8_t l = 9;
  const SessionConfig* c = ft.lookup(1, 0xc0a80101, 30001, &l);  // RTCP port maps to the leg
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(l, 1);
  EXPECT_EQ(c->flow_id, 3u);
  EXPECT_EQ(ft.lookup(0, 0xc0a80101, 30000, &l), nullptr);  // other port: different key
  EXPECT_EQ(ft.legs_in_use(), 2u);

  EXPECT_EQ(ft.add(3, a), Status::flow_exists);
  EXPECT_EQ(ft.add(16, a), Status::bad_flow_id);
  LegSpec b[2] = {leg(0, 0x0a000001, 20002), leg(1, 0xc0a80101, 30000)};
  EXPECT_EQ(ft.add(4, b), Status::duplicate_address);
  LegSpec same[2] = {leg(0, 0x0a000001, 20010), leg(0, 0x0a000001, 20010)};
  EXPECT_EQ(ft.add(4, same), Status::duplicate_address);
  LegSpec codec[2] = {leg(0, 0x0a000001, 20010), leg(1, 0xc0a80101, 30010)};
  codec[1].codec = 77;
  EXPECT_EQ(ft.add(4, codec), Status::unknown_codec);
  LegSpec port[2] = {leg(0, 0x0a000001, 20010), leg(2, 0xc0a80101, 30010)};
  EXPECT_EQ(ft.add(4, port), Status::bad_port);
  LegSpec odd[2] = {leg(0, 0x0a000001, 20011), leg(1, 0xc0a80101, 30010)};
  EXPECT_EQ(ft.add(4, odd), Status::bad_address);
  LegSpec noip[2] = {leg(0, 0, 20010), leg(1, 0xc0a80101, 30010)};
  EXPECT_EQ(ft.add(4, noip), Status::bad_address);
  LegSpec pt[2] = {leg(0, 0x0a000001, 20010), leg(1, 0xc0a80101, 30010)};
  pt[0].payload_type = 200;
  EXPECT_EQ(ft.add(4, pt), Status::bad_payload_type);
  LegSpec ptime[2] = {leg(0, 0x0a000001, 20010), leg(1, 0xc0a80101, 30010)};
  ptime[1].ptime_ms = 25;
  EXPECT_EQ(ft.add(4, ptime), Status::bad_payload_type);
  LegSpec remote[2] = {leg(0, 0x0a000001, 20010), leg(1, 0xc0a80101, 30010)};
  remote[0].remote_ip = 0x0a000009;  // address without a port
  EXPECT_EQ(ft.add(4, remote), Status::bad_address);
  // None of the failures left a trace.
  EXPECT_EQ(ft.legs_in_use(), 2u);
  EXPECT_EQ(ft.get(4), nullptr);
  EXPECT_EQ(ft.lookup(0, 0x0a000001, 20010, &l), nullptr);
  // A transcoded session gets both directions' engines.
  LegSpec tc[2] = {leg(0, 0x0a000001, 20010), leg(1, 0xc0a80101, 30010, CodecId::G729, 18)};
  ASSERT_EQ(ft.add(4, tc), Status::ok);
  ASSERT_NE(ft.get(4)->tc[0], nullptr);
  ASSERT_NE(ft.get(4)->tc[1], nullptr);
  EXPECT_EQ(ft.get(4)->relay, 0);
  EXPECT_EQ(ft.get(3)->tc[0], nullptr);
}

TEST(FlowTable, ModifyReplacesAtomicallyAndMovesKeys) {
  ASSERT_NE(dptest::pool(), nullptr);
  FlowTable ft(uniq("ftm"), 16, 2, 1, nullptr, SOCKET_ID_ANY);
  LegSpec a[2] = {leg(0, 0x0a000001, 20000), leg(1, 0xc0a80101, 30000)};
  LegSpec o[2] = {leg(0, 0x0a000001, 20100), leg(1, 0xc0a80101, 30100)};
  ASSERT_EQ(ft.add(1, a), Status::ok);
  ASSERT_EQ(ft.add(2, o), Status::ok);
  EXPECT_EQ(ft.modify(5, a), Status::no_such_flow);
  // Taking flow 2's address is refused and flow 1 stays as it was.
  LegSpec clash[2] = {leg(0, 0x0a000001, 20100), leg(1, 0xc0a80101, 30000)};
  EXPECT_EQ(ft.modify(1, clash), Status::duplicate_address);
  EXPECT_EQ(ft.get(1)->version, 1u);
  // Re-INVITE: new remote on leg 1, new local port on leg 0.
  LegSpec m[2] = {leg(0, 0x0a000001, 20002), leg(1, 0xc0a80101, 30000)};
  m[1].remote_ip = 0xc0a80114;
  m[1].remote_port = 5000;
  ASSERT_EQ(ft.modify(1, m), Status::ok);
  EXPECT_EQ(ft.get(1)->version, 2u);
  uint8_t l;
  EXPECT_EQ(ft.lookup(0, 0x0a000001, 20000, &l), nullptr);
  ASSERT_NE(ft.lookup(0, 0x0a000001, 20002, &l), nullptr);
  const SessionConfig* c = ft.lookup(1, 0xc0a80101, 30000, &l);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->legs[1].remote_ip, 0xc0a80114u);
  ft.reclaim(true);
  EXPECT_EQ(ft.legs_in_use(), 4u);
}

namespace {

// What a worker does with its cache: the slot's candidate if the flow's
// current config confirms it, rte_hash otherwise.
struct Resolved {
  const SessionConfig* cfg;
  uint8_t leg;
  bool from_cache;
};
Resolved resolve(const FlowTable& ft, FlowCache& cache, uint16_t port, uint32_t ip, uint16_t udp) {
  const FlowKey k = flow_key(port, ip, udp);
  Resolved r{nullptr, 9, false};
  uint32_t id = ~0u;
  r.cfg = ft.cached(cache, k, &r.leg, &id);
  if (r.cfg != nullptr) {
    EXPECT_EQ(id, r.cfg->flow_id);  // whether or not it has the key
  }
  if (r.cfg != nullptr && FlowTable::has_key(r.cfg, r.leg, k)) {
    r.from_cache = true;
    return r;
  }
  r.cfg = ft.lookup_fill(cache, k, &r.leg);
  return r;
}

}  // namespace

TEST(FlowTable, CacheSlotsAreOnlyHintsCheckedAgainstTheCurrentConfig) {
  ASSERT_NE(dptest::pool(), nullptr);
  FlowTable ft(uniq("ftc"), 16, 2, 1, nullptr, SOCKET_ID_ANY);
  FlowCache cache(ft.leg_capacity(), SOCKET_ID_ANY);
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ(cache.size(), 1024u);
  const uint32_t A = 0x0a000001, B = 0xc0a80101;
  LegSpec a[2] = {leg(0, A, 20000), leg(1, B, 30000)};
  ASSERT_EQ(ft.add(3, a), Status::ok);
  Resolved r = resolve(ft, cache, 0, A, 20000);
  ASSERT_NE(r.cfg, nullptr);
  EXPECT_FALSE(r.from_cache);
  EXPECT_EQ(r.cfg->flow_id, 3u);
  EXPECT_EQ(r.leg, 0);
  r = resolve(ft, cache, 0, A, 20001);  // RTCP shares the leg's key
  EXPECT_TRUE(r.from_cache);
  EXPECT_EQ(r.leg, 0);

  // The legs swap addresses: the slot still names leg 0 of flow 3.
  LegSpec swapped[2] = {leg(1, B, 30000), leg(0, A, 20000)};
  ASSERT_EQ(ft.modify(3, swapped), Status::ok);
  r = resolve(ft, cache, 0, A, 20000);
  EXPECT_FALSE(r.from_cache);
  ASSERT_NE(r.cfg, nullptr);
  EXPECT_EQ(r.leg, 1);
  EXPECT_EQ(r.cfg->version, 2u);
  EXPECT_TRUE(resolve(ft, cache, 0, A, 20000).from_cache);

  // The flow goes and its id comes back with other addresses: the slot
  // names flow 3 again, whose config no longer has the key.
  ASSERT_EQ(ft.del(3, 1), Status::ok);
  r = resolve(ft, cache, 0, A, 20000);
  EXPECT_EQ(r.cfg, nullptr);
  ft.reclaim(true);
  LegSpec c[2] = {leg(0, A, 20100), leg(1, B, 30100)};
  ASSERT_EQ(ft.add(3, c), Status::ok);
  EXPECT_EQ(resolve(ft, cache, 0, A, 20000).cfg, nullptr);
  // Another flow takes the address.
  LegSpec d[2] = {leg(0, A, 20000), leg(1, B, 30200)};
  ASSERT_EQ(ft.add(7, d), Status::ok);
  r = resolve(ft, cache, 0, A, 20000);
  ASSERT_NE(r.cfg, nullptr);
  EXPECT_EQ(r.cfg->flow_id, 7u);
  EXPECT_FALSE(r.from_cache);
  EXPECT_TRUE(resolve(ft, cache, 0, A, 20000).from_cache);

  // Two keys in one slot take turns; each is still found.
  const FlowKey k0 = flow_key(0, A, 20000);
  uint16_t other = 0;
  for (uint32_t p = 20002; p < 65534 && other == 0; p += 2)
    if (&cache.slot(key_bits(flow_key(0, A, uint16_t(p)))) == &cache.slot(key_bits(k0)))
      other = uint16_t(p);
  ASSERT_NE(other, 0);
  LegSpec e[2] = {leg(0, A, other), leg(1, B, 30300)};
  ASSERT_EQ(ft.add(9, e), Status::ok);
  for (int round = 0; round < 3; ++round) {
    r = resolve(ft, cache, 0, A, other);
    ASSERT_NE(r.cfg, nullptr);
    EXPECT_EQ(r.cfg->flow_id, 9u);
    EXPECT_FALSE(r.from_cache);
    r = resolve(ft, cache, 0, A, 20000);
    ASSERT_NE(r.cfg, nullptr);
    EXPECT_EQ(r.cfg->flow_id, 7u);
    EXPECT_FALSE(r.from_cache);
  }
  // A key never added, and a port that is not the flow's, miss.
  EXPECT_EQ(resolve(ft, cache, 0, A, 40000).cfg, nullptr);
  EXPECT_EQ(resolve(ft, cache, 1, A, 20000).cfg, nullptr);
  ft.reclaim(true);
}

TEST(FlowTable, DeletionWaitsForReadersQuiescence) {
  ASSERT_NE(dptest::pool(), nullptr);
  const size_t sz = rte_rcu_qsbr_get_memsize(1);
  auto* rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc("ut_rcu", sz, RTE_CACHE_LINE_SIZE));
  ASSERT_NE(rcu, nullptr);
  ASSERT_EQ(rte_rcu_qsbr_init(rcu, 1), 0);
  ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu, 0), 0);
  rte_rcu_qsbr_thread_online(rcu, 0);
  {
    FlowTable ft(uniq("ftr"), 2, 1, 1, rcu, SOCKET_ID_ANY);  // 4 legs
    LegSpec a[2] = {leg(0, 0x0a000001, 20000), leg(0, 0x0a000001, 20002)};
    LegSpec b[2] = {leg(0, 0x0a000001, 20004), leg(0, 0x0a000001, 20006)};
    ASSERT_EQ(ft.add(0, a), Status::ok);
    ASSERT_EQ(ft.add(1, b), Status::ok);
    EXPECT_EQ(ft.del(0, 77), Status::ok);
    EXPECT_EQ(ft.del(0, 78), Status::no_such_flow);
    uint8_t l;
    EXPECT_EQ(ft.lookup(0, 0x0a000001, 20000, &l), nullptr);  // gone for new lookups
    // The reader has not been quiescent: id and key slots stay reserved.
    EXPECT_TRUE(ft.reclaim(false).empty());
    EXPECT_EQ(ft.add(0, a), Status::flow_exists);
    EXPECT_EQ(ft.legs_in_use(), 4u);
    rte_rcu_qsbr_quiescent(rcu, 0);
    auto freed = ft.reclaim(false);
    ASSERT_EQ(freed.size(), 1u);
    EXPECT_EQ(freed[0].flow_id, 0u);
    EXPECT_EQ(freed[0].request_id, 77u);
    EXPECT_EQ(ft.legs_in_use(), 2u);
    EXPECT_EQ(ft.add(0, a), Status::ok);
    // Full: 4 legs used; deleting leaves them reserved until quiescence.
    ASSERT_EQ(ft.del(1, 1), Status::ok);
    LegSpec c[2] = {leg(0, 0x0a000001, 20008), leg(0, 0x0a000001, 20010)};
    EXPECT_EQ(ft.add(1, c), Status::flow_exists);
    rte_rcu_qsbr_quiescent(rcu, 0);
    ft.reclaim(false);
    EXPECT_EQ(ft.add(1, c), Status::ok);
    rte_rcu_qsbr_thread_offline(rcu, 0);
  }
  rte_free(rcu);
}

TEST(FlowTable, TableFullWhenDeletedKeysAreNotYetReclaimed) {
  ASSERT_NE(dptest::pool(), nullptr);
  const size_t sz = rte_rcu_qsbr_get_memsize(1);
  auto* rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc("ut_rcu2", sz, RTE_CACHE_LINE_SIZE));
  ASSERT_EQ(rte_rcu_qsbr_init(rcu, 1), 0);
  ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu, 0), 0);
  rte_rcu_qsbr_thread_online(rcu, 0);
  {
    FlowTable ft(uniq("ftf"), 4, 1, 1, rcu, SOCKET_ID_ANY);  // 8 legs
    uint16_t p = 20000;
    for (uint32_t f = 0; f < 4; ++f) {
      LegSpec a[2] = {leg(0, 0x0a000001, p), leg(0, 0x0a000001, uint16_t(p + 2))};
      p = uint16_t(p + 4);
      ASSERT_EQ(ft.add(f, a), Status::ok);
    }
    // Move flow 3 to new local ports: old keys wait for quiescence, so the
    // table has no room for the two new ones.
    LegSpec moved[2] = {leg(0, 0x0a000001, 21000), leg(0, 0x0a000001, 21002)};
    ASSERT_EQ(ft.del(2, 5), Status::ok);
    EXPECT_EQ(ft.modify(3, moved), Status::table_full);
    EXPECT_EQ(ft.get(3)->legs[0].local_port, 20012);
    rte_rcu_qsbr_quiescent(rcu, 0);
    ft.reclaim(false);
    EXPECT_EQ(ft.modify(3, moved), Status::ok);
    rte_rcu_qsbr_thread_offline(rcu, 0);
  }
  rte_free(rcu);
}

TEST(FlowTable, DefaultCapacityHolds100kRelayLegs) {
  ASSERT_NE(dptest::pool(), nullptr);
  // config default flow_capacity = 131072 legs -> 65536 sessions.
  FlowTable ft(uniq("ftbig"), 131072 / 2, 1, 2, nullptr, SOCKET_ID_ANY);
  ASSERT_TRUE(ft.ok());
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t f = 0; f < 50000; ++f) {
    LegSpec a[2] = {leg(0, 0x0a000000 | (f >> 14), uint16_t(2 * (f & 0x3fff) + 10000)),
                    leg(0, 0x0b000000 | (f >> 14), uint16_t(2 * (f & 0x3fff) + 10000))};
    ASSERT_EQ(ft.add(f, a), Status::ok) << f;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(ft.legs_in_use(), 100000u);
  uint8_t l;
  const SessionConfig* c = ft.lookup(0, 0x0b000000 | (49999 >> 14),
                                     uint16_t(2 * (49999 & 0x3fff) + 10000), &l);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->flow_id, 49999u);
  EXPECT_EQ(l, 1);
  // Owners are spread over the workers.
  EXPECT_NE(ft.get(0)->owner, ft.get(1)->owner);
  std::printf("100000 legs added in %lld ms\n", static_cast<long long>(ms));
}
