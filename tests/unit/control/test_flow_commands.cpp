// SPDX-License-Identifier: GPL-3.0-or-later
// Flow adds, modifies and deletes are posted, not awaited: FlowCommandTracker
// matches their acks on later polls, and DataplaneMedia reports an add's
// outcome as flow_added / flow_add_failed and a modify the dataplane refused
// or never acknowledged as flow_update_failed. The
// DataplaneMedia tests play the dataplane themselves on a real segment (its
// rings need no EAL) and drive the ack timeout with their own clock.
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "msgw/control/flow_commands.hpp"
#include "msgw/control/media.hpp"
#include "msgw/dataplane/client.hpp"

namespace {

using namespace msgw;
using control::FlowCommandKind;
using control::FlowCommandTracker;
using control::MediaEvent;
using Clock = FlowCommandTracker::Clock;
using std::chrono::milliseconds;
namespace dp = msgw::dataplane;

constexpr milliseconds kTimeout(500);
const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

// ---------------------------------------------------------------- the tracker

TEST(FlowCommandTracker, ModifyAckedLaterIsNothing) {
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::modify, 10, 7, t0);
  EXPECT_EQ(t.pending(), 1u);
  EXPECT_FALSE(t.acked(10, dp::Status::ok));
  EXPECT_EQ(t.pending(), 0u);
  EXPECT_TRUE(t.expire(t0 + std::chrono::seconds(1)).empty()) << "acked in time: no timeout later";
}

TEST(FlowCommandTracker, ModifyRefusedLaterIsAFailureOfItsFlow) {
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::modify, 10, 7, t0);
  auto f = t.acked(10, dp::Status::bad_address);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FlowCommandKind::modify);
  EXPECT_EQ(f->flow_id, 7u);
  EXPECT_FALSE(f->superseded);
  EXPECT_EQ(f->detail, "dataplane refused: bad local address");
  EXPECT_FALSE(t.acked(10, dp::Status::bad_address)) << "reported once";
  EXPECT_TRUE(t.expire(t0 + std::chrono::seconds(1)).empty());
}

TEST(FlowCommandTracker, RefusalAfterTheFlowWasDeletedIsSuperseded) {
  // The call ended (its flow deleted) before the modify's ack came back.
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::modify, 10, 7, t0);
  t.posted(FlowCommandKind::remove, 11, 7, t0);
  auto f = t.acked(10, dp::Status::no_such_flow);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->superseded);
  EXPECT_FALSE(t.acked(11, dp::Status::ok));
  EXPECT_EQ(t.pending(), 0u);
}

TEST(FlowCommandTracker, ALaterModifyOrAddSupersedesAnEarlierModify) {
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::modify, 10, 7, t0);
  t.posted(FlowCommandKind::modify, 11, 7, t0);
  auto first = t.acked(10, dp::Status::bad_payload_type);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->superseded);
  auto second = t.acked(11, dp::Status::bad_payload_type);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->superseded) << "the flow's latest command decides";
  // An add of the same id (re-programmed, or reused by another call) after
  // a modify supersedes the modify.
  t.posted(FlowCommandKind::modify, 12, 8, t0);
  t.posted(FlowCommandKind::add, 13, 8, t0);
  auto third = t.acked(12, dp::Status::no_such_flow);
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->superseded);
  auto add = t.acked(13, dp::Status::ok);
  ASSERT_TRUE(add);
  EXPECT_FALSE(add->superseded);
}

TEST(FlowCommandTracker, AnAddsOutcomeIsReportedAcceptedOrRefused) {
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::add, 10, 7, t0);
  t.posted(FlowCommandKind::add, 11, 8, t0);
  EXPECT_EQ(t.pending_adds(), 2u);
  auto ok = t.acked(10, dp::Status::ok);
  ASSERT_TRUE(ok) << "an accepted add is news: its call waits for it";
  EXPECT_EQ(ok->kind, FlowCommandKind::add);
  EXPECT_EQ(ok->flow_id, 7u);
  EXPECT_TRUE(ok->ok);
  EXPECT_FALSE(ok->superseded);
  auto refused = t.acked(11, dp::Status::table_full);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->ok);
  EXPECT_EQ(refused->flow_id, 8u);
  EXPECT_EQ(refused->detail, std::string("dataplane refused: ") + dp::status_name(dp::Status::table_full));
  EXPECT_EQ(t.pending_adds(), 0u);
  EXPECT_TRUE(t.expire(t0 + std::chrono::seconds(1)).empty());
}

