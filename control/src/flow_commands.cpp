// SPDX-License-Identifier: GPL-3.0-or-later
// FlowCommandTracker: posted flow commands matched to their acks.
#include "msgw/control/flow_commands.hpp"

namespace msgw::control {

namespace dp = msgw::dataplane;

namespace {

// Bounded: a dataplane that stopped answering is replaced (a new generation
// clears everything) or fills its command ring, which fails new commands.
constexpr std::size_t kMaxPending = 65536;

}  // namespace

void FlowCommandTracker::posted(FlowCommandKind kind, uint32_t request_id, uint32_t flow_id,
                                Clock::time_point now) {
  if (pending_.size() >= kMaxPending) clear();
  latest_[flow_id] = request_id;
  if (kind == FlowCommandKind::add) return;  // awaited by the caller
  pending_[request_id] = {kind, flow_id};
  if (kind == FlowCommandKind::modify) modify_deadlines_.emplace_back(now + timeout_, request_id);
}

void FlowCommandTracker::settled(uint32_t request_id, uint32_t flow_id) {
  auto l = latest_.find(flow_id);
  if (l != latest_.end() && l->second == request_id) latest_.erase(l);
}

bool FlowCommandTracker::forget(uint32_t request_id, uint32_t flow_id) {
  pending_.erase(request_id);
  auto l = latest_.find(flow_id);
  if (l == latest_.end() || l->second != request_id) return false;
  latest_.erase(l);
  return true;
}

std::optional<FlowCommandTracker::Failure> FlowCommandTracker::acked(uint32_t request_id, dp::Status status) {
  auto p = pending_.find(request_id);
  if (p == pending_.end()) return std::nullopt;
  const Pending cmd = p->second;
  const bool latest = forget(request_id, cmd.flow_id);
  // The modify's deadline entry stays in modify_deadlines_ and is skipped by
  // expire() (its request id is no longer pending): no search here.
  if (status == dp::Status::ok) return std::nullopt;
  return Failure{cmd.kind, cmd.flow_id, !latest, std::string("dataplane refused: ") + dp::status_name(status)};
}

std::vector<FlowCommandTracker::Failure> FlowCommandTracker::expire(Clock::time_point now) {
  std::vector<Failure> out;
  // One timeout for every modify: deadlines are in posting order.
  while (!modify_deadlines_.empty() && modify_deadlines_.front().first <= now) {
    const uint32_t rid = modify_deadlines_.front().second;
    modify_deadlines_.pop_front();
    auto p = pending_.find(rid);
    if (p == pending_.end()) continue;  // acked in time
    const uint32_t flow = p->second.flow_id;
    const bool latest = forget(rid, flow);
    out.push_back({FlowCommandKind::modify, flow, !latest,
                   "dataplane did not acknowledge within " + std::to_string(timeout_.count()) + " ms"});
  }
  return out;
}

void FlowCommandTracker::clear() {
  pending_.clear();
  latest_.clear();
  modify_deadlines_.clear();
}

}  // namespace msgw::control
