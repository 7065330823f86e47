// SPDX-License-Identifier: GPL-3.0-or-later
// sip_test_server: a small registrar + UAS built on the msgw SIP library, for
// the SIPp integration test. REGISTER is challenged with 401 and stored by the
// registrar once authenticated; INVITE is challenged with 407 and, once
// authenticated, answered 200 with an SDP answer from the offer; BYE, OPTIONS
// answered 200. Runs one event loop (epoll on the stack's fd) until SIGTERM /
// SIGINT or --seconds, then prints its counters as one JSON line.
//
//   sip_test_server --listen 127.0.0.1:5070 [--listen [::1]:5070] [--tcp]
//                   --user spa1:secret [--user ...] [--realm msgw] [--seconds N]
//                   [--algorithms sha256,md5] [--no-qop]
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "msgw/sip/digest.hpp"
#include "msgw/sip/registrar.hpp"
#include "msgw/sip/sdp.hpp"
#include "msgw/sip/stack.hpp"
#include "osip_message.hpp"

using namespace msgw::sip;

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Counters {
  uint64_t register_ok = 0, register_challenged = 0, invite_ok = 0, invite_challenged = 0, invite_488 = 0,
           bye = 0, acks = 0, forbidden = 0, bad_request = 0;
};

class Server : public Handler {
 public:
  Server(DigestAuthenticator& auth, Registrar& reg, std::string media_ip)
      : auth_(auth), reg_(reg), media_ip_(std::move(media_ip)) {}

  void on_request(Stack& st, const ServerRequest& r) override {
    const std::string method = r.msg->sip_method;
    if (method == "REGISTER" || (method == "INVITE" && r.dialog == nullptr)) {
      AuthResult a = auth_.verify(r.msg);
      if (a.status == 400) {
        ++c.bad_request;
        st.respond(r.txn, 400, a.reason);
        return;
      }
      if (a.status != 0) {
        (method == "REGISTER" ? c.register_challenged : c.invite_challenged)++;
        MessagePtr resp = st.response_for(r.txn, a.status);
        if (!resp) return;
        auth_.add_challenges(resp, challenge_kind_for(method), a.stale);
        st.respond(r.txn, std::move(resp));
        return;
      }
      // The authenticated user may only register its own AOR.
      const char* to_user = r.msg->to && r.msg->to->url ? r.msg->to->url->username : nullptr;
      if (method == "REGISTER" && (to_user == nullptr || a.username != to_user)) {
        ++c.forbidden;
        st.respond(r.txn, 403, "Authenticated User Does Not Own The AOR");
        return;
      }
      if (method == "REGISTER") return do_register(st, r);
      return do_invite(st, r);
    }
    if (method == "BYE") ++c.bye;
    if (method == "INVITE") return do_invite(st, r);  // re-INVITE inside an authenticated dialog
    st.respond(r.txn, 200);
  }
  void on_ack(Stack&, MessageRef, Dialog*) override { ++c.acks; }

  Counters c;

 private:
  void do_register(Stack& st, const ServerRequest& r) {
    std::string source = std::string(r.source.proto == Proto::Udp ? "udp:" : "tcp:") + r.source.peer.str();
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    RegisterResult res = reg_.handle(r.msg, source, now);
    MessagePtr resp = st.response_for(r.txn, res.status, res.reason);
    if (!resp) return;
    Registrar::fill_response(resp, res, now);
    if (res.status == 200) ++c.register_ok;
    st.respond(r.txn, std::move(resp));
  }

  void do_invite(Stack& st, const ServerRequest& r) {
    sdp::SessionDescription offer;
    std::string why;
    std::string body = r.msg.body();
    sdp::AnswerResult ans;
    sdp::LocalPolicy pol;
    pol.codecs = {msgw::codecs::CodecId::Pcmu, msgw::codecs::CodecId::Pcma, msgw::codecs::CodecId::G729};
    pol.address = media_ip_;
    pol.addr_type = media_ip_.find(':') != std::string::npos ? sdp::AddrType::ip6 : sdp::AddrType::ip4;
    pol.port = 40000;
    if (body.empty() || sdp::parse(body, offer, &why) != sdp::SdpError::ok ||
        sdp::make_answer(offer, pol, ans, &why) != sdp::SdpError::ok) {
      ++c.invite_488;
      st.respond(r.txn, 488, why.empty() ? std::string("No Usable SDP Offer") : "Not Acceptable Here: " + why);
      return;
    }
    ++c.invite_ok;
    st.respond(r.txn, 200, {}, {}, "application/sdp", sdp::build(ans.answer));
  }

  DigestAuthenticator& auth_;
  Registrar& reg_;
  std::string media_ip_;
};

