// SPDX-License-Identifier: GPL-3.0-or-later
// The command protocol end to end in one process: client -> ring ->
// CommandProcessor -> flow table -> acks/events -> client.
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <deque>

#include "msgw/dataplane/control_loop.hpp"
#include "test_support.hpp"

using namespace msgw::dataplane;
using namespace std::chrono_literals;

namespace {

LegSpec leg(uint16_t port, uint32_t ip, uint16_t udp) {
  LegSpec l{};
  l.port = port;
  l.local_ip = ip;
  l.local_port = udp;
  l.codec = uint8_t(CodecId::Pcma);
  l.payload_type = 8;
  l.dtmf_pt = 101;
  l.ptime_ms = 20;
  return l;
}

struct Rig {
  std::string instance = "ut-cmd-" + std::to_string(getpid()) + "-" + std::to_string(++count());
  std::string err;
  std::optional<Segment> seg;
  std::optional<FlowTable> ft;
  std::optional<CommandProcessor> cp;
  std::optional<Client> cl;
  uint64_t now = 1'000'000'000;
  static int& count() {
    static int n = 0;
    return n;
  }
  Rig(uint32_t max_flows = 8, uint32_t timeout_ms = 1000) {
    seg = Segment::create(instance, max_flows, 2, 1, err);
    if (!seg) return;
    ft.emplace("ut_cmd_" + std::to_string(count()), max_flows, 2, 1, nullptr, SOCKET_ID_ANY);
    cp.emplace(*seg, *ft, timeout_ms);
    seg->mark_up();
    cl = Client::attach(instance, err);
  }
  ~Rig() { shm_unlink(segment_name(instance).c_str()); }
  std::optional<Status> run(std::optional<uint32_t> rid, std::deque<Event>* dump = nullptr) {
    if (!rid) return std::nullopt;
    cp->poll(now);
    return cl->wait_ack(*rid, 100ms, dump);
  }
};

}  // namespace

TEST(DataplaneCommands, AddModifyDeleteAreAcked) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_TRUE(r.cl.has_value()) << r.err;
  LegSpec a = leg(0, 0x0a000001, 20000), b = leg(1, 0xc0a80101, 30000);
  EXPECT_EQ(r.run(r.cl->add_flow(2, a, b)), Status::ok);
  EXPECT_EQ(r.run(r.cl->add_flow(2, a, b)), Status::flow_exists);
  b.remote_ip = 0xc0a80114;
  b.remote_port = 5000;
  EXPECT_EQ(r.run(r.cl->modify_flow(2, a, b)), Status::ok);
  EXPECT_EQ(r.run(r.cl->modify_flow(3, a, b)), Status::no_such_flow);
  std::deque<Event> dump;
  EXPECT_EQ(r.run(r.cl->dump_flows(2), &dump), Status::ok);
  ASSERT_EQ(dump.size(), 1u);
  EXPECT_EQ(dump[0].u.flow.legs[1].remote_port, 5000);
  EXPECT_EQ(r.run(r.cl->delete_flow(2)), Status::ok);
  EXPECT_EQ(r.run(r.cl->delete_flow(2)), Status::no_such_flow);
  EXPECT_EQ(r.run(r.cl->dump_flows(2)), Status::no_such_flow);
  EXPECT_EQ(r.run(r.cl->dump_flows(200)), Status::bad_flow_id);
}

