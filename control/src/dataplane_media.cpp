// SPDX-License-Identifier: GPL-3.0-or-later
// DataplaneMedia: the shared-memory client with the add's ack awaited, the
// modify's and delete's acks matched on later polls (FlowCommandTracker),
// lazy attach and re-attach after a dataplane restart.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "msgw/common/log.hpp"
#include "msgw/control/flow_commands.hpp"
#include "msgw/control/media.hpp"
#include "msgw/dataplane/client.hpp"

namespace msgw::control {

namespace dp = msgw::dataplane;

struct DataplaneMedia::Impl {
  std::string instance;
  std::chrono::milliseconds ack_timeout;
  std::function<std::chrono::steady_clock::time_point()> now;
  std::optional<dp::Client> client;
  uint64_t last_generation = 0;  // generation we last programmed flows into
  bool ever_attached = false;
  // Modifies and deletes are not waited for: each wait held the event loop
  // for the dataplane's command round trip (up to a millisecond when it
  // naps).  Their acks arrive through poll().
  FlowCommandTracker commands;

  Impl(std::string inst, std::chrono::milliseconds timeout, std::function<std::chrono::steady_clock::time_point()> clock)
      : instance(std::move(inst)), ack_timeout(timeout), now(std::move(clock)), commands(timeout) {
    if (!now) now = [] { return std::chrono::steady_clock::now(); };
  }

  // Attaches (or re-attaches after a restart). True when a usable client exists.
  bool ensure(std::string* error, bool* restarted) {
    if (client && !client->generation_changed()) return true;
    if (client) client.reset();
    std::string err;
    auto c = dp::Client::attach(instance, err);
    if (!c) {
      if (error) *error = err;
      return false;
    }
    if (!c->dataplane_up()) {
      if (error) *error = "dataplane '" + instance + "' is not up yet";
      return false;
    }
    if (ever_attached && c->attached_generation() != last_generation && restarted) *restarted = true;
    commands.clear();  // a new dataplane has none of the old flows and answers none of the old commands
    last_generation = c->attached_generation();
    ever_attached = true;
    client = std::move(c);
    return true;
  }

  static bool queued(std::optional<uint32_t> rid, std::string* error) {
    if (!rid && error) *error = "dataplane command ring full or dataplane down";
    return rid.has_value();
  }

