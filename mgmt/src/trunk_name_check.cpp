#include "trunk_name_check.hpp"

#include <ares.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <sys/select.h>

#include <algorithm>

namespace msgw::mgmt {

namespace {

struct Result {
  bool done = false;
  int status = ARES_ETIMEOUT;
  std::vector<std::string> srv_targets;
  bool has_a = false;
};

// Runs the channel until `r` is answered or the deadline passes.
void run(ares_channel ch, Result& r, std::chrono::steady_clock::time_point deadline) {
  while (!r.done) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) {
      ares_cancel(ch);  // r's callback runs with ARES_ECANCELLED
      break;
    }
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    const int nfds = ares_fds(ch, &rd, &wr);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
    timeval max{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
    timeval tv{};
    timeval* t = ares_timeout(ch, &max, &tv);
    select(nfds, &rd, &wr, nullptr, t);
    ares_process(ch, &rd, &wr);
  }
}

void on_answer(void* arg, int status, int, unsigned char* abuf, int alen, bool srv) {
  auto& r = *static_cast<Result*>(arg);
  r.done = true;
  r.status = status;
  if (status != ARES_SUCCESS) return;
  if (srv) {
    ares_srv_reply* head = nullptr;
    r.status = ares_parse_srv_reply(abuf, alen, &head);
    for (auto* s = head; s; s = s->next)
      if (s->host && std::string(s->host) != "." && *s->host) r.srv_targets.push_back(s->host);
    if (head) ares_free_data(head);
  } else {
    hostent* h = nullptr;
    r.status = ares_parse_a_reply(abuf, alen, &h, nullptr, nullptr);
    r.has_a = r.status == ARES_SUCCESS && h && h->h_addr_list && h->h_addr_list[0];
    if (h) ares_free_hostent(h);
  }
}

Result query(ares_channel ch, const std::string& name, int type, std::chrono::steady_clock::time_point deadline) {
  Result r;
  ares_callback cb = type == ns_t_srv
                         ? +[](void* a, int s, int t, unsigned char* b, int l) { on_answer(a, s, t, b, l, true); }
                         : +[](void* a, int s, int t, unsigned char* b, int l) { on_answer(a, s, t, b, l, false); };
  ares_query(ch, name.c_str(), ns_c_in, type, cb, &r);
  run(ch, r, deadline);
  return r;
}

}  // namespace

std::vector<NameWarning> check_trunk_names(const config::Config& cfg, std::chrono::milliseconds timeout) {
  std::vector<NameWarning> out;
  std::vector<size_t> named;
  for (size_t i = 0; i < cfg.trunks.size(); ++i)
    if (!config::parse_ipv4(cfg.trunks[i].address.host)) named.push_back(i);
  if (named.empty()) return out;
  auto warn = [&](size_t i, const std::string& m) {
    out.push_back({"trunk[" + std::to_string(i) + "].address", m});
  };
  if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
    for (size_t i : named) warn(i, "not checked: c-ares did not start");
    return out;
  }
  ares_options o{};
  o.timeout = int(std::max<long>(100, timeout.count() / 2));
  o.tries = 1;
  ares_channel ch = nullptr;
  int st = ares_init_options(&ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
  if (st == ARES_SUCCESS && !cfg.sip.dns_servers.empty()) {
    std::string csv;
    for (const auto& s : cfg.sip.dns_servers) csv += (csv.empty() ? "" : ",") + s;
    st = ares_set_servers_ports_csv(ch, csv.c_str());
  }
  if (st != ARES_SUCCESS) {
    for (size_t i : named) warn(i, std::string("not checked: ") + ares_strerror(st));
    if (ch) ares_destroy(ch);
    ares_library_cleanup();
    return out;
  }
  for (size_t i : named) {
    const auto& t = cfg.trunks[i];
    std::string host = t.address.host;
    if (!host.empty() && host.back() == '.') host.pop_back();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string why;
    bool resolves = false;
    if (!t.address.port_given) {
      const std::string srv_name = (t.transport == "tcp" ? "_sip._tcp." : "_sip._udp.") + host;
      Result srv = query(ch, srv_name, ns_t_srv, deadline);
      if (srv.status == ARES_SUCCESS && !srv.srv_targets.empty()) {
        for (const auto& target : srv.srv_targets)
          if (query(ch, target, ns_t_a, deadline).has_a) resolves = true;
        if (!resolves) why = "SRV " + srv_name + " names targets without A records";
      } else {
        why = "SRV " + srv_name + ": " + ares_strerror(srv.status) + "; ";
      }
    }
    if (!resolves && why.find("targets") == std::string::npos) {
      Result a = query(ch, host, ns_t_a, deadline);
      resolves = a.has_a;
      why += "A " + host + ": " + ares_strerror(a.status);
    }
    if (!resolves)
      warn(i, "'" + t.address.host + "' does not resolve (" + why + "); calls skip trunk '" + t.name +
                  "' until it does");
  }
  ares_destroy(ch);
  ares_library_cleanup();
  return out;
}

}  // namespace msgw::mgmt
