// SPDX-License-Identifier: GPL-3.0-or-later
// Shared-memory segment access for both sides, without DPDK's EAL.
//
// Segment (dataplane side) creates/re-initialises /dev/shm/msgw-<instance>,
// bumping the generation; Client (control plane, tests, tools) attaches to an
// existing segment, sends commands and reads events and per-leg stats.
// Only librte_ring is needed: the rings are initialised and used in place.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "msgw/dataplane/protocol.hpp"

struct rte_ring;

namespace msgw::dataplane {

std::string segment_name(const std::string& instance);  // "/msgw-<instance>"

// A mapped segment (either side).  Move-only; unmaps on destruction.
class Mapping {
 public:
  Mapping() = default;
  Mapping(Mapping&& o) noexcept;
  Mapping& operator=(Mapping&& o) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  bool valid() const { return base_ != nullptr; }
  SegmentHeader* header() const { return static_cast<SegmentHeader*>(base_); }
  rte_ring* command_ring() const;
  rte_ring* event_ring() const;
  FlowStats* stats() const;   // 2 * max_flows entries: flow_id * 2 + leg
  PublishedCounters* counters() const;
  rte_ring* sip_in_ring() const;   // SipDatagram: workers -> msgw-control
  rte_ring* sip_out_ring() const;  // SipDatagram: msgw-control -> worker 0
  uint64_t size() const { return size_; }

  uint64_t generation() const;
  SegmentState state() const;
  // Whether the process named in the header exists.  A dataplane that dies
  // without marking its segment down (a crash, SIGKILL) leaves it "up".
  // Needs the dataplane's pid namespace, as the doorbell does.
  bool owner_alive() const;

 protected:
  friend class Segment;
  friend class Client;
  void* base_ = nullptr;
  uint64_t size_ = 0;
  void reset();
};

// Dataplane side.
class Segment : public Mapping {
 public:
  // Creates or re-initialises the segment.  If a valid segment of any layout
  // exists, its generation + 1 is used, so a restart is always visible.
  // Leaves the segment in state `starting`; call mark_up() when the dataplane
  // is ready to serve commands.  On failure returns nullopt and sets error.
  static std::optional<Segment> create(const std::string& instance, uint32_t max_flows,
                                       uint32_t n_ports, uint32_t n_workers, std::string& error);
  void mark_up();
  void mark_down();
  // Producer side of the event ring for the main lcore and workers; counts
  // (in the header) events that did not fit.
  bool post_event(const Event& ev);
  // Consumer side of the command ring; returns the number dequeued.
  unsigned take_commands(Command* out, unsigned max);

  // SIP through the segment (protocol.hpp, SipDatagram), dataplane side.
  // Workers: a datagram goes to sip_in only while a consumer is attached;
  // post_sip() is false when the ring is full (the caller counts the drop);
  // wake_sip_consumer() once after a burst's posts (a signal only if the
  // consumer is waiting).
  bool sip_consumer_attached() const;
  bool post_sip(const SipDatagram& d);
  void wake_sip_consumer();
  // Worker 0: datagrams msgw-control wants sent.
  unsigned take_sip_out(SipDatagram* out, unsigned max);
  // Main lcore, every second or so: clears a consumer whose process is gone
  // (true when it did).
  bool check_sip_consumer();
  // Removes the shm name (tests); mapping stays valid.
  void unlink();

 private:
  std::string name_;
};

// Control side.
class Client {
 public:
  // Attaches to an existing segment.  Fails with a clear message when the
  // segment is missing, has a foreign magic, or another layout version.
  static std::optional<Client> attach(const std::string& instance, std::string& error);

  uint64_t attached_generation() const { return generation_; }
  // True when the dataplane restarted since attach, is down, or died
  // without saying so: the caller re-attaches and re-programs every flow.
  bool generation_changed() const;
  // Up, same generation as attached, and its process still exists.
  bool dataplane_up() const;
  uint32_t max_flows() const { return map_.header()->max_flows; }
  uint32_t n_ports() const { return map_.header()->n_ports; }