  // Posts and waits for the ack (add only).
  bool awaited(uint32_t flow_id, std::optional<uint32_t> rid, std::string* error) {
    if (!queued(rid, error)) return false;
    commands.posted(FlowCommandKind::add, *rid, flow_id, now());
    auto st = client->wait_ack(*rid, ack_timeout);
    commands.settled(*rid, flow_id);
    if (!st) {
      if (error) *error = "dataplane did not acknowledge within " + std::to_string(ack_timeout.count()) + " ms";
      return false;
    }
    if (*st != dp::Status::ok) {
      if (error) *error = std::string("dataplane refused: ") + dp::status_name(*st);
      return false;
    }
    return true;
  }
};

DataplaneMedia::DataplaneMedia(std::string instance, uint32_t ack_timeout_ms,
                               std::function<std::chrono::steady_clock::time_point()> now)
    : impl_(new Impl(std::move(instance), std::chrono::milliseconds(ack_timeout_ms), std::move(now))) {}

DataplaneMedia::~DataplaneMedia() { delete impl_; }

bool DataplaneMedia::add(uint32_t flow_id, const dp::LegSpec& a, const dp::LegSpec& b, std::string* error) {
  bool restarted = false;
  if (!impl_->ensure(error, &restarted)) return false;
  return impl_->awaited(flow_id, impl_->client->add_flow(flow_id, a, b), error);
}

bool DataplaneMedia::modify(uint32_t flow_id, const dp::LegSpec& a, const dp::LegSpec& b, std::string* error) {
  bool restarted = false;
  if (!impl_->ensure(error, &restarted)) return false;
  auto rid = impl_->client->modify_flow(flow_id, a, b);
  if (!Impl::queued(rid, error)) return false;
  impl_->commands.posted(FlowCommandKind::modify, *rid, flow_id, impl_->now());
  return true;
}

bool DataplaneMedia::remove(uint32_t flow_id, std::string* error) {
  bool restarted = false;
  if (!impl_->ensure(error, &restarted)) return false;
  auto rid = impl_->client->delete_flow(flow_id);
  if (!Impl::queued(rid, error)) return false;
  impl_->commands.posted(FlowCommandKind::remove, *rid, flow_id, impl_->now());
  return true;
}

std::vector<MediaEvent> DataplaneMedia::poll(bool* restarted) {
  std::vector<MediaEvent> out;
  std::string err;
  if (!impl_->ensure(&err, restarted)) {
    last_error_ = err;
    return out;
  }
  bool drained = false;
  for (int i = 0; i < 4096; ++i) {  // bounded: signalling must not starve
    auto e = impl_->client->poll_event();
    if (!e) {
      drained = true;
      break;
    }
    MediaEvent m{};
    m.flow_id = e->flow_id;
    m.leg = e->leg;
    switch (dp::EventType(e->type)) {
      case dp::EventType::latched:
        m.kind = MediaEvent::Kind::latched;
        m.ip = e->u.latched.ip;
        m.port = e->u.latched.port;
        break;
      case dp::EventType::media_timeout: m.kind = MediaEvent::Kind::media_timeout; break;
      case dp::EventType::dtmf:
        m.kind = MediaEvent::Kind::dtmf;
        m.dtmf = e->u.dtmf.event;
        break;
      case dp::EventType::ack: {
        auto failure = impl_->commands.acked(e->request_id, dp::Status(e->status));
        if (!failure) continue;  // ok, or the late ack of a timed-out wait
        if (failure->kind == FlowCommandKind::remove) {
          MSGW_LOG(warn, "flow delete refused by the dataplane", {"flow", failure->flow_id},
                   {"status", dp::status_name(dp::Status(e->status))});
          continue;
        }
        m.kind = MediaEvent::Kind::flow_update_failed;
        m.flow_id = failure->flow_id;
        m.superseded = failure->superseded;
        m.detail = std::move(failure->detail);
        break;
      }
      default: continue;  // stats snapshots (stats are read from the stats area)
    }
    out.push_back(std::move(m));
  }
  // Only once the ring is read to its end: an ack still in it arrived in time.
  if (!drained) return out;
  for (auto& f : impl_->commands.expire(impl_->now())) {
    MediaEvent m{};
    m.kind = MediaEvent::Kind::flow_update_failed;
    m.flow_id = f.flow_id;
    m.superseded = f.superseded;
    m.detail = std::move(f.detail);
    out.push_back(std::move(m));
  }
  return out;
}

MediaLegStats DataplaneMedia::stats(uint32_t flow_id, uint8_t leg) const {
  MediaLegStats s;
  if (!impl_->client) return s;
  auto f = impl_->client->read_stats(flow_id, leg);
  s.packets = f.packets;
  s.sent = f.sent;
  s.lost = f.lost;
  s.jitter = f.jitter;
  s.dropped = f.dropped;
  return s;
}

bool DataplaneMedia::counters(DataplaneCounters* out) const {
  if (!impl_->client || !impl_->client->dataplane_up()) return false;
  out->n_workers = std::min<uint32_t>(impl_->client->n_workers(), dp::kMaxWorkers);
  out->n_ports = std::min<uint32_t>(impl_->client->n_ports(), dp::kMaxPorts);
  return impl_->client->read_counters(out->published);
}

bool DataplaneMedia::up() const { return impl_->client && impl_->client->dataplane_up(); }

uint32_t DataplaneMedia::max_flows() const {
  return impl_->client ? impl_->client->max_flows() : 0;
}

uint64_t DataplaneMedia::generation() const { return impl_->last_generation; }

uint64_t DataplaneMedia::sip_shed_generation() const { return up() ? impl_->last_generation : 0; }

bool DataplaneMedia::publish_sip_listen(const dp::SipListenAddr* listen, uint32_t n, uint32_t retry_after_s) {
  if (!up()) return false;
  impl_->client->publish_sip_listen(listen, n, retry_after_s);
  return true;
}

bool DataplaneMedia::set_sip_shed_until(uint64_t monotonic_ns) {
  if (!up()) return false;
  impl_->client->set_sip_shed_until(monotonic_ns);
  return true;
}

}  // namespace msgw::control
