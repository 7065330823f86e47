// SPDX-License-Identifier: GPL-3.0-or-later
// DataplaneMedia: the shared-memory client with every command's ack matched
// on later polls (FlowCommandTracker), the doorbell rung once per loop pass
// (flush), lazy attach and re-attach after a dataplane restart.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

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
  int sip_signal = 0;      // > 0: this process takes the segment's SIP (set_sip_consumer)
  bool sip_ready = false;  // ... and does now: attached, up, the consumer
  std::chrono::steady_clock::time_point next_consumer_check{};

  // Makes this process the SIP consumer of the client's segment.
  void attach_sip() {
    sip_ready = false;
    if (sip_signal <= 0 || !client) return;
    sip_ready = client->attach_sip_consumer(sip_signal);
    if (sip_ready)
      MSGW_LOG(info, "SIP over UDP through the dataplane's shared memory", {"instance", instance},
               {"generation", client->attached_generation()});
  }
  void detach_sip() {
    sip_ready = false;
    if (client) client->detach_sip_consumer();
  }
  // No command is waited for: each wait held the event loop for the
  // dataplane's command round trip (tens of microseconds with the doorbell,
  // up to a millisecond when it naps without).  Acks arrive through poll().
  FlowCommandTracker commands;

  Impl(std::string inst, std::chrono::milliseconds timeout, std::function<std::chrono::steady_clock::time_point()> clock)
      : instance(std::move(inst)), ack_timeout(timeout), now(std::move(clock)), commands(timeout) {
    if (!now) now = [] { return std::chrono::steady_clock::now(); };
  }

  // Attaches (or re-attaches after a restart). True when a usable client exists.
  bool ensure(std::string* error, bool* restarted) {
    if (client && !client->generation_changed()) return true;
    sip_ready = false;  // the kernel's sockets until attached again
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
    c->defer_doorbell(true);  // rung by flush(), once per loop pass
    last_generation = c->attached_generation();
    ever_attached = true;
    client = std::move(c);
    attach_sip();  // again at every re-attach: a new segment has no consumer
    return true;
  }

  // Whether a command can be posted now. Only the first attach happens
  // here; after it, poll() alone re-attaches, so that a restart is always
  // reported (its calls' flows programmed again) before a command goes to
  // the new dataplane.
  bool usable(std::string* error) {
    if (!ever_attached) {
      bool restarted = false;
      return ensure(error, &restarted);
    }
    if (client && !client->generation_changed()) return true;
    if (error) *error = "dataplane '" + instance + "' restarted or down (re-attached by the next poll)";
    return false;
  }

  // Posts one command. A full command ring is a burst (a dataplane restart
  // adds every live flow again in one pass; the ring holds 1,024): rather
  // than refuse, wait for room, at most the ack timeout, ringing the
  // doorbell so the dataplane takes what is queued.
  template <class Post>
  std::optional<uint32_t> post(Post&& send) {
    auto rid = send();
    if (rid || !client->dataplane_up()) return rid;
    const auto deadline = std::chrono::steady_clock::now() + ack_timeout;
    while (!rid && client->dataplane_up() && std::chrono::steady_clock::now() < deadline) {
      client->ring_doorbell();
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      rid = send();
    }
    return rid;
  }

  static bool queued(std::optional<uint32_t> rid, std::string* error) {
    if (!rid && error) *error = "dataplane command ring full or dataplane down";
    return rid.has_value();
  }
};

DataplaneMedia::DataplaneMedia(std::string instance, uint32_t ack_timeout_ms,
                               std::function<std::chrono::steady_clock::time_point()> now)
    : impl_(new Impl(std::move(instance), std::chrono::milliseconds(ack_timeout_ms), std::move(now))) {}

DataplaneMedia::~DataplaneMedia() {
  // A clean stop: SIP goes back to the TAP and the kernel now, not when the
  // dataplane notices this process is gone.
  if (impl_->sip_signal > 0) impl_->detach_sip();
  delete impl_;
}

void DataplaneMedia::set_sip_consumer(int signal) {
  if (signal <= 0) {
    if (impl_->sip_signal > 0) impl_->detach_sip();
    impl_->sip_signal = 0;
    return;
  }
  impl_->sip_signal = signal;
  if (impl_->client && impl_->client->dataplane_up()) impl_->attach_sip();
}

