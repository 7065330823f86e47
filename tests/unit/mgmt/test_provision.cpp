// SPDX-License-Identifier: GPL-3.0-or-later
// msgwctl's provisioning verbs against temporary copies of the example
// configuration (no daemon: the change stands in the file, msgwctl says so).
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config_write.hpp"
#include "provision.hpp"
#include "toml_edit.hpp"
#include "msgw/config/config.hpp"
#include "msgw/mgmt/server.hpp"
#include "msgw/mgmt/verbs.hpp"
#include "msgw/sip/digest.hpp"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Provision : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("msgw-prov-" + std::to_string(getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    file = dir / "msgw.toml";
    std::string text = slurp(fs::path(MSGW_SOURCE_ROOT) / "config/examples/spa-to-carrier.toml");
    // No daemon listens here: the change must stand in the file anyway.
    text.replace(text.find("/run/msgw/rig.sock"), 18, (dir / "none.sock").string());
    std::ofstream(file) << text;
  }
  void TearDown() override { fs::remove_all(dir); }

  // msgwctl's command line, run as msgwctl runs a local verb.
  int run(std::vector<std::string> args, bool as_json = false) {
    args.insert(args.begin(), {"-c", file.string()});
    if (as_json) args.push_back("--json");
    auto parsed = msgw::mgmt::parse_command_line(args);
    if (auto* e = std::get_if<msgw::mgmt::ParseError>(&parsed)) {
      err = e->message;
      return 2;
    }
    auto inv = std::get<msgw::mgmt::Invocation>(parsed);
    json request = inv.request;
    request["config_file"] = inv.config_file;
    std::ostringstream o, e;
    int status = inv.verb->run_local(request, inv.json, o, e);
    out = o.str();
    err = e.str();
    return status;
  }
  msgw::config::Config loaded() {
    auto r = msgw::config::load_file(file.string());
    EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
    return r.ok() ? *r.config : msgw::config::Config{};
  }

  fs::path dir, file;
  std::string out, err;
};

TEST_F(Provision, SubscriberAddStoresHa1KeepsThePreviousVersionAndAudits) {
  const std::string before = slurp(file);
  ASSERT_EQ(run({"subscriber", "add", "alice", "--password", "s3cret", "--dids", "15550002000", "--codecs",
                 "PCMU,G729"}),
            0)
      << err;
  EXPECT_NE(out.find("subscriber alice added"), std::string::npos) << out;
  EXPECT_NE(out.find("not reachable"), std::string::npos) << out;  // said, not failed
  const std::string after = slurp(file);
  EXPECT_EQ(after.find("s3cret"), std::string::npos) << after;     // never in clear
  EXPECT_EQ(slurp(file.string() + ".prev"), before);
  EXPECT_EQ(after.substr(0, before.size() - 1), before.substr(0, before.size() - 1));  // comments and all kept
  auto c = loaded();
  ASSERT_EQ(c.subscribers.size(), 2u);
  const auto& a = c.subscribers[1];
  EXPECT_EQ(a.user, "alice");
  EXPECT_TRUE(a.password.empty());
  EXPECT_EQ(a.ha1, msgw::sip::compute_ha1(msgw::sip::DigestAlgorithm::md5, "alice", "msgw", "s3cret").hex());
  EXPECT_TRUE(a.ha1_sha256.empty());
  EXPECT_EQ(a.dids, std::vector<std::string>{"15550002000"});
  EXPECT_EQ(a.codecs, (std::vector<std::string>{"PCMU", "G729"}));
  const std::string audit = slurp(file.string() + ".audit");
  EXPECT_NE(audit.find(": subscriber alice added\n"), std::string::npos) << audit;
  EXPECT_EQ(audit.find("s3cret"), std::string::npos);

  // SHA-256 challenged: its HA1 too.
  ASSERT_EQ(run({"subscriber", "add", "bob", "--password", "pw", "--digest_algorithms", "SHA-256,MD5"}), 0) << err;
  c = loaded();
  EXPECT_EQ(c.subscribers[2].ha1_sha256,
            msgw::sip::compute_ha1(msgw::sip::DigestAlgorithm::sha256, "bob", "msgw", "pw").hex());
}

