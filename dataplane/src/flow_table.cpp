// SPDX-License-Identifier: GPL-3.0-or-later
// Flow table writer side (main lcore only) and its RCU-deferred reclamation.
#include "msgw/dataplane/flow_table.hpp"

#include <cstring>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_random.h>

namespace msgw::dataplane {

namespace {

codecs::CodecParams params(const LegSpec& l) {
  codecs::CodecParams p;
  p.id = codecs::CodecId(l.codec);  // validate() checked is_codec_id
  p.payload_type = l.payload_type;
  p.ptime_ms = l.ptime_ms ? l.ptime_ms : 20;
  p.g726_packing = (l.flags & kLegG726Aal2) ? codecs::G726Packing::Aal2
                                            : codecs::G726Packing::Rfc3551;
  p.g729_annexb = (l.flags & kLegG729NoAnnexB) == 0;
  return p;
}

codecs::TranscoderConfig direction(const LegSpec& in, const LegSpec& out) {
  codecs::TranscoderConfig t;
  t.ingress = params(in);
  t.egress = params(out);
  t.ingress_event_pt = in.dtmf_pt;
  t.egress_event_pt = out.dtmf_pt;
  return t;
}

bool same_media(const LegSpec& a, const LegSpec& b) {
  return a.codec == b.codec && a.payload_type == b.payload_type && a.dtmf_pt == b.dtmf_pt &&
         a.ptime_ms == b.ptime_ms && (a.flags & kLegMediaFlags) == (b.flags & kLegMediaFlags);
}

}  // namespace

void FlowTable::free_config(SessionConfig* c) { rte_free(c); }

bool FlowTable::make_transcoders(SessionConfig* c, const uint32_t* egress_base) const {
  for (int i = 0; i < 2; ++i) {
    codecs::TranscoderConfig t = direction(c->legs[i], c->legs[i ^ 1]);
    t.egress_timestamp_base = egress_base != nullptr ? egress_base[i] : uint32_t(rte_rand());
    std::string err;
    c->tc[i] = codecs::Transcoder::create(t, &err).release();
    if (c->tc[i] == nullptr) {
      if (i == 1) delete c->tc[0];
      c->tc[0] = c->tc[1] = nullptr;
      return false;
    }
  }
  return true;
}

FlowTable::FlowTable(const std::string& name, uint32_t max_flows, uint32_t n_ports,
                     uint16_t n_workers, rte_rcu_qsbr* rcu, int socket_id)
    : rcu_(rcu), max_flows_(max_flows), n_ports_(n_ports), n_workers_(n_workers ? n_workers : 1) {
  rte_hash_parameters p{};
  p.name = name.c_str();
  // rte_hash needs >= 8 entries; the extendable bucket table guarantees every
  // one of the leg_capacity() entries can really be inserted.
  p.entries = max_flows * 2 < 8 ? 8 : max_flows * 2;
  p.key_len = sizeof(FlowKey);
  p.hash_func = rte_hash_crc;
  p.hash_func_init_val = 0;
  p.socket_id = socket_id;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  hash_ = rte_hash_create(&p);
  runtime_ = static_cast<SessionRuntime*>(
      rte_zmalloc_socket("msgw_runtime", sizeof(SessionRuntime) * size_t(max_flows), 64,
                         socket_id));
  configs_.assign(max_flows, nullptr);
  busy_.assign(max_flows, 0);
  slot_gen_.assign(max_flows, 0);
}

FlowTable::~FlowTable() {
  reclaim(true);
  for (SessionConfig* c : configs_) {
    if (c == nullptr) continue;
    delete c->tc[0];
    delete c->tc[1];
    rte_free(c);
  }
  if (hash_ != nullptr) rte_hash_free(hash_);
  rte_free(runtime_);
}

Status FlowTable::validate(const LegSpec legs[2], const SessionConfig* self) const {
  for (int i = 0; i < 2; ++i) {
    const LegSpec& l = legs[i];
    if (!codecs::is_codec_id(l.codec)) return Status::unknown_codec;
    if (l.port >= n_ports_) return Status::bad_port;
    if (l.local_ip == 0 || l.local_port == 0 || (l.local_port & 1u) != 0)
      return Status::bad_address;
    if (l.remote_ip != 0 && l.remote_port == 0) return Status::bad_address;
    if (l.payload_type > 127) return Status::bad_payload_type;
    if (l.dtmf_pt != kNoPayloadType && (l.dtmf_pt > 127 || l.dtmf_pt == l.payload_type))
      return Status::bad_payload_type;
    if (l.ptime_ms != 0 && (l.ptime_ms < 10 || l.ptime_ms > 120 || l.ptime_ms % 10 != 0))
      return Status::bad_payload_type;
  }
  const FlowKey k0 = leg_key(legs[0]), k1 = leg_key(legs[1]);
  if (std::memcmp(&k0, &k1, sizeof k0) == 0) return Status::duplicate_address;
  uint32_t new_keys = 0;
  for (int i = 0; i < 2; ++i) {
    const FlowKey k = leg_key(legs[i]);
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, &k, &data) >= 0) {
      auto* owner = reinterpret_cast<const SessionConfig*>(reinterpret_cast<uintptr_t>(data) &
                                                           ~uintptr_t(63));
      if (owner != self) return Status::duplicate_address;
    } else {
      ++new_keys;
    }
  }
  if (!relayable(legs[0], legs[1])) {
    // Transcoded: the codec engine must accept both directions (ptime,
    // packing, telephone-event mapping) or nothing is changed.
    for (int i = 0; i < 2; ++i)
      if (!codecs::Transcoder::validate(direction(legs[i], legs[i ^ 1])).empty())
        return Status::unsupported;
  }
  if (legs_in_use_ + new_keys > leg_capacity()) return Status::table_full;
  return Status::ok;
}

