// SPDX-License-Identifier: GPL-3.0-or-later
// The verb table and the server's dispatch through it.
#include <gtest/gtest.h>

#include <set>

#include "msgw/mgmt/protocol.hpp"
#include "msgw/mgmt/verbs.hpp"

using namespace msgw::mgmt;
using nlohmann::json;

namespace {

// Records what was asked; answers what the test set.
struct FakeService : Service {
  std::vector<std::string> calls;
  json rows = json::array({{{"call", "c1"}}});
  json stats = {{"calls_active", 1}};
  bool known_call = true, reload_ok = true;
  msgw::config::Config config;
  int last_limit = -1;
  json show_calls() override { calls.push_back("calls"); return rows; }
  json show_registrations() override { calls.push_back("registrations"); return rows; }
  json show_flows() override { calls.push_back("flows"); return rows; }
  json show_stats() override { calls.push_back("stats"); return stats; }
  int64_t last_since = -1;
  json show_cdrs(int limit, int64_t since_ms) override {
    calls.push_back("cdrs");
    last_limit = limit;
    last_since = since_ms;
    return rows;
  }
  json rotate_nonce_key() override { calls.push_back("rotate"); return {{"previous_key_valid_until", 1}}; }
  json show_trunks() override { calls.push_back("trunks"); return rows; }
  const msgw::config::Config& running_config() override { calls.push_back("running"); return config; }
  bool hangup(const std::string& call) override {
    calls.push_back("hangup " + call);
    return known_call;
  }
  bool reload_from_file(std::string* error, nlohmann::json* report) override {
    calls.push_back("reload");
    if (!reload_ok) *error = "gw.toml:2:9: sip.realm: expected a string";
    else *report = {{"applied", {"sip.t1_ms"}}, {"restart_msgw_control", {"sip.listen"}}, {"restart_msgw_dataplane", nlohmann::json::array()}};
    return reload_ok;
  }
};

TEST(VerbTable, EachVerbOnceWithItsIdAndOneHandler) {
  std::set<std::string> names;
  size_t i = 0;
  for (const Verb& v : verbs()) {
    EXPECT_EQ(size_t(v.id), i++);
    EXPECT_TRUE(names.insert(v.name()).second) << v.name();
    EXPECT_NE(v.serve == nullptr, v.run_local == nullptr) << v.name();
    EXPECT_EQ(&verb(v.id), &v);
  }
  EXPECT_TRUE(names.count("show calls") && names.count("show cdrs") && names.count("hangup") &&
              names.count("reload") && names.count("config check"));
  EXPECT_EQ(verb(VerbId::config_check).serve, nullptr);  // local: never served
}

TEST(Dispatch, ShowVerbsAnswerTheirData) {
  FakeService s;
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}, {"what", "calls"}}), ok_reply(s.rows));
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}, {"what", "stats"}}), ok_reply(s.stats));
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}, {"what", "cdrs"}})["ok"], true);
  EXPECT_EQ(s.last_limit, 100);  // the table's fallback
  dispatch(s, {{"cmd", "show"}, {"what", "cdrs"}, {"limit", 7}});
  EXPECT_EQ(s.last_limit, 7);
  EXPECT_EQ(s.calls, (std::vector<std::string>{"calls", "stats", "cdrs", "cdrs"}));
}

TEST(Dispatch, UnknownWordsAreNamed) {
  FakeService s;
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}, {"what", "foo"}}),
            error_reply("unknown word 'foo' after 'show' (expected: calls | registrations | flows | stats | cdrs | trunks | running)"));
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}}),
            error_reply("missing word after 'show' (expected: calls | registrations | flows | stats | cdrs | trunks | running)"));
  // config check is msgwctl's own: the server does not offer it.
  EXPECT_EQ(dispatch(s, {{"cmd", "config"}, {"what", "check"}}),
            error_reply("unknown word 'config' (expected: show | hangup | reload | rotate)"));
  EXPECT_EQ(dispatch(s, {{"cmd", "reload"}, {"what", "now"}})["error"],
            "unknown word 'now' after 'reload' (nothing follows it)");
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}, {"what", "calls"}, {"verbose", true}})["error"],
            "'show calls' takes no argument 'verbose'");
  EXPECT_TRUE(s.calls.empty());
}

