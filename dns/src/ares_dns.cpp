// SPDX-License-Identifier: GPL-3.0-or-later
// c-ares as a DnsQuerier (ares_dns.hpp).
#include "msgw/dns/ares_dns.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/time.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <stdexcept>

namespace msgw::dns {

namespace {

// The smallest TTL of the answer section: c-ares 1.18's SRV parser does not
// return TTLs, so the message is walked here (header, questions, answers).
uint32_t min_answer_ttl(const unsigned char* m, int len) {
  if (len < 12) return 0;
  const int qd = (m[4] << 8) | m[5], an = (m[6] << 8) | m[7];
  int pos = 12;
  auto skip_name = [&]() -> bool {
    while (pos < len) {
      const unsigned l = m[pos];
      if (l == 0) return ++pos <= len;
      if ((l & 0xC0) == 0xC0) return (pos += 2) <= len;
      pos += int(l) + 1;
    }
    return false;
  };
  for (int i = 0; i < qd; ++i)
    if (!skip_name() || (pos += 4) > len) return 0;
  uint32_t best = std::numeric_limits<uint32_t>::max();
  for (int i = 0; i < an; ++i) {
    if (!skip_name() || pos + 10 > len) break;
    const uint32_t ttl = (uint32_t(m[pos + 4]) << 24) | (uint32_t(m[pos + 5]) << 16) | (uint32_t(m[pos + 6]) << 8) | m[pos + 7];
    const int rdlen = (m[pos + 8] << 8) | m[pos + 9];
    best = std::min(best, ttl);
    pos += 10 + rdlen;
  }
  return best == std::numeric_limits<uint32_t>::max() ? 0 : best;
}

DnsStatus status_of(int ares_status) {
  if (ares_status == ARES_SUCCESS) return DnsStatus::ok;
  if (ares_status == ARES_ENOTFOUND || ares_status == ARES_ENODATA) return DnsStatus::no_records;
  return DnsStatus::failed;
}

template <class Answer>
struct Pending {
  std::function<void(Answer)> done;
};

}  // namespace

AresDns::AresDns(const std::vector<std::string>& servers, std::chrono::milliseconds timeout, int tries) {
  static const int library = ares_library_init(ARES_LIB_INIT_ALL);
  if (library != ARES_SUCCESS) throw std::runtime_error(std::string("c-ares: ") + ares_strerror(library));
  ares_options o{};
  o.sock_state_cb = &AresDns::socket_state;
  o.sock_state_cb_data = this;
  o.timeout = int(timeout.count());
  o.tries = tries;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  ares_channel ch = nullptr;
  int st = ares_init_options(&ch, &o, mask);
  if (st != ARES_SUCCESS) throw std::runtime_error(std::string("c-ares: ") + ares_strerror(st));
  channel_ = ch;
  if (!servers.empty()) {
    std::string csv;
    for (const auto& s : servers) csv += (csv.empty() ? "" : ",") + s;
    st = ares_set_servers_ports_csv(ch, csv.c_str());
    if (st != ARES_SUCCESS) {
      ares_destroy(ch);
      throw std::runtime_error("c-ares: dns_servers '" + csv + "': " + ares_strerror(st));
    }
  }
}

AresDns::~AresDns() {
  // Outstanding queries' callbacks run with ARES_EDESTRUCTION: they free
  // their Pending and report a failure to the resolver, which ignores it
  // when it is gone too (its owner destroys it first).
  if (channel_) ares_destroy(channel_);
}

void AresDns::socket_state(void* self, int fd, int read, int write) {
  auto* d = static_cast<AresDns*>(self);
  if (read || write) d->sockets_.insert(fd);
  else d->sockets_.erase(fd);
  if (d->on_socket_change) d->on_socket_change(fd, read != 0, write != 0);
}

void AresDns::query_srv(const std::string& name, std::function<void(SrvAnswer)> done) {
  auto* p = new Pending<SrvAnswer>{std::move(done)};
  ares_query(channel_, name.c_str(), ns_c_in, ns_t_srv,
             [](void* arg, int status, int, unsigned char* abuf, int alen) {
               std::unique_ptr<Pending<SrvAnswer>> p(static_cast<Pending<SrvAnswer>*>(arg));
               SrvAnswer a;
               a.status = status_of(status);
               if (a.status == DnsStatus::ok) {
                 ares_srv_reply* head = nullptr;
                 int ps = ares_parse_srv_reply(abuf, alen, &head);
                 a.status = status_of(ps);
                 for (auto* r = head; r; r = r->next)
                   a.records.push_back({r->priority, r->weight, r->port, r->host ? r->host : "", {}});
                 if (head) ares_free_data(head);
                 a.ttl_s = min_answer_ttl(abuf, alen);
                 if (ps != ARES_SUCCESS) a.error = ares_strerror(ps);
               } else {
                 a.error = ares_strerror(status);
               }
               if (status != ARES_EDESTRUCTION) p->done(std::move(a));
             },
             p);
}

void AresDns::query_a(const std::string& name, std::function<void(AAnswer)> done) {
  auto* p = new Pending<AAnswer>{std::move(done)};
  ares_query(channel_, name.c_str(), ns_c_in, ns_t_a,
             [](void* arg, int status, int, unsigned char* abuf, int alen) {
               std::unique_ptr<Pending<AAnswer>> p(static_cast<Pending<AAnswer>*>(arg));
               AAnswer a;
               a.status = status_of(status);
               if (a.status == DnsStatus::ok) {
                 ares_addrttl ttls[32];
                 int n = 32;
                 int ps = ares_parse_a_reply(abuf, alen, nullptr, ttls, &n);
                 a.status = status_of(ps);
                 uint32_t ttl = std::numeric_limits<uint32_t>::max();
                 for (int i = 0; ps == ARES_SUCCESS && i < n; ++i) {
                   a.addresses.push_back(ntohl(ttls[i].ipaddr.s_addr));
                   ttl = std::min(ttl, uint32_t(std::max(0, ttls[i].ttl)));
                 }
                 a.ttl_s = a.addresses.empty() ? 0 : ttl;
                 if (ps != ARES_SUCCESS) a.error = ares_strerror(ps);
               } else {
                 a.error = ares_strerror(status);
               }
               if (status != ARES_EDESTRUCTION) p->done(std::move(a));
             },
             p);
}

void AresDns::process(int fd, bool readable, bool writable) {
  ares_process_fd(channel_, fd >= 0 && readable ? fd : ARES_SOCKET_BAD, fd >= 0 && writable ? fd : ARES_SOCKET_BAD);
}

int AresDns::next_timeout_ms() const {
  timeval tv{};
  if (!ares_timeout(channel_, nullptr, &tv)) return -1;
  return int(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
}

bool AresDns::run_until(const bool& done, std::chrono::steady_clock::time_point deadline) {
  while (!done) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) {
      ares_cancel(channel_);  // the callbacks run with ARES_ECANCELLED
      return false;
    }
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    const int nfds = ares_fds(channel_, &rd, &wr);
    if (nfds == 0 && next_timeout_ms() < 0) return done;  // nothing outstanding
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
    timeval max{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
    timeval tv{};
    timeval* t = ares_timeout(channel_, &max, &tv);
    select(nfds, &rd, &wr, nullptr, t);
    ares_process(channel_, &rd, &wr);
  }
  return true;
}

}  // namespace msgw::dns