TEST_F(Provision, InvalidChangeRefusedAndNothingChangesOnDisk) {
  const std::string before = slurp(file);
  // A DID another subscriber has, a route to no trunk, a duplicate, a bad address.
  for (std::vector<std::string> bad :
       {std::vector<std::string>{"subscriber", "add", "carol", "--password", "x", "--dids", "15550001000"},
        {"route", "add", "intl", "--prefix", "011", "--trunks", "nowhere"},
        {"subscriber", "add", "spa1", "--password", "x"},
        {"trunk", "set", "carrier", "--address", "10.20.0.300"},
        {"trunk", "del", "carrier"},  // the route names it
        {"subscriber", "set", "nobody", "--display_name", "x"},
        {"subscriber", "add", "dave"}}) {
    EXPECT_EQ(run(bad), 1) << bad[0] << " " << bad[2];
    EXPECT_EQ(slurp(file), before) << bad[2];
    EXPECT_FALSE(fs::exists(file.string() + ".prev")) << bad[2];
  }
  EXPECT_EQ(run({"route", "add", "intl", "--prefix", "011", "--trunks", "nowhere"}, true), 1);
  auto j = json::parse(out);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_NE(j["errors"][0]["message"].get<std::string>().find("no [[trunk]] named 'nowhere'"), std::string::npos)
      << out;
  EXPECT_GT(j["errors"][0]["line"].get<int>(), 0);
}

TEST_F(Provision, PasswdReplacesTheHa1AndDropsAClearPassword) {
  ASSERT_EQ(run({"subscriber", "add", "erin", "--password", "old"}), 0) << err;
  ASSERT_EQ(run({"subscriber", "passwd", "erin", "--password", "new"}), 0) << err;
  auto c = loaded();
  EXPECT_EQ(c.subscribers[1].ha1, msgw::sip::compute_ha1(msgw::sip::DigestAlgorithm::md5, "erin", "msgw", "new").hex());
  const std::string prev = slurp(file.string() + ".prev");
  EXPECT_NE(prev.find(msgw::sip::compute_ha1(msgw::sip::DigestAlgorithm::md5, "erin", "msgw", "old").hex()),
            std::string::npos);
  // A subscriber written with a clear password by hand: passwd stores the HA1 instead.
  std::ofstream(file, std::ios::app) << "\n[[subscriber]]\nuser = \"frank\"\npassword = \"plain\"\n";
  ASSERT_EQ(run({"subscriber", "passwd", "frank", "--password", "better"}), 0) << err;
  EXPECT_EQ(slurp(file).find("plain"), std::string::npos);
  EXPECT_EQ(loaded().subscribers[2].ha1,
            msgw::sip::compute_ha1(msgw::sip::DigestAlgorithm::md5, "frank", "msgw", "better").hex());
}

TEST_F(Provision, SetAndDelEditOnlyTheirTable) {
  ASSERT_EQ(run({"trunk", "add", "backup", "--address", "10.20.0.3", "--codecs", "PCMU", "--timeout_ms", "3000"}), 0)
      << err;
  ASSERT_EQ(run({"route", "set", "tollfree", "--trunks", "carrier,backup"}), 0) << err;
  ASSERT_EQ(run({"route", "add", "intl", "--regex", "011.*", "--trunks", "backup"}), 0) << err;
  ASSERT_EQ(run({"route", "set", "intl", "--prefix", "011"}), 0) << err;  // drops the regex
  auto c = loaded();
  ASSERT_EQ(c.trunks.size(), 2u);
  EXPECT_EQ(c.trunks[1].timeout_ms, 3000u);
  EXPECT_EQ(c.routes[0].trunks, (std::vector<std::string>{"carrier", "backup"}));
  EXPECT_EQ(c.routes[1].prefix, "011");
  EXPECT_TRUE(c.routes[1].regex.empty());
  ASSERT_EQ(run({"route", "del", "intl"}), 0) << err;
  ASSERT_EQ(run({"route", "set", "tollfree", "--trunks", "carrier"}), 0) << err;
  ASSERT_EQ(run({"trunk", "del", "backup"}), 0) << err;
  // Back to the example, comments included, but for the edited line.
  std::string example = slurp(fs::path(MSGW_SOURCE_ROOT) / "config/examples/spa-to-carrier.toml");
  std::string now = slurp(file);
  EXPECT_NE(now.find("[[route]]\nname = \"tollfree\""), std::string::npos);
  EXPECT_EQ(std::count(now.begin(), now.end(), '#'), std::count(example.begin(), example.end(), '#'));
  EXPECT_EQ(loaded().trunks.size(), 1u);
}

TEST_F(Provision, DidAddSetDelAndList) {
  ASSERT_EQ(run({"subscriber", "add", "gina", "--password", "p"}), 0) << err;
  ASSERT_EQ(run({"did", "add", "15550003000", "--subscriber", "gina"}), 0) << err;
  EXPECT_EQ(loaded().subscribers[1].dids, std::vector<std::string>{"15550003000"});
  EXPECT_EQ(run({"did", "add", "15550003000", "--subscriber", "spa1"}), 1);  // has a holder
  ASSERT_EQ(run({"did", "set", "15550003000", "--subscriber", "spa1"}), 0) << err;
  auto c = loaded();
  EXPECT_TRUE(c.subscribers[1].dids.empty());
  EXPECT_EQ(c.subscribers[0].dids, (std::vector<std::string>{"15550001000", "15550003000"}));
  ASSERT_EQ(run({"did", "list"}, true), 0) << err;
  // No msgw-control answers here: the file's rows, not compared.
  EXPECT_EQ(json::parse(out), json::parse(R"([{"did":"15550001000","subscriber":"spa1","state":"unknown"},
                                             {"did":"15550003000","subscriber":"spa1","state":"unknown"}])"));
  ASSERT_EQ(run({"did", "del", "15550003000"}), 0) << err;
  EXPECT_EQ(loaded().subscribers[0].dids, std::vector<std::string>{"15550001000"});
  EXPECT_EQ(run({"did", "del", "15550003000"}), 1);
  ASSERT_EQ(run({"subscriber", "list"}), 0) << err;
  EXPECT_NE(out.find("gina"), std::string::npos) << out;
}

