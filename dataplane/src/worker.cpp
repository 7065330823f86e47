// SPDX-License-Identifier: GPL-3.0-or-later
// Worker lcore loop: rx burst -> process_burst -> tx / exception / hand-off.
// Hot path: no allocation, no system calls (clock_gettime is vDSO); the only
// one is the light-load sleep, taken between polls, never per packet.
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <optional>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "msgw/dataplane/light_load_nap.hpp"
#include "msgw/dataplane/sip_divert.hpp"
#include "msgw/common/monotonic_clock.hpp"
#include "runtime.hpp"

namespace msgw::dataplane {

namespace {

using common::monotonic_ns;

// CLOCK_MONOTONIC read at most every ~10 us and extrapolated from the TSC in
// between.  On a VM's kvm-clock the vDSO read costs ~100 ns, and an idle poll
// loop called it on every pass (30 % of the worker's cycles in a profile);
// packet timestamps only need to be monotonic and microsecond-close to the
// clock the main lcore reads for media timeouts, which re-syncing keeps.
class CoarseClock {
 public:
  CoarseClock()
      : hz_(rte_get_tsc_hz()),
        refresh_tsc_(hz_ / 100000),
        // ns = ticks * mult >> 32; ticks < refresh_tsc_ keeps it in 64 bits.
        mult_((1000000000ull << 32) / hz_) {
    resync(rte_rdtsc());
  }
  uint64_t now_ns(uint64_t tsc) {
    const uint64_t d = tsc - base_tsc_;
    if (d >= refresh_tsc_) {
      resync(tsc);
      return base_ns_;
    }
    return base_ns_ + ((d * mult_) >> 32);
  }

