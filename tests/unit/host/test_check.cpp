// SPDX-License-Identifier: GPL-3.0-or-later
// host check against fixture hosts: a good host, and one thing wrong each.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "fixture_host.hpp"
#include "host_test_config.hpp"
#include "msgw/host/check.hpp"
#include "msgw/host/report.hpp"

using namespace msgw::host;
using msgw::host::testing::FixtureHost;
using msgw::host::testing::nic_config;

namespace {

// Two nodes (CPUs 0-3 on node 0, 4-7 on node 1), 256 x 2 MiB on node 0,
// hugetlbfs, IOMMU, workers 2 and 3 isolated, the NIC on vfio-pci on node 0.
void good_host(FixtureHost& h) {
  h.node(0, {0, 1, 2, 3}, 256);
  h.node(1, {4, 5, 6, 7}, 0);
  h.mount_hugetlbfs();
  h.iommu();
  h.isolate("2-3");
  h.pci("0000:03:00.0", "vfio-pci", 0, 17);
}

HostEnv env_of(const FixtureHost& h) {
  HostEnv env;
  env.root = h.root();
  env.memlock.limit_bytes = std::nullopt;  // unlimited
  env.addresses = [](const std::string&) { return std::vector<std::string>{}; };
  return env;
}

std::string dump(const std::vector<Item>& items) {
  std::ostringstream s;
  print_check(items, s);
  return s.str();
}

// The one item of `id` about `subject` (by prefix); fails the test when there is none.
const Item& item(const std::vector<Item>& items, CheckId id, const std::string& subject) {
  auto it = std::find_if(items.begin(), items.end(), [&](const Item& i) {
    return i.check == id && i.subject.rfind(subject, 0) == 0;
  });
  if (it == items.end()) {
    ADD_FAILURE() << "no " << check_name(id) << " item for " << subject << "\n" << dump(items);
    static const Item none{};
    return none;
  }
  return *it;
}

size_t count(const std::vector<Item>& items, Status s) {
  return size_t(std::count_if(items.begin(), items.end(), [&](const Item& i) { return i.status == s; }));
}

}  // namespace

TEST(HostCheck, GoodHostIsAllOk) {
  FixtureHost h;
  good_host(h);
  const auto items = check(nic_config(), env_of(h));
  EXPECT_EQ(count(items, Status::ok), items.size()) << dump(items);
  EXPECT_EQ(worst(items), Status::ok);
  // Every check had its say: hugepages on node 0 (all lcores there), one per worker.
  EXPECT_NE(item(items, CheckId::hugepages, "node0").message.find("256 x 2048kB"), std::string::npos) << dump(items);
  EXPECT_NE(item(items, CheckId::hugepages, "node0").message.find("needs 512 MB"), std::string::npos) << dump(items);
  item(items, CheckId::hugetlbfs, "/dev/hugepages");
  EXPECT_NE(item(items, CheckId::iommu, "host").message.find("dmar0"), std::string::npos);
  EXPECT_EQ(item(items, CheckId::pci_driver, "0000:03:00.0").message, "on vfio-pci");
  EXPECT_NE(item(items, CheckId::iommu_group, "0000:03:00.0").message.find("group 17"), std::string::npos);
  item(items, CheckId::numa, "0000:03:00.0");
  item(items, CheckId::isolation, "cpu 2");
  item(items, CheckId::isolation, "cpu 3");
  item(items, CheckId::governor, "cpu 3");
  item(items, CheckId::memlock, "process");
  for (const auto& i : items) EXPECT_TRUE(i.fix.empty()) << i.subject;
}

TEST(HostCheck, NoHugepagesFailsWithTheCommandThatReservesThem) {
  FixtureHost h;
  good_host(h);
  h.hugepages(0, 0);
  const auto items = check(nic_config(), env_of(h));
  const Item& hp = item(items, CheckId::hugepages, "node0");
  EXPECT_EQ(hp.status, Status::fail) << dump(items);
  EXPECT_NE(hp.fix.find("echo 256 > " + h.path(h.nr_hugepages_file(0)).string()), std::string::npos) << hp.fix;
  EXPECT_EQ(count(items, Status::fail), 1u) << dump(items);
  // hugepages = "auto" without a NIC runs with --no-huge: a warning, not a failure.
  auto vdev = msgw::config::load_string(
      "[dataplane]\nworker_lcores = [2]\n[[port]]\nname = \"a\"\ndevice = \"net_null0\"\naddress = \"10.0.0.1/24\"\n", "v",
      msgw::config::Scope::dataplane);
  ASSERT_TRUE(vdev.ok());
  const auto v = check(*vdev.config, env_of(h));
  EXPECT_EQ(item(v, CheckId::hugepages, "node0").status, Status::warn) << dump(v);
  EXPECT_EQ(item(v, CheckId::iommu, "host").status, Status::ok) << dump(v);
}

TEST(HostCheck, HugepagesAreSpreadOverTheNodesOfTheLcores) {
  FixtureHost h;
  good_host(h);
  // main lcore 0 on node 0, workers 4 and 5 on node 1: 1/3 and 2/3 of 512 MB.
  const auto items = check(nic_config("[4, 5]"), env_of(h));
  EXPECT_EQ(item(items, CheckId::hugepages, "node0").status, Status::ok) << dump(items);
  const Item& n1 = item(items, CheckId::hugepages, "node1");
  EXPECT_EQ(n1.status, Status::fail);
  EXPECT_NE(n1.message.find("needs 342 MB"), std::string::npos) << n1.message;
}