dp::Client* DataplaneMedia::sip_client() { return impl_->sip_ready ? &*impl_->client : nullptr; }

bool DataplaneMedia::add(uint32_t flow_id, const dp::LegSpec& a, const dp::LegSpec& b, std::string* error) {
  if (!impl_->usable(error)) return false;
  auto rid = impl_->post([&] { return impl_->client->add_flow(flow_id, a, b); });
  if (!Impl::queued(rid, error)) return false;
  impl_->commands.posted(FlowCommandKind::add, *rid, flow_id, impl_->now());
  return true;
}

bool DataplaneMedia::modify(uint32_t flow_id, const dp::LegSpec& a, const dp::LegSpec& b, std::string* error) {
  if (!impl_->usable(error)) return false;
  auto rid = impl_->post([&] { return impl_->client->modify_flow(flow_id, a, b); });
  if (!Impl::queued(rid, error)) return false;
  impl_->commands.posted(FlowCommandKind::modify, *rid, flow_id, impl_->now());
  return true;
}

bool DataplaneMedia::remove(uint32_t flow_id, std::string* error) {
  if (!impl_->usable(error)) return false;
  auto rid = impl_->post([&] { return impl_->client->delete_flow(flow_id); });
  if (!Impl::queued(rid, error)) return false;
  impl_->commands.posted(FlowCommandKind::remove, *rid, flow_id, impl_->now());
  return true;
}

namespace {

// An add's outcome, a modify's failure (a refused delete is only logged).
MediaEvent command_event(FlowCommandTracker::Outcome&& o) {
  MediaEvent m{};
  m.kind = o.kind == FlowCommandKind::add ? (o.ok ? MediaEvent::Kind::flow_added : MediaEvent::Kind::flow_add_failed)
                                          : MediaEvent::Kind::flow_update_failed;
  m.flow_id = o.flow_id;
  m.superseded = o.superseded;
  m.detail = std::move(o.detail);
  return m;
}

}  // namespace

void DataplaneMedia::flush() {
  if (impl_->client) impl_->client->ring_doorbell();
}

std::size_t DataplaneMedia::adds_pending() const { return impl_->commands.pending_adds(); }

std::vector<MediaEvent> DataplaneMedia::poll(bool* restarted) {
  std::vector<MediaEvent> out;
  std::string err;
  if (!impl_->ensure(&err, restarted)) {
    last_error_ = err;
    // No dataplane to answer them: the calls waiting for an add fail now,
    // as an add posted while it is down does.
    for (auto& o : impl_->commands.refuse_adds(err)) out.push_back(command_event(std::move(o)));
    return out;
  }
  // Still the consumer?  The dataplane clears only a consumer whose process
  // is gone, but another msgw-control of the instance could take over.
  // Once a second, not every pass: sip_consumer_is_me() is a getpid(2).
  if (impl_->sip_ready && impl_->now() >= impl_->next_consumer_check) {
    impl_->next_consumer_check = impl_->now() + std::chrono::seconds(1);
    if (!impl_->client->sip_consumer_is_me()) {
      impl_->sip_ready = false;
      MSGW_LOG(warn, "another process took the dataplane's SIP: back to the kernel's sockets",
               {"instance", impl_->instance});
    }
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
        auto outcome = impl_->commands.acked(e->request_id, dp::Status(e->status));
        if (!outcome) continue;  // an accepted modify or delete, or the late ack of a timed-out command
        if (outcome->kind == FlowCommandKind::remove) {
          MSGW_LOG(warn, "flow delete refused by the dataplane", {"flow", outcome->flow_id},
                   {"status", dp::status_name(dp::Status(e->status))});
          continue;
        }
        m = command_event(std::move(*outcome));
        break;
      }
      default: continue;  // stats snapshots (stats are read from the stats area)
    }
    out.push_back(std::move(m));
  }
  // Only once the ring is read to its end: an ack still in it arrived in time.
  if (!drained) return out;
  for (auto& o : impl_->commands.expire(impl_->now())) out.push_back(command_event(std::move(o)));
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

bool DataplaneMedia::set_sip_admit_rate(uint32_t calls_per_s) {
  if (!up()) return false;
  impl_->client->set_sip_admit_rate(calls_per_s);
  return true;
}

}  // namespace msgw::control
