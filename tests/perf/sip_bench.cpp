// SPDX-License-Identifier: GPL-3.0-or-later
// sip_bench: SIP stack figures on one core, for the reference SPA INVITE.
//   parse_msgs_per_s                 pre-scan + oSIP2 parse of the INVITE
//   invite_auth_transactions_per_s   INVITE with valid cached-nonce credentials
//                                    (RFC 2069 style, as the SPA sends): parse,
//                                    digest check, IST creation, 100 Trying
//                                    built and sent, handed to the TU
//   invite_challenge_transactions_per_s  same INVITE without credentials:
//                                    parse, IST, 407 with challenges built
// Transaction rates are the median over batches of 2,000 (each batch's
// count over its thread CPU time): on this shared VM a batch now and then
// loses its core to the host, which thread CPU time does not exclude; the
// mean over all batches is printed beside it.
// Prints a human-readable table, then one JSON object on the last line.
// Figures only: nothing here asserts on time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "msgw/sip/digest.hpp"
#include "msgw/sip/stack.hpp"
#include "osip_message.hpp"

using namespace msgw::sip;
using Clock = std::chrono::steady_clock;

// CPU time of this thread: the figures are per core-second even when the
// machine is shared (wall-clock rates are printed beside them).
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

namespace {

int kBatch = 2000;

class CountingTransport : public Transport {
 public:
  bool send(Proto, const Endpoint&, uint64_t, std::string_view b) override {
    bytes += b.size();
    ++packets;
    return true;
  }
  std::optional<Endpoint> local_for(Proto, const Endpoint&) const override { return Endpoint::from("192.0.2.1", 5060); }
  bool supports(Proto p) const override { return p == Proto::Udp; }
  uint64_t packets = 0, bytes = 0;
};

class AuthApp : public Handler {
 public:
  explicit AuthApp(DigestAuthenticator& a) : auth_(a) {}
  void on_request(Stack& st, const ServerRequest& r) override {
    AuthResult res = auth_.verify(r.msg);
    if (res.status == 0) {
      ++authenticated;  // the B2BUA would route the call now; 100 Trying is already out
      return;
    }
    ++challenged;
    Headers h;
    const char* name = res.status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
    for (auto alg : auth_.config().algorithms) h.emplace_back(name, auth_.challenge_value(alg, res.stale));
    st.respond(r.txn, res.status, {}, h);
  }
  uint64_t authenticated = 0, challenged = 0;

 private:
  DigestAuthenticator& auth_;
};

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

// Distinct branch and Call-ID per transaction, patched in place.
void stamp(std::string& m, std::size_t branch_at, std::size_t callid_at, uint64_t n) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08llx", static_cast<unsigned long long>(n & 0xffffffffull));
  std::memcpy(&m[branch_at], buf, 8);
  std::memcpy(&m[callid_at], buf, 8);
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = argc > 1 ? argv[1] : MSGW_SIP_TEST_DATA;
  const std::string invite = read_file(data + "/spa-invite.sip");
  if (invite.empty()) {
    std::fprintf(stderr, "sip_bench: cannot read %s/spa-invite.sip\n", data.c_str());
    return 1;
  }
  if (const char* b = std::getenv("SIP_BENCH_BATCH")) kBatch = std::max(1, std::atoi(b));
  const double budget_s = 2.0;
  Limits lim;

  // 1. Parse.
  uint64_t parsed = 0;
  auto t0 = Clock::now();
  double c0 = thread_cpu_s();
  while (true) {
    for (int i = 0; i < 1000; ++i) {
      ParseResult p = parse_message(invite, false, lim);
      if (!p.msg) {
        std::fprintf(stderr, "sip_bench: reference INVITE did not parse: %s\n", p.scan.reason.c_str());
        return 1;
      }
      ++parsed;
    }
    if (std::chrono::duration<double>(Clock::now() - t0).count() > budget_s) break;
  }
  double parse_wall = parsed / std::chrono::duration<double>(Clock::now() - t0).count();
  double parse_rate = parsed / (thread_cpu_s() - c0);

  // 1b. Digest check alone on the parsed INVITE (filled in below).
  double auth_only_rate = 0;

