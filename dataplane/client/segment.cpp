// SPDX-License-Identifier: GPL-3.0-or-later
// Segment creation and mapping.  Setup/control code, never on the packet path.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "msgw/dataplane/client.hpp"

namespace msgw::dataplane {

namespace {

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

uint64_t now_ns(clockid_t clk) {
  timespec ts{};
  clock_gettime(clk, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// EPERM: it exists, it is just not ours to signal.  Pid 0 names no owner.
bool process_exists(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

const char* status_name(Status s) {
  switch (s) {
#define MSGW_STATUS_CASE(name, value, text) \
  case Status::name: return text;
    MSGW_FOREACH_STATUS(MSGW_STATUS_CASE)
#undef MSGW_STATUS_CASE
  }
  return "unknown status";
}

const char* event_name(EventType t) {
  switch (t) {
#define MSGW_EVENT_TYPE_CASE(name, value) \
  case EventType::name: return #name;
    MSGW_FOREACH_EVENT_TYPE(MSGW_EVENT_TYPE_CASE)
#undef MSGW_EVENT_TYPE_CASE
  }
  return "unknown";
}

SegmentLayout compute_layout(uint32_t max_flows) {
  SegmentLayout l{};
  // rte_ring wants cache-line alignment for its head/tail; 4 KiB keeps each
  // region on its own pages for the reader's sake.
  l.cmd_ring_offset = align_up(sizeof(SegmentHeader), 4096);
  ssize_t cmd = rte_ring_get_memsize_elem(kRingElemSize, kCommandRingSlots);
  ssize_t evt = rte_ring_get_memsize_elem(kRingElemSize, kEventRingSlots);
  if (cmd < 0 || evt < 0) return SegmentLayout{};
  l.evt_ring_offset = align_up(l.cmd_ring_offset + uint64_t(cmd), 4096);
  l.stats_offset = align_up(l.evt_ring_offset + uint64_t(evt), 4096);
  l.counters_offset = align_up(l.stats_offset + uint64_t(max_flows) * 2 * sizeof(FlowStats), 4096);
  ssize_t sip_in = rte_ring_get_memsize_elem(sizeof(SipDatagram), kSipInSlots);
  ssize_t sip_out = rte_ring_get_memsize_elem(sizeof(SipDatagram), kSipOutSlots);
  if (sip_in < 0 || sip_out < 0) return SegmentLayout{};
  l.sip_in_offset = align_up(l.counters_offset + sizeof(PublishedCounters), 4096);
  l.sip_out_offset = align_up(l.sip_in_offset + uint64_t(sip_in), 4096);
  l.total_size = align_up(l.sip_out_offset + uint64_t(sip_out), 4096);
  // The header keeps the SIP rings' offsets in 32 bits.
  if (l.sip_out_offset > UINT32_MAX) return SegmentLayout{};
  return l;
}

std::string segment_name(const std::string& instance) { return "/msgw-" + instance; }

Mapping::Mapping(Mapping&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}

Mapping& Mapping::operator=(Mapping&& o) noexcept {
  if (this != &o) {
    reset();
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

Mapping::~Mapping() { reset(); }

void Mapping::reset() {
  if (base_ != nullptr) munmap(base_, size_);
  base_ = nullptr;
  size_ = 0;
}

rte_ring* Mapping::command_ring() const {
  return reinterpret_cast<rte_ring*>(static_cast<char*>(base_) + header()->cmd_ring_offset);
}
rte_ring* Mapping::event_ring() const {
  return reinterpret_cast<rte_ring*>(static_cast<char*>(base_) + header()->evt_ring_offset);
}
FlowStats* Mapping::stats() const {
  return reinterpret_cast<FlowStats*>(static_cast<char*>(base_) + header()->stats_offset);
}
rte_ring* Mapping::sip_in_ring() const {
  return reinterpret_cast<rte_ring*>(static_cast<char*>(base_) + header()->sip_in_offset);
}
rte_ring* Mapping::sip_out_ring() const {
  return reinterpret_cast<rte_ring*>(static_cast<char*>(base_) + header()->sip_out_offset);
}
PublishedCounters* Mapping::counters() const {
  return reinterpret_cast<PublishedCounters*>(static_cast<char*>(base_) + header()->counters_offset);
}
uint64_t Mapping::generation() const {
  return __atomic_load_n(&header()->generation, __ATOMIC_ACQUIRE);
}
SegmentState Mapping::state() const {
  return SegmentState(__atomic_load_n(&header()->state, __ATOMIC_ACQUIRE));
}
bool Mapping::owner_alive() const {
  return process_exists(pid_t(__atomic_load_n(&header()->pid, __ATOMIC_RELAXED)));
}

std::optional<Segment> Segment::create(const std::string& instance, uint32_t max_flows,
                                       uint32_t n_ports, uint32_t n_workers, std::string& error) {
  if (max_flows == 0) {
    error = "max_flows must be > 0";
    return std::nullopt;
  }
  const SegmentLayout layout = compute_layout(max_flows);
  if (layout.total_size == 0) {
    error = "cannot size the shared-memory rings";
    return std::nullopt;
  }
  const std::string name = segment_name(instance);
  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT, 0660);
  if (fd < 0) {
    error = "shm_open " + name + ": " + std::strerror(errno);
    return std::nullopt;
  }
  // Carry the generation over from a previous run, and refuse to take over
  // a segment whose dataplane is still alive.
  uint64_t prev_generation = 0;
  struct stat st{};
  if (fstat(fd, &st) == 0 && uint64_t(st.st_size) >= sizeof(SegmentHeader)) {
    SegmentHeader old{};
    if (pread(fd, &old, sizeof old, 0) == ssize_t(sizeof old) && old.magic == kMagic) {
      prev_generation = old.generation;
      if (old.state != uint32_t(SegmentState::down) && old.pid != uint32_t(getpid()) &&
          process_exists(pid_t(old.pid))) {
        error = "instance '" + instance + "' is owned by running dataplane pid " +
                std::to_string(old.pid);
        close(fd);
        return std::nullopt;
      }
    }
  }
  if (ftruncate(fd, off_t(layout.total_size)) != 0) {
    error = "ftruncate " + name + ": " + std::strerror(errno);
    close(fd);
    return std::nullopt;
  }
  void* base = mmap(nullptr, layout.total_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) {
    error = "mmap " + name + ": " + std::strerror(errno);
    return std::nullopt;
  }
  Segment seg;
  seg.base_ = base;
  seg.size_ = layout.total_size;
  seg.name_ = name;
  auto* h = seg.header();
  // Announce "starting" with the new generation before touching the rings,
  // so an attached client stops using them.
  __atomic_store_n(&h->state, uint32_t(SegmentState::starting), __ATOMIC_RELEASE);
  __atomic_store_n(&h->generation, prev_generation + 1, __ATOMIC_RELEASE);
  h->magic = kMagic;
  h->layout_version = kLayoutVersion;
  h->header_size = sizeof(SegmentHeader);
  h->segment_size = layout.total_size;
  h->pid = uint32_t(getpid());
  __atomic_store_n(&h->main_napping, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&h->doorbell_signal, 0u, __ATOMIC_RELAXED);  // set by the dataplane once it handles it
  h->max_flows = max_flows;
  h->n_ports = n_ports;
  h->n_workers = n_workers;
  h->cmd_ring_offset = uint32_t(layout.cmd_ring_offset);
  h->evt_ring_offset = uint32_t(layout.evt_ring_offset);
  h->stats_offset = layout.stats_offset;
  h->counters_offset = layout.counters_offset;
  h->cmd_ring_slots = kCommandRingSlots;
  h->evt_ring_slots = kEventRingSlots;
  h->elem_size = kRingElemSize;
  h->start_time_ns = now_ns(CLOCK_REALTIME);
  __atomic_store_n(&h->events_dropped, 0, __ATOMIC_RELAXED);
  // Not shedding until msgw-control (re-)attaches and says so: a lease
  // left by the previous dataplane's control plane means nothing here.
  std::memset(static_cast<void*>(&h->sip_shed), 0, sizeof h->sip_shed);
  // No SIP consumer either: SIP takes the TAP until msgw-control attaches.
  __atomic_store_n(&h->sip_consumer_pid, 0u, __ATOMIC_RELEASE);
  __atomic_store_n(&h->sip_consumer_signal, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&h->sip_consumer_napping, 0u, __ATOMIC_RELAXED);
  h->sip_in_offset = uint32_t(layout.sip_in_offset);
  h->sip_out_offset = uint32_t(layout.sip_out_offset);
  // Commands: any number of producers (control plane, tools), one consumer
  // (main lcore).  Events: main lcore and workers produce, control consumes.
  if (rte_ring_init(seg.command_ring(), "msgw_cmd", kCommandRingSlots, RING_F_SC_DEQ) != 0 ||
      rte_ring_init(seg.event_ring(), "msgw_evt", kEventRingSlots, RING_F_SC_DEQ) != 0 ||
      // SIP in: the workers produce, msgw-control consumes.  SIP out: any
      // producer (msgw-control, tools), worker 0 consumes.
      rte_ring_init(seg.sip_in_ring(), "msgw_sip_in", kSipInSlots, RING_F_SC_DEQ) != 0 ||
      rte_ring_init(seg.sip_out_ring(), "msgw_sip_out", kSipOutSlots, RING_F_SC_DEQ) != 0) {
    error = "rte_ring_init on the shared segment failed";
    return std::nullopt;
  }
  std::memset(seg.stats(), 0, size_t(max_flows) * 2 * sizeof(FlowStats));
  std::memset(static_cast<void*>(seg.counters()), 0, sizeof(PublishedCounters));
  return seg;
}

void Segment::mark_up() {
  __atomic_store_n(&header()->state, uint32_t(SegmentState::up), __ATOMIC_RELEASE);
}

void Segment::mark_down() {
  __atomic_store_n(&header()->state, uint32_t(SegmentState::down), __ATOMIC_RELEASE);
}

bool Segment::post_event(const Event& ev) {
  if (rte_ring_mp_enqueue_elem(event_ring(), const_cast<Event*>(&ev), sizeof(Event)) == 0)
    return true;
  __atomic_fetch_add(&header()->events_dropped, 1, __ATOMIC_RELAXED);
  return false;
}

unsigned Segment::take_commands(Command* out, unsigned max) {
  return rte_ring_sc_dequeue_burst_elem(command_ring(), out, sizeof(Command), max, nullptr);
}

bool Segment::sip_consumer_attached() const {
  return __atomic_load_n(&header()->sip_consumer_pid, __ATOMIC_RELAXED) != 0;
}

bool Segment::post_sip(const SipDatagram& d) {
  return rte_ring_mp_enqueue_elem(sip_in_ring(), const_cast<SipDatagram*>(&d), sizeof(SipDatagram)) == 0;
}

void Segment::wake_sip_consumer() {
  SegmentHeader* h = header();
  // Pairs with the consumer's flag store and ring check (Client::sip_nap_begin).
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (__atomic_load_n(&h->sip_consumer_napping, __ATOMIC_RELAXED) == 0) return;
  // One signal per wait: whoever clears the flag sends it.
  if (__atomic_exchange_n(&h->sip_consumer_napping, 0u, __ATOMIC_SEQ_CST) == 0) return;
  const pid_t pid = pid_t(__atomic_load_n(&h->sip_consumer_pid, __ATOMIC_ACQUIRE));
  const int sig = int(__atomic_load_n(&h->sip_consumer_signal, __ATOMIC_RELAXED));
  if (pid > 0 && sig > 0) kill(pid, sig);
}

unsigned Segment::take_sip_out(SipDatagram* out, unsigned max) {
  return rte_ring_sc_dequeue_burst_elem(sip_out_ring(), out, sizeof(SipDatagram), max, nullptr);
}

bool Segment::check_sip_consumer() {
  SegmentHeader* h = header();
  const uint32_t pid = __atomic_load_n(&h->sip_consumer_pid, __ATOMIC_ACQUIRE);
  if (pid == 0 || process_exists(pid_t(pid))) return false;
  // Its process is gone: SIP takes the TAP and the kernel's sockets again.
  // Only that pid: a new msgw-control may have attached meanwhile.
  uint32_t expected = pid;
  return __atomic_compare_exchange_n(&h->sip_consumer_pid, &expected, 0u, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED);
}

void Segment::unlink() {
  if (!name_.empty()) shm_unlink(name_.c_str());
}

}  // namespace msgw::dataplane
