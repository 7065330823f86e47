// SPDX-License-Identifier: GPL-3.0-or-later
// host prepare on fixture hosts: the actions it plans, what it writes, that
// a second run does nothing, and the devices it refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "fixture_host.hpp"
#include "host_test_config.hpp"
#include "msgw/host/check.hpp"
#include "msgw/host/prepare.hpp"
#include "msgw/host/report.hpp"

using namespace msgw::host;
using msgw::host::testing::FixtureHost;
using msgw::host::testing::nic_config;

namespace {

// Node 0 (CPUs 0-3) without hugepages or a hugetlbfs mount; the NIC on
// ixgbe with interface enp3s0f0, vfio-pci loaded.
void unprepared_host(FixtureHost& h) {
  h.node(0, {0, 1, 2, 3}, 0);
  h.iommu();
  h.isolate("2-3");
  h.driver("vfio-pci");
  h.pci("0000:03:00.0", "ixgbe", 0, 17, "enp3s0f0");
}

struct Recorder {
  std::vector<std::vector<std::string>> ran;
  std::map<std::string, std::vector<std::string>> addresses;
};

HostEnv env_of(const FixtureHost& h, Recorder& r) {
  HostEnv env;
  env.root = h.root();
  env.addresses = [&r](const std::string& ifname) {
    auto it = r.addresses.find(ifname);
    return it == r.addresses.end() ? std::vector<std::string>{} : it->second;
  };
  env.run = [&r](const std::vector<std::string>& argv) {
    r.ran.push_back(argv);
    return std::string();
  };
  return env;
}

std::string dry_run_text(const Plan& p) {
  std::ostringstream s;
  print_plan(p, true, s);
  return s.str();
}

}  // namespace

TEST(HostPrepare, DryRunPrintsTheActionsAndDoesNothing) {
  FixtureHost h;
  unprepared_host(h);
  Recorder r;
  const Plan p = prepare(nic_config(), env_of(h, r), /*dry_run=*/true);
  const std::string dev = h.path("sys/bus/pci/devices/0000:03:00.0").string();
  const std::string expected =
      "# node0: the config needs 512 MB of hugepages here, 0 MB reserved: 256 more 2048kB pages\n"
      "echo 256 > " + h.path(h.nr_hugepages_file(0)).string() + "\n"
      "# hugetlbfs: DPDK maps its hugepages through a hugetlbfs mount\n"
      "mkdir -p " + h.path("dev/hugepages").string() + "\n"
      "# hugetlbfs: mount hugetlbfs (pages of the default size)\n"
      "mount -t hugetlbfs nodev " + h.path("dev/hugepages").string() + "\n"
      "# 0000:03:00.0 (port access): only vfio-pci may take the device from now on\n"
      "echo vfio-pci > " + dev + "/driver_override\n"
      "# 0000:03:00.0 (port access): release it from ixgbe\n"
      "echo 0000:03:00.0 > " + dev + "/driver/unbind\n"
      "# 0000:03:00.0 (port access): bind it to vfio-pci\n"
      "echo 0000:03:00.0 > " + h.path("sys/bus/pci/drivers/vfio-pci/bind").string() + "\n";
  EXPECT_EQ(dry_run_text(p), expected);
  for (const auto& a : p.actions) EXPECT_EQ(a.state, ActionState::planned);
  EXPECT_TRUE(r.ran.empty());
  EXPECT_EQ(h.read(h.nr_hugepages_file(0)), "0\n");
  EXPECT_EQ(h.read("sys/bus/pci/devices/0000:03:00.0/driver_override"), "(null)\n");
  EXPECT_FALSE(std::filesystem::exists(h.path("dev/hugepages")));
}