TEST(HostCheck, NicOnTheWrongDriverFails) {
  FixtureHost h;
  good_host(h);
  h.pci("0000:03:00.0", "ixgbe", 0, 17, "enp3s0f0");
  const auto items = check(nic_config(), env_of(h));
  const Item& d = item(items, CheckId::pci_driver, "0000:03:00.0");
  EXPECT_EQ(d.status, Status::fail) << dump(items);
  EXPECT_NE(d.message.find("on ixgbe (interface enp3s0f0), not vfio-pci"), std::string::npos) << d.message;
  EXPECT_NE(d.fix.find("echo vfio-pci > "), std::string::npos) << d.fix;
  EXPECT_NE(d.fix.find("driver/unbind"), std::string::npos) << d.fix;
  EXPECT_NE(d.fix.find("drivers/vfio-pci/bind"), std::string::npos) << d.fix;
  EXPECT_EQ(count(items, Status::fail), 1u) << dump(items);
}

TEST(HostCheck, WorkerCoreNotIsolatedWarns) {
  FixtureHost h;
  good_host(h);
  h.isolate("2");
  const auto items = check(nic_config(), env_of(h));
  EXPECT_EQ(item(items, CheckId::isolation, "cpu 2").status, Status::ok) << dump(items);
  const Item& w = item(items, CheckId::isolation, "cpu 3");
  EXPECT_EQ(w.status, Status::warn);
  EXPECT_NE(w.message.find("not in isolcpus, nohz_full, rcu_nocbs"), std::string::npos) << w.message;
  EXPECT_NE(w.fix.find("isolcpus=3 nohz_full=3 rcu_nocbs=3"), std::string::npos) << w.fix;
  EXPECT_EQ(worst(items), Status::warn);
}

TEST(HostCheck, NicOnAnotherNumaNodeWarns) {
  FixtureHost h;
  good_host(h);
  h.pci("0000:03:00.0", "vfio-pci", 1, 17);
  const auto items = check(nic_config(), env_of(h));
  const Item& n = item(items, CheckId::numa, "0000:03:00.0");
  EXPECT_EQ(n.status, Status::warn) << dump(items);
  EXPECT_NE(n.message.find("on node 1, polled by worker lcores 2,3"), std::string::npos) << n.message;
  EXPECT_NE(n.fix.find("CPUs 4,5,6,7"), std::string::npos) << n.fix;
  EXPECT_EQ(worst(items), Status::warn);
}

TEST(HostCheck, IommuOffFailsForANic) {
  FixtureHost h;
  good_host(h);
  std::filesystem::remove_all(h.path("sys/class/iommu/dmar0"));
  std::filesystem::remove(h.path("sys/bus/pci/devices/0000:03:00.0/iommu_group"));
  const auto items = check(nic_config(), env_of(h));
  EXPECT_EQ(item(items, CheckId::iommu, "host").status, Status::fail) << dump(items);
  EXPECT_NE(item(items, CheckId::iommu, "host").fix.find("intel_iommu=on"), std::string::npos);
  EXPECT_EQ(item(items, CheckId::iommu_group, "0000:03:00.0").status, Status::fail);
}

TEST(HostCheck, GroupSharedWithADeviceOnAKernelDriverFails) {
  FixtureHost h;
  good_host(h);
  h.pci("0000:03:00.1", "ixgbe", 0, 17);
  const auto items = check(nic_config(), env_of(h));
  const Item& g = item(items, CheckId::iommu_group, "0000:03:00.0");
  EXPECT_EQ(g.status, Status::fail) << dump(items);
  EXPECT_NE(g.message.find("0000:03:00.1 on ixgbe"), std::string::npos) << g.message;
}

TEST(HostCheck, GovernorMemlockAndMissingDevice) {
  FixtureHost h;
  good_host(h);
  h.write("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor", "powersave\n");
  HostEnv env = env_of(h);
  env.memlock.limit_bytes = 8u << 20;
  auto c = nic_config("[2, 3]", "on",
                      "[[port]]\nname = \"trunk\"\npci = \"0000:81:00.0\"\naddress = \"10.20.0.1/24\"\n");
  const auto items = check(c, env);
  EXPECT_EQ(item(items, CheckId::governor, "cpu 2").status, Status::warn) << dump(items);
  EXPECT_NE(item(items, CheckId::governor, "cpu 2").fix.find("echo performance > "), std::string::npos);
  EXPECT_EQ(item(items, CheckId::memlock, "process").status, Status::fail) << dump(items);
  EXPECT_EQ(item(items, CheckId::pci_driver, "0000:81:00.0").status, Status::fail) << dump(items);
  env.memlock.cap_ipc_lock = true;
  EXPECT_EQ(item(check(c, env), CheckId::memlock, "process").status, Status::ok);
}

TEST(HostCheck, JsonCarriesEveryItemAndTheVerdict) {
  FixtureHost h;
  good_host(h);
  h.hugepages(0, 0);
  const auto items = check(nic_config(), env_of(h));
  const auto j = check_json(items);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["summary"]["fail"].get<size_t>(), 1u);
  EXPECT_EQ(j["items"].size(), items.size());
  EXPECT_EQ(j["items"][0]["check"], "hugepages");
  EXPECT_EQ(j["items"][0]["status"], "fail");
  EXPECT_FALSE(j["items"][0]["fix"].get<std::string>().empty());
}