 private:
  void resync(uint64_t tsc) {
    const uint64_t ns = monotonic_ns();
    // Never step backwards across a re-sync (extrapolation may have run ahead
    // of the clock by the TSC's drift over 10 us: nanoseconds).
    const uint64_t ahead = base_ns_ + (tsc - base_tsc_) * 1000000000ull / hz_;
    base_ns_ = base_tsc_ != 0 && ahead > ns && tsc - base_tsc_ < 2 * refresh_tsc_ ? ahead : ns;
    base_tsc_ = tsc;
  }
  uint64_t hz_;
  uint64_t refresh_tsc_;
  uint64_t mult_;
  uint64_t base_tsc_ = 0;
  uint64_t base_ns_ = 0;
};

inline uint16_t tx(Runtime& rt, Worker& w, uint16_t port, rte_mbuf** pkts, uint16_t n) {
  PortRuntime& p = rt.ports[port];
  const uint16_t q = uint16_t(w.index % p.n_txq);
  uint16_t sent;
  if (p.shared_tx) {
    rte_spinlock_lock(&p.tx_lock[q]);
    sent = rte_eth_tx_burst(p.eth_id, q, pkts, n);
    rte_spinlock_unlock(&p.tx_lock[q]);
  } else {
    sent = rte_eth_tx_burst(p.eth_id, q, pkts, n);
  }
  return sent;
}

void flush(Runtime& rt, Worker& w, BurstOutput& out) {
  WorkerCounters& c = w.ctx.counters;
  bool for_main = false;  // frames for the kernel or ARP wishes: end its nap
  const uint16_t n_ports = uint16_t(rt.ports.size());
  for (uint16_t p = 0; p < n_ports; ++p) {
    if (out.n_tx[p] != 0) {
      const uint16_t sent = tx(rt, w, p, out.tx[p], out.n_tx[p]);
      c.tx += sent;
      if (sent < out.n_tx[p]) {
        c.dropped[size_t(Drop::tx_full)] += out.n_tx[p] - sent;
        rte_pktmbuf_free_bulk(out.tx[p] + sent, out.n_tx[p] - sent);
      }
    }
    if (out.n_exception[p] != 0) {
      const unsigned q = rte_ring_mp_enqueue_burst(rt.ports[p].exception,
                                                   reinterpret_cast<void**>(out.exception[p]),
                                                   out.n_exception[p], nullptr);
      for_main = for_main || q != 0;
      if (q < out.n_exception[p]) {
        c.dropped[size_t(Drop::exception_full)] += out.n_exception[p] - q;
        rte_pktmbuf_free_bulk(out.exception[p] + q, out.n_exception[p] - q);
      }
    }
  }
  for (uint16_t t = 0; t < rt.workers.size(); ++t) {
    if (out.n_handoff[t] == 0) continue;
    const unsigned q = rte_ring_mp_enqueue_burst(rt.workers[t].handoff,
                                                 reinterpret_cast<void**>(out.handoff[t]),
                                                 out.n_handoff[t], nullptr);
    if (q < out.n_handoff[t]) {
      c.dropped[size_t(Drop::handoff_full)] += out.n_handoff[t] - q;
      rte_pktmbuf_free_bulk(out.handoff[t] + q, out.n_handoff[t] - q);
    }
  }
  // SIP datagrams posted for msgw-control: one wake-up per burst, and a
  // signal only if it is waiting for them (Segment::wake_sip_consumer).
  if (w.ctx.sip_posted != 0) {
    w.ctx.sip_posted = 0;
    w.ctx.sip->wake_sip_consumer();
  }
  if (c.arp_wishes != w.arp_wishes_kicked) {
    w.arp_wishes_kicked = c.arp_wishes;
    for_main = true;
  }
  if (for_main) kick_main(rt);
}

// Load-based sleep ([dataplane] worker_sleep_max_us): the nap after each
// pass is next_nap_ns() (light_load_nap.hpp says why it halves rather than
// restarts).  The worker is RCU-offline while asleep so that flow deletes on
// the main lcore need not wait for it.
class LightLoadSleep {
 public:
  explicit LightLoadSleep(Worker& w) : w_(w) {
    // The default 50 us timer slack would stretch every short nap.
    if (w.sleep_max_ns != 0) prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  }
  void after_pass(unsigned packets, rte_rcu_qsbr* rcu) {
    if (w_.sleep_max_ns == 0) return;
    nap_ns_ = next_nap_ns(nap_ns_, packets, kBurst, w_.sleep_max_ns);
    if (nap_ns_ == 0) return;
    const timespec ts{0, long(nap_ns_)};
    rte_rcu_qsbr_thread_offline(rcu, w_.index);
    nanosleep(&ts, nullptr);
    rte_rcu_qsbr_thread_online(rcu, w_.index);
    __atomic_store_n(&w_.sleeps, w_.sleeps + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&w_.slept_ns, w_.slept_ns + nap_ns_, __ATOMIC_RELAXED);
  }