TEST(HostPrepare, WritesTheFixturesFilesAndASecondRunDoesNothing) {
  FixtureHost h;
  unprepared_host(h);
  Recorder r;
  const auto c = nic_config();
  const Plan p = prepare(c, env_of(h, r), false);
  EXPECT_TRUE(p.ok()) << dry_run_text(p);
  for (const auto& a : p.actions) EXPECT_EQ(a.state, ActionState::done) << a.command() << ": " << a.error;
  EXPECT_EQ(h.read(h.nr_hugepages_file(0)), "256");
  EXPECT_EQ(h.read("sys/bus/pci/devices/0000:03:00.0/driver_override"), "vfio-pci");
  EXPECT_EQ(h.read("sys/bus/pci/drivers/ixgbe/unbind"), "0000:03:00.0");
  EXPECT_EQ(h.read("sys/bus/pci/drivers/vfio-pci/bind"), "0000:03:00.0");
  EXPECT_TRUE(std::filesystem::is_directory(h.path("dev/hugepages")));
  ASSERT_EQ(r.ran.size(), 1u);
  EXPECT_EQ(r.ran[0], (std::vector<std::string>{"mount", "-t", "hugetlbfs", "nodev", h.path("dev/hugepages").string()}));

  // What the kernel would have done: the mount is there, the device moved.
  h.mount_hugetlbfs();
  h.bind("0000:03:00.0", "vfio-pci");
  const Plan again = prepare(c, env_of(h, r), false);
  EXPECT_TRUE(again.actions.empty()) << dry_run_text(again);
  EXPECT_TRUE(again.refused.empty()) << dry_run_text(again);
  EXPECT_EQ(dry_run_text(again), "# nothing to do: the host already has what the config needs\n");
  EXPECT_EQ(r.ran.size(), 1u);
  EXPECT_EQ(h.read(h.nr_hugepages_file(0)), "256");
  // And the host now checks clean.
  HostEnv env = env_of(h, r);
  EXPECT_EQ(worst(check(c, env)), Status::ok);
}

TEST(HostPrepare, AddsOnlyWhatIsMissingAndNeverLowers) {
  FixtureHost h;
  unprepared_host(h);
  h.hugepages(0, 100);
  Recorder r;
  Plan p = plan(nic_config(), env_of(h, r));
  ASSERT_FALSE(p.actions.empty());
  EXPECT_EQ(p.actions[0].value, "256");  // 100 + 156 more
  h.hugepages(0, 1000);
  p = plan(nic_config(), env_of(h, r));
  EXPECT_TRUE(std::none_of(p.actions.begin(), p.actions.end(), [](const Action& a) { return a.subject == "node0"; }));
}

TEST(HostPrepare, RefusesTheDeviceThatCarriesTheDefaultRoute) {
  FixtureHost h;
  unprepared_host(h);
  h.default_route("enp3s0f0");
  Recorder r;
  const Plan p = prepare(nic_config(), env_of(h, r), false);
  EXPECT_FALSE(p.ok());
  ASSERT_EQ(p.refused.size(), 1u);
  EXPECT_EQ(p.refused[0].subject, "0000:03:00.0 (port access)");
  EXPECT_NE(p.refused[0].reason.find("enp3s0f0 carries the host's default route"), std::string::npos)
      << p.refused[0].reason;
  for (const auto& a : p.actions) EXPECT_NE(a.subject, "0000:03:00.0 (port access)") << a.command();
  EXPECT_EQ(h.read("sys/bus/pci/devices/0000:03:00.0/driver_override"), "(null)\n");
  EXPECT_EQ(h.read("sys/bus/pci/drivers/ixgbe/unbind"), "");
  EXPECT_EQ(h.read("sys/bus/pci/drivers/vfio-pci/bind"), "");
  // The hugepages are still reserved: the refusal is about the device only.
  EXPECT_EQ(h.read(h.nr_hugepages_file(0)), "256");
  // host check says why before anyone runs prepare.
  HostEnv env = env_of(h, r);
  const auto items = check(nic_config(), env);
  const auto d = std::find_if(items.begin(), items.end(), [](const Item& i) { return i.check == CheckId::pci_driver; });
  ASSERT_NE(d, items.end());
  EXPECT_NE(d->message.find("default route"), std::string::npos) << d->message;
}

