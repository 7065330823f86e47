// SPDX-License-Identifier: GPL-3.0-or-later
// The gateway's view of the dataplane: program flows, learn about events.
//
// The Gateway talks to this interface, not to dataplane::Client directly, so
// unit tests drive the B2BUA with a fake that records what was programmed and
// injects LATCHED / MEDIA_TIMEOUT / DTMF events and restarts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "msgw/control/sip_shed_publisher.hpp"
#include "msgw/dataplane/protocol.hpp"

namespace msgw::dataplane {
class Client;
}

namespace msgw::control {

struct MediaEvent {
  // flow_update_failed: a modify() the dataplane refused or did not
  // acknowledge in time; the flow keeps what it had before.
  // flow_added / flow_add_failed: the outcome of an add() (failed: refused,
  // not acknowledged in time, or the dataplane went away meanwhile).
  enum class Kind { latched, media_timeout, dtmf, flow_update_failed, flow_added, flow_add_failed } kind;
  uint32_t flow_id = 0;
  uint8_t leg = 0;
  uint32_t ip = 0;       // latched
  uint16_t port = 0;     // latched
  uint8_t dtmf = 0;      // dtmf event code
  // flow_update_failed, flow_added, flow_add_failed: a later command for the
  // same flow was posted after this one (it decides what the flow is now),
  // and why it failed.
  bool superseded = false;
  std::string detail{};
};

// The dataplane's published counters and how many workers and ports of
// them are valid.
struct DataplaneCounters {
  dataplane::PublishedCounters published{};
  uint32_t n_workers = 0;
  uint32_t n_ports = 0;
};

struct MediaLegStats {
  uint64_t packets = 0, sent = 0, lost = 0, jitter = 0, dropped = 0;
};

class MediaBackend {
 public:
  virtual ~MediaBackend() = default;
  // Each returns once its command is queued (false: not queued, *error
  // says why); no call waits for the dataplane. Acks are matched on later
  // poll()s: an add's outcome comes back as flow_added or flow_add_failed
  // (refused, or unacknowledged within the timeout), a modify refused or
  // unacknowledged as flow_update_failed, a refused remove is logged.
  // The command ring is FIFO, so a flow's commands apply in call order (a
  // modify or remove may follow its add at once).
  virtual bool add(uint32_t flow_id, const dataplane::LegSpec& a, const dataplane::LegSpec& b,
                   std::string* error) = 0;
  virtual bool modify(uint32_t flow_id, const dataplane::LegSpec& a, const dataplane::LegSpec& b,
                      std::string* error) = 0;
  virtual bool remove(uint32_t flow_id, std::string* error) = 0;
  // Events since the last call. Sets *restarted when the dataplane came back
  // with a new generation: every live flow must be programmed again (and no
  // command posted to the old one is answered any more).
  virtual std::vector<MediaEvent> poll(bool* restarted) = 0;
  virtual MediaLegStats stats(uint32_t flow_id, uint8_t leg) const = 0;
  virtual bool up() const = 0;
  virtual uint32_t max_flows() const = 0;
  // Wakes the dataplane once for the commands queued since the last flush
  // (the loop calls it once per pass).
  virtual void flush() {}
  // Adds queued and not yet answered: their calls wait, so the loop polls
  // again soon (the event ring has no fd to wake it).
  virtual std::size_t adds_pending() const { return 0; }
  // The dataplane's worker and port counters as it last published them
  // (/metrics); false when there are none (not attached, none published,
  // or a backend without a dataplane).
  virtual bool counters(DataplaneCounters* out) const {
    (void)out;
    return false;
  }
};

// dataplane::Client behind MediaBackend: attaches lazily (the dataplane may
// start after msgw-control) and re-attaches after a dataplane restart.
// `now` is the clock an add's or modify's ack timeout is measured with (the
// loop's).
class DataplaneMedia final : public MediaBackend, public SipShedSink {
 public:
  explicit DataplaneMedia(std::string instance, uint32_t ack_timeout_ms = 500,
                          std::function<std::chrono::steady_clock::time_point()> now = nullptr);
  ~DataplaneMedia() override;
  bool add(uint32_t flow_id, const dataplane::LegSpec& a, const dataplane::LegSpec& b,
           std::string* error) override;
  bool modify(uint32_t flow_id, const dataplane::LegSpec& a, const dataplane::LegSpec& b,
              std::string* error) override;
  bool remove(uint32_t flow_id, std::string* error) override;
  std::vector<MediaEvent> poll(bool* restarted) override;
  MediaLegStats stats(uint32_t flow_id, uint8_t leg) const override;
  bool up() const override;
  uint32_t max_flows() const override;
  void flush() override;
  std::size_t adds_pending() const override;
  bool counters(DataplaneCounters* out) const override;
  const std::string& last_error() const { return last_error_; }
  uint64_t generation() const;
  // SipShedSink: msgw-control's overload state into the segment.
  uint64_t sip_shed_generation() const override;
  bool publish_sip_listen(const dataplane::SipListenAddr* listen, uint32_t n,
                          uint32_t retry_after_s) override;
  bool set_sip_shed_until(uint64_t monotonic_ns) override;
  bool set_sip_admit_rate(uint32_t calls_per_s) override;

  // SIP over UDP through the segment (dataplane_sip_path.hpp): with a
  // signal (> 0), this process is made the SIP consumer at every attach and
  // re-attach (a restarted dataplane's segment has none), woken by that
  // signal; 0 stops it (detach; also done by the destructor).
  void set_sip_consumer(int signal);
  // The client while SIP goes through its segment (attached, up as of the
  // last poll, this process the consumer); nullptr: use the kernel.
  dataplane::Client* sip_client();

 private:
  struct Impl;
  Impl* impl_;
  std::string last_error_;
};

}  // namespace msgw::control