TEST_F(Provision, BadArgumentsExit2) {
  EXPECT_EQ(run({"subscriber", "add"}), 2);
  EXPECT_NE(err.find("needs USER"), std::string::npos) << err;
  EXPECT_EQ(run({"subscriber", "add", "x", "--colour", "red"}), 2);
  EXPECT_EQ(run({"trunk", "add", "t", "--timeout_ms", "fast"}), 2);
  EXPECT_EQ(run({"did", "add", "123"}), 2);
  EXPECT_EQ(run({"subscriber", "passwd", "x"}), 2);
}

// ---------------------------------------------------------------- list against the running gateway

// A msgw-control that runs `cfg`: its reload re-reads `file` (or refuses).
struct RunningGateway : msgw::mgmt::Service {
  msgw::config::Config cfg;
  std::string file;
  std::atomic<bool> reload_ok{true};
  json show_calls() override { return json::array(); }
  json show_registrations() override { return json::array(); }
  json show_flows() override { return json::array(); }
  json show_stats() override { return json::object(); }
  json show_cdrs(int, int64_t) override { return json::array(); }
  json show_trunks() override { return json::array(); }
  json rotate_nonce_key() override { return json::object(); }
  bool hangup(const std::string&) override { return false; }
  bool reload_from_file(std::string* error, json* report) override {
    auto r = msgw::config::load_file(file);
    if (!reload_ok || !r.ok()) {
      *error = "not reloaded (test)";
      return false;
    }
    cfg = *r.config;
    *report = json::object();
    return true;
  }
  const msgw::config::Config& running_config() override { return cfg; }
};

// The management socket served from a thread, as msgw-control's loop does.
class Served {
 public:
  Served(const std::string& path, msgw::mgmt::Service& service) : server_(path, service) {
    server_.on_client_change = [this](int fd, msgw::mgmt::Server::Watch w) {
      if (w == msgw::mgmt::Server::Watch::none) fds_.erase(fd);
      else fds_[fd] = w == msgw::mgmt::Server::Watch::read_write ? short(POLLIN | POLLOUT) : short(POLLIN);
    };
    thread_ = std::thread([this] {
      while (!stop_) {
        std::vector<pollfd> p{{server_.listen_fd(), POLLIN, 0}};
        for (const auto& [fd, events] : fds_) p.push_back({fd, events, 0});
        if (::poll(p.data(), p.size(), 20) <= 0) continue;
        if (p[0].revents) server_.on_listen_ready();
        for (size_t i = 1; i < p.size(); ++i)
          if (p[i].revents) server_.on_client_ready(p[i].fd);
      }
    });
  }
  ~Served() {
    stop_ = true;
    thread_.join();
  }