bool split_hostport(const std::string& s, std::string& host, uint16_t& port) {
  std::size_t c = s.rfind(':');
  if (c == std::string::npos) return false;
  host = s.substr(0, c);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  port = static_cast<uint16_t>(std::atoi(s.c_str() + c + 1));
  return port != 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> listens;
  std::vector<std::pair<std::string, std::string>> users;
  std::string realm = "msgw";
  bool tcp = false, qop = true;
  std::string algorithms = "sha256,md5";
  int seconds = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sip_test_server: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--listen") listens.push_back(next());
    else if (a == "--user") {
      std::string u = next();
      auto c = u.find(':');
      if (c == std::string::npos) {
        std::fprintf(stderr, "sip_test_server: --user wants name:password\n");
        return 2;
      }
      users.emplace_back(u.substr(0, c), u.substr(c + 1));
    } else if (a == "--realm") realm = next();
    else if (a == "--tcp") tcp = true;
    else if (a == "--no-qop") qop = false;  // SPA-style RFC 2069 challenges
    else if (a == "--algorithms") algorithms = next();
    else if (a == "--seconds") seconds = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "sip_test_server: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (listens.empty() || users.empty()) {
    std::fprintf(stderr, "usage: sip_test_server --listen IP:PORT... --user NAME:PASSWORD... [--tcp] [--realm R] [--seconds N]\n");
    return 2;
  }

  InMemoryCredentialStore creds;
  for (auto& [u, p] : users) creds.add_password(u, realm, p);
  AuthConfig ac;
  ac.realm = realm;
  ac.offer_qop = qop;
  ac.algorithms.clear();
  for (std::size_t p = 0; p <= algorithms.size();) {
    std::size_t c = algorithms.find(',', p);
    std::string name = algorithms.substr(p, c == std::string::npos ? std::string::npos : c - p);
    if (name == "md5") ac.algorithms.push_back(DigestAlgorithm::md5);
    else if (name == "sha256") ac.algorithms.push_back(DigestAlgorithm::sha256);
    else {
      std::fprintf(stderr, "sip_test_server: unknown algorithm %s\n", name.c_str());
      return 2;
    }
    if (c == std::string::npos) break;
    p = c + 1;
  }
  DigestAuthenticator auth(ac, creds);
  std::string err;
  auto reg = Registrar::open(RegistrarConfig{}, &err, static_cast<int64_t>(std::time(nullptr)));
  if (!reg) {
    std::fprintf(stderr, "sip_test_server: registrar: %s\n", err.c_str());
    return 1;
  }
  std::string first_host;
  uint16_t first_port = 0;
  split_hostport(listens[0], first_host, first_port);
  Server app(auth, *reg, first_host);
  Stack st(StackConfig{}, &app);
  for (auto& l : listens) {
    std::string host;
    uint16_t port = 0;
    if (!split_hostport(l, host, port)) {
      std::fprintf(stderr, "sip_test_server: bad --listen %s\n", l.c_str());
      return 2;
    }
    for (Proto p : tcp ? std::vector<Proto>{Proto::Udp, Proto::Tcp} : std::vector<Proto>{Proto::Udp}) {
      if (!st.listen(p, host, port, &err)) {
        std::fprintf(stderr, "sip_test_server: %s\n", err.c_str());
        return 1;
      }
      std::fprintf(stderr, "sip_test_server: listening on %s %s\n", proto_name(p), l.c_str());
    }
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  // The embedding pattern for msgw-control: the stack's fd in our epoll.
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, st.fd(), &ev);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds > 0 ? seconds : 1000000);
  while (!g_stop && std::chrono::steady_clock::now() < end) {
    int t = st.next_timeout_ms();
    if (t < 0 || t > 200) t = 200;  // also bounds signal latency
    epoll_event out;
    epoll_wait(ep, &out, 1, t);
    st.process(0);
  }
  close(ep);
  const Stats& s = st.stats();
  std::printf("{\"register_ok\": %llu, \"register_challenged\": %llu, \"invite_ok\": %llu, "
              "\"invite_challenged\": %llu, \"invite_488\": %llu, \"acks\": %llu, \"bye\": %llu, "
              "\"forbidden\": %llu, \"bad_request\": %llu, \"rx_messages\": %llu, \"bad_messages\": %llu}\n",
              (unsigned long long)app.c.register_ok, (unsigned long long)app.c.register_challenged,
              (unsigned long long)app.c.invite_ok, (unsigned long long)app.c.invite_challenged,
              (unsigned long long)app.c.invite_488, (unsigned long long)app.c.acks, (unsigned long long)app.c.bye,
              (unsigned long long)app.c.forbidden, (unsigned long long)app.c.bad_request,
              (unsigned long long)s.rx_messages, (unsigned long long)s.bad_messages);
  return 0;
}
