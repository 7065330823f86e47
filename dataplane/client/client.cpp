// SPDX-License-Identifier: GPL-3.0-or-later
// Control-side access to the dataplane segment.  No EAL: only rte_ring's
// element functions, which work on any memory.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "msgw/dataplane/client.hpp"

namespace msgw::dataplane {

std::optional<Client> Client::attach(const std::string& instance, std::string& error) {
  const std::string name = segment_name(instance);
  int fd = shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) {
    error = "dataplane segment " + name + ": " + std::strerror(errno) +
            " (is msgw-dataplane running for instance '" + instance + "'?)";
    return std::nullopt;
  }
  struct stat st{};
  if (fstat(fd, &st) != 0 || uint64_t(st.st_size) < sizeof(SegmentHeader)) {
    error = "dataplane segment " + name + " is too small to hold a header";
    close(fd);
    return std::nullopt;
  }
  SegmentHeader h{};
  if (pread(fd, &h, sizeof h, 0) != ssize_t(sizeof h)) {
    error = "dataplane segment " + name + ": cannot read header";
    close(fd);
    return std::nullopt;
  }
  if (h.magic != kMagic) {
    error = "dataplane segment " + name + " has a foreign magic: not an msgw segment";
    close(fd);
    return std::nullopt;
  }
  if (h.layout_version != kLayoutVersion || h.header_size != sizeof(SegmentHeader) ||
      h.elem_size != kRingElemSize) {
    error = "dataplane segment " + name + " has layout version " +
            std::to_string(h.layout_version) + ", this binary speaks " +
            std::to_string(kLayoutVersion) + ": rebuild msgw-control and msgw-dataplane together";
    close(fd);
    return std::nullopt;
  }
  const SegmentLayout layout = compute_layout(h.max_flows);
  if (layout.total_size != h.segment_size || uint64_t(st.st_size) < h.segment_size ||
      layout.cmd_ring_offset != h.cmd_ring_offset || layout.evt_ring_offset != h.evt_ring_offset ||
      layout.stats_offset != h.stats_offset || layout.counters_offset != h.counters_offset ||
      layout.sip_in_offset != h.sip_in_offset || layout.sip_out_offset != h.sip_out_offset) {
    error = "dataplane segment " + name + " has inconsistent sizes (being re-created?)";
    close(fd);
    return std::nullopt;
  }
  void* base = mmap(nullptr, h.segment_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) {
    error = "mmap " + name + ": " + std::strerror(errno);
    return std::nullopt;
  }
  Client c;
  c.map_.base_ = base;
  c.map_.size_ = h.segment_size;
  c.generation_ = c.map_.generation();
  char comm[32] = {};
  const std::string comm_path = "/proc/" + std::to_string(h.pid) + "/comm";
  if (int cf = open(comm_path.c_str(), O_RDONLY | O_CLOEXEC); cf >= 0) {
    if (read(cf, comm, sizeof comm - 1) > 0 && std::strncmp(comm, "msgw-dataplane", 14) == 0)
      c.doorbell_pid_ = pid_t(h.pid);
    close(cf);
  }
  return c;
}

// The kill(2) behind Mapping::owner_alive() at most once per 10 ms: every
// command asked twice (usable(), then send()), ~1.4 % of msgw-control's CPU
// at 1,000 calls/s.  A dataplane killed outright is then noticed up to 10 ms
// (plus the coarse clock's tick) later; until then its commands go into a
// ring nobody reads, and the re-attach programs every flow again anyway.
bool Client::owner_alive() const {
  constexpr uint64_t kRecheckNs = 10'000'000;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  const uint64_t now = uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
  if (owner_checked_ns_ == 0 || now - owner_checked_ns_ >= kRecheckNs || !owner_alive_) {
    owner_alive_ = map_.owner_alive();
    owner_checked_ns_ = now;
  }
  return owner_alive_;
}

bool Client::generation_changed() const {
  return map_.generation() != generation_ || map_.state() != SegmentState::up || !owner_alive();
}

bool Client::dataplane_up() const {
  return map_.state() == SegmentState::up && map_.generation() == generation_ && owner_alive();
}

bool Client::send(const Command& cmd) {
  if (!dataplane_up()) return false;
  // Full or not, the dataplane has commands to take: the doorbell is owed.
  doorbell_owed_ = true;
  if (rte_ring_mp_enqueue_elem(map_.command_ring(), const_cast<Command*>(&cmd), sizeof(Command)) != 0)
    return false;
  if (!defer_doorbell_) ring_doorbell();
  return true;
}