 private:
  msgw::mgmt::Server server_;
  std::map<int, short> fds_;  // poll events per client; the thread's only
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::map<std::string, std::string> states(const json& rows, const std::string& id) {
  std::map<std::string, std::string> m;
  for (const auto& r : rows) m[r[id].get<std::string>()] = r["state"].get<std::string>();
  return m;
}

// A list shows what is configured (the file); each row says whether the
// running msgw-control has it as listed or a reload is pending.
TEST_F(Provision, ListMarksWhatTheRunningGatewayHasNotLoaded) {
  RunningGateway gw;
  gw.file = file.string();
  gw.cfg = loaded();
  Served served(gw.cfg.sip.management_socket, gw);

  ASSERT_EQ(run({"subscriber", "list", "--json"}), 0) << err;
  EXPECT_EQ(states(json::parse(out), "user"), (std::map<std::string, std::string>{{"spa1", "running"}}));
  ASSERT_EQ(run({"subscriber", "list"}), 0) << err;
  EXPECT_EQ(out.find("pending reload"), std::string::npos) << out;
  EXPECT_TRUE(err.empty()) << err;

  // Reloads fail now: the file's changes are not what runs.
  gw.reload_ok = false;
  EXPECT_EQ(run({"subscriber", "add", "gina", "--password", "p", "--dids", "15550003000"}), 1);
  EXPECT_EQ(run({"did", "set", "15550001000", "--subscriber", "gina"}), 1);
  EXPECT_EQ(run({"route", "del", "tollfree"}), 1);
  ASSERT_EQ(run({"subscriber", "list", "--json"}), 0) << err;
  EXPECT_EQ(states(json::parse(out), "user"),
            (std::map<std::string, std::string>{{"spa1", "changed, pending reload"},  // its DID left
                                                {"gina", "added, pending reload"}}));
  ASSERT_EQ(run({"did", "list", "--json"}), 0) << err;
  EXPECT_EQ(states(json::parse(out), "did"),
            (std::map<std::string, std::string>{{"15550001000", "changed, pending reload"},
                                                {"15550003000", "added, pending reload"}}));
  ASSERT_EQ(run({"route", "list", "--json"}), 0) << err;
  const json routes = json::parse(out);
  ASSERT_EQ(routes.size(), 1u) << routes;  // only in the daemon now: listed, marked
  EXPECT_EQ(routes[0]["name"], "tollfree");
  EXPECT_EQ(routes[0]["state"], "removed, pending reload");
  ASSERT_EQ(run({"trunk", "list"}), 0) << err;
  EXPECT_NE(out.find("running"), std::string::npos) << out;
  EXPECT_EQ(out.find("pending reload"), std::string::npos) << out;
  ASSERT_EQ(run({"route", "list"}), 0) << err;
  EXPECT_NE(out.find("removed, pending reload"), std::string::npos) << out;
  EXPECT_NE(out.find("pending reload: msgw-control runs an older version of " + file.string()), std::string::npos)
      << out;

  // The reload that works: everything listed runs.
  gw.reload_ok = true;
  std::string why;
  json report;
  ASSERT_TRUE(gw.reload_from_file(&why, &report)) << why;
  for (const char* kind : {"subscriber", "did", "trunk", "route"}) {
    ASSERT_EQ(run({kind, "list", "--json"}), 0) << err;
    for (const auto& r : json::parse(out)) EXPECT_EQ(r["state"], "running") << kind << ": " << r;
  }
}

TEST(ProvisionRows, RunningIsServedFromTheSameRowsAndUnknownKindsRefused) {
  RunningGateway gw;
  auto r = msgw::config::load_file(std::string(MSGW_SOURCE_ROOT) + "/config/examples/spa-to-carrier.toml");
  ASSERT_TRUE(r.ok());
  gw.cfg = *r.config;
  const json a = msgw::mgmt::dispatch(gw, {{"cmd", "show"}, {"what", "running"}, {"kind", "trunk"}});
  ASSERT_EQ(a["ok"], true) << a;
  EXPECT_EQ(a["data"], msgw::mgmt::provisioned_rows("trunk", gw.cfg));
  EXPECT_EQ(a["data"][0]["name"], "carrier");
  const json bad = msgw::mgmt::dispatch(gw, {{"cmd", "show"}, {"what", "running"}, {"kind", "calls"}});
  EXPECT_EQ(bad["ok"], false);
  EXPECT_NE(bad["error"].get<std::string>().find("subscriber, trunk, route or did"), std::string::npos) << bad;
  // msgw-control not asked (or an older one): every state unknown.
  const json rows = msgw::mgmt::mark_pending("route", msgw::mgmt::provisioned_rows("route", gw.cfg), nullptr);
  ASSERT_FALSE(rows.empty());
  for (const auto& row : rows) EXPECT_EQ(row["state"], "unknown");
}

TEST(TomlText, SetReplacesAMultiLineArrayAndAddsAfterTheLastKey) {
  const std::string text =
      "# head\n[[subscriber]]\nuser = \"a\"  # who\ndids = [\n  \"1\",\n  \"2\",\n]\n\n# next one\n[[subscriber]]\nuser = \"b\"\n";
  auto r = msgw::config::load_string(text, "t.toml", msgw::config::Scope::fragment);
  ASSERT_TRUE(r.errors.empty() || r.errors[0].message.find("password") != std::string::npos);
  msgw::mgmt::TomlText t(text, r.positions);
  t.set("subscriber[0]", "dids", "[\"3\"]");
  t.set("subscriber[0]", "display_name", "\"A\"");
  t.set("subscriber[1]", "dids", "[\"4\"]");
  EXPECT_EQ(t.text(),
            "# head\n[[subscriber]]\nuser = \"a\"  # who\ndids = [\"3\"]\ndisplay_name = \"A\"\n\n# next one\n"
            "[[subscriber]]\nuser = \"b\"\ndids = [\"4\"]\n");
  t.erase_table("subscriber[0]");
  EXPECT_EQ(t.text(), "# head\n\n# next one\n[[subscriber]]\nuser = \"b\"\ndids = [\"4\"]\n");
}

}  // namespace