 private:
  Worker& w_;
  uint64_t nap_ns_ = 0;
};

}  // namespace

int worker_main(void* arg) {
  Runtime& rt = *static_cast<Runtime*>(arg);
  const unsigned lcore = rte_lcore_id();
  Worker* self = nullptr;
  for (auto& w : rt.workers)
    if (w.lcore == lcore) self = &w;
  if (self == nullptr) return -1;
  Worker& w = *self;
  rte_rcu_qsbr_thread_register(rt.rcu, w.index);
  rte_rcu_qsbr_thread_online(rt.rcu, w.index);
  BurstOutput out;
  rte_mbuf* pkts[kRxBurst];
  CoarseClock clock;
  LightLoadSleep sleep(w);
  // Worker 0 sends msgw-control's SIP datagrams (sip_divert.hpp).
  std::optional<SipEgress> sip_egress;
  if (w.index == 0 && w.ctx.sip != nullptr) sip_egress.emplace();
  // One worker has no one to hand sessions to or from: skip that ring.
  const bool handoff = rt.workers.size() > 1;
  while (!rt.stop.load(std::memory_order_relaxed)) {
    // The clock is read only when a burst arrived: an empty poll pass is
    // then just the PMD's ring check (rdtsc costs ~30 cycles here, a third
    // of an idle pass in a profile).
    uint64_t tsc = 0, ns = 0;
    unsigned pass_packets = 0;
    if (rt.rx_enabled.load(std::memory_order_relaxed)) {
      for (const auto& [port, queue] : w.rx) {
        const uint16_t n = rte_eth_rx_burst(rt.ports[port].eth_id, queue, pkts, kRxBurst);
        if (n == 0) continue;
        pass_packets += n;
        if (tsc == 0) {
          tsc = rte_rdtsc();
          ns = clock.now_ns(tsc);
        }
        for (uint16_t off = 0; off < n; off = uint16_t(off + kBurst)) {
          const uint16_t m = uint16_t(n - off < kBurst ? n - off : kBurst);
          if (off + m < n) prefetch_flow_slots(w.ctx, port, pkts + off + m, uint16_t(n - off - m));
          out.clear();
          process_burst(w.ctx, port, pkts + off, m, false, tsc, ns, out);
          flush(rt, w, out);
        }
      }
    }
    // Sessions this worker owns that arrived elsewhere; a burst may mix
    // ports, processed in runs of the same port.
    unsigned n = handoff ? rte_ring_sc_dequeue_burst(w.handoff, reinterpret_cast<void**>(pkts),
                                                     kBurst, nullptr)
                         : 0;
    pass_packets += n;
    if (n > 0 && tsc == 0) {
      tsc = rte_rdtsc();
      ns = clock.now_ns(tsc);
    }
    for (unsigned i = 0; i < n;) {
      unsigned j = i + 1;
      while (j < n && pkts[j]->port == pkts[i]->port) ++j;
      // m->port is the DPDK port id; map back to our index.
      uint16_t idx = 0;
      for (uint16_t p = 0; p < rt.ports.size(); ++p)
        if (rt.ports[p].eth_id == pkts[i]->port) idx = p;
      out.clear();
      process_burst(w.ctx, idx, pkts + i, uint16_t(j - i), true, tsc, ns, out);
      flush(rt, w, out);
      i = j;
    }
    // Frames from the kernel (and the dataplane's own ARP requests) leave on
    // worker 0's TX queues, so the main lcore never needs one.
    if (w.index == 0) {
      for (uint16_t p = 0; p < rt.ports.size(); ++p) {
        n = rte_ring_sc_dequeue_burst(rt.ports[p].inject, reinterpret_cast<void**>(pkts), kBurst,
                                      nullptr);
        if (n == 0) continue;
        pass_packets += n;
        const uint16_t sent = tx(rt, w, p, pkts, uint16_t(n));
        w.ctx.counters.tx += sent;
        if (sent < n) {
          w.ctx.counters.dropped[size_t(Drop::tx_full)] += n - sent;
          rte_pktmbuf_free_bulk(pkts + sent, n - sent);
        }
      }
    }
    // SIP from msgw-control, built into frames here; held ones (ARP
    // pending) keep the check going each pass until sent or expired.
    if (sip_egress && sip_egress->pending(*w.ctx.sip)) {
      out.clear();
      pass_packets += sip_egress->poll(w.ctx, *w.ctx.sip, rt.pool, clock.now_ns(rte_rdtsc()), out);
      flush(rt, w, out);
    }
    // Load: the cycles of a pass that had packets, from its first burst on
    // (one more TSC read per busy pass; an idle pass reads none).  A pass
    // that only sent the kernel's frames is not counted.
    if (tsc != 0) w.ctx.counters.busy_cycles += rte_rdtsc() - tsc;
    rte_rcu_qsbr_quiescent(rt.rcu, w.index);
    sleep.after_pass(pass_packets, rt.rcu);
  }
  rte_rcu_qsbr_thread_offline(rt.rcu, w.index);
  rte_rcu_qsbr_thread_unregister(rt.rcu, w.index);
  return 0;
}

}  // namespace msgw::dataplane