TEST(FlowCommandTracker, AnUnacknowledgedAddTimesOutAsRefused) {
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::add, 10, 7, t0);
  t.posted(FlowCommandKind::modify, 11, 7, t0);  // the answer's media behind the early add
  EXPECT_TRUE(t.expire(t0 + milliseconds(499)).empty());
  auto due = t.expire(t0 + milliseconds(500));
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].kind, FlowCommandKind::add);
  EXPECT_FALSE(due[0].ok);
  EXPECT_TRUE(due[0].superseded) << "the modify was posted after it";
  EXPECT_EQ(due[0].detail, "dataplane did not acknowledge within 500 ms");
  EXPECT_EQ(due[1].kind, FlowCommandKind::modify);
  EXPECT_FALSE(due[1].superseded);
  EXPECT_FALSE(t.acked(10, dp::Status::ok)) << "a late ack of a timed-out add is nothing";
  EXPECT_EQ(t.pending_adds(), 0u);
}

TEST(FlowCommandTracker, AnAddWhoseCallEndedIsSuperseded) {
  // The call ended (CANCEL while connecting): its delete follows the add.
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::add, 10, 7, t0);
  t.posted(FlowCommandKind::remove, 11, 7, t0);
  auto add = t.acked(10, dp::Status::ok);
  ASSERT_TRUE(add);
  EXPECT_TRUE(add->superseded);
  EXPECT_FALSE(t.acked(11, dp::Status::ok));
}

TEST(FlowCommandTracker, AddsWaitingWhenTheDataplaneGoesAwayAreRefused) {
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::modify, 9, 6, t0);
  t.posted(FlowCommandKind::add, 10, 7, t0);
  t.posted(FlowCommandKind::add, 11, 8, t0);
  auto refused = t.refuse_adds("dataplane is down");
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].flow_id, 7u);
  EXPECT_EQ(refused[1].flow_id, 8u);
  EXPECT_FALSE(refused[0].ok);
  EXPECT_EQ(refused[0].detail, "dataplane is down");
  EXPECT_EQ(t.pending_adds(), 0u);
  EXPECT_EQ(t.pending(), 1u) << "the modify is left for the next generation's clear()";
  EXPECT_TRUE(t.refuse_adds("again").empty());
}

TEST(FlowCommandTracker, UnacknowledgedModifiesTimeOutOnceInPostingOrder) {
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::modify, 10, 7, t0);
  t.posted(FlowCommandKind::remove, 11, 5, t0);
  t.posted(FlowCommandKind::modify, 12, 9, t0 + milliseconds(100));
  EXPECT_TRUE(t.expire(t0 + milliseconds(499)).empty());
  auto due = t.expire(t0 + milliseconds(500));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].kind, FlowCommandKind::modify);
  EXPECT_EQ(due[0].flow_id, 7u);
  EXPECT_FALSE(due[0].superseded);
  EXPECT_EQ(due[0].detail, "dataplane did not acknowledge within 500 ms");
  EXPECT_FALSE(t.acked(10, dp::Status::ok)) << "a late ack of a timed-out modify is nothing";
  due = t.expire(t0 + milliseconds(600));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].flow_id, 9u);
  EXPECT_TRUE(t.expire(t0 + std::chrono::seconds(10)).empty());
  // Deletes do not time out (nothing waits for them); a refusal is reported.
  EXPECT_EQ(t.pending(), 1u);
  auto del = t.acked(11, dp::Status::unsupported);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->kind, FlowCommandKind::remove);
  EXPECT_EQ(del->flow_id, 5u);
}