TEST(HostPrepare, RefusesTheDeviceWithAnAddressAndLeavesUnnamedDevicesAlone) {
  FixtureHost h;
  unprepared_host(h);
  h.pci("0000:04:00.0", "e1000e", 0, 18, "eno1");  // not in the config
  Recorder r;
  r.addresses["enp3s0f0"] = {"192.0.2.10"};
  const Plan p = prepare(nic_config(), env_of(h, r), false);
  ASSERT_EQ(p.refused.size(), 1u);
  EXPECT_NE(p.refused[0].reason.find("has address 192.0.2.10"), std::string::npos) << p.refused[0].reason;
  for (const auto& a : p.actions) EXPECT_EQ(a.command().find("0000:04:00.0"), std::string::npos) << a.command();
  EXPECT_EQ(h.read("sys/bus/pci/devices/0000:04:00.0/driver_override"), "(null)\n");
}

TEST(HostPrepare, LoadsVfioPciWhenAbsentAndStopsADeviceAfterAFailure) {
  FixtureHost h;
  h.node(0, {0, 1, 2, 3}, 256);
  h.mount_hugetlbfs();
  h.iommu();
  h.pci("0000:03:00.0", "", 0, 17);  // no driver, vfio-pci not loaded
  Recorder r;
  HostEnv env = env_of(h, r);
  env.run = [&r](const std::vector<std::string>& argv) {
    r.ran.push_back(argv);
    return std::string("modprobe: FATAL: Module vfio-pci not found");
  };
  const Plan p = prepare(nic_config(), env, false);
  ASSERT_EQ(p.actions.size(), 3u) << dry_run_text(p);
  EXPECT_EQ(p.actions[0].command(), "modprobe vfio-pci");
  EXPECT_EQ(p.actions[0].state, ActionState::failed);
  EXPECT_EQ(p.actions[1].state, ActionState::skipped);  // driver_override
  EXPECT_EQ(p.actions[2].state, ActionState::skipped);  // bind (no unbind: no driver)
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(h.read("sys/bus/pci/devices/0000:03:00.0/driver_override"), "(null)\n");
}

TEST(HostPrepare, AFailedWriteIsReported) {
  FixtureHost h;
  unprepared_host(h);
  std::filesystem::remove(h.path("sys/bus/pci/drivers/vfio-pci/bind"));  // sysfs files are never created
  Recorder r;
  const Plan p = prepare(nic_config(), env_of(h, r), false);
  const auto bind = std::find_if(p.actions.begin(), p.actions.end(),
                                 [](const Action& a) { return a.why == "bind it to vfio-pci"; });
  ASSERT_NE(bind, p.actions.end());
  EXPECT_EQ(bind->state, ActionState::failed);
  EXPECT_NE(bind->error.find("cannot open"), std::string::npos) << bind->error;
  EXPECT_FALSE(p.ok());
  EXPECT_FALSE(plan_json(p, false)["ok"].get<bool>());
}

TEST(HostPrepare, HugepagesOffAndBifurcatedDriversNeedNothing) {
  FixtureHost h;
  h.node(0, {0, 1, 2, 3}, 0);
  h.pci("0000:03:00.0", "mlx5_core", 0, 17, "enp3s0f0np0");
  Recorder r;
  const Plan p = plan(nic_config("[2, 3]", "off"), env_of(h, r));
  EXPECT_TRUE(p.actions.empty()) << dry_run_text(p);
  EXPECT_TRUE(p.refused.empty()) << dry_run_text(p);
}