TEST(DataplaneCommands, InvalidCommandsGetErrorAcksAndChangeNothing) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_TRUE(r.cl.has_value()) << r.err;
  LegSpec a = leg(0, 0x0a000001, 20000), b = leg(1, 0xc0a80101, 30000);
  ASSERT_EQ(r.run(r.cl->add_flow(0, a, b)), Status::ok);
  LegSpec bad = b;
  bad.codec = 9;
  EXPECT_EQ(r.run(r.cl->add_flow(1, leg(0, 0x0a000001, 20002), bad)), Status::unknown_codec);
  bad = b;
  bad.port = 7;
  EXPECT_EQ(r.run(r.cl->add_flow(1, leg(0, 0x0a000001, 20002), bad)), Status::bad_port);
  EXPECT_EQ(r.run(r.cl->add_flow(1, leg(0, 0x0a000001, 20002), b)), Status::duplicate_address);
  EXPECT_EQ(r.run(r.cl->add_flow(8, leg(0, 0x0a000001, 20002), leg(1, 0xc0a80101, 30002))),
            Status::bad_flow_id);

  Command c{};
  c.version = 99;
  c.type = uint16_t(CommandType::flow_add);
  c.request_id = 5000;
  ASSERT_TRUE(r.cl->send(c));
  EXPECT_EQ(r.run(5000), Status::bad_version);
  c.version = kMessageVersion;
  c.type = 42;
  c.request_id = 5001;
  ASSERT_TRUE(r.cl->send(c));
  EXPECT_EQ(r.run(5001), Status::unknown_command);

  std::deque<Event> dump;
  EXPECT_EQ(r.run(r.cl->dump_flows(), &dump), Status::ok);
  ASSERT_EQ(dump.size(), 1u);  // only flow 0 exists
  EXPECT_EQ(dump[0].flow_id, 0u);
  EXPECT_EQ(r.cp->counters().command_errors, 6u);
}

TEST(DataplaneCommands, MediaTimeoutEventOncePerSilence) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r(8, 1000);
  ASSERT_TRUE(r.cl.has_value()) << r.err;
  ASSERT_EQ(r.run(r.cl->add_flow(4, leg(0, 0x0a000001, 20000), leg(1, 0xc0a80101, 30000))),
            Status::ok);
  r.now += 900'000'000;
  r.cp->poll(r.now);
  EXPECT_FALSE(r.cl->poll_event().has_value());
  r.now += 200'000'000;
  r.cp->poll(r.now);
  auto e = r.cl->poll_event();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type, uint16_t(EventType::media_timeout));
  EXPECT_EQ(e->flow_id, 4u);
  r.cp->poll(r.now + 1000);
  EXPECT_FALSE(r.cl->poll_event().has_value());  // not repeated
  // Media resumes (worker writes last_seen), then stops again: reported again.
  r.seg->stats()[4 * 2 + 1].last_seen_ns = r.now + 10;
  r.cp->poll(r.now + 20);
  EXPECT_FALSE(r.cl->poll_event().has_value());
  r.cp->poll(r.now + 1'100'000'000);
  e = r.cl->poll_event();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type, uint16_t(EventType::media_timeout));
}

TEST(DataplaneCommands, DumpOfManyFlowsStreamsWithoutOverflowingTheEventRing) {
  ASSERT_NE(dptest::pool(), nullptr);
  const uint32_t n = kEventRingSlots + 500;  // more flows than the event ring holds
  Rig r(n, 0);
  ASSERT_TRUE(r.cl.has_value()) << r.err;
  for (uint32_t f = 0; f < n; ++f) {
    auto rid = r.cl->add_flow(f, leg(0, 0x0a000001 + (f >> 14), uint16_t(2 * (f & 0x3fff) + 2)),
                              leg(1, 0x0b000001 + (f >> 14), uint16_t(2 * (f & 0x3fff) + 2)));
    if (!rid) {  // command ring full: let the dataplane drain it
      r.cp->poll(r.now);
      while (r.cl->poll_event()) {}
      --f;
      continue;
    }
  }
  for (int i = 0; i < 100; ++i) r.cp->poll(r.now);
  while (r.cl->poll_event()) {}
  auto rid = r.cl->dump_flows();
  ASSERT_TRUE(rid.has_value());
  uint32_t flows = 0;
  bool acked = false;
  for (int round = 0; round < 1000 && !acked; ++round) {
    r.cp->poll(r.now);
    while (auto e = r.cl->poll_event()) {
      if (e->type == uint16_t(EventType::flow)) ++flows;
      if (e->type == uint16_t(EventType::ack) && e->request_id == *rid) acked = true;
    }
  }
  EXPECT_TRUE(acked);
  EXPECT_EQ(flows, n);
  EXPECT_EQ(r.seg->header()->events_dropped, 0u);
}