  // 2. Authenticated INVITE transactions: the SPA's credentials recomputed
  // for our realm and a nonce we issued (still valid: a cached nonce).
  InMemoryCredentialStore creds;
  creds.add_password("spa1", "msgw", "spa1-secret");
  AuthConfig ac;
  ac.realm = "msgw";
  ac.nonce_lifetime_s = 3600;
  DigestAuthenticator auth(ac, creds);
  const std::string nonce = auth.make_nonce();
  const std::string uri = "sip:18005551212@sip.voip-info.org";
  Ha1 ha1 = compute_ha1(DigestAlgorithm::md5, "spa1", "msgw", "spa1-secret");
  std::string resp = compute_digest_response(DigestAlgorithm::md5, ha1, nonce, "", "", "", "INVITE", uri);
  std::string authed = invite;
  std::size_t pa = authed.find("Proxy-Authorization: ");
  std::size_t pa_end = authed.find("\r\n", pa);
  authed.replace(pa, pa_end - pa,
                 "Proxy-Authorization: Digest username=\"spa1\",realm=\"msgw\",nonce=\"" + nonce + "\",uri=\"" + uri +
                     "\",algorithm=MD5,response=\"" + resp + "\"");
  authed = replace(authed, "branch=z9hG4bK-f78286de", "branch=z9hG4bK-00000000");
  authed = replace(authed, "Call-ID: b1ea7d2c", "Call-ID: 00000000");
  std::string unauth = authed.substr(0, authed.find("Proxy-Authorization: ")) +
                       authed.substr(authed.find("\r\n", authed.find("Proxy-Authorization: ")) + 2);

  {
    ParseResult p = parse_message(authed, false, lim);
    uint64_t n = 0;
    double c1 = thread_cpu_s();
    while (thread_cpu_s() - c1 < 0.5) {
      for (int i = 0; i < 1000; ++i, ++n)
        if (auth.verify(p.msg.get()).status != 0) {
          std::fprintf(stderr, "sip_bench: reference credentials rejected\n");
          return 1;
        }
    }
    auth_only_rate = n / (thread_cpu_s() - c1);
  }

  double wall_rate = 0, mean_rate = 0;
  auto run = [&](std::string msg, uint64_t& ok_count, bool want_auth) -> double {
    std::vector<double> batch_rates;
    const std::size_t b = msg.find("z9hG4bK-") + 8, c = msg.find("Call-ID: ") + 9;
    uint64_t n = 0;
    double busy = 0, wall = 0;
    Inbound in;
    in.proto = Proto::Udp;
    in.peer = *Endpoint::from("192.168.0.2", 5062);
    in.local = *Endpoint::from("192.0.2.1", 5060);
    in.socket = 1;
    // Batches of 2000 live transactions, then a fresh stack (outside the
    // timed part), as a server would hold a few seconds of calls.
    while (busy < budget_s) {
      CountingTransport tp;
      AuthApp app(auth);
      StackConfig cfg;
      Stack st(cfg, &app, &tp);
      auto s = Clock::now();
      double cs = thread_cpu_s();
      for (int i = 0; i < kBatch; ++i) {
        stamp(msg, b, c, ++n);
        st.receive(in, msg);
      }
      const double spent = thread_cpu_s() - cs;
      busy += spent;
      batch_rates.push_back(kBatch / spent);
      wall += std::chrono::duration<double>(Clock::now() - s).count();
      ok_count += want_auth ? app.authenticated : app.challenged;
      if ((want_auth ? app.authenticated : app.challenged) != uint64_t(kBatch)) {
        std::fprintf(stderr, "sip_bench: expected every INVITE %s, got %llu/%llu\n",
                     want_auth ? "authenticated" : "challenged", (unsigned long long)app.authenticated,
                     (unsigned long long)app.challenged);
        return -1;
      }
    }
    wall_rate = n / wall;
    mean_rate = n / busy;
    std::nth_element(batch_rates.begin(), batch_rates.begin() + long(batch_rates.size() / 2), batch_rates.end());
    return batch_rates[batch_rates.size() / 2];
  };
  uint64_t ok = 0, ch = 0;
  double auth_rate = run(authed, ok, true);
  double auth_wall = wall_rate, auth_mean = mean_rate;
  double chal_rate = run(unauth, ch, false);
  double chal_mean = mean_rate;
  if (auth_rate < 0 || chal_rate < 0) return 1;

  std::printf("reference INVITE: %zu bytes; rates per CPU-second of one core (wall-clock rate in brackets)\n",
              invite.size());
  std::printf("parse:                        %12.0f msgs/s  (%.2f us each) [wall %.0f/s]\n", parse_rate,
              1e6 / parse_rate, parse_wall);
  std::printf("digest check alone:           %12.0f /s      (%.2f us each)\n", auth_only_rate, 1e6 / auth_only_rate);
  std::printf("authenticated INVITE txn:     %12.0f /s      (%.2f us each, %llu txns; mean %.0f/s) [wall %.0f/s]\n",
              auth_rate, 1e6 / auth_rate, (unsigned long long)ok, auth_mean, auth_wall);
  std::printf("challenged INVITE txn (407):  %12.0f /s      (%.2f us each; mean %.0f/s)\n", chal_rate, 1e6 / chal_rate,
              chal_mean);
  std::printf("{\"parse_msgs_per_s\": %.0f, \"invite_auth_transactions_per_s\": %.0f, "
              "\"invite_challenge_transactions_per_s\": %.0f}\n",
              parse_rate, auth_rate, chal_rate);
  return 0;
}
