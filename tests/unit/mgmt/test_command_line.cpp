// SPDX-License-Identifier: GPL-3.0-or-later
// msgwctl's command line, as built from the verb table.
#include <gtest/gtest.h>

#include "msgw/mgmt/verbs.hpp"

using namespace msgw::mgmt;

namespace {

std::variant<Invocation, ParseError> parse(std::vector<std::string> args) { return parse_command_line(args); }

Invocation ok(std::vector<std::string> args) {
  auto r = parse(args);
  if (auto* e = std::get_if<ParseError>(&r)) ADD_FAILURE() << e->message;
  return std::get_if<Invocation>(&r) ? std::get<Invocation>(r) : Invocation{};
}

std::string error(std::vector<std::string> args) {
  auto r = parse(args);
  if (auto* e = std::get_if<ParseError>(&r)) return e->message;
  ADD_FAILURE() << "parsed: " << std::get<Invocation>(r).request.dump();
  return {};
}

TEST(CommandLine, WordsMakeTheWireRequest) {
  auto i = ok({"show", "calls"});
  EXPECT_EQ(i.verb->id, VerbId::show_calls);
  EXPECT_EQ(i.request, (nlohmann::json{{"cmd", "show"}, {"what", "calls"}}));
  EXPECT_FALSE(i.json);
  EXPECT_EQ(ok({"hangup", "abc@host"}).request, (nlohmann::json{{"cmd", "hangup"}, {"call", "abc@host"}}));
  EXPECT_EQ(ok({"reload"}).request, (nlohmann::json{{"cmd", "reload"}}));
  // Fallbacks are the server's: an option not given is not sent.
  EXPECT_EQ(ok({"show", "cdrs"}).request, (nlohmann::json{{"cmd", "show"}, {"what", "cdrs"}}));
  EXPECT_EQ(ok({"show", "cdrs", "--limit", "5"}).request["limit"], 5);
  EXPECT_EQ(ok({"show", "cdrs", "--limit=5"}).request["limit"], 5);
  EXPECT_EQ(ok({"show", "cdrs", "--since", "2026-12-06T03:10:00Z", "--limit", "5"}).request["since"],
            "2026-12-06T03:10:00Z");
  EXPECT_EQ(ok({"rotate", "nonce-key"}).request, (nlohmann::json{{"cmd", "rotate"}, {"what", "nonce-key"}}));
  auto c = ok({"config", "check", "gw.toml"});
  EXPECT_EQ(c.verb->id, VerbId::config_check);
  EXPECT_EQ(c.request["file"], "gw.toml");
}

TEST(CommandLine, GlobalOptionsStandAnywhere) {
  auto i = ok({"--json", "show", "stats", "--socket", "/tmp/s"});
  EXPECT_TRUE(i.json);
  EXPECT_EQ(i.socket, "/tmp/s");
  auto j = ok({"show", "--socket=/tmp/x", "stats", "-c", "gw.toml", "--json"});
  EXPECT_EQ(j.socket, "/tmp/x");
  EXPECT_EQ(j.config_file, "gw.toml");
  EXPECT_TRUE(j.json);
  // After --, a call id may start with a dash.
  EXPECT_EQ(ok({"hangup", "--", "-odd"}).request["call"], "-odd");
}

TEST(CommandLine, FlagsTakeNoValue) {
  auto p = ok({"host", "prepare", "--dry-run", "--root", "/tmp/h", "-c", "gw.toml"});
  EXPECT_EQ(p.verb->id, VerbId::host_prepare);
  EXPECT_EQ(p.request, (nlohmann::json{{"cmd", "host"}, {"what", "prepare"}, {"dry-run", true}, {"root", "/tmp/h"}}));
  EXPECT_EQ(p.config_file, "gw.toml");
  // A flag before the words does not swallow the next word.
  EXPECT_EQ(ok({"--dry-run", "host", "prepare"}).request["dry-run"], true);
  EXPECT_FALSE(ok({"host", "prepare"}).request.contains("dry-run"));
  EXPECT_EQ(error({"host", "prepare", "--dry-run=yes"}), "--dry-run takes no value");
  EXPECT_EQ(error({"host", "check", "--dry-run"}), "unknown option '--dry-run' for 'host check'");
}

TEST(CommandLine, ErrorsNameTheWordNotUnderstood) {
  EXPECT_EQ(error({"show", "foo"}),
            "unknown word 'foo' after 'show' (expected: calls | registrations | flows | stats | cdrs | trunks | running)");
  EXPECT_EQ(error({"bogus"}), "unknown word 'bogus' (expected: show | hangup | reload | rotate | config | host | subscriber | trunk | route | did)");
  EXPECT_EQ(error({}), "missing word (expected: show | hangup | reload | rotate | config | host | subscriber | trunk | route | did)");
  EXPECT_EQ(error({"show"}), "missing word after 'show' (expected: calls | registrations | flows | stats | cdrs | trunks | running)");
  EXPECT_EQ(error({"config", "lint"}), "unknown word 'lint' after 'config' (expected: check)");
  EXPECT_EQ(error({"reload", "now"}), "unknown word 'now' after 'reload'");
  EXPECT_EQ(error({"hangup", "a", "b"}), "unknown word 'b' after 'hangup a'");
  EXPECT_EQ(error({"hangup"}), "'hangup' needs CALL (call id (from show calls))");
  EXPECT_EQ(error({"show", "calls", "--limit", "3"}), "unknown option '--limit' for 'show calls'");
  EXPECT_EQ(error({"show", "cdrs", "--limit", "x"}), "--limit wants a whole number from 1 to 1000, not 'x'");
  EXPECT_EQ(error({"show", "cdrs", "--limit", "5000"}),
            "N of 'show cdrs' must be a whole number from 1 to 1000, not 5000");
  EXPECT_EQ(error({"show", "calls", "--socket"}), "--socket needs a value");
  EXPECT_EQ(error({"-x"}), "unknown option '-x'");
}

TEST(CommandLine, JsonIsKnownEvenWhenTheLineIsNot) {
  auto r = parse({"show", "foo", "--json"});
  ASSERT_TRUE(std::holds_alternative<ParseError>(r));
  EXPECT_TRUE(std::get<ParseError>(r).json);
  EXPECT_FALSE(std::get<ParseError>(parse({"show", "foo"})).json);
}

TEST(CommandLine, HelpComesFromTheTable) {
  auto i = ok({"show", "--help"});
  EXPECT_TRUE(i.help);
  EXPECT_EQ(i.help_prefix, "show");
  const std::string all = help_text("");
  for (const Verb& v : verbs()) {
    EXPECT_NE(all.find(v.name()), std::string::npos) << v.name();
    EXPECT_NE(all.find(std::string(v.help)), std::string::npos) << v.name();
  }
  EXPECT_NE(all.find("show cdrs [--limit N]"), std::string::npos) << all;
  EXPECT_NE(all.find("hangup CALL"), std::string::npos) << all;
  const std::string show = help_text("show");
  EXPECT_NE(show.find("show flows"), std::string::npos);
  EXPECT_EQ(show.find("hangup CALL"), std::string::npos);
}

// The package's man page is help2man's reading of this text: SYNOPSIS from
// the leading "Usage:" line, DESCRIPTION from the paragraph after it,
// OPTIONS from the "Options:" heading.
TEST(CommandLine, HelpHasTheShapeHelp2manReads) {
  const std::string all = help_text("");
  EXPECT_EQ(all.rfind("Usage: msgwctl ", 0), 0u) << all;
  const auto first_nl = all.find('\n');
  ASSERT_NE(first_nl, std::string::npos);
  EXPECT_NE(all[first_nl + 1], '\n') << "no description paragraph after the Usage line";
  EXPECT_NE(all.find("\nVerbs:\n"), std::string::npos);
  EXPECT_NE(all.find("\nOptions:\n  --socket PATH"), std::string::npos) << all;
}

}  // namespace