TEST(Dispatch, ArgumentsAreChecked) {
  FakeService s;
  EXPECT_EQ(dispatch(s, {{"cmd", "hangup"}})["error"], "'hangup' needs CALL (call id (from show calls))");
  EXPECT_EQ(dispatch(s, {{"cmd", "hangup"}, {"call", 5}})["error"],
            "CALL of 'hangup' must be a non-empty string");
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}, {"what", "cdrs"}, {"limit", 0}})["error"],
            "N of 'show cdrs' must be a whole number from 1 to 1000, not 0");
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}, {"what", "cdrs"}, {"limit", "ten"}})["error"],
            "N of 'show cdrs' must be a whole number from 1 to 1000, not \"ten\"");
  EXPECT_TRUE(s.calls.empty());
}

TEST(Dispatch, HangupAndReloadAnswers) {
  FakeService s;
  EXPECT_EQ(dispatch(s, {{"cmd", "hangup"}, {"call", "c1"}}), ok_reply());
  s.known_call = false;
  EXPECT_EQ(dispatch(s, {{"cmd", "hangup"}, {"call", "nope"}}), error_reply("no such call: nope"));
  EXPECT_EQ(dispatch(s, {{"cmd", "reload"}}),
            ok_reply({{"applied", {"sip.t1_ms"}}, {"restart_msgw_control", {"sip.listen"}},
                      {"restart_msgw_dataplane", nlohmann::json::array()}}));
  s.reload_ok = false;
  EXPECT_EQ(dispatch(s, {{"cmd", "reload"}}),
            error_reply("reload refused, old configuration kept: gw.toml:2:9: sip.realm: expected a string"));
  EXPECT_EQ(s.calls[0], "hangup c1");
}

TEST(Dispatch, DataOfTheWrongShapeIsAnInternalError) {
  FakeService s;
  s.rows = json{{"not", "rows"}};
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}, {"what", "calls"}}),
            error_reply("internal error: 'show calls' answered data of another shape"));
  s.stats = json::array();
  EXPECT_FALSE(dispatch(s, {{"cmd", "show"}, {"what", "stats"}})["ok"].get<bool>());
}

TEST(Dispatch, HandlerExceptionsBecomeErrors) {
  struct Throwing : FakeService {
    json show_flows() override { throw std::runtime_error("dataplane gone"); }
  } s;
  EXPECT_EQ(dispatch(s, {{"cmd", "show"}, {"what", "flows"}}), error_reply("internal error: dataplane gone"));
}

}  // namespace

TEST(Dispatch, ShowCdrsSinceIsParsedOrRefused) {
  FakeService s;
  EXPECT_TRUE(dispatch(s, {{"cmd", "show"}, {"what", "cdrs"}, {"since", "1765000000"}})["ok"].get<bool>());
  EXPECT_EQ(s.last_since, 1765000000000);
  EXPECT_TRUE(dispatch(s, {{"cmd", "show"}, {"what", "cdrs"}, {"since", "2026-12-06T03:10:00+01:00"}})["ok"].get<bool>());
  EXPECT_EQ(s.last_since, 1796526600000 - 3600000);  // 02:10 UTC
  EXPECT_TRUE(dispatch(s, {{"cmd", "show"}, {"what", "cdrs"}})["ok"].get<bool>());
  EXPECT_EQ(s.last_since, 0);
  for (const char* bad : {"", "soon", "2026-13-01", "2026-12-06T25:00", "2026-12-06T03:10:00Zjunk", "-5"}) {
    auto r = dispatch(s, {{"cmd", "show"}, {"what", "cdrs"}, {"since", bad}});
    EXPECT_FALSE(r["ok"].get<bool>()) << bad;
  }
  EXPECT_EQ(dispatch(s, {{"cmd", "rotate"}, {"what", "nonce-key"}})["data"]["previous_key_valid_until"], 1);
}
