// SPDX-License-Identifier: GPL-3.0-or-later
// [[port]] pci = "DDDD:BB:DD.F": a NIC by PCI address, beside `device`.
#include <gtest/gtest.h>

#include <string>

#include "config_test_support.hpp"
using msgw::config::parse_pci_address;
using msgw::config::port_pci_address;

namespace {

msgw::config::LoadResult one_port(const std::string& keys) {
  return load_string("[[port]]\nname = \"a\"\naddress = \"10.0.0.1/24\"\n" + keys, "p.toml", msgw::config::Scope::fragment);
}

}  // namespace

TEST(PciAddress, CanonicalForms) {
  EXPECT_EQ(parse_pci_address("0000:03:00.0"), "0000:03:00.0");
  EXPECT_EQ(parse_pci_address("03:00.1"), "0000:03:00.1");
  EXPECT_EQ(parse_pci_address("0001:AF:1f.7"), "0001:af:1f.7");
  EXPECT_EQ(parse_pci_address("ffff:ff:1f.7"), "ffff:ff:1f.7");
}

TEST(PciAddress, MalformedIsRejected) {
  for (const char* bad : {"", "0000:03:00", "0000:03:20.0", "0000:03:00.8", "000:03:00.0", "0000:3:00.0",
                          "0000-03:00.0", "0000:03:00:0", "0000:03:00.0 ", " 03:00.0", "0000:g3:00.0",
                          "+000:03:00.0", "00000:03:00.0", "net_af_packet0", "0000:03:00.0,x=1"}) {
    EXPECT_EQ(parse_pci_address(bad), std::nullopt) << bad;
  }
}

TEST(PortPci, PciKeyIsStoredCanonical) {
  auto r = one_port("pci = \"03:00.0\"\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(r.config->ports[0].pci, "0000:03:00.0");
  EXPECT_TRUE(r.config->ports[0].device.empty());
  EXPECT_EQ(port_pci_address(r.config->ports[0]), "0000:03:00.0");
}

TEST(PortPci, DeviceStillWorksAndMayBeAPciAddress) {
  auto v = one_port("device = \"net_af_packet0,iface=gw-access\"\n");
  ASSERT_TRUE(v.ok()) << errors_of(v);
  EXPECT_EQ(port_pci_address(v.config->ports[0]), std::nullopt);
  auto d = one_port("device = \"0000:04:00.1,rxq_cqe_comp_en=0\"\n");
  ASSERT_TRUE(d.ok()) << errors_of(d);
  EXPECT_EQ(port_pci_address(d.config->ports[0]), "0000:04:00.1");
}

TEST(PortPci, BadAddressIsAPositionedError) {
  auto r = one_port("pci = \"0000:03:00.9\"\n");
  expect_errors(r, {"p.toml:4:7: port[0].pci: '0000:03:00.9' is not a PCI address"});
  auto t = one_port("pci = 3\n");
  expect_errors(t, {"port[0].pci: expected a string"});
}

TEST(PortPci, ExactlyOneOfDeviceAndPci) {
  auto none = one_port("");
  expect_errors(none, {"port[0].device: required key is missing (give device or pci)"});
  auto both = one_port("device = \"net_null0\"\npci = \"0000:03:00.0\"\n");
  expect_errors(both, {"port[0].pci: give either device or pci, not both"});
}
