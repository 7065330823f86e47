// SPDX-License-Identifier: GPL-3.0-or-later
// Registrar: RFC 3261 §10.3 binding rules, 423, "*" removal, expiry, and
// persistence across a reopen of the SQLite database.
#include <gtest/gtest.h>
#include <osipparser2/osip_parser.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "msgw/sip/registrar.hpp"
#include "osip_message.hpp"

using namespace msgw::sip;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

RegisterRequest reg(std::string call_id, std::uint32_t cseq,
                    std::vector<RegisterRequest::Contact> contacts,
                    std::optional<std::uint32_t> expires = std::nullopt) {
  RegisterRequest r;
  r.aor = "sip:spa1@gw.example";
  r.call_id = std::move(call_id);
  r.cseq = cseq;
  r.contacts = std::move(contacts);
  r.expires_header = expires;
  r.source = "udp:192.168.0.2:5062";
  return r;
}

std::unique_ptr<Registrar> open_mem(RegistrarConfig cfg = {}) {
  std::string err;
  auto r = Registrar::open(cfg, &err, kNow);
  EXPECT_NE(r, nullptr) << err;
  return r;
}

struct TempDb {
  std::string path;
  TempDb() {
    char tmpl[] = "/tmp/msgw-registrar-XXXXXX";
    int fd = mkstemp(tmpl);
    close(fd);
    path = tmpl;
    std::remove(path.c_str());
  }
  ~TempDb() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::remove((path + suffix).c_str());
  }
};

}  // namespace

TEST(SessionRegistrar, CanonicalAor) {
  EXPECT_EQ(canonical_aor("sip:Spa1@GW.Example:5060;transport=udp"), "sip:Spa1@gw.example");
  EXPECT_EQ(canonical_aor("<SIP:spa1@gw.example>"), "sip:spa1@gw.example");
  EXPECT_EQ(canonical_aor("sip:spa1:pw@[2001:DB8::1]:5060"), "sip:spa1@[2001:db8::1]");
  EXPECT_EQ(canonical_aor("http://x"), "");
  EXPECT_EQ(canonical_aor("sip:"), "");
  EXPECT_EQ(canonical_aor("garbage"), "");
}

TEST(SessionRegistrar, RegisterRefreshAndLookup) {
  auto r = open_mem();
  auto res = r->handle(reg("c1", 1, {{"sip:spa1@192.168.0.2:5062", std::nullopt, std::nullopt}}, 240),
                       kNow);
  ASSERT_EQ(res.status, 200) << res.reason;
  ASSERT_EQ(res.bindings.size(), 1u);
  EXPECT_EQ(res.bindings[0].expires_at, kNow + 240);
  EXPECT_EQ(res.bindings[0].source, "udp:192.168.0.2:5062");
  auto found = r->lookup("sip:spa1@GW.example;user=phone", kNow + 10);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].contact, "sip:spa1@192.168.0.2:5062");
  // Refresh with a higher CSeq and a contact param that overrides Expires.
  res = r->handle(reg("c1", 2, {{"sip:spa1@192.168.0.2:5062", 600, std::nullopt}}, 240), kNow + 100);
  ASSERT_EQ(res.status, 200);
  ASSERT_EQ(res.bindings.size(), 1u);
  EXPECT_EQ(res.bindings[0].expires_at, kNow + 700);
  EXPECT_EQ(r->stats().bindings_added, 1u);
  EXPECT_EQ(r->stats().bindings_refreshed, 1u);
  // Expiry.
  EXPECT_EQ(r->lookup("sip:spa1@gw.example", kNow + 699).size(), 1u);
  EXPECT_TRUE(r->lookup("sip:spa1@gw.example", kNow + 700).empty());
  EXPECT_EQ(r->purge_expired(kNow + 700), 1u);
  EXPECT_TRUE(r->all(kNow).empty());
}

TEST(SessionRegistrar, DefaultAndMaxExpires) {
  RegistrarConfig cfg;
  cfg.default_expires = 1800;
  cfg.max_expires = 3600;
  auto r = open_mem(cfg);
  auto res = r->handle(reg("c", 1, {{"sip:a@10.0.0.1", std::nullopt, std::nullopt}}), kNow);
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.bindings[0].remaining(kNow), 1800);
  res = r->handle(reg("c", 2, {{"sip:a@10.0.0.1", 999999, std::nullopt}}), kNow);
  EXPECT_EQ(res.bindings[0].remaining(kNow), 3600);
}

