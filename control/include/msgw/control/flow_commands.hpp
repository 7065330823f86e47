// SPDX-License-Identifier: GPL-3.0-or-later
// Flow commands posted to the dataplane whose acks msgw-control does not wait
// for (FLOW_MODIFY, FLOW_DEL), matched to their acks later, on a loop pass.
//
// Waiting for every ack held the event loop for the dataplane's round trip
// (a nap of the loop's thread, and a second process scheduled on the core
// the two share). Only FLOW_ADD is still awaited: its refusal must reject the
// call before the callee is ACKed and the caller answered.
//
// What is kept here decides what a late answer means:
// - a refused or unacknowledged (ack_timeout) modify is a failure of the
//   flow's media update, reported once;
// - it is `superseded` when any later command for the same flow was posted
//   after it (a later modify carries both legs in full; a delete means the
//   call ended; an add means the id was reused or re-programmed): its
//   outcome, not this one, is what the flow is now;
// - a refused delete is reported to be logged;
// - an ack of a request not kept here (the late ack of a timed-out wait) is
//   nothing.
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

  struct Failure {
    FlowCommandKind kind;
    uint32_t flow_id;
    bool superseded;     // a later command for the flow was posted after this one
    std::string detail;  // "dataplane refused: <status>" or "dataplane did not acknowledge ..."
  };

  explicit FlowCommandTracker(std::chrono::milliseconds ack_timeout) : timeout_(ack_timeout) {}

  // A command was queued for the dataplane; from now on it is the flow's
  // latest. An add is awaited by its caller: tracked only as the latest (so
  // it supersedes what was posted before it), until settled().
  void posted(FlowCommandKind kind, uint32_t request_id, uint32_t flow_id, Clock::time_point now);
  // The awaited add's wait is over (acked, refused or timed out).
  void settled(uint32_t request_id, uint32_t flow_id);
  // An ack arrived: the failure it reports, if any.
  std::optional<Failure> acked(uint32_t request_id, dataplane::Status status);
  // Modifies not acknowledged within the timeout, in the order they were
  // posted; each is forgotten (its late ack is then nothing).
  std::vector<Failure> expire(Clock::time_point now);
  // A new dataplane generation: none of the old commands will be answered.
  void clear();

  std::size_t pending() const { return pending_.size(); }
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
  std::deque<std::pair<Clock::time_point, uint32_t>> modify_deadlines_;  // posting order
};

}  // namespace msgw::control