TEST(FlowCommandTracker, ClearForgetsEveryCommand) {
  FlowCommandTracker t(kTimeout);
  t.posted(FlowCommandKind::modify, 10, 7, t0);
  t.posted(FlowCommandKind::remove, 11, 8, t0);
  t.clear();
  EXPECT_EQ(t.pending(), 0u);
  EXPECT_FALSE(t.acked(10, dp::Status::bad_address));
  EXPECT_TRUE(t.expire(t0 + std::chrono::seconds(1)).empty());
}

// ---------------------------------------------------------------- DataplaneMedia on a segment

struct SegmentGuard {
  std::string name;
  ~SegmentGuard() { shm_unlink(dp::segment_name(name).c_str()); }
};

dp::LegSpec leg(uint16_t port) {
  dp::LegSpec l{};
  l.local_ip = 0x0a0a0001;
  l.local_port = port;
  l.codec = uint8_t(dp::CodecId::Pcmu);
  l.payload_type = 0;
  l.dtmf_pt = 101;
  l.ptime_ms = 20;
  return l;
}

class DataplaneMediaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    guard.name = "ut-async-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                 "-" + std::to_string(getpid());
    std::string err;
    seg = dp::Segment::create(guard.name, 64, 2, 1, err);
    ASSERT_TRUE(seg) << err;
    seg->mark_up();
    media.emplace(guard.name, 500, [this] { return now; });
  }
  // The dataplane's side: the commands msgw-control queued.
  std::vector<dp::Command> commands() {
    dp::Command c[16];
    const unsigned n = seg->take_commands(c, 16);
    return {c, c + n};
  }
  void ack(const dp::Command& c, dp::Status st) {
    dp::Event e{};
    e.version = dp::kMessageVersion;
    e.type = uint16_t(dp::EventType::ack);
    e.request_id = c.request_id;
    e.flow_id = c.flow_id;
    e.status = int32_t(st);
    ASSERT_TRUE(seg->post_event(e));
  }
  std::vector<MediaEvent> poll() {
    bool restarted = false;
    auto out = media->poll(&restarted);
    last_restarted = restarted;
    return out;
  }
  bool modify(uint32_t flow) {
    std::string why;
    const bool ok = media->modify(flow, leg(16384), leg(16386), &why);
    EXPECT_TRUE(ok) << why;
    return ok;
  }

  SegmentGuard guard;
  std::optional<dp::Segment> seg;
  Clock::time_point now = Clock::now();
  std::optional<control::DataplaneMedia> media;
  bool last_restarted = false;
};

TEST_F(DataplaneMediaTest, ModifyReturnsAtOnceAndItsAckComesThroughPoll) {
  ASSERT_TRUE(modify(3));  // no ack yet: modify() did not wait for one
  ASSERT_TRUE(modify(4));
  auto cmds = commands();
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].type, uint16_t(dp::CommandType::flow_modify));
  EXPECT_TRUE(poll().empty());
  ack(cmds[0], dp::Status::ok);
  ack(cmds[1], dp::Status::bad_address);
  auto ev = poll();
  ASSERT_EQ(ev.size(), 1u) << "the accepted modify reports nothing";
  EXPECT_EQ(ev[0].kind, MediaEvent::Kind::flow_update_failed);
  EXPECT_EQ(ev[0].flow_id, 4u);
  EXPECT_FALSE(ev[0].superseded);
  EXPECT_EQ(ev[0].detail, "dataplane refused: bad local address");
  now += std::chrono::seconds(1);
  EXPECT_TRUE(poll().empty()) << "both were answered: nothing times out";
}