TEST(SessionRegistrar, MinExpiresGives423AndChangesNothing) {
  RegistrarConfig cfg;
  cfg.min_expires = 60;
  auto r = open_mem(cfg);
  auto res = r->handle(reg("c", 1, {{"sip:a@10.0.0.1", std::nullopt, std::nullopt},
                                    {"sip:b@10.0.0.2", 30, std::nullopt}},
                           3600),
                       kNow);
  EXPECT_EQ(res.status, 423);
  EXPECT_EQ(res.min_expires, 60u);
  EXPECT_TRUE(r->lookup("sip:spa1@gw.example", kNow).empty());
  EXPECT_EQ(r->stats().rejected_423, 1u);
  // Expires: 0 is never "too brief".
  res = r->handle(reg("c", 2, {{"sip:a@10.0.0.1", std::nullopt, std::nullopt}}, 0), kNow);
  EXPECT_EQ(res.status, 200);
}

TEST(SessionRegistrar, MultipleContactsQOrderAndRemoval) {
  auto r = open_mem();
  auto res = r->handle(reg("c", 1, {{"sip:a@10.0.0.1", 300, 500}, {"sip:b@10.0.0.2", 300, 900},
                                    {"sip:c@10.0.0.3", 300, std::nullopt}}),
                       kNow);
  ASSERT_EQ(res.status, 200);
  ASSERT_EQ(res.bindings.size(), 3u);
  EXPECT_EQ(res.bindings[0].contact, "sip:c@10.0.0.3");  // q=1.0
  EXPECT_EQ(res.bindings[1].contact, "sip:b@10.0.0.2");
  EXPECT_EQ(res.bindings[2].contact, "sip:a@10.0.0.1");
  // Remove one with expires=0 (host case does not matter).
  res = r->handle(reg("c", 2, {{"SIP:b@10.0.0.2", 0, std::nullopt}}), kNow);
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.bindings.size(), 2u);
  // A query (no Contact) returns the list unchanged.
  res = r->handle(reg("c", 3, {}), kNow);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.bindings.size(), 2u);
}

TEST(SessionRegistrar, StarRemoval) {
  auto r = open_mem();
  ASSERT_EQ(r->handle(reg("c", 1, {{"sip:a@10.0.0.1", 300, std::nullopt},
                                   {"sip:b@10.0.0.2", 300, std::nullopt}}),
                      kNow)
                .status,
            200);
  RegisterRequest star = reg("c", 2, {}, 0);
  star.star = true;
  // "*" needs Expires: 0 and must be alone.
  RegisterRequest bad = star;
  bad.expires_header = 60;
  EXPECT_EQ(r->handle(bad, kNow).status, 400);
  bad = star;
  bad.contacts.push_back({"sip:a@10.0.0.1", std::nullopt, std::nullopt});
  EXPECT_EQ(r->handle(bad, kNow).status, 400);
  // Same Call-ID with a CSeq that is not higher fails; a higher one removes all.
  RegisterRequest old = star;
  old.cseq = 1;
  EXPECT_EQ(r->handle(old, kNow).status, 400);
  auto res = r->handle(star, kNow);
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(res.bindings.empty());
  EXPECT_TRUE(r->lookup("sip:spa1@gw.example", kNow).empty());
}

TEST(SessionRegistrar, CSeqOrderingPerCallId) {
  auto r = open_mem();
  ASSERT_EQ(r->handle(reg("c", 5, {{"sip:a@10.0.0.1", 300, std::nullopt}}), kNow).status, 200);
  auto res = r->handle(reg("c", 5, {{"sip:a@10.0.0.1", 600, std::nullopt}}), kNow);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(r->lookup("sip:spa1@gw.example", kNow)[0].expires_at, kNow + 300);
  // A different Call-ID (phone rebooted) may update whatever its CSeq.
  res = r->handle(reg("other", 1, {{"sip:a@10.0.0.1", 600, std::nullopt}}), kNow);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.bindings[0].expires_at, kNow + 600);
}

