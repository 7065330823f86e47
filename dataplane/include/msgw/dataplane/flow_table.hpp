// SPDX-License-Identifier: GPL-3.0-or-later
// Flow table: rte_hash keyed by (port, local IPv4, even local UDP port).
//
// One writer (the main lcore, via the command processor), lock-free readers
// (workers).  Session configurations are immutable once published: a modify
// publishes a new object and the old one is freed only after every worker
// has passed a quiescent state (rte_rcu_qsbr).  Worker-written state lives
// in SessionRuntime, indexed by flow id, never freed while the flow exists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include "msgw/codecs/transcoder.hpp"
#include "msgw/dataplane/protocol.hpp"

namespace msgw::dataplane {

struct alignas(64) SessionConfig {
  uint32_t flow_id;
  uint32_t version;          // bumped by every modify; workers compare
  uint16_t owner;            // worker index that processes this session
  uint8_t relay;             // both legs carry the same codec
  uint8_t reserved[5];
  LegSpec legs[2];
  // Transcoded sessions: tc[i] carries packets arriving on leg i to leg i^1.
  // Created with the flow (never per packet); used only by the owner worker;
  // deleted after RCU quiescence once no config refers to them.
  codecs::Transcoder* tc[2];
};

// Written only by the owning worker (after a flow is added, before its slot
// is reused); the main lcore initialises it before publishing the config.
// Laid out by use: a relayed packet reads its ingress leg's first cache line
// and its egress leg's first two, which process_chunk prefetches for the
// next packet while it works on this one; what RTCP, transcoding, DTMF and
// latch candidates need comes after.
struct alignas(64) LegRuntime {
  // --- line 0: ingress checks and receive statistics, egress rewriting
  uint32_t config_version;
  // current remote (configured, then latched)
  uint32_t remote_ip;
  uint16_t remote_port;
  uint16_t remote_rtcp_port;
  uint8_t latched;           // remote learned from packets
  uint8_t have_ssrc;
  uint8_t cand_count;
  uint8_t seq_init;
  uint8_t transit_init;
  uint8_t out_init;
  uint8_t dtmf_end_seen;
  uint8_t peer_sr_seen;      // transcoded legs: peer_sr_* below are valid
  uint32_t in_ssrc;          // SSRC of the accepted ingress stream
  // RFC 3550 A.1/A.8 receive statistics
  uint16_t max_seq;
  // egress rewriting of packets sent out of this leg
  uint16_t seq_delta;
  uint16_t last_seq;
  uint16_t nh_port;
  uint32_t cycles;
  uint32_t base_seq;
  uint32_t received;
  uint32_t jitter_q4;        // jitter * 16
  uint32_t transit;          // RTP units, modulo 2^32 (A.8's arithmetic is modular here)
  uint32_t out_ssrc;
  uint32_t src_ssrc;         // ingress SSRC currently mapped to out_ssrc
  uint32_t ts_delta;
  // --- line 1: the rest of egress rewriting, latch candidates
  uint32_t last_ts;
  // Next-hop MAC of packets sent out of this leg, valid while the neighbour
  // table's version is nh_version and the next hop is still nh_ip on nh_port.
  uint32_t nh_ip;
  uint64_t nh_version;
  rte_ether_addr nh_mac;
  uint16_t cand_port;
  uint32_t cand_ip;
  uint32_t cand_ssrc;
  uint32_t last_dtmf_ts;
  // RFC 3550 A.3: expected/received when the last report block about this
  // leg went out, so the next block's fraction lost covers one interval.
  uint32_t expected_prior;
  uint32_t received_prior;
  // transcoded egress (packets this leg sends that the codec engine built)
  uint16_t tc_next_seq;
  uint16_t ip_id;
  // --- line 2: RTCP
  uint64_t tc_packets;       // RTCP SR sender counts
  uint64_t tc_octets;
  uint64_t last_rtcp_ns;
  // Last SR the peer sent on this leg (transcoded legs terminate it), for
  // LSR/DLSR in our report block about the peer's stream (RFC 3550 6.4.1).
  uint32_t peer_sr_ssrc;
  uint32_t peer_sr_ntp_mid;  // middle 32 bits of its NTP timestamp
  uint64_t peer_sr_ns;       // when it arrived (worker's now_ns)
};
static_assert(offsetof(LegRuntime, ts_delta) + 4 <= 64 && offsetof(LegRuntime, nh_mac) + 6 <= 128,
              "the relay's fields must stay in the lines process_chunk prefetches");

struct alignas(64) SessionRuntime {
  LegRuntime legs[2];
};

struct FlowKey {
  uint32_t ip;        // host order
  uint16_t udp_port;  // host order, even (RTCP maps to port - 1)
  uint16_t port;      // dataplane port index
};
static_assert(sizeof(FlowKey) == 8);

// The key of a packet's destination: RTP and RTCP (odd port) of a leg share it.
inline FlowKey flow_key(uint16_t port, uint32_t ip, uint16_t udp_port) {
  return FlowKey{ip, uint16_t(udp_port & ~1u), port};
}
inline FlowKey leg_key(const LegSpec& l) { return FlowKey{l.local_ip, l.local_port, l.port}; }
// Built from the fields, not copied from memory: a key just stored as two
// halves and reloaded as one word stalled store forwarding (~10 % of
// process_chunk in a profile).
inline uint64_t key_bits(const FlowKey& k) {
  return uint64_t(k.ip) | uint64_t(k.udp_port) << 32 | uint64_t(k.port) << 48;
}

// A worker's memo of "this key is leg L of flow F" in front of rte_hash:
// one 16-byte slot per key, direct-mapped.  Under load the memif rings and
// packet buffers push rte_hash's buckets and key store out of L2, and its
// lock-free bulk lookup then cost ~30 ns of a relayed packet in a profile;
// a hit here touches one line, then the flow's config, which the packet
// needs anyway.  A slot is only ever a hint, taken only if the flow's
// current config (RCU-protected like the hash's data) still has that key on
// that leg (FlowTable::cached(), then has_key()).  So deletes, modifies and
// re-used flow ids need nothing from the writer, and a stale or colliding
// slot costs one rte_hash lookup.
class FlowCache {
 public:
  // A slot per key for up to `keys` keys (a power of two, 1,024..262,144).
  FlowCache(uint32_t keys, int socket_id);
  ~FlowCache();
  FlowCache(const FlowCache&) = delete;
  FlowCache& operator=(const FlowCache&) = delete;
  bool ok() const { return slots_ != nullptr; }
  uint32_t size() const { return uint32_t(1) << (64 - shift_); }

