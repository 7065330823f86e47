// SPDX-License-Identifier: GPL-3.0-or-later
// SIP registrar (RFC 3261 §10.3): bindings of contact URIs to an address of
// record, with expiry, persisted in SQLite (WAL) so a control-plane restart
// keeps every registration. Authentication is not done here: the caller checks
// digest credentials (digest.hpp) and that the authenticated user may register
// the AOR before calling handle().
//
// Bindings are cached in memory for lookups; every change is written through
// to SQLite inside one transaction per REGISTER, so a request is applied
// entirely or not at all.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>


#include "msgw/sip/message.hpp"

namespace msgw::sip {

struct Binding {
  std::string aor;       // canonical "sip:user@host" (host lower-case, no port/params)
  std::string contact;   // contact URI as registered
  std::string call_id;
  std::uint32_t cseq = 0;
  std::int64_t expires_at = 0;  // unix seconds
  std::uint16_t q_milli = 1000; // q-value × 1000 (absent = 1.0)
  std::string source;           // transport address the REGISTER came from ("udp:192.0.2.1:5062")
  std::string user_agent;
  std::int64_t remaining(std::int64_t now) const noexcept {
    return expires_at > now ? expires_at - now : 0;
  }
};

struct RegistrarConfig {
  std::uint32_t min_expires = 60;        // shorter non-zero requests get 423
  std::uint32_t max_expires = 3600;      // longer requests are shortened
  std::uint32_t default_expires = 3600;  // neither Expires header nor param
  std::size_t max_contacts_per_aor = 10;
  std::string db_path;                   // SQLite file; empty = in-memory only (tests)
};

// One REGISTER, independent of the parser (handle(MessageRef) fills it).
struct RegisterRequest {
  struct Contact {
    std::string uri;
    std::optional<std::uint32_t> expires;  // ;expires= parameter
    std::optional<std::uint16_t> q_milli;  // ;q= parameter
  };
  std::string aor;   // To URI (canonicalised by the registrar)
  std::string call_id;
  std::uint32_t cseq = 0;
  std::optional<std::uint32_t> expires_header;
  bool star = false;  // "Contact: *"
  std::vector<Contact> contacts;
  std::string source;
  std::string user_agent;
};

struct RegisterResult {
  int status = 500;          // 200, 400, 403, 423, 500
  std::string reason;        // reason phrase for non-200
  std::uint32_t min_expires = 0;  // set with 423
  std::vector<Binding> bindings;  // current bindings of the AOR after the request (200)
};

struct RegistrarStats {
  std::uint64_t registers = 0, ok = 0, rejected_400 = 0, rejected_423 = 0, rejected_403 = 0,
                errors_500 = 0, bindings_added = 0, bindings_refreshed = 0, bindings_removed = 0,
                bindings_expired = 0;
};

// "sip:User@Example.COM:5060;transport=udp" → "sip:User@example.com". Returns
// empty when the URI has no host.
std::string canonical_aor(std::string_view uri);

class Registrar {
 public:
  // Opens (creating if needed) the database and loads unexpired bindings.
  // nullptr with *error set when the database cannot be used.
  static std::unique_ptr<Registrar> open(const RegistrarConfig& config, std::string* error,
                                         std::int64_t now_s);
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  RegisterResult handle(const RegisterRequest& request, std::int64_t now_s);
  // Extracts To, Call-ID, CSeq, Expires and Contacts from a parsed REGISTER.
  // A REGISTER missing those gets 400 with a reason naming the header.
  RegisterResult handle(MessageRef request, std::string_view source, std::int64_t now_s);

  // Unexpired bindings of an AOR, highest q first.
  std::vector<Binding> lookup(std::string_view aor, std::int64_t now_s) const;
  // Every unexpired binding (for `msgwctl show registrations`).
  std::vector<Binding> all(std::int64_t now_s) const;
  // Drops expired bindings from memory and disk; returns how many.
  std::size_t purge_expired(std::int64_t now_s);

  // Fills a response built by the transaction layer: 200 gets one Contact per
  // binding with its remaining expires, 423 gets Min-Expires.
  // Returns 0, or non-zero when it cannot.
  static int fill_response(Message& response, const RegisterResult& result,
                           std::int64_t now_s);

  const RegistrarStats& stats() const noexcept;
  const RegistrarConfig& config() const noexcept;
  // A reload: applies to REGISTERs from now on; bindings keep their expiry.
  void set_expiry_bounds(std::uint32_t min_expires, std::uint32_t max_expires) noexcept;

 private:
  Registrar();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace msgw::sip