TEST(SessionRegistrar, Limits) {
  RegistrarConfig cfg;
  cfg.max_contacts_per_aor = 2;
  auto r = open_mem(cfg);
  EXPECT_EQ(r->handle(reg("c", 1, {{"sip:a@1.1.1.1", 300, std::nullopt},
                                   {"sip:b@1.1.1.2", 300, std::nullopt},
                                   {"sip:c@1.1.1.3", 300, std::nullopt}}),
                      kNow)
                .status,
            403);
  EXPECT_EQ(r->handle(reg("c", 2, {{"sip:a@1.1.1.1", 300, std::nullopt},
                                   {"sip:b@1.1.1.2", 300, std::nullopt}}),
                      kNow)
                .status,
            200);
  EXPECT_EQ(r->handle(reg("c", 3, {{"sip:c@1.1.1.3", 300, std::nullopt}}), kNow).status, 403);
  RegisterRequest bad = reg("c", 4, {{"not a uri", 300, std::nullopt}});
  EXPECT_EQ(r->handle(bad, kNow).status, 400);
  bad = reg("", 4, {});
  EXPECT_EQ(r->handle(bad, kNow).status, 400);
  bad = reg("c", 4, {});
  bad.aor = "garbage";
  EXPECT_EQ(r->handle(bad, kNow).status, 400);
  RegistrarConfig inverted;
  inverted.min_expires = 100;
  inverted.max_expires = 10;
  std::string err;
  EXPECT_EQ(Registrar::open(inverted, &err, kNow), nullptr);
  EXPECT_FALSE(err.empty());
}

TEST(SessionRegistrar, PersistsAcrossReopen) {
  TempDb db;
  RegistrarConfig cfg;
  cfg.db_path = db.path;
  {
    std::string err;
    auto r = Registrar::open(cfg, &err, kNow);
    ASSERT_NE(r, nullptr) << err;
    ASSERT_EQ(r->handle(reg("c1", 1, {{"sip:spa1@192.168.0.2:5062", 300, 800},
                                      {"sip:spa1@10.1.1.1", 30000, std::nullopt}}),
                        kNow)
                  .status,
              200);
    RegisterRequest other = reg("c2", 1, {{"sip:x@10.9.9.9", 100, std::nullopt}});
    other.aor = "sip:spa2@gw.example";
    other.user_agent = "Sipura/SPA3000-2.0.13(GWg)";
    ASSERT_EQ(r->handle(other, kNow).status, 200);
  }
  {
    std::string err;
    auto r = Registrar::open(cfg, &err, kNow + 10);
    ASSERT_NE(r, nullptr) << err;
    auto b = r->lookup("sip:spa1@gw.example", kNow + 10);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(r->all(kNow + 10).size(), 3u);
    auto b2 = r->lookup("sip:spa2@gw.example", kNow + 10);
    ASSERT_EQ(b2.size(), 1u);
    EXPECT_EQ(b2[0].user_agent, "Sipura/SPA3000-2.0.13(GWg)");
    EXPECT_EQ(b2[0].call_id, "c2");
    EXPECT_EQ(b2[0].cseq, 1u);
    EXPECT_EQ(b2[0].expires_at, kNow + 100);
    // The CSeq rule survives the restart too.
    EXPECT_EQ(r->handle(reg("c1", 1, {{"sip:spa1@10.1.1.1", 300, std::nullopt}}), kNow + 10).status,
              400);
    // Remove one binding, then reopen after the spa2 one expired.
    ASSERT_EQ(r->handle(reg("c1", 2, {{"sip:spa1@10.1.1.1", 0, std::nullopt}}), kNow + 10).status,
              200);
  }
  {
    std::string err;
    auto r = Registrar::open(cfg, &err, kNow + 200);
    ASSERT_NE(r, nullptr) << err;
    auto all = r->all(kNow + 200);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].contact, "sip:spa1@192.168.0.2:5062");
    EXPECT_EQ(all[0].q_milli, 800);
  }
  EXPECT_TRUE(std::filesystem::exists(db.path));
}

TEST(SessionRegistrar, UnusableDatabaseIsAnError) {
  RegistrarConfig cfg;
  cfg.db_path = "/nonexistent-dir/registrar.db";
  std::string err;
  EXPECT_EQ(Registrar::open(cfg, &err, kNow), nullptr);
  EXPECT_NE(err.find("/nonexistent-dir/registrar.db"), std::string::npos) << err;
}

// ---- through oSIP2 ----