  struct Slot {
    uint64_t key;  // key_bits(); 0 = empty (no leg has local address 0)
    uint32_t ref;  // flow_id << 1 | leg
    uint32_t unused;
  };
  Slot& slot(uint64_t key) const {
    // Fibonacci hashing: the product's top bits depend on every key bit.
    return slots_[(key * 0x9e3779b97f4a7c15ull) >> shift_];
  }
  void prefetch(const FlowKey& k) const { __builtin_prefetch(&slot(key_bits(k))); }
  uint64_t hits = 0;    // candidates confirmed (counted by the worker)
  uint64_t misses = 0;  // keys looked up in rte_hash instead (found or not)

 private:
  Slot* slots_ = nullptr;
  unsigned shift_ = 64;  // 64 - log2(slots)
};

class FlowTable {
 public:
  // `name` must be unique in the process (rte_hash names are global).
  // rcu may be null when no worker reads concurrently (unit tests).
  FlowTable(const std::string& name, uint32_t max_flows, uint32_t n_ports, uint16_t n_workers,
            rte_rcu_qsbr* rcu, int socket_id);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  bool ok() const { return hash_ != nullptr && runtime_ != nullptr; }
  uint32_t max_flows() const { return max_flows_; }
  uint32_t legs_in_use() const { return legs_in_use_; }
  uint32_t leg_capacity() const { return max_flows_ * 2; }
  void set_n_ports(uint32_t n) { n_ports_ = n; }
  // Per-leg stats area (segment): add() resets a flow's two entries before
  // the flow becomes visible to workers.  Optional (null in some tests).
  void set_stats_area(FlowStats* s) { stats_ = s; }