void Client::ring_doorbell() {
  if (!doorbell_owed_) return;
  doorbell_owed_ = false;
  // Rung only if the main lcore is napping (it re-checks the rings after
  // setting the flag, so a command enqueued before is never missed).
  SegmentHeader* h = map_.header();
  if (h == nullptr) return;
  const uint32_t sig = __atomic_load_n(&h->doorbell_signal, __ATOMIC_ACQUIRE);
  if (doorbell_pid_ != 0 && sig != 0 && __atomic_load_n(&h->main_napping, __ATOMIC_SEQ_CST) != 0)
    syscall(SYS_tgkill, doorbell_pid_, doorbell_pid_, int(sig));  // best effort: the nap ends anyway
}

std::optional<uint32_t> Client::send_typed(CommandType t, uint32_t flow_id, const LegSpec* a,
                                           const LegSpec* b) {
  Command c{};
  c.version = kMessageVersion;
  c.type = uint16_t(t);
  c.request_id = next_request_++;
  if (next_request_ == 0) next_request_ = 1;
  c.flow_id = flow_id;
  if (a != nullptr) c.legs[0] = *a;
  if (b != nullptr) c.legs[1] = *b;
  if (!send(c)) return std::nullopt;
  return c.request_id;
}

std::optional<uint32_t> Client::add_flow(uint32_t flow_id, const LegSpec& a, const LegSpec& b) {
  return send_typed(CommandType::flow_add, flow_id, &a, &b);
}
std::optional<uint32_t> Client::modify_flow(uint32_t flow_id, const LegSpec& a, const LegSpec& b) {
  return send_typed(CommandType::flow_modify, flow_id, &a, &b);
}
std::optional<uint32_t> Client::delete_flow(uint32_t flow_id) {
  return send_typed(CommandType::flow_del, flow_id, nullptr, nullptr);
}
std::optional<uint32_t> Client::dump_flows(uint32_t flow_id) {
  return send_typed(CommandType::flow_dump, flow_id, nullptr, nullptr);
}

std::optional<Event> Client::poll_event() {
  if (!pending_.empty()) {
    Event e = pending_.front();
    pending_.pop_front();
    return e;
  }
  Event e{};
  if (rte_ring_sc_dequeue_elem(map_.event_ring(), &e, sizeof(Event)) != 0) return std::nullopt;
  return e;
}