SessionConfig* FlowTable::make_config(uint32_t flow_id, const LegSpec legs[2], uint32_t version,
                                      uint16_t owner) const {
  auto* c = static_cast<SessionConfig*>(rte_zmalloc("msgw_session", sizeof(SessionConfig), 64));
  if (c == nullptr) return nullptr;
  c->flow_id = flow_id;
  c->version = version;
  c->owner = owner;
  c->legs[0] = legs[0];
  c->legs[1] = legs[1];
  for (auto& l : c->legs)
    if (l.ptime_ms == 0) l.ptime_ms = 20;
  c->relay = relayable(legs[0], legs[1]);
  return c;
}

void FlowTable::init_runtime(uint32_t flow_id, const SessionConfig* c) {
  SessionRuntime& rt = runtime_[flow_id];
  std::memset(&rt, 0, sizeof rt);
  for (int i = 0; i < 2; ++i) {
    LegRuntime& r = rt.legs[i];
    r.config_version = c->version;
    r.remote_ip = c->legs[i].remote_ip;
    r.remote_port = c->legs[i].remote_port;
    r.remote_rtcp_port = c->legs[i].remote_port ? uint16_t(c->legs[i].remote_port + 1) : 0;
  }
}

Status FlowTable::add(uint32_t flow_id, const LegSpec legs[2]) {
  if (flow_id >= max_flows_) return Status::bad_flow_id;
  if (configs_[flow_id] != nullptr || busy_[flow_id]) return Status::flow_exists;
  Status s = validate(legs, nullptr);
  if (s != Status::ok) return s;
  const uint16_t owner = next_owner_;
  SessionConfig* c = make_config(flow_id, legs, 1, owner);
  if (c == nullptr) return Status::table_full;
  if (!c->relay && !make_transcoders(c, nullptr)) {
    rte_free(c);
    return Status::unsupported;
  }
  // Runtime and stats slot are ready before any reader can find the keys.
  init_runtime(flow_id, c);
  if (stats_ != nullptr) {
    for (int i = 0; i < 2; ++i) {
      FlowStats& st = stats_[size_t(flow_id) * 2 + i];
      std::memset(&st, 0, sizeof st);
      __atomic_store_n(&st.generation, slot_gen_[flow_id] + 1, __ATOMIC_RELEASE);
    }
  }
  int32_t pos[2] = {-1, -1};
  for (uint8_t i = 0; i < 2; ++i) {
    const FlowKey k = leg_key(c->legs[i]);
    pos[i] = rte_hash_add_key_data(hash_, &k, reinterpret_cast<void*>(tag(c, i)));
    if (pos[i] < 0) {
      if (i == 1) {
        const FlowKey k0 = leg_key(c->legs[0]);
        int32_t p = rte_hash_del_key(hash_, &k0);
        defer(c, p, -1, kAllFlows, 0, c->tc[0], c->tc[1]);
        ++legs_in_use_;  // the deferred slot still counts until reclaimed
      } else {
        delete c->tc[0];
        delete c->tc[1];
        rte_free(c);
      }
      return Status::table_full;
    }
  }
  legs_in_use_ += 2;
  publish(flow_id, c);
  ++slot_gen_[flow_id];
  next_owner_ = uint16_t((next_owner_ + 1) % n_workers_);
  return Status::ok;
}

