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
// Small blocks (up to 1 KiB) are carved from slabs of one class each and
// carry no header: their class is found from their address (see the slab
// directory below).  Larger blocks carry a 16-byte header with a magic word,
// so a pointer that did not come from here (allocated by oSIP2 before
// install, or by libc) is still handed to libc's free.  Under AddressSanitizer the allocator is not
// installed: ASan then sees every oSIP2 allocation, which the fuzzers need.
#include <atomic>
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
// The pool exists only where it is installed: under ASan nothing would call
// it (and pool_realloc, reached only through osip_set_allocators, would be
// an unused function).
#if MSGW_OSIP_POOL
namespace {

constexpr uint32_t kMagic = 0x6d736777;  // "msgw"
constexpr uint32_t kDirect = 0xffffffffu;
// Classes 0..63: 16..1024 bytes in 16-byte steps (carved from slabs, one
// class per slab, no header); classes 64..69: 2 KiB..64 KiB in powers of two
// (one libc block each with a header, kept for reuse up to kMaxCachedLarge
// per class); larger: libc directly, with a header.
constexpr std::size_t kSmallStep = 16, kSmallMax = 1024, kSmallClasses = kSmallMax / kSmallStep;
constexpr std::size_t kLargeClasses = 6, kLargeMax = std::size_t{2048} << (kLargeClasses - 1);
constexpr std::size_t kClasses = kSmallClasses + kLargeClasses;
constexpr std::size_t kSlabBytes = 256 * 1024;  // also the slabs' alignment
constexpr uintptr_t kSlabMask = kSlabBytes - 1;
// 16 KiB blocks (one per live transaction) beyond this many are returned to
// libc, so a burst does not pin its peak forever: 2,048 x 16 KiB = 32 MiB.
constexpr uint32_t kMaxCachedLarge = 2048;

struct alignas(16) Header {
  uint32_t magic;
  uint32_t cls;
  uint64_t size;  // requested size (kDirect blocks) or class size
};
static_assert(sizeof(Header) == 16);

// Why small blocks carry no header: a block is freed long after it was last
// touched (a BYE's server transaction frees its request 32 s later, at Timer
// J), and reading a header in front of it to learn its class was a cache
// miss on nearly every free: 86 % of pool_free's samples sat on that load,
// ~5 % of msgw-control's CPU at 700 calls/s.  Instead each slab holds one
// class, and the class is found from the block's address: the slab's base
// (address rounded down to kSlabBytes) in this directory, a small table that
// stays in cache.  Open addressing, never shrinks (slabs are never returned,
// as before); process-wide with atomics so that a block freed by another
// thread than the one that carved it is still recognised.  Entries are
// base | (class + 1).  When the table is half full (8,192 slabs, 2 GiB of
// small blocks) new small blocks fall back to a libc block with a header.
constexpr std::size_t kDirBits = 14, kDirSize = std::size_t{1} << kDirBits;
std::atomic<uintptr_t> g_slab_dir[kDirSize];
std::atomic<std::size_t> g_slab_count{0};

inline std::size_t dir_slot(uintptr_t base) {
  return static_cast<std::size_t>(((base >> 18) * 0x9e3779b97f4a7c15ull) >> (64 - kDirBits));
}

bool dir_insert(uintptr_t base, std::size_t cls) {
  if (g_slab_count.fetch_add(1, std::memory_order_relaxed) >= kDirSize / 2) {
    g_slab_count.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  const uintptr_t entry = base | (cls + 1);
  for (std::size_t i = dir_slot(base);; i = (i + 1) & (kDirSize - 1)) {
    uintptr_t expected = 0;
    if (g_slab_dir[i].compare_exchange_strong(expected, entry, std::memory_order_release,
                                              std::memory_order_relaxed))
      return true;
  }
}

// The small class of a block carved from a slab, or kDirect for any other
// pointer (a large or direct block with its header, or not ours at all).
inline std::size_t dir_class(const void* p) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(p) & ~kSlabMask;
  for (std::size_t i = dir_slot(base);; i = (i + 1) & (kDirSize - 1)) {
    const uintptr_t e = g_slab_dir[i].load(std::memory_order_acquire);
    if (e == 0) return kDirect;
    if ((e & ~kSlabMask) == base) return (e & kSlabMask) - 1;
  }
}

// Free blocks are kept as arrays of pointers, not linked through the blocks:
// popping a list node read a cold block (a cache miss on nearly every
// allocation when thousands of transactions have come and gone), while the
// array is read sequentially and the block is first touched by a write.
struct FreeStack {
  void** items;
  uint32_t n;
  uint32_t cap;
};

struct Slab {
  char* next;
  std::size_t left;
};

// Zero-initialised and trivially destructible: a thread_local of this type
// needs no guard on access.  A thread's lists die with it (their memory is
// not returned): the appliance's SIP thread lives as long as the process.
struct Pool {
  FreeStack free[kClasses];
  Slab slab[kSmallClasses];  // the slab each small class carves from now
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

void* headed_malloc(std::size_t cls, std::size_t size) {
  auto* h = static_cast<Header*>(std::malloc(sizeof(Header) + size));
  if (h == nullptr) return nullptr;
  h->magic = kMagic;
  h->cls = static_cast<uint32_t>(cls);
  h->size = size;
  return h + 1;
}

void* carve(std::size_t c) {
  Slab& s = pool.slab[c];
  const std::size_t bytes = class_size(c);
  if (s.left < bytes) {
    // The tail of the old slab is abandoned (under 1 KiB per 256 KiB).
    void* fresh = std::aligned_alloc(kSlabBytes, kSlabBytes);
    if (fresh == nullptr) return nullptr;
    if (!dir_insert(reinterpret_cast<uintptr_t>(fresh), c)) {
      std::free(fresh);
      return headed_malloc(c, bytes);
    }
    s.next = static_cast<char*>(fresh);
    s.left = kSlabBytes;
  }
  void* p = s.next;
  s.next += bytes;
  s.left -= bytes;
  return p;
}

void* pool_malloc(std::size_t n) {
  const std::size_t c = class_of(n);
  if (c == kDirect) return headed_malloc(kDirect, n);
  FreeStack& fs = pool.free[c];
  if (fs.n != 0) return fs.items[--fs.n];  // a large block's header is still in place
  if (c < kSmallClasses) return carve(c);
  return headed_malloc(c, class_size(c));
}

void push_free(std::size_t c, void* p) {
  FreeStack& fs = pool.free[c];
  if (fs.n == fs.cap) {
    const uint32_t cap = fs.cap == 0 ? 256 : fs.cap * 2;
    void** items = static_cast<void**>(std::realloc(fs.items, sizeof(void*) * cap));
    if (items == nullptr) return;  // leaks one block rather than fail a free
    fs.items = items;
    fs.cap = cap;
  }
  fs.items[fs.n++] = p;
}

void pool_free(void* p) {
  if (p == nullptr) return;
  const std::size_t small = dir_class(p);
  if (small != kDirect) {
    push_free(small, p);  // the block itself is not touched
    return;
  }
  Header* h = static_cast<Header*>(p) - 1;
  if (h->magic != kMagic) {
    std::free(p);  // not ours
    return;
  }
  if (h->cls == kDirect || (h->cls >= kSmallClasses && pool.free[h->cls].n >= kMaxCachedLarge)) {
    h->magic = 0;
    std::free(h);
    return;
  }
  push_free(h->cls, p);  // a large block, or a small one from the fallback
}

void* pool_realloc(void* p, std::size_t n) {
  if (p == nullptr) return pool_malloc(n);
  std::size_t have, cls = dir_class(p);
  if (cls != kDirect) {
    have = class_size(cls);
  } else {
    const Header* h = static_cast<const Header*>(p) - 1;
    if (h->magic != kMagic) return std::realloc(p, n);
    have = h->size;
    cls = h->cls;
  }
  if (n == 0) {
    pool_free(p);
    return nullptr;
  }
  if (n <= have && cls != kDirect) return p;
  void* q = pool_malloc(n);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, have < n ? have : n);
  pool_free(p);
  return q;
}

}  // namespace
#endif  // MSGW_OSIP_POOL

void install_parser_allocator() {
#if MSGW_OSIP_POOL
  osip_set_allocators(&pool_malloc, &pool_realloc, &pool_free);
#endif
}

}  // namespace msgw::sip
