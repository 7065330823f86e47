// SPDX-License-Identifier: GPL-3.0-or-later
// Neighbour (ARP) table: (port, IPv4) -> MAC.  Written by the main lcore
// only (ARP learning in both directions), read lock-free by workers.  The MAC
// is the hash's data word itself, so an update is one atomic store and there
// is nothing to reclaim.
#pragma once

#include <cstdint>
#include <string>

#include <rte_ether.h>
#include <rte_hash.h>

namespace msgw::dataplane {

class NeighbourTable {
 public:
  NeighbourTable(const std::string& name, uint32_t capacity, int socket_id);
  ~NeighbourTable();
  NeighbourTable(const NeighbourTable&) = delete;
  NeighbourTable& operator=(const NeighbourTable&) = delete;
  bool ok() const { return hash_ != nullptr; }

  // Writer (main lcore). Returns false when the table is full.
  bool learn(uint16_t port, uint32_t ip, const rte_ether_addr& mac);
  // Reader (any lcore).
  bool lookup(uint16_t port, uint32_t ip, rte_ether_addr* mac) const {
    const uint64_t key = (uint64_t(port) << 32) | ip;
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, &key, &data) < 0) return false;
    const auto v = reinterpret_cast<uintptr_t>(data);
    for (int i = 0; i < 6; ++i) mac->addr_bytes[i] = uint8_t(v >> (8 * i));
    return true;
  }
  uint32_t size() const { return uint32_t(rte_hash_count(hash_)); }
  // Bumped after every learn(): a worker may keep a looked-up MAC (per leg)
  // for as long as the version it saw it under is current, which saves the
  // hash lookup on every packet.  Starts at 1 so a zeroed cache is stale.
  uint64_t version() const { return __atomic_load_n(&version_, __ATOMIC_ACQUIRE); }

 private:
  rte_hash* hash_ = nullptr;
  uint64_t version_ = 1;
};

struct PortInfo;

// ARP helpers for the exception path (main lcore).  `frame` points at an
// Ethernet frame of `len` bytes; all reads are bounds-checked.
// Learns sender (and, for replies, nothing else) of any ARP frame; returns
// true when the frame was ARP.
bool learn_from_arp(NeighbourTable& table, uint16_t port, const uint8_t* frame, uint32_t len);
// Writes a broadcast ARP request for `target_ip` from the port into buf
// (>= 42 bytes); returns the frame length.
uint32_t build_arp_request(const PortInfo& port, uint32_t target_ip, uint8_t* buf);

}  // namespace msgw::dataplane
