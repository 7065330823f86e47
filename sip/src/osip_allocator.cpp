// SPDX-License-Identifier: GPL-3.0-or-later
// Allocator behind osip_malloc/osip_realloc/osip_free (hot path: every
// header, URI, parameter and transaction oSIP2 builds comes through here).
//
// Why: oSIP2 allocates each parsed header piece separately and a 15 KB
// osip_transaction_t per transaction.  With thousands of transactions alive,
// libc's tcache rarely has a block ready, and _int_malloc plus bin upkeep
// (including malloc_consolidate after the 15 KB frees) was ~20 % of an
// authenticated INVITE transaction in a profile of tests/perf/sip_bench.
// Per-thread free lists by size class serve those sizes without locking.
//
// Every block carries a 16-byte header with a magic word, so a pointer that
// did not come from here (allocated by oSIP2 before install, or by libc) is
// still handed to libc's free.  Under AddressSanitizer the allocator is not
// installed: ASan then sees every oSIP2 allocation, which the fuzzers need.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include <osipparser2/osip_port.h>

#include "msgw/sip/message.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define MSGW_OSIP_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MSGW_OSIP_POOL 0
#endif
#endif
#ifndef MSGW_OSIP_POOL
#define MSGW_OSIP_POOL 1
#endif

namespace msgw::sip {
namespace {

constexpr uint32_t kMagic = 0x6d736777;  // "msgw"
constexpr uint32_t kDirect = 0xffffffffu;
// Classes 0..63: 16..1024 bytes in 16-byte steps (carved from slabs);
// classes 64..69: 2 KiB..64 KiB in powers of two (one libc block each,
// kept for reuse up to kMaxCachedLarge per class); larger: libc directly.
constexpr std::size_t kSmallStep = 16, kSmallMax = 1024, kSmallClasses = kSmallMax / kSmallStep;
constexpr std::size_t kLargeClasses = 6, kLargeMax = std::size_t{2048} << (kLargeClasses - 1);
constexpr std::size_t kClasses = kSmallClasses + kLargeClasses;
constexpr std::size_t kSlabBytes = 256 * 1024;
// 16 KiB blocks (one per live transaction) beyond this many are returned to
// libc, so a burst does not pin its peak forever: 2,048 x 16 KiB = 32 MiB.
constexpr uint32_t kMaxCachedLarge = 2048;

struct alignas(16) Header {
  uint32_t magic;
  uint32_t cls;
  uint64_t size;  // requested size (kDirect blocks) or class size
};
static_assert(sizeof(Header) == 16);

// Free blocks are kept as arrays of pointers, not linked through the blocks:
// popping a list node read a cold block (a cache miss on nearly every
// allocation when thousands of transactions have come and gone), while the
// array is read sequentially and the block is first touched by a write.
struct FreeStack {
  void** items;
  uint32_t n;
  uint32_t cap;
};

// Zero-initialised and trivially destructible: a thread_local of this type
// needs no guard on access.  A thread's lists die with it (their memory is
// not returned): the appliance's SIP thread lives as long as the process.
struct Pool {
  FreeStack free[kClasses];
  char* slab;
  std::size_t slab_left;
};
thread_local Pool pool;

inline std::size_t class_of(std::size_t n) {
  if (n <= kSmallMax) return n == 0 ? 0 : (n - 1) / kSmallStep;
  if (n > kLargeMax) return kDirect;
  std::size_t c = kSmallClasses, size = 2048;
  while (size < n) {
    size <<= 1;
    ++c;
  }
  return c;
}

inline std::size_t class_size(std::size_t c) {
  return c < kSmallClasses ? (c + 1) * kSmallStep : std::size_t{2048} << (c - kSmallClasses);
}

void* pool_malloc(std::size_t n) {
  const std::size_t c = class_of(n);
  Header* h;
  if (c == kDirect) {
    h = static_cast<Header*>(std::malloc(sizeof(Header) + n));
    if (h == nullptr) return nullptr;
    h->magic = kMagic;
    h->cls = kDirect;
    h->size = n;
    return h + 1;
  }
  FreeStack& fs = pool.free[c];
  if (fs.n != 0) return fs.items[--fs.n];  // its header is still in place
  const std::size_t bytes = sizeof(Header) + class_size(c);
  if (c < kSmallClasses) {
    if (pool.slab_left < bytes) {
      // The tail of the old slab is abandoned (at most 1 KiB per 256 KiB).
      pool.slab = static_cast<char*>(std::malloc(kSlabBytes));
      if (pool.slab == nullptr) {
        pool.slab_left = 0;
        return nullptr;
      }
      pool.slab_left = kSlabBytes;
    }
    h = reinterpret_cast<Header*>(pool.slab);
    pool.slab += bytes;
    pool.slab_left -= bytes;
  } else {
    h = static_cast<Header*>(std::malloc(bytes));
    if (h == nullptr) return nullptr;
  }
  h->magic = kMagic;
  h->cls = static_cast<uint32_t>(c);
  h->size = class_size(c);
  return h + 1;
}

void pool_free(void* p) {
  if (p == nullptr) return;
  Header* h = static_cast<Header*>(p) - 1;
  if (h->magic != kMagic) {
    std::free(p);  // not ours
    return;
  }
  if (h->cls == kDirect) {
    h->magic = 0;
    std::free(h);
    return;
  }
  const uint32_t c = h->cls;
  FreeStack& fs = pool.free[c];
  if (c >= kSmallClasses && fs.n >= kMaxCachedLarge) {
    h->magic = 0;
    std::free(h);
    return;
  }
  if (fs.n == fs.cap) {
    const uint32_t cap = fs.cap == 0 ? 256 : fs.cap * 2;
    void** items = static_cast<void**>(std::realloc(fs.items, sizeof(void*) * cap));
    if (items == nullptr) return;  // leaks one block rather than fail a free
    fs.items = items;
    fs.cap = cap;
  }
  fs.items[fs.n++] = p;
}

void* pool_realloc(void* p, std::size_t n) {
  if (p == nullptr) return pool_malloc(n);
  Header* h = static_cast<Header*>(p) - 1;
  if (h->magic != kMagic) return std::realloc(p, n);
  if (n == 0) {
    pool_free(p);
    return nullptr;
  }
  const std::size_t have = h->size;
  if (n <= have && h->cls != kDirect) return p;
  void* q = pool_malloc(n);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, have < n ? have : n);
  pool_free(p);
  return q;
}

}  // namespace

void install_parser_allocator() {
#if MSGW_OSIP_POOL
  osip_set_allocators(&pool_malloc, &pool_realloc, &pool_free);
#endif
}

}  // namespace msgw::sip