TEST_F(DataplaneMediaTest, AddReturnsAtOnceAndItsOutcomeComesThroughPoll) {
  std::string why;
  ASSERT_TRUE(media->add(3, leg(16384), leg(16386), &why)) << why;  // no ack yet: add() did not wait
  ASSERT_TRUE(media->add(4, leg(16388), leg(16390), &why)) << why;
  EXPECT_EQ(media->adds_pending(), 2u);
  media->flush();  // the doorbell: nobody naps here, nothing to ring
  auto cmds = commands();
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].type, uint16_t(dp::CommandType::flow_add));
  EXPECT_TRUE(poll().empty());
  ack(cmds[0], dp::Status::ok);
  ack(cmds[1], dp::Status::duplicate_address);
  auto ev = poll();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, MediaEvent::Kind::flow_added);
  EXPECT_EQ(ev[0].flow_id, 3u);
  EXPECT_EQ(ev[1].kind, MediaEvent::Kind::flow_add_failed);
  EXPECT_EQ(ev[1].flow_id, 4u);
  EXPECT_FALSE(ev[1].superseded);
  EXPECT_EQ(ev[1].detail, std::string("dataplane refused: ") + dp::status_name(dp::Status::duplicate_address));
  EXPECT_EQ(media->adds_pending(), 0u);
}

TEST_F(DataplaneMediaTest, UnacknowledgedAddIsRefusedOnTheCallersClock) {
  std::string why;
  ASSERT_TRUE(media->add(3, leg(16384), leg(16386), &why)) << why;
  auto cmds = commands();
  ASSERT_EQ(cmds.size(), 1u);
  now += milliseconds(499);
  EXPECT_TRUE(poll().empty());
  now += milliseconds(1);
  auto ev = poll();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, MediaEvent::Kind::flow_add_failed);
  EXPECT_EQ(ev[0].detail, "dataplane did not acknowledge within 500 ms");
  ack(cmds[0], dp::Status::ok);  // too late: nothing
  EXPECT_TRUE(poll().empty());
}

TEST_F(DataplaneMediaTest, AddsWaitingWhenTheDataplaneStopsAreRefused) {
  std::string why;
  ASSERT_TRUE(media->add(3, leg(16384), leg(16386), &why)) << why;
  seg->mark_down();
  auto ev = poll();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, MediaEvent::Kind::flow_add_failed);
  EXPECT_EQ(ev[0].flow_id, 3u);
  EXPECT_FALSE(media->add(4, leg(16388), leg(16390), &why)) << "no dataplane: not even queued";
}

TEST_F(DataplaneMediaTest, UnacknowledgedModifyFailsOnTheCallersClock) {
  ASSERT_TRUE(modify(3));
  auto cmds = commands();
  ASSERT_EQ(cmds.size(), 1u);
  now += milliseconds(499);
  EXPECT_TRUE(poll().empty());
  now += milliseconds(1);
  auto ev = poll();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, MediaEvent::Kind::flow_update_failed);
  EXPECT_EQ(ev[0].flow_id, 3u);
  EXPECT_EQ(ev[0].detail, "dataplane did not acknowledge within 500 ms");
  ack(cmds[0], dp::Status::ok);  // too late: nothing
  EXPECT_TRUE(poll().empty());
}

TEST_F(DataplaneMediaTest, RefusalOfAModifyWhoseFlowWasDeletedIsSuperseded) {
  ASSERT_TRUE(modify(3));
  std::string why;
  ASSERT_TRUE(media->remove(3, &why)) << why;
  auto cmds = commands();
  ASSERT_EQ(cmds.size(), 2u);
  ack(cmds[0], dp::Status::no_such_flow);
  ack(cmds[1], dp::Status::ok);
  auto ev = poll();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].superseded);
}

TEST_F(DataplaneMediaTest, ANewDataplaneGenerationForgetsWhatWasPosted) {
  ASSERT_TRUE(modify(3));
  ASSERT_EQ(commands().size(), 1u);
  std::string err;
  seg = dp::Segment::create(guard.name, 64, 2, 1, err);  // the dataplane restarted
  ASSERT_TRUE(seg) << err;
  seg->mark_up();
  EXPECT_TRUE(poll().empty());
  EXPECT_TRUE(last_restarted);
  now += std::chrono::seconds(1);
  EXPECT_TRUE(poll().empty()) << "the old dataplane's commands never time out in the new one";
}

}  // namespace
