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
  pending_[request_id] = {kind, flow_id};
  if (kind == FlowCommandKind::add) ++pending_adds_;
  if (kind != FlowCommandKind::remove) deadlines_.emplace_back(now + timeout_, request_id);
}

bool FlowCommandTracker::forget(uint32_t request_id, uint32_t flow_id) {
  auto p = pending_.find(request_id);
  if (p != pending_.end()) {
    if (p->second.kind == FlowCommandKind::add) --pending_adds_;
    pending_.erase(p);
  }
  auto l = latest_.find(flow_id);
  if (l == latest_.end() || l->second != request_id) return false;
  latest_.erase(l);
  return true;
}

std::optional<FlowCommandTracker::Outcome> FlowCommandTracker::acked(uint32_t request_id, dp::Status status) {
  auto p = pending_.find(request_id);
  if (p == pending_.end()) return std::nullopt;
  const Pending cmd = p->second;
  const bool latest = forget(request_id, cmd.flow_id);
  // The deadline entry stays in deadlines_ and is skipped by expire() (its
  // request id is no longer pending): no search here.
  if (status == dp::Status::ok) {
    if (cmd.kind != FlowCommandKind::add) return std::nullopt;
    return Outcome{cmd.kind, cmd.flow_id, !latest, true, {}};
  }
  return Outcome{cmd.kind, cmd.flow_id, !latest, false, std::string("dataplane refused: ") + dp::status_name(status)};
}

std::vector<FlowCommandTracker::Outcome> FlowCommandTracker::expire(Clock::time_point now) {
  std::vector<Outcome> out;
  // One timeout for every command: deadlines are in posting order.
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    const uint32_t rid = deadlines_.front().second;
    deadlines_.pop_front();
    auto p = pending_.find(rid);
    if (p == pending_.end()) continue;  // acked in time
    const Pending cmd = p->second;
    const bool latest = forget(rid, cmd.flow_id);
    out.push_back({cmd.kind, cmd.flow_id, !latest, false,
                   "dataplane did not acknowledge within " + std::to_string(timeout_.count()) + " ms"});
  }
  return out;
}

std::vector<FlowCommandTracker::Outcome> FlowCommandTracker::refuse_adds(const std::string& detail) {
  std::vector<Outcome> out;
  if (pending_adds_ == 0) return out;
  // In posting order, as their acks would have come.
  for (const auto& [due, rid] : deadlines_) {
    auto p = pending_.find(rid);
    if (p == pending_.end() || p->second.kind != FlowCommandKind::add) continue;
    const uint32_t flow = p->second.flow_id;
    const bool latest = forget(rid, flow);
    out.push_back({FlowCommandKind::add, flow, !latest, false, detail});
  }
  return out;
}

void FlowCommandTracker::clear() {
  pending_.clear();
  latest_.clear();
  deadlines_.clear();
  pending_adds_ = 0;
}

}  // namespace msgw::control