namespace {
struct OsipInit {
  OsipInit() { parser_init(); }
};
const OsipInit osip_once;

osip_message_t* parse(const std::string& text) {
  osip_message_t* m = nullptr;
  if (osip_message_init(&m) != 0) return nullptr;
  if (osip_message_parse(m, text.data(), text.size()) != 0) {
    osip_message_free(m);
    return nullptr;
  }
  return m;
}

std::string register_msg(const std::string& contacts, const std::string& extra,
                         int cseq = 1) {
  return "REGISTER sip:gw.example SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.168.0.2:5062;branch=z9hG4bK-1;rport\r\n"
         "From: <sip:spa1@gw.example>;tag=1\r\n"
         "To: <sip:spa1@gw.example>\r\n"
         "Call-ID: reg-1@192.168.0.2\r\n"
         "CSeq: " + std::to_string(cseq) + " REGISTER\r\n"
         "Max-Forwards: 70\r\n" + contacts + extra +
         "User-Agent: Sipura/SPA3000-2.0.13(GWg)\r\n"
         "Content-Length: 0\r\n\r\n";
}
}  // namespace

TEST(SessionRegistrar, OsipRegisterAndResponseContacts) {
  auto r = open_mem();
  osip_message_t* m = parse(register_msg(
      "Contact: <sip:spa1@192.168.0.2:5062>;expires=120;q=0.7, <sip:spa1@10.0.0.9>\r\n",
      "Expires: 300\r\n"));
  ASSERT_NE(m, nullptr);
  auto res = r->handle(m, "udp:192.168.0.2:5062", kNow);
  osip_message_free(m);
  ASSERT_EQ(res.status, 200) << res.reason;
  ASSERT_EQ(res.bindings.size(), 2u);
  EXPECT_EQ(res.bindings[0].contact, "sip:spa1@10.0.0.9");
  EXPECT_EQ(res.bindings[0].remaining(kNow), 300);
  EXPECT_EQ(res.bindings[1].remaining(kNow), 120);
  EXPECT_EQ(res.bindings[1].q_milli, 700);
  EXPECT_EQ(res.bindings[1].user_agent, "Sipura/SPA3000-2.0.13(GWg)");

  osip_message_t* raw = nullptr;
  ASSERT_EQ(osip_message_init(&raw), 0);
  Message resp(raw);
  ASSERT_EQ(Registrar::fill_response(resp, res, kNow + 20), 0);
  ASSERT_EQ(osip_list_size(&resp->contacts), 2);
  char* s = nullptr;
  osip_contact_to_str(static_cast<osip_contact_t*>(osip_list_get(&resp->contacts, 1)), &s);
  EXPECT_STREQ(s, "<sip:spa1@192.168.0.2:5062>;expires=100;q=0.700");
  osip_free(s);

  // Star removal through the parser.
  m = parse(register_msg("Contact: *\r\n", "Expires: 0\r\n", 2));
  ASSERT_NE(m, nullptr);
  res = r->handle(m, "udp:192.168.0.2:5062", kNow);
  osip_message_free(m);
  EXPECT_EQ(res.status, 200) << res.reason;
  EXPECT_TRUE(r->all(kNow).empty());
}

TEST(SessionRegistrar, OsipBadRegisters) {
  auto r = open_mem();
  struct Case {
    std::string contacts, extra;
    int status;
  } cases[] = {
      {"Contact: <sip:a@1.2.3.4>\r\n", "Expires: soon\r\n", 400},
      {"Contact: <sip:a@1.2.3.4>;expires=x\r\n", "", 400},
      {"Contact: <sip:a@1.2.3.4>;q=2\r\n", "", 400},
      {"Contact: <sip:a@1.2.3.4>;expires=5\r\n", "", 423},
      {"Contact: *\r\n", "Expires: 60\r\n", 400},
  };
  for (const auto& c : cases) {
    osip_message_t* m = parse(register_msg(c.contacts, c.extra));
    ASSERT_NE(m, nullptr) << c.contacts;
    auto res = r->handle(m, "udp:1.2.3.4:5060", kNow);
    EXPECT_EQ(res.status, c.status) << c.contacts << c.extra;
    EXPECT_FALSE(res.reason.empty());
    if (res.status == 423) {
      osip_message_t* raw = nullptr;
      ASSERT_EQ(osip_message_init(&raw), 0);
      Message resp(raw);
      ASSERT_EQ(Registrar::fill_response(resp, res, kNow), 0);
      EXPECT_EQ(resp.header("Min-Expires"), "60");
    }
    osip_message_free(m);
  }
  osip_message_t* inv = parse(
      "INVITE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\nTo: <sip:x@y>\r\n"
      "From: <sip:a@b>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
  ASSERT_NE(inv, nullptr);
  EXPECT_EQ(r->handle(inv, "udp:1.2.3.4:5060", kNow).status, 400);
  osip_message_free(inv);
  EXPECT_TRUE(r->all(kNow).empty());
}
