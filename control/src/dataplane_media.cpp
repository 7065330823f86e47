// SPDX-License-Identifier: GPL-3.0-or-later
// DataplaneMedia: the shared-memory client with acks awaited, lazy attach and
// re-attach after a dataplane restart.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <unordered_map>

#include "msgw/common/log.hpp"
#include "msgw/control/media.hpp"
#include "msgw/dataplane/client.hpp"

namespace msgw::control {

namespace dp = msgw::dataplane;

struct DataplaneMedia::Impl {
  std::string instance;
  std::chrono::milliseconds ack_timeout;
  std::optional<dp::Client> client;
  uint64_t last_generation = 0;  // generation we last programmed flows into
  bool ever_attached = false;
  // Deletes are not waited for (request id -> flow id): nothing in a call's
  // teardown depends on them, and each wait held the event loop for the
  // dataplane's command round trip (up to a millisecond when it naps), at
  // every call's end.  Their acks arrive through poll(); a refusal is logged.
  std::unordered_map<uint32_t, uint32_t> pending_deletes;

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
    pending_deletes.clear();  // a new dataplane has none of the old flows
    last_generation = c->attached_generation();
    ever_attached = true;
    client = std::move(c);
    return true;
  }

  bool command(std::optional<uint32_t> rid, std::string* error) {
    if (!rid) {
      if (error) *error = "dataplane command ring full or dataplane down";
      return false;
    }
    auto st = client->wait_ack(*rid, ack_timeout);
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

DataplaneMedia::DataplaneMedia(std::string instance, uint32_t ack_timeout_ms)
    : impl_(new Impl{std::move(instance), std::chrono::milliseconds(ack_timeout_ms), {}, 0, false, {}}) {}

DataplaneMedia::~DataplaneMedia() { delete impl_; }

bool DataplaneMedia::add(uint32_t flow_id, const dp::LegSpec& a, const dp::LegSpec& b, std::string* error) {
  bool restarted = false;
  if (!impl_->ensure(error, &restarted)) return false;
  return impl_->command(impl_->client->add_flow(flow_id, a, b), error);
}

bool DataplaneMedia::modify(uint32_t flow_id, const dp::LegSpec& a, const dp::LegSpec& b, std::string* error) {
  bool restarted = false;
  if (!impl_->ensure(error, &restarted)) return false;
  return impl_->command(impl_->client->modify_flow(flow_id, a, b), error);
}

bool DataplaneMedia::remove(uint32_t flow_id, std::string* error) {
  bool restarted = false;
  if (!impl_->ensure(error, &restarted)) return false;
  auto rid = impl_->client->delete_flow(flow_id);
  if (!rid) {
    if (error) *error = "dataplane command ring full or dataplane down";
    return false;
  }
  // Bounded: a dataplane that stopped acking is replaced (new generation)
  // or the ring fills and deletes fail above.
  if (impl_->pending_deletes.size() >= 65536) impl_->pending_deletes.clear();
  impl_->pending_deletes[*rid] = flow_id;
  return true;
}

std::vector<MediaEvent> DataplaneMedia::poll(bool* restarted) {
  std::vector<MediaEvent> out;
  std::string err;
  if (!impl_->ensure(&err, restarted)) {
    last_error_ = err;
    return out;
  }
  for (int i = 0; i < 4096; ++i) {  // bounded: signalling must not starve
    auto e = impl_->client->poll_event();
    if (!e) break;
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
        auto d = impl_->pending_deletes.find(e->request_id);
        if (d != impl_->pending_deletes.end()) {
          if (dp::Status(e->status) != dp::Status::ok)
            MSGW_LOG(warn, "flow delete refused by the dataplane", {"flow", d->second},
                     {"status", dp::status_name(dp::Status(e->status))});
          impl_->pending_deletes.erase(d);
        }
        continue;  // other acks are late ones of timed-out waits
      }
      default: continue;  // stats snapshots (stats are read from the stats area)
    }
    out.push_back(m);
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

}  // namespace msgw::control