// The worker CPUs' cpufreq governor: set to performance like the other
// actions (dry run prints it, a second run does nothing); the main lcore's
// CPU and the others are not the config's business.
TEST(HostPrepare, SetsThePerformanceGovernorOnTheWorkerCpus) {
  FixtureHost h;
  unprepared_host(h);
  h.mount_hugetlbfs();
  h.hugepages(0, 256);
  h.bind("0000:03:00.0", "vfio-pci");
  const std::string gov2 = "sys/devices/system/cpu/cpu2/cpufreq/scaling_governor";
  h.write("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "powersave\n");
  h.write(gov2, "powersave\n");
  h.write("sys/devices/system/cpu/cpu2/cpufreq/scaling_available_governors", "performance powersave\n");
  h.write("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor", "schedutil\n");  // no list: tried
  Recorder r;
  const auto c = nic_config();
  const Plan dry = prepare(c, env_of(h, r), /*dry_run=*/true);
  EXPECT_EQ(dry_run_text(dry),
            "# cpu 2 (worker lcore 2): governor powersave: a polling worker is clocked down in idle phases; "
            "performance keeps it at full speed\n"
            "echo performance > " + h.path(gov2).string() + "\n"
            "# cpu 3 (worker lcore 3): governor schedutil: a polling worker is clocked down in idle phases; "
            "performance keeps it at full speed\n"
            "echo performance > " + h.path("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor").string() + "\n");
  EXPECT_EQ(h.read(gov2), "powersave\n");

  const Plan p = prepare(c, env_of(h, r), false);
  EXPECT_TRUE(p.ok()) << dry_run_text(p);
  ASSERT_EQ(p.actions.size(), 2u) << dry_run_text(p);
  for (const auto& a : p.actions) EXPECT_EQ(a.state, ActionState::done) << a.command() << ": " << a.error;
  EXPECT_EQ(h.read(gov2), "performance");
  EXPECT_EQ(h.read("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"), "performance");
  EXPECT_EQ(h.read("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"), "powersave\n");

  const Plan again = prepare(c, env_of(h, r), false);
  EXPECT_EQ(dry_run_text(again), "# nothing to do: the host already has what the config needs\n");
  HostEnv env = env_of(h, r);
  for (const auto& i : check(c, env)) {
    if (i.check == CheckId::governor) {
      EXPECT_EQ(i.status, Status::ok) << i.subject << ": " << i.message;
    }
  }
}

TEST(HostPrepare, NoCpufreqIsNothingToDoAndSaysSo) {
  FixtureHost h;
  unprepared_host(h);
  h.mount_hugetlbfs();
  h.hugepages(0, 256);
  h.bind("0000:03:00.0", "vfio-pci");
  std::filesystem::remove_all(h.path("sys/devices/system/cpu/cpu2/cpufreq"));
  std::filesystem::remove_all(h.path("sys/devices/system/cpu/cpu3/cpufreq"));
  Recorder r;
  const Plan p = prepare(nic_config(), env_of(h, r), false);
  EXPECT_TRUE(p.ok());
  EXPECT_TRUE(p.actions.empty()) << dry_run_text(p);
  ASSERT_EQ(p.notes.size(), 2u);
  EXPECT_EQ(dry_run_text(p),
            "# cpu 2 (worker lcore 2): no cpufreq: the kernel does not scale this CPU's frequency, no governor to set\n"
            "# cpu 3 (worker lcore 3): no cpufreq: the kernel does not scale this CPU's frequency, no governor to set\n"
            "# nothing to do: the host already has what the config needs\n");
  EXPECT_EQ(plan_json(p, false)["notes"][1]["subject"], "cpu 3 (worker lcore 3)");
  EXPECT_FALSE(std::filesystem::exists(h.path("sys/devices/system/cpu/cpu2/cpufreq")));
}

TEST(HostPrepare, RefusesAGovernorTheDriverDoesNotOffer) {
  FixtureHost h;
  h.node(0, {0, 1, 2, 3}, 0);
  h.pci("0000:03:00.0", "mlx5_core", 0, 17, "enp3s0f0np0");  // bifurcated: needs nothing
  h.write("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor", "ondemand\n");
  h.write("sys/devices/system/cpu/cpu2/cpufreq/scaling_available_governors", "ondemand conservative\n");
  Recorder r;
  const Plan p = prepare(nic_config("[2]", "off"), env_of(h, r), false);
  EXPECT_TRUE(p.actions.empty()) << dry_run_text(p);
  ASSERT_EQ(p.refused.size(), 1u);
  EXPECT_EQ(p.refused[0].subject, "cpu 2 (worker lcore 2)");
  EXPECT_NE(p.refused[0].reason.find("no performance governor (ondemand conservative)"), std::string::npos)
      << p.refused[0].reason;
  EXPECT_EQ(h.read("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"), "ondemand\n");
}
