// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "msgw/control/state_store.hpp"

using msgw::control::CallRecord;
using msgw::control::StateStore;

namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("msgw-state-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "state.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

CallRecord sample(const std::string& id) {
  CallRecord r;
  r.call_id = id;
  r.from_uri = "sip:spa1@10.10.0.1";
  r.to_uri = "sip:18005551212@10.10.0.1";
  r.trunk = "carrier";
  r.direction = "outbound";
  r.start_ms = 1000;
  r.answer_ms = 2000;
  r.end_ms = 42000;
  r.result_code = 200;
  r.end_reason = "caller BYE";
  r.a_codec = "PCMU";
  r.b_codec = "G729";
  r.a = {2000, 3, 1.5};
  r.b = {1999, 0, 0.25};
  return r;
}

TEST_F(StateStoreTest, CdrRoundTripNewestFirst) {
  StateStore s(path_);
  s.write_cdr(sample("one"));
  s.write_cdr(sample("two"));
  auto all = s.cdrs();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].call_id, "two");
  auto one = s.cdr("one");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->b_codec, "G729");
  EXPECT_EQ(one->a.packets, 2000u);
  EXPECT_EQ(one->a.lost, 3u);
  EXPECT_DOUBLE_EQ(one->a.jitter_ms, 1.5);
  EXPECT_EQ(one->result_code, 200);
  EXPECT_FALSE(s.cdr("three"));
}

TEST_F(StateStoreTest, LiveStateReplacedAndDeleted) {
  StateStore s(path_);
  s.put_live("c1", R"({"state":"early"})");
  s.put_live("c1", R"({"state":"confirmed"})");
  s.put_live("c2", R"({"state":"early"})");
  auto live = s.live();
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0].second, R"({"state":"confirmed"})");
  s.delete_live("c2");
  EXPECT_EQ(s.live().size(), 1u);
}

// The control plane's durability promise: what was written before a kill -9
// is there for the restarted process.
TEST_F(StateStoreTest, SurvivesKillNine) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    StateStore s(path_);
    s.put_live("mid-call", R"({"state":"confirmed"})");
    s.write_cdr(sample("ended-before"));
    raise(SIGKILL);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  StateStore s(path_);
  auto live = s.live();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].first, "mid-call");
  EXPECT_TRUE(s.cdr("ended-before"));
}

// Group commit: a pass's writes stay in the open transaction until it is
// `delay` old; the loop's clock is passed in, so no test sleeps.
TEST_F(StateStoreTest, PassesShareOneTransactionUntilItIsDelayOld) {
  using namespace std::chrono_literals;
  StateStore s(path_);
  StateStore other(path_);
  EXPECT_EQ(s.next_commit_ms(StateStore::Clock::now(), 10ms), -1);  // nothing open
  const auto t0 = StateStore::Clock::now();
  s.begin_batch();
  s.put_live("first", "{}");
  ASSERT_TRUE(s.end_pass(t0, 10ms));
  EXPECT_TRUE(other.live().empty()) << "committed before the delay";
  const int left = s.next_commit_ms(t0, 10ms);
  EXPECT_EQ(left, 10);  // dated by the end of the pass that opened it
  s.begin_batch();
  s.put_live("second", "{}");  // the next pass joins the same transaction
  ASSERT_TRUE(s.end_pass(t0 + 1ms, 10ms));
  EXPECT_TRUE(other.live().empty());
  EXPECT_EQ(s.next_commit_ms(t0 + 1ms, 10ms), 9);
  const auto due = t0 + 10ms;
  EXPECT_EQ(s.next_commit_ms(due, 10ms), 0);
  ASSERT_TRUE(s.end_pass(due, 10ms));
  EXPECT_EQ(other.live().size(), 2u);
  EXPECT_EQ(s.next_commit_ms(due, 10ms), -1);
  // end_batch commits at once (before a management request is served).
  s.begin_batch();
  s.put_live("third", "{}");
  ASSERT_TRUE(s.end_pass(StateStore::Clock::now(), 1h));
  EXPECT_EQ(other.live().size(), 2u);
  ASSERT_TRUE(s.end_batch());
  EXPECT_EQ(other.live().size(), 3u);
}

TEST_F(StateStoreTest, BatchIsCommittedAtItsEndAndSurvivesKillNineAfterIt) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    StateStore s(path_);
    StateStore other(path_);
    s.begin_batch();
    s.put_live("answered", R"({"state":"confirmed"})");
    s.write_cdr(sample("ended"));
    s.put_live("answered", R"({"state":"held"})");  // same statement again in the batch
    // Not visible to another connection until the batch ends.
    if (!other.live().empty() || other.cdr("ended")) _exit(3);
    if (!s.end_batch()) _exit(4);
    if (other.live().size() != 1 || !other.cdr("ended")) _exit(5);
    s.begin_batch();
    s.put_live("uncommitted", "{}");
    raise(SIGKILL);  // the open batch is lost, the committed one is not
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);
  StateStore s(path_);
  auto live = s.live();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].first, "answered");
  EXPECT_EQ(live[0].second, R"({"state":"held"})");
  EXPECT_TRUE(s.cdr("ended"));
}

TEST_F(StateStoreTest, UnopenablePathIsAClearError) {
  try {
    StateStore s("/nonexistent-dir/state.db");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/state.db"), std::string::npos);
  }
}

}  // namespace
