// SPDX-License-Identifier: GPL-3.0-or-later
// `msgwctl host check`: is this host ready to run the configured dataplane?
// Each item is ok, warn (runs, but slower or less safe) or fail (will not
// run, or not as configured), with the command that fixes it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "msgw/config/config.hpp"
#include "msgw/host/environment.hpp"

namespace msgw::host {

// The checks, once: id, what it looks at.
#define MSGW_HOST_CHECKS(X)                                                                                  \
  X(hugepages, "hugepages reserved per NUMA node (every page size) vs [dataplane] memory_mb spread as DPDK does") \
  X(hugetlbfs, "a hugetlbfs mount (/proc/mounts)")                                                           \
  X(iommu, "an IOMMU registered (/sys/class/iommu) for vfio-pci, when the config names a PCI device")        \
  X(pci_driver, "each configured PCI device bound to vfio-pci (or a bifurcated driver DPDK uses as is)")     \
  X(iommu_group, "each configured PCI device's IOMMU group, and no other device in it on a kernel driver")   \
  X(numa, "each configured NIC on the NUMA node of the worker lcores that poll it")                          \
  X(isolation, "each worker CPU in isolcpus, nohz_full and rcu_nocbs")                                        \
  X(governor, "each worker CPU's frequency governor (performance)")                                          \
  X(memlock, "RLIMIT_MEMLOCK (or CAP_IPC_LOCK) for DPDK's locked and DMA-mapped memory")

enum class CheckId : uint8_t {
#define MSGW_X(id, what) id,
  MSGW_HOST_CHECKS(MSGW_X)
#undef MSGW_X
};
std::string_view check_name(CheckId id);
std::string_view check_description(CheckId id);

enum class Status : uint8_t { ok, warn, fail };
std::string_view status_name(Status s);  // "ok", "warn", "fail"

struct Item {
  CheckId check;
  std::string subject;  // "node0", "0000:03:00.0 (port access)", "cpu 3 (worker lcore 3)"
  Status status = Status::ok;
  std::string message;
  std::string fix;      // shell command(s) or the step that fixes it; empty when ok
};

std::vector<Item> check(const config::Config& config, const HostEnv& env);

// The worst status among the items (ok when there are none).
Status worst(const std::vector<Item>& items);

}  // namespace msgw::host