Status FlowTable::modify(uint32_t flow_id, const LegSpec legs[2]) {
  if (flow_id >= max_flows_) return Status::bad_flow_id;
  SessionConfig* old = configs_[flow_id];
  if (old == nullptr) return Status::no_such_flow;
  Status s = validate(legs, old);
  if (s != Status::ok) return s;
  SessionConfig* c = make_config(flow_id, legs, old->version + 1, old->owner);
  if (c == nullptr) return Status::table_full;
  codecs::Transcoder* retire[2] = {nullptr, nullptr};
  if (!c->relay) {
    if (!old->relay && same_media(old->legs[0], c->legs[0]) &&
        same_media(old->legs[1], c->legs[1])) {
      // Same codecs: the engine state (and its egress timeline) carries on.
      c->tc[0] = old->tc[0];
      c->tc[1] = old->tc[1];
    } else {
      // New codec set: continue each egress timeline where the old one was
      // (a racy read of the worker's counter, close enough: the new engine
      // marks its first packet anyway).
      uint32_t base[2];
      for (int i = 0; i < 2; ++i)
        base[i] = old->tc[i] != nullptr ? old->tc[i]->next_egress_timestamp() : uint32_t(rte_rand());
      if (!make_transcoders(c, base)) {
        rte_free(c);
        return Status::unsupported;
      }
      retire[0] = old->tc[0];
      retire[1] = old->tc[1];
    }
  } else {
    retire[0] = old->tc[0];
    retire[1] = old->tc[1];
  }
  int32_t freed_pos[2] = {-1, -1};
  int32_t added_new = 0;
  for (uint8_t i = 0; i < 2; ++i) {
    const FlowKey nk = leg_key(c->legs[i]);
    // Replacing the data of an existing key is a single atomic store for
    // lock-free readers.
    if (rte_hash_add_key_data(hash_, &nk, reinterpret_cast<void*>(tag(c, i))) < 0) {
      // Only reachable when the table filled up between validate and here,
      // which a single writer excludes; keep the old config in place.
      if (c->tc[0] != old->tc[0]) {
        delete c->tc[0];
        delete c->tc[1];
      }
      rte_free(c);
      return Status::table_full;
    }
  }
  // Keys of the old config that the new one no longer uses.
  for (uint8_t i = 0; i < 2; ++i) {
    const FlowKey ok = leg_key(old->legs[i]);
    bool kept = false;
    for (uint8_t j = 0; j < 2; ++j) {
      const FlowKey nk = leg_key(c->legs[j]);
      if (std::memcmp(&ok, &nk, sizeof ok) == 0) kept = true;
    }
    if (!kept) {
      freed_pos[i] = rte_hash_del_key(hash_, &ok);
    }
  }
  for (uint8_t j = 0; j < 2; ++j) {
    const FlowKey nk = leg_key(c->legs[j]);
    bool existed = false;
    for (uint8_t i = 0; i < 2; ++i) {
      const FlowKey ok = leg_key(old->legs[i]);
      if (std::memcmp(&ok, &nk, sizeof ok) == 0) existed = true;
    }
    if (!existed) ++added_new;
  }
  legs_in_use_ += uint32_t(added_new);
  publish(flow_id, c);
  defer(old, freed_pos[0], freed_pos[1], kAllFlows, 0, retire[0], retire[1]);
  return Status::ok;
}

Status FlowTable::del(uint32_t flow_id, uint32_t request_id) {
  if (flow_id >= max_flows_) return Status::bad_flow_id;
  SessionConfig* c = configs_[flow_id];
  if (c == nullptr) return Status::no_such_flow;
  int32_t pos[2];
  for (uint8_t i = 0; i < 2; ++i) {
    const FlowKey k = leg_key(c->legs[i]);
    pos[i] = rte_hash_del_key(hash_, &k);
  }
  publish(flow_id, nullptr);
  busy_[flow_id] = 1;
  defer(c, pos[0], pos[1], flow_id, request_id, c->tc[0], c->tc[1]);
  return Status::ok;
}

FlowCache::FlowCache(uint32_t keys, int socket_id) {
  unsigned bits = 10;
  while (bits < 18 && (uint32_t(1) << bits) < keys) ++bits;
  shift_ = 64 - bits;
  slots_ = static_cast<Slot*>(rte_zmalloc_socket("msgw_flow_cache", sizeof(Slot) << bits, 64,
                                                 socket_id));
}

FlowCache::~FlowCache() { rte_free(slots_); }

void FlowTable::defer(SessionConfig* c, int32_t p0, int32_t p1, uint32_t flow_id,
                      uint32_t request_id, codecs::Transcoder* tc0, codecs::Transcoder* tc1) {
  Pending p{};
  p.tc[0] = tc0;
  p.tc[1] = tc1;
  p.token = rcu_ != nullptr ? rte_rcu_qsbr_start(rcu_) : 0;
  p.config = c;
  p.positions[0] = p0;
  p.positions[1] = p1;
  p.flow_id = flow_id;
  p.request_id = request_id;
  pending_.push_back(p);
}

std::vector<FlowTable::Freed> FlowTable::reclaim(bool wait) {
  std::vector<Freed> done;
  while (!pending_.empty()) {
    Pending& p = pending_.front();
    if (rcu_ != nullptr && rte_rcu_qsbr_check(rcu_, p.token, wait) != 1) break;
    for (int32_t pos : p.positions) {
      if (pos >= 0) {
        rte_hash_free_key_with_position(hash_, pos);
        --legs_in_use_;
      }
    }
    rte_free(p.config);
    delete p.tc[0];
    delete p.tc[1];
    if (p.flow_id != kAllFlows) {
      busy_[p.flow_id] = 0;
      done.push_back(Freed{p.flow_id, p.request_id});
    }
    pending_.pop_front();
  }
  return done;
}

}  // namespace msgw::dataplane
