// SPDX-License-Identifier: GPL-3.0-or-later
// Neighbour learning and ARP frames: main lcore, exception path only.
#include "msgw/dataplane/neighbour.hpp"

#include <cstring>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include "msgw/common/byte_order.hpp"
#include "msgw/dataplane/packet.hpp"

namespace msgw::dataplane {

NeighbourTable::NeighbourTable(const std::string& name, uint32_t capacity, int socket_id) {
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = capacity < 8 ? 8 : capacity;
  p.key_len = sizeof(uint64_t);
  p.hash_func = rte_hash_crc;
  p.socket_id = socket_id;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  hash_ = rte_hash_create(&p);
}

NeighbourTable::~NeighbourTable() {
  if (hash_ != nullptr) rte_hash_free(hash_);
}

bool NeighbourTable::learn(uint16_t port, uint32_t ip, const rte_ether_addr& mac) {
  if (ip == 0 || rte_is_multicast_ether_addr(&mac) || rte_is_zero_ether_addr(&mac)) return false;
  const uint64_t key = (uint64_t(port) << 32) | ip;
  uintptr_t v = 0;
  for (int i = 0; i < 6; ++i) v |= uintptr_t(mac.addr_bytes[i]) << (8 * i);
  // Bit 63 keeps the data word non-null for an all-zero... never stored anyway.
  v |= uintptr_t(1) << 63;
  const bool ok = rte_hash_add_key_data(hash_, &key, reinterpret_cast<void*>(v)) >= 0;
  // After the store: a reader that sees the new version finds the new MAC.
  __atomic_store_n(&version_, version_ + 1, __ATOMIC_RELEASE);
  return ok;
}

bool learn_from_arp(NeighbourTable& table, uint16_t port, const uint8_t* frame, uint32_t len) {
  if (len < sizeof(rte_ether_hdr)) return false;
  uint32_t off = 12;
  uint16_t type = common::load_be16(frame + off);
  off += 2;
  if (type == RTE_ETHER_TYPE_VLAN) {
    if (len < off + 4) return false;
    type = common::load_be16(frame + off + 2);
    off += 4;
  }
  if (type != RTE_ETHER_TYPE_ARP) return false;
  if (len < off + sizeof(rte_arp_hdr)) return true;
  rte_arp_hdr arp;
  std::memcpy(&arp, frame + off, sizeof arp);
  if (rte_be_to_cpu_16(arp.arp_hardware) != RTE_ARP_HRD_ETHER ||
      rte_be_to_cpu_16(arp.arp_protocol) != RTE_ETHER_TYPE_IPV4 || arp.arp_hlen != 6 ||
      arp.arp_plen != 4)
    return true;
  const uint16_t op = rte_be_to_cpu_16(arp.arp_opcode);
  if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) return true;
  // Sender fields are valid in both requests and replies; they are how
  // neighbours announce themselves and how the kernel's answers tell us who
  // it talks to.  Replies also carry a meaningful target.
  table.learn(port, rte_be_to_cpu_32(arp.arp_data.arp_sip), arp.arp_data.arp_sha);
  if (op == RTE_ARP_OP_REPLY)
    table.learn(port, rte_be_to_cpu_32(arp.arp_data.arp_tip), arp.arp_data.arp_tha);
  return true;
}

uint32_t build_arp_request(const PortInfo& port, uint32_t target_ip, uint8_t* buf) {
  rte_ether_hdr eth{};
  std::memset(&eth.dst_addr, 0xff, sizeof eth.dst_addr);
  eth.src_addr = port.mac;
  eth.ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  rte_arp_hdr arp{};
  arp.arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  arp.arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  arp.arp_hlen = 6;
  arp.arp_plen = 4;
  arp.arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
  arp.arp_data.arp_sha = port.mac;
  arp.arp_data.arp_sip = rte_cpu_to_be_32(port.ip);
  arp.arp_data.arp_tip = rte_cpu_to_be_32(target_ip);
  std::memcpy(buf, &eth, sizeof eth);
  std::memcpy(buf + sizeof eth, &arp, sizeof arp);
  return uint32_t(sizeof eth + sizeof arp);
}

}  // namespace msgw::dataplane