std::optional<Status> Client::wait_ack(uint32_t request_id, std::chrono::milliseconds timeout,
                                       std::deque<Event>* dump) {
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + timeout;
  for (;;) {
    Event e{};
    if (rte_ring_sc_dequeue_elem(map_.event_ring(), &e, sizeof(Event)) == 0) {
      if (e.request_id == request_id && e.type == uint16_t(EventType::ack)) return Status(e.status);
      if (dump != nullptr && e.request_id == request_id && e.type == uint16_t(EventType::flow))
        dump->push_back(e);
      else
        pending_.push_back(e);
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    // The doorbell (send()) ends the main lcore's nap, so the ack usually
    // comes within tens of microseconds: sleep in 10 us steps for the first
    // 200 us, then in 50 us steps (a dataplane without the doorbell answers
    // within its nap, up to 10 ms).  Not sched_yield(): with a core to itself
    // a yield returns at once, and the wait became a busy loop of system
    // calls, the caller's CPU time for the whole round trip (msgw-control
    // waits once per call).  A caller that wants 10 us steps to be that short
    // sets its timer slack (msgw-control does; the default adds 50 us).
    std::this_thread::sleep_for(std::chrono::microseconds(now < started + std::chrono::microseconds(200) ? 10 : 50));
  }
}

bool Client::read_counters(PublishedCounters& out) const {
  // Word by word, relaxed: the main lcore stores each word the same way.
  static_assert(alignof(PublishedCounters) >= alignof(uint64_t));
  const auto* src = reinterpret_cast<const uint64_t*>(map_.counters());
  auto* dst = reinterpret_cast<uint64_t*>(&out);
  for (size_t i = 0; i < sizeof(PublishedCounters) / sizeof(uint64_t); ++i)
    dst[i] = __atomic_load_n(src + i, __ATOMIC_RELAXED);
  return out.published_ns != 0;
}

void Client::publish_sip_listen(const SipListenAddr* listen, uint32_t n, uint32_t retry_after_s) {
  SipShedState& st = map_.header()->sip_shed;
  if (n > kMaxSipListen) n = kMaxSipListen;
  __atomic_store_n(&st.n_listen, 0u, __ATOMIC_RELEASE);
  for (uint32_t i = 0; i < n; ++i) {
    __atomic_store_n(&st.listen[i].ip, listen[i].ip, __ATOMIC_RELAXED);
    __atomic_store_n(&st.listen[i].port, listen[i].port, __ATOMIC_RELAXED);
  }
  __atomic_store_n(&st.retry_after_s, retry_after_s, __ATOMIC_RELAXED);
  __atomic_store_n(&st.n_listen, n, __ATOMIC_RELEASE);
}

void Client::set_sip_shed_until(uint64_t monotonic_ns) {
  __atomic_store_n(&map_.header()->sip_shed.shed_until_ns, monotonic_ns, __ATOMIC_RELEASE);
}

void Client::set_sip_admit_rate(uint32_t calls_per_s) {
  __atomic_store_n(&map_.header()->sip_shed.admit_rate, calls_per_s, __ATOMIC_RELEASE);
}

uint64_t Client::sip_shed_until() const {
  return __atomic_load_n(&map_.header()->sip_shed.shed_until_ns, __ATOMIC_RELAXED);
}

bool Client::attach_sip_consumer(int signal) {
  if (!dataplane_up() || signal <= 0) return false;
  SegmentHeader* h = map_.header();
  __atomic_store_n(&h->sip_consumer_napping, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&h->sip_consumer_signal, uint32_t(signal), __ATOMIC_RELAXED);
  __atomic_store_n(&h->sip_consumer_pid, uint32_t(getpid()), __ATOMIC_RELEASE);
  return true;
}

void Client::detach_sip_consumer() {
  if (!map_.valid()) return;
  SegmentHeader* h = map_.header();
  uint32_t me = uint32_t(getpid());
  __atomic_compare_exchange_n(&h->sip_consumer_pid, &me, 0u, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

bool Client::sip_consumer_is_me() const {
  return map_.valid() && __atomic_load_n(&map_.header()->sip_consumer_pid, __ATOMIC_ACQUIRE) == uint32_t(getpid());
}

unsigned Client::take_sip(SipDatagram* out, unsigned max) {
  if (!map_.valid()) return 0;
  return rte_ring_sc_dequeue_burst_elem(map_.sip_in_ring(), out, sizeof(SipDatagram), max, nullptr);
}

bool Client::send_sip(const SipDatagram& d) {
  // Per datagram: not dataplane_up(), whose owner_alive() is a kill(2)
  // each time, the very system call cost this path is there to save.  A
  // dataplane that died without marking its segment down is found by the
  // caller's next generation_changed() (once per loop pass); until then its
  // datagrams are lost, as in a dead TAP, and SIP retransmits them.
  if (!map_.valid() || map_.state() != SegmentState::up || map_.generation() != generation_) return false;
  return rte_ring_mp_enqueue_elem(map_.sip_out_ring(), const_cast<SipDatagram*>(&d), sizeof(SipDatagram)) == 0;
}

bool Client::sip_nap_begin() {
  if (!map_.valid()) return true;
  SegmentHeader* h = map_.header();
  __atomic_store_n(&h->sip_consumer_napping, 1u, __ATOMIC_SEQ_CST);
  // Pairs with Segment::wake_sip_consumer's fence: a datagram posted before
  // the flag was seen is found here.
  if (rte_ring_count(map_.sip_in_ring()) != 0) {
    __atomic_store_n(&h->sip_consumer_napping, 0u, __ATOMIC_RELAXED);
    return false;
  }
  return true;
}

void Client::sip_nap_end() {
  if (map_.valid()) __atomic_store_n(&map_.header()->sip_consumer_napping, 0u, __ATOMIC_RELAXED);
}

FlowStats Client::read_stats(uint32_t flow_id, uint8_t leg) const {
  FlowStats out{};
  if (flow_id >= map_.header()->max_flows || leg > 1) return out;
  const FlowStats& s = map_.stats()[size_t(flow_id) * 2 + leg];
  out.packets = __atomic_load_n(&s.packets, __ATOMIC_RELAXED);
  out.bytes = __atomic_load_n(&s.bytes, __ATOMIC_RELAXED);
  out.lost = __atomic_load_n(&s.lost, __ATOMIC_RELAXED);
  out.jitter = __atomic_load_n(&s.jitter, __ATOMIC_RELAXED);
  out.last_seen_ns = __atomic_load_n(&s.last_seen_ns, __ATOMIC_RELAXED);
  out.dropped = __atomic_load_n(&s.dropped, __ATOMIC_RELAXED);
  out.sent = __atomic_load_n(&s.sent, __ATOMIC_RELAXED);
  out.generation = __atomic_load_n(&s.generation, __ATOMIC_RELAXED);
  return out;
}

}  // namespace msgw::dataplane
