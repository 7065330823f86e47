// SPDX-License-Identifier: GPL-3.0-or-later
// The allocator behind oSIP2 (sip/src/osip_allocator.cpp), through oSIP2's
// own osip_malloc/osip_realloc/osip_free.  Under AddressSanitizer it is not
// installed (ASan must see oSIP2's blocks), so these then test libc's.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <osipparser2/osip_port.h>

#include "msgw/sip/message.hpp"

namespace {

class ParserAllocator : public ::testing::Test {
 protected:
  void SetUp() override { msgw::sip::install_parser_allocator(); }
};

// Fills a block with a pattern derived from its size and address, so a block
// handed out twice at once (or overlapping another) breaks another's pattern.
void fill(void* p, std::size_t n) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>((reinterpret_cast<uintptr_t>(p) >> 4) + i);
}
bool intact(const void* p, std::size_t n) {
  auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != static_cast<unsigned char>((reinterpret_cast<uintptr_t>(p) >> 4) + i)) return false;
  return true;
}

TEST_F(ParserAllocator, BlocksOfEverySizeClassAreDistinctAndKeepTheirBytes) {
  // Every small class (16-byte steps to 1 KiB), the large ones (to 64 KiB)
  // and past them (libc directly): enough of each to span several slabs.
  std::vector<std::size_t> sizes;
  for (std::size_t n = 1; n <= 1024; n += 15) sizes.push_back(n);
  for (std::size_t n : {1025u, 2048u, 3000u, 15000u, 65536u, 70000u}) sizes.push_back(n);
  std::vector<std::pair<void*, std::size_t>> live;
  for (int round = 0; round < 40; ++round)
    for (std::size_t n : sizes) {
      void* p = osip_malloc(n);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << n;
      fill(p, n);
      live.emplace_back(p, n);
    }
  for (auto& [p, n] : live) ASSERT_TRUE(intact(p, n)) << n;
  // Freed and taken again: the same class hands the blocks back out.
  for (std::size_t i = 0; i < live.size(); i += 2) osip_free(live[i].first);
  for (std::size_t i = 0; i < live.size(); i += 2) {
    live[i].first = osip_malloc(live[i].second);
    fill(live[i].first, live[i].second);
  }
  for (auto& [p, n] : live) ASSERT_TRUE(intact(p, n)) << n;
  for (auto& [p, n] : live) osip_free(p);
}

TEST_F(ParserAllocator, ReallocKeepsTheBytesAcrossClasses) {
  char* p = static_cast<char*>(osip_malloc(10));
  std::memcpy(p, "0123456789", 10);
  p = static_cast<char*>(osip_realloc(p, 16));  // same class: in place or not, bytes kept
  EXPECT_EQ(std::memcmp(p, "0123456789", 10), 0);
  p = static_cast<char*>(osip_realloc(p, 900));  // a larger small class
  EXPECT_EQ(std::memcmp(p, "0123456789", 10), 0);
  std::memset(p + 10, 'x', 890);
  p = static_cast<char*>(osip_realloc(p, 5000));  // a large (headed) class
  EXPECT_EQ(std::memcmp(p, "0123456789", 10), 0);
  EXPECT_EQ(p[899], 'x');
  p = static_cast<char*>(osip_realloc(p, 100000));  // past the classes
  EXPECT_EQ(p[899], 'x');
  p = static_cast<char*>(osip_realloc(p, 8));  // shrinking keeps the prefix
  EXPECT_EQ(std::memcmp(p, "01234567", 8), 0);
  osip_free(p);
  void* fresh = osip_realloc(nullptr, 32);  // realloc of nothing is a malloc
  ASSERT_NE(fresh, nullptr);
  fill(fresh, 32);
  EXPECT_TRUE(intact(fresh, 32));
  osip_free(fresh);
}

// oSIP2 may free what libc allocated (strings from strdup before install):
// those go back to libc, whatever bytes sit in front of them.
TEST_F(ParserAllocator, ForeignPointersGoBackToLibc) {
  for (std::size_t n : {8u, 100u, 5000u}) {
    void* p = std::malloc(n);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x77, n);
    osip_free(p);
  }
  SUCCEED();  // under ASan a wrong free would be reported; without it, libc's checks abort
}

// A block freed by another thread than the one that carved it is recognised
// (the slab directory is process-wide) and serves that thread afterwards.
TEST_F(ParserAllocator, BlocksFreedOnAnotherThreadAreReused) {
  std::vector<void*> blocks;
  for (int i = 0; i < 5000; ++i) {
    blocks.push_back(osip_malloc(48));
    fill(blocks.back(), 48);
  }
  std::thread other([&] {
    for (void* p : blocks) {
      ASSERT_TRUE(intact(p, 48));
      osip_free(p);
    }
    void* again = osip_malloc(48);
    fill(again, 48);
    EXPECT_TRUE(intact(again, 48));
    osip_free(again);
  });
  other.join();
}

}  // namespace