  // ---- writer side (main lcore) ----
  // Validates completely before changing anything.
  Status add(uint32_t flow_id, const LegSpec legs[2]);
  Status modify(uint32_t flow_id, const LegSpec legs[2]);
  // Removes the keys now; the flow id is free (and `request_id` acked by
  // reclaim()) once every reader has passed a quiescent state.
  Status del(uint32_t flow_id, uint32_t request_id);
  struct Freed {
    uint32_t flow_id;
    uint32_t request_id;
  };
  // Frees what readers can no longer see; returns deletions now complete.
  std::vector<Freed> reclaim(bool wait = false);
  // Deletions still waiting for readers to pass a quiescent state.
  bool reclaim_pending() const { return !pending_.empty(); }
  const SessionConfig* get(uint32_t flow_id) const {
    return flow_id < max_flows_ ? configs_[flow_id] : nullptr;
  }
  // Validation shared by add/modify (exposed for tests).
  Status validate(const LegSpec legs[2], const SessionConfig* self) const;
  // Slot bookkeeping for stats (bumped on each add of a flow id).
  uint64_t slot_generation(uint32_t flow_id) const { return slot_gen_[flow_id]; }

  // ---- reader side (workers); lock-free ----
  // Returns the session and leg for a local address, or null.
  const SessionConfig* lookup(uint16_t port, uint32_t ip, uint16_t udp_port, uint8_t* leg) const {
    const FlowKey k = flow_key(port, ip, udp_port);
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, &k, &data) < 0) return nullptr;
    return untag(data, leg);
  }
  // lookup() for n keys, rte_hash_lookup_bulk_data's 64 at a time: the hash
  // overlaps the bucket and key fetches of a whole set.  cfg[i] is null for
  // a miss.
  void lookup_bulk(const FlowKey* keys, uint32_t n, const SessionConfig** cfg,
                   uint8_t* leg) const {
    constexpr uint32_t kMax = RTE_HASH_LOOKUP_BULK_MAX;
    for (uint32_t base = 0; base < n; base += kMax) {
      const uint32_t m = n - base < kMax ? n - base : kMax;
      const void* kp[kMax];
      void* data[kMax];
      uint64_t hits = 0;
      for (uint32_t i = 0; i < m; ++i) kp[i] = &keys[base + i];
      if (rte_hash_lookup_bulk_data(hash_, kp, m, &hits, data) < 0) hits = 0;
      for (uint32_t i = 0; i < m; ++i)
        cfg[base + i] = (hits >> i & 1) != 0 ? untag(data[i], &leg[base + i]) : nullptr;
    }
  }
  // Through a worker's cache.  cached(): the slot's candidate, no more (a
  // load of the slot and of the config pointer; null when the slot holds
  // another key).  A candidate must pass has_key() before use, once its
  // config line is in cache anyway.  lookup_fill() goes to rte_hash and
  // remembers what it finds.
  const SessionConfig* cached(const FlowCache& cache, const FlowKey& k, uint8_t* leg,
                              uint32_t* flow_id) const {
    const FlowCache::Slot& s = cache.slot(key_bits(k));
    if (s.key != key_bits(k) || (s.ref >> 1) >= max_flows_) return nullptr;
    *leg = uint8_t(s.ref & 1);
    *flow_id = s.ref >> 1;
    return __atomic_load_n(&configs_[s.ref >> 1], __ATOMIC_ACQUIRE);
  }
  static bool has_key(const SessionConfig* c, uint8_t leg, const FlowKey& k) {
    return key_bits(leg_key(c->legs[leg])) == key_bits(k);
  }
  const SessionConfig* lookup_fill(FlowCache& cache, const FlowKey& k, uint8_t* leg) const {
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, &k, &data) < 0) return nullptr;
    const SessionConfig* c = untag(data, leg);
    remember(cache, k, c, *leg);
    return c;
  }
  // A burst's keys (n <= RTE_HASH_LOOKUP_BULK_MAX): config, leg and flow id
  // of each (id valid where cfg is set).  With a cache, a slot's candidate
  // comes back with unconfirmed[i] set (has_key() before use); the other keys
  // go to rte_hash in one bulk lookup and what is found is remembered.
  void lookup_burst(FlowCache* cache, const FlowKey* keys, uint32_t n, const SessionConfig** cfg,
                    uint8_t* leg, uint32_t* id, bool* unconfirmed) const {
    FlowKey miss_keys[RTE_HASH_LOOKUP_BULK_MAX];
    uint8_t miss_at[RTE_HASH_LOOKUP_BULK_MAX];
    uint32_t misses = 0;
    for (uint32_t i = 0; i < n; ++i) {
      cfg[i] = cache != nullptr ? cached(*cache, keys[i], &leg[i], &id[i]) : nullptr;
      unconfirmed[i] = cfg[i] != nullptr;
      if (cfg[i] == nullptr) {
        miss_keys[misses] = keys[i];
        miss_at[misses++] = uint8_t(i);
      }
    }
    if (misses == 0) return;
    const SessionConfig* found[RTE_HASH_LOOKUP_BULK_MAX];
    uint8_t found_leg[RTE_HASH_LOOKUP_BULK_MAX];
    lookup_bulk(miss_keys, misses, found, found_leg);
    for (uint32_t j = 0; j < misses; ++j) {
      const uint32_t i = miss_at[j];
      cfg[i] = found[j];
      leg[i] = found_leg[j];
      if (found[j] == nullptr) continue;
      id[i] = found[j]->flow_id;
      if (cache != nullptr) remember(*cache, keys[i], found[j], found_leg[j]);
    }
    if (cache != nullptr) cache->misses += misses;
  }
  SessionRuntime* runtime(uint32_t flow_id) const { return &runtime_[flow_id]; }

 private:
  static void remember(FlowCache& cache, const FlowKey& k, const SessionConfig* c, uint8_t leg) {
    FlowCache::Slot& s = cache.slot(key_bits(k));
    s.key = key_bits(k);
    s.ref = c->flow_id << 1 | leg;
  }
  // Workers read a flow's config through the cache: published after the
  // config is complete, as rte_hash publishes its data.
  void publish(uint32_t flow_id, SessionConfig* c) {
    __atomic_store_n(&configs_[flow_id], c, __ATOMIC_RELEASE);
  }
  struct Pending {
    uint64_t token;
    SessionConfig* config;     // to free (may be null)
    codecs::Transcoder* tc[2]; // to delete (may be null)
    int32_t positions[2];      // hash key slots to free (-1 = none)
    uint32_t flow_id;          // kAllFlows when not a delete
    uint32_t request_id;
  };
  rte_hash* hash_ = nullptr;
  rte_rcu_qsbr* rcu_ = nullptr;
  uint32_t max_flows_ = 0;
  uint32_t n_ports_ = 0;
  uint16_t n_workers_ = 1;
  uint32_t legs_in_use_ = 0;     // keys in the hash, incl. deleted not yet freed
  std::vector<SessionConfig*> configs_;
  std::vector<uint8_t> busy_;    // id deleted, waiting for quiescence
  std::vector<uint64_t> slot_gen_;
  SessionRuntime* runtime_ = nullptr;
  FlowStats* stats_ = nullptr;
  std::deque<Pending> pending_;
  uint16_t next_owner_ = 0;

  static uintptr_t tag(const SessionConfig* c, uint8_t leg) {
    return reinterpret_cast<uintptr_t>(c) | leg;
  }
  static const SessionConfig* untag(void* data, uint8_t* leg) {
    const auto v = reinterpret_cast<uintptr_t>(data);
    *leg = uint8_t(v & 1u);
    return reinterpret_cast<const SessionConfig*>(v & ~uintptr_t(63));
  }
  void defer(SessionConfig* c, int32_t p0, int32_t p1, uint32_t flow_id, uint32_t request_id,
             codecs::Transcoder* tc0 = nullptr, codecs::Transcoder* tc1 = nullptr);
  SessionConfig* make_config(uint32_t flow_id, const LegSpec legs[2], uint32_t version,
                             uint16_t owner) const;
  // Creates both directions' transcoders into c->tc; false when the codec
  // engine refuses the combination.  egress_base: per direction, the egress
  // timestamp to continue from (modify) or null for a fresh session.
  bool make_transcoders(SessionConfig* c, const uint32_t* egress_base) const;
  static void free_config(SessionConfig* c);
  void init_runtime(uint32_t flow_id, const SessionConfig* c);
};

}  // namespace msgw::dataplane
