// SPDX-License-Identifier: GPL-3.0-or-later
// Flow commands posted to the dataplane (FLOW_ADD, FLOW_MODIFY, FLOW_DEL),
// matched to their acks later, on a loop pass: msgw-control waits for none.
//
// Waiting for an ack held the event loop for the dataplane's round trip (a
// nap of the loop's thread, and a second process scheduled on the core the
// two share), once per call for the add. The add's outcome is now a call
// event (flow_ready / flow_refused): a call whose flow is being added waits
// in its state (`connecting` for an answered one) instead of the loop.
//
// What is kept here decides what a late answer means:
// - an add's ack is always reported (accepted or refused); an add not
//   acknowledged within ack_timeout is reported refused, once;
// - a refused or unacknowledged modify is a failure of the flow's media
//   update, reported once; an accepted one is nothing;
// - an outcome is `superseded` when any later command for the same flow was
//   posted after its command (a later modify carries both legs in full; a
//   delete means the call ended; an add means the id was reused or
//   re-programmed): that command, not this one, decides what the flow is now;
// - a refused delete is reported to be logged;
// - an ack of a request not kept here (the late ack of a timed-out command,
//   one sent to an earlier dataplane) is nothing.
// Pure bookkeeping with the clock passed in, so tests drive it directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "msgw/dataplane/protocol.hpp"

namespace msgw::control {

enum class FlowCommandKind : uint8_t { add, modify, remove };

class FlowCommandTracker {
 public:
  using Clock = std::chrono::steady_clock;

  struct Outcome {
    FlowCommandKind kind;
    uint32_t flow_id;
    bool superseded;     // a later command for the flow was posted after this one
    bool ok = false;     // accepted (reported for adds only)
    std::string detail;  // "dataplane refused: <status>" or "dataplane did not acknowledge ..."
  };

  explicit FlowCommandTracker(std::chrono::milliseconds ack_timeout) : timeout_(ack_timeout) {}

  // A command was queued for the dataplane; from now on it is the flow's
  // latest.
  void posted(FlowCommandKind kind, uint32_t request_id, uint32_t flow_id, Clock::time_point now);
  // An ack arrived: what it reports (an add's outcome, a modify's or a
  // delete's failure), if anything.
  std::optional<Outcome> acked(uint32_t request_id, dataplane::Status status);
  // Adds and modifies not acknowledged within the timeout, in the order
  // they were posted; each is forgotten (its late ack is then nothing).
  std::vector<Outcome> expire(Clock::time_point now);
  // The dataplane is gone (not up, nothing to attach to): every add still
  // waiting is refused with `detail` and forgotten; nothing else changes (a
  // new dataplane generation clears the rest).
  std::vector<Outcome> refuse_adds(const std::string& detail);
  // A new dataplane generation: none of the old commands will be answered.
  void clear();

  std::size_t pending() const { return pending_.size(); }
  std::size_t pending_adds() const { return pending_adds_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  struct Pending {
    FlowCommandKind kind;
    uint32_t flow_id;
  };
  // Forgets request_id; true when it was its flow's latest command.
  bool forget(uint32_t request_id, uint32_t flow_id);

  std::chrono::milliseconds timeout_;
  std::unordered_map<uint32_t, Pending> pending_;        // request id -> command
  std::unordered_map<uint32_t, uint32_t> latest_;        // flow id -> its latest request id
  std::deque<std::pair<Clock::time_point, uint32_t>> deadlines_;  // adds and modifies, posting order
  std::size_t pending_adds_ = 0;
};

}  // namespace msgw::control