  // Non-blocking; false when the ring is full or the dataplane is not up.
  // Rings the doorbell (ends the main lcore's nap) unless it is deferred.
  bool send(const Command& cmd);
  // Deferred: send() only notes that the doorbell is owed, and
  // ring_doorbell() rings it once for every command sent since, so a caller
  // that posts several commands in one pass of its loop wakes the dataplane
  // once (each ring is a signal: a system call here, a wake-up there).
  void defer_doorbell(bool on) { defer_doorbell_ = on; }
  void ring_doorbell();
  // Fills in version, type, request_id (returned) and sends.
  std::optional<uint32_t> add_flow(uint32_t flow_id, const LegSpec& a, const LegSpec& b);
  std::optional<uint32_t> modify_flow(uint32_t flow_id, const LegSpec& a, const LegSpec& b);
  std::optional<uint32_t> delete_flow(uint32_t flow_id);
  std::optional<uint32_t> dump_flows(uint32_t flow_id = kAllFlows);

  // Non-blocking: next event, if any (events set aside by wait_ack first).
  std::optional<Event> poll_event();
  // Waits for the ack of request_id, keeping every other event for
  // poll_event().  Returns nullopt on timeout.  Events of type `flow`
  // belonging to the request are appended to *dump when given.
  std::optional<Status> wait_ack(uint32_t request_id, std::chrono::milliseconds timeout,
                                 std::deque<Event>* dump = nullptr);

  FlowStats read_stats(uint32_t flow_id, uint8_t leg) const;
  // The dataplane's worker and port counters as last published (every
  // kCountersPeriodMs); false when none were published yet.
  bool read_counters(PublishedCounters& out) const;
  uint32_t n_workers() const { return map_.header()->n_workers; }

  // msgw-control's overload state for the workers (SipShedState): the SIP
  // listen addresses (at most kMaxSipListen; more are ignored) and the
  // Retry-After, published once per attach; then the shedding lease, set
  // while the control plane sheds (CLOCK_MONOTONIC ns), 0 when it stops.
  void publish_sip_listen(const SipListenAddr* listen, uint32_t n, uint32_t retry_after_s);
  void set_sip_shed_until(uint64_t monotonic_ns);
  // New calls/s the workers still let through while the lease holds
  // (SipShedState::admit_rate); 0 = shed them all.
  void set_sip_admit_rate(uint32_t calls_per_s);
  uint64_t sip_shed_until() const;

  // SIP through the segment (protocol.hpp, SipDatagram), control side.
  // attach_sip_consumer: this process (its main thread: a process-directed
  // signal, taken by a signalfd with `signal` blocked in every thread) takes
  // sip_in from now on; again after every re-attach.  detach clears it (a
  // clean stop).  Both false/no-op when the dataplane is not up.
  bool attach_sip_consumer(int signal);
  void detach_sip_consumer();
  bool sip_consumer_is_me() const;
  // Non-blocking: datagrams received, at most max.
  unsigned take_sip(SipDatagram* out, unsigned max);
  // Non-blocking: false when the ring is full or the dataplane not up.
  bool send_sip(const SipDatagram& d);
  // Around the caller's blocking wait: begin sets the napping flag and
  // returns false (do not block; the flag is cleared) when sip_in already
  // holds datagrams; end clears it.
  bool sip_nap_begin();
  void sip_nap_end();

 private:
  Mapping map_;
  uint64_t generation_ = 0;
  uint32_t next_request_ = 1;
  // The dataplane's pid if it is visible as msgw-dataplane in this pid
  // namespace (else 0: no doorbell, a signal could hit another process).
  pid_t doorbell_pid_ = 0;
  bool defer_doorbell_ = false;
  bool doorbell_owed_ = false;
  // The owner's liveness (a kill(2)) as last checked, and when
  // (CLOCK_MONOTONIC_COARSE ns): see owner_alive().
  mutable bool owner_alive_ = false;
  mutable uint64_t owner_checked_ns_ = 0;
  bool owner_alive() const;
  std::deque<Event> pending_;
  std::optional<uint32_t> send_typed(CommandType t, uint32_t flow_id, const LegSpec* a,
                                     const LegSpec* b);
};

}  // namespace msgw::dataplane
