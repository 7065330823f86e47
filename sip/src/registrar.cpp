// SPDX-License-Identifier: GPL-3.0-or-later
// Registrar: RFC 3261 §10.3 binding rules over an in-memory cache written
// through to SQLite.
#include "msgw/sip/registrar.hpp"
#include "osip_message.hpp"

#include "msgw/common/ascii.hpp"
#include "msgw/common/text.hpp"

#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>

namespace msgw::sip {
namespace {

using common::ascii_lower;
using common::trim_lws;

// Delta-seconds per RFC 3261 §25.1; values past 2^32-1 are clamped (§20.19).
bool parse_delta_seconds(std::string_view s, std::uint32_t& out) noexcept {
  s = trim_lws(s);
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (v < (std::uint64_t(1) << 40)) v = v * 10 + std::uint64_t(c - '0');
  }
  out = v > std::numeric_limits<std::uint32_t>::max() ? std::numeric_limits<std::uint32_t>::max()
                                                      : std::uint32_t(v);
  return true;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
bool parse_qvalue(std::string_view s, std::uint16_t& milli) noexcept {
  s = trim_lws(s);
  if (s.empty() || (s[0] != '0' && s[0] != '1')) return false;
  unsigned v = unsigned(s[0] - '0') * 1000;
  if (s.size() > 1) {
    if (s[1] != '.' || s.size() > 5) return false;
    unsigned scale = 100;
    for (std::size_t i = 2; i < s.size(); ++i, scale /= 10) {
      if (s[i] < '0' || s[i] > '9') return false;
      v += unsigned(s[i] - '0') * scale;
    }
  }
  if (v > 1000) return false;
  milli = std::uint16_t(v);
  return true;
}

// Contact URIs compare with scheme and host case-insensitive, the rest exact:
// enough to recognise a phone re-registering the same contact.
std::string contact_key(std::string_view uri) {
  std::string k(uri);
  auto colon = k.find(':');
  if (colon == std::string::npos) return k;
  for (std::size_t i = 0; i < colon; ++i) k[i] = ascii_lower(k[i]);
  std::size_t host = k.find('@', colon);
  host = host == std::string::npos ? colon + 1 : host + 1;
  for (std::size_t i = host; i < k.size() && k[i] != ';' && k[i] != '?' && k[i] != ':'; ++i)
    k[i] = ascii_lower(k[i]);
  return k;
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

struct OsipFree {
  void operator()(char* p) const noexcept { osip_free(p); }
};
using OsipStr = std::unique_ptr<char, OsipFree>;

RegisterResult fail(int status, std::string reason) {
  RegisterResult r;
  r.status = status;
  r.reason = std::move(reason);
  return r;
}

}  // namespace

std::string canonical_aor(std::string_view uri) {
  uri = trim_lws(uri);
  if (!uri.empty() && uri.front() == '<') {
    auto gt = uri.find('>');
    if (gt == std::string_view::npos) return {};
    uri = uri.substr(1, gt - 1);
  }
  auto colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) return {};
  std::string scheme = common::ascii_lowered(uri.substr(0, colon));
  if (scheme != "sip" && scheme != "sips" && scheme != "tel") return {};
  std::string_view rest = uri.substr(colon + 1);
  rest = rest.substr(0, rest.find_first_of(";?"));
  std::string_view user, hostport = rest;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    user = rest.substr(0, at);
    user = user.substr(0, user.find(':'));  // drop a password
    hostport = rest.substr(at + 1);
  }
  std::string_view host;
  if (!hostport.empty() && hostport.front() == '[') {
    auto rb = hostport.find(']');
    if (rb == std::string_view::npos) return {};
    host = hostport.substr(0, rb + 1);
  } else {
    host = hostport.substr(0, hostport.find(':'));
  }
  if (host.empty()) return {};
  std::string out = scheme + ":";
  if (!user.empty()) out.append(user).push_back('@');
  out += common::ascii_lowered(host);
  return out;
}

struct Registrar::Impl {
  RegistrarConfig cfg;
  sqlite3* db = nullptr;
  Stmt begin, commit, rollback, del_aor, insert, del_expired;
  std::map<std::string, std::vector<Binding>, std::less<>> cache;
  RegistrarStats stats;

  ~Impl() {
    begin.reset();
    commit.reset();
    rollback.reset();
    del_aor.reset();
    insert.reset();
    del_expired.reset();
    if (db) sqlite3_close(db);
  }

  bool exec(const char* sql, std::string* err) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      if (err) *err = std::string(sql) + ": " + (msg ? msg : sqlite3_errmsg(db));
      sqlite3_free(msg);
      return false;
    }
    return true;
  }

  bool prepare(Stmt& s, const char* sql, std::string* err) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
      if (err) *err = std::string("prepare: ") + sqlite3_errmsg(db);
      return false;
    }
    s.reset(raw);
    return true;
  }

  bool step_done(sqlite3_stmt* s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE;
  }

  // Replaces the stored bindings of one AOR by `bs`, atomically.
  bool persist(const std::string& aor, const std::vector<Binding>& bs) {
    if (!step_done(begin.get())) return false;
    bool ok = true;
    sqlite3_bind_text(del_aor.get(), 1, aor.data(), int(aor.size()), SQLITE_STATIC);
    ok = step_done(del_aor.get());
    for (const auto& b : bs) {
      if (!ok) break;
      auto* s = insert.get();
      sqlite3_bind_text(s, 1, b.aor.data(), int(b.aor.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 2, b.contact.data(), int(b.contact.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 3, b.call_id.data(), int(b.call_id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(s, 4, b.cseq);
      sqlite3_bind_int64(s, 5, b.expires_at);
      sqlite3_bind_int(s, 6, b.q_milli);
      sqlite3_bind_text(s, 7, b.source.data(), int(b.source.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 8, b.user_agent.data(), int(b.user_agent.size()), SQLITE_STATIC);
      ok = step_done(s);
    }
    if (ok && step_done(commit.get())) return true;
    step_done(rollback.get());
    return false;
  }

  bool load(std::int64_t now, std::string* err) {
    Stmt sel;
    if (!prepare(sel,
                 "SELECT aor, contact, call_id, cseq, expires_at, q, source, user_agent "
                 "FROM registrar_bindings WHERE expires_at > ?1",
                 err))
      return false;
    sqlite3_bind_int64(sel.get(), 1, now);
    int rc;
    auto text = [&](int col) {
      auto* p = reinterpret_cast<const char*>(sqlite3_column_text(sel.get(), col));
      return std::string(p ? p : "", std::size_t(sqlite3_column_bytes(sel.get(), col)));
    };
    while ((rc = sqlite3_step(sel.get())) == SQLITE_ROW) {
      Binding b;
      b.aor = text(0);
      b.contact = text(1);
      b.call_id = text(2);
      b.cseq = std::uint32_t(sqlite3_column_int64(sel.get(), 3));
      b.expires_at = sqlite3_column_int64(sel.get(), 4);
      b.q_milli = std::uint16_t(std::clamp(sqlite3_column_int(sel.get(), 5), 0, 1000));
      b.source = text(6);
      b.user_agent = text(7);
      cache[b.aor].push_back(std::move(b));
    }
    if (rc != SQLITE_DONE) {
      if (err) *err = std::string("loading bindings: ") + sqlite3_errmsg(db);
      return false;
    }
    return true;
  }
};

Registrar::Registrar() : impl_(std::make_unique<Impl>()) {}
Registrar::~Registrar() = default;

const RegistrarStats& Registrar::stats() const noexcept { return impl_->stats; }
const RegistrarConfig& Registrar::config() const noexcept { return impl_->cfg; }

void Registrar::set_expiry_bounds(std::uint32_t min_expires, std::uint32_t max_expires) noexcept {
  impl_->cfg.min_expires = min_expires;
  impl_->cfg.max_expires = max_expires;
}

std::unique_ptr<Registrar> Registrar::open(const RegistrarConfig& config, std::string* error,
                                           std::int64_t now) {
  std::unique_ptr<Registrar> r(new Registrar());
  Impl& m = *r->impl_;
  m.cfg = config;
  if (m.cfg.min_expires > m.cfg.max_expires) {
    if (error) *error = "registrar: min_expires is greater than max_expires";
    return nullptr;
  }
  m.cfg.default_expires = std::clamp(m.cfg.default_expires, m.cfg.min_expires, m.cfg.max_expires);
  const std::string path = config.db_path.empty() ? ":memory:" : config.db_path;
  if (sqlite3_open_v2(path.c_str(), &m.db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    if (error) *error = "registrar: cannot open " + path + ": " + sqlite3_errmsg(m.db);
    return nullptr;
  }
  sqlite3_busy_timeout(m.db, 2000);
  std::string err;
  // WAL lets msgwctl read registrations while the control plane writes;
  // synchronous=NORMAL keeps commits off fsync in the signalling path while
  // still surviving a process crash.
  bool ok = (config.db_path.empty() || m.exec("PRAGMA journal_mode=WAL", &err)) &&
            m.exec("PRAGMA synchronous=NORMAL", &err) &&
            m.exec("CREATE TABLE IF NOT EXISTS registrar_bindings("
                   " aor TEXT NOT NULL, contact TEXT NOT NULL, call_id TEXT NOT NULL,"
                   " cseq INTEGER NOT NULL, expires_at INTEGER NOT NULL, q INTEGER NOT NULL,"
                   " source TEXT NOT NULL, user_agent TEXT NOT NULL,"
                   " PRIMARY KEY(aor, contact))",
                   &err) &&
            m.exec("CREATE INDEX IF NOT EXISTS registrar_bindings_expiry"
                   " ON registrar_bindings(expires_at)",
                   &err) &&
            m.prepare(m.begin, "BEGIN IMMEDIATE", &err) && m.prepare(m.commit, "COMMIT", &err) &&
            m.prepare(m.rollback, "ROLLBACK", &err) &&
            m.prepare(m.del_aor, "DELETE FROM registrar_bindings WHERE aor = ?1", &err) &&
            m.prepare(m.insert,
                      "INSERT OR REPLACE INTO registrar_bindings(aor, contact, call_id, cseq, "
                      "expires_at, q, source, user_agent) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                      &err) &&
            m.prepare(m.del_expired, "DELETE FROM registrar_bindings WHERE expires_at <= ?1", &err) &&
            m.load(now, &err);
  if (!ok) {
    if (error) *error = "registrar: " + path + ": " + err;
    return nullptr;
  }
  return r;
}

RegisterResult Registrar::handle(const RegisterRequest& req, std::int64_t now) {
  Impl& m = *impl_;
  ++m.stats.registers;
  auto reject = [&](int status, std::string reason) {
    switch (status) {
      case 400: ++m.stats.rejected_400; break;
      case 403: ++m.stats.rejected_403; break;
      case 423: ++m.stats.rejected_423; break;
      default: ++m.stats.errors_500; break;
    }
    return fail(status, std::move(reason));
  };

  const std::string aor = canonical_aor(req.aor);
  if (aor.empty()) return reject(400, "Invalid To URI");
  if (req.call_id.empty()) return reject(400, "Missing Call-ID");
  if (req.star) {
    if (!req.contacts.empty()) return reject(400, "Contact: * Must Be The Only Contact");
    if (!req.expires_header || *req.expires_header != 0)
      return reject(400, "Contact: * Requires Expires: 0");
  }
  if (req.contacts.size() > m.cfg.max_contacts_per_aor)
    return reject(403, "Too Many Contacts");

  // Requested lifetime per contact; one too-short request rejects them all (§10.3 step 7).
  std::vector<std::uint32_t> lifetimes;
  lifetimes.reserve(req.contacts.size());
  for (const auto& c : req.contacts) {
    if (canonical_aor(c.uri).empty()) return reject(400, "Invalid Contact URI");
    std::uint32_t e = c.expires ? *c.expires
                                : req.expires_header ? *req.expires_header : m.cfg.default_expires;
    if (e != 0 && e < m.cfg.min_expires) {
      RegisterResult r = reject(423, "Interval Too Brief");
      r.min_expires = m.cfg.min_expires;
      return r;
    }
    lifetimes.push_back(std::min(e, m.cfg.max_expires));
  }

  // Work on a copy of the live bindings; the cache changes only after commit.
  std::vector<Binding> cur;
  std::size_t expired = 0;
  if (auto it = m.cache.find(aor); it != m.cache.end()) {
    for (const auto& b : it->second) {
      if (b.expires_at > now) cur.push_back(b);
      else ++expired;
    }
  }
  std::size_t added = 0, refreshed = 0, removed = 0;
  if (req.star) {
    for (const auto& b : cur)
      if (b.call_id == req.call_id && req.cseq <= b.cseq)
        return reject(400, "CSeq Not Higher Than The Binding's");
    removed = cur.size();
    cur.clear();
  }
  for (std::size_t i = 0; i < req.contacts.size(); ++i) {
    const auto& c = req.contacts[i];
    const std::string key = contact_key(c.uri);
    auto it = std::find_if(cur.begin(), cur.end(),
                           [&](const Binding& b) { return contact_key(b.contact) == key; });
    if (it != cur.end()) {
      if (it->call_id == req.call_id && req.cseq <= it->cseq)
        return reject(400, "CSeq Not Higher Than The Binding's");
      if (lifetimes[i] == 0) {
        cur.erase(it);
        ++removed;
        continue;
      }
      ++refreshed;
    } else {
      if (lifetimes[i] == 0) continue;
      cur.emplace_back();
      it = cur.end() - 1;
      ++added;
    }
    it->aor = aor;
    it->contact = c.uri;
    it->call_id = req.call_id;
    it->cseq = req.cseq;
    it->expires_at = now + std::int64_t(lifetimes[i]);
    it->q_milli = c.q_milli.value_or(1000);
    it->source = req.source;
    it->user_agent = req.user_agent;
  }
  if (cur.size() > m.cfg.max_contacts_per_aor) return reject(403, "Too Many Contacts");

  const bool changed = added || refreshed || removed || expired;
  if (changed && !m.persist(aor, cur)) return reject(500, "Registrar Database Error");
  m.stats.bindings_added += added;
  m.stats.bindings_refreshed += refreshed;
  m.stats.bindings_removed += removed;
  m.stats.bindings_expired += expired;
  std::stable_sort(cur.begin(), cur.end(),
                   [](const Binding& a, const Binding& b) { return a.q_milli > b.q_milli; });
  if (cur.empty()) m.cache.erase(aor);
  else m.cache[aor] = cur;
  ++m.stats.ok;
  RegisterResult r;
  r.status = 200;
  r.reason = "OK";
  r.bindings = std::move(cur);
  return r;
}

RegisterResult Registrar::handle(MessageRef msg_ref, std::string_view source,
                                 std::int64_t now) {
  const osip_message_t* msg = msg_ref.get();
  Impl& m = *impl_;
  auto bad = [&](std::string reason) {
    ++m.stats.registers;
    ++m.stats.rejected_400;
    return fail(400, std::move(reason));
  };
  if (msg == nullptr || msg->sip_method == nullptr || std::string_view(msg->sip_method) != "REGISTER")
    return bad("Not A REGISTER Request");
  RegisterRequest req;
  req.source = source;
  if (msg->to == nullptr || msg->to->url == nullptr) return bad("Missing Or Invalid To Header");
  {
    char* s = nullptr;
    if (osip_uri_to_str(msg->to->url, &s) != 0 || s == nullptr) return bad("Invalid To URI");
    OsipStr hold(s);
    req.aor = s;
  }
  if (msg->call_id == nullptr) return bad("Missing Call-ID Header");
  {
    char* s = nullptr;
    if (osip_call_id_to_str(msg->call_id, &s) != 0 || s == nullptr) return bad("Invalid Call-ID");
    OsipStr hold(s);
    req.call_id = s;
  }
  if (msg->cseq == nullptr || msg->cseq->number == nullptr) return bad("Missing CSeq Header");
  {
    std::string_view n = trim_lws(msg->cseq->number);
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
    if (ec != std::errc() || p != n.data() + n.size() || n.empty()) return bad("Invalid CSeq");
    req.cseq = v;
  }
  osip_header_t* exp = nullptr;
  if (osip_message_get_expires(msg, 0, &exp) >= 0 && exp != nullptr) {
    std::uint32_t v = 0;
    if (exp->hvalue == nullptr || !parse_delta_seconds(exp->hvalue, v))
      return bad("Invalid Expires Header");
    req.expires_header = v;
  }
  osip_header_t* ua = nullptr;
  if (osip_message_header_get_byname(msg, "user-agent", 0, &ua) >= 0 && ua && ua->hvalue)
    req.user_agent = std::string(ua->hvalue).substr(0, 256);

  const int n = osip_list_size(&msg->contacts);
  for (int i = 0; i < n; ++i) {
    auto* c = static_cast<osip_contact_t*>(osip_list_get(&msg->contacts, i));
    if (c == nullptr) continue;
    if (c->url == nullptr) {
      if (c->displayname && std::string_view(c->displayname) == "*") {
        req.star = true;
        continue;
      }
      return bad("Invalid Contact Header");
    }
    if (req.contacts.size() >= m.cfg.max_contacts_per_aor + 1) break;  // handle() answers 403
    RegisterRequest::Contact rc;
    char* s = nullptr;
    if (osip_uri_to_str(c->url, &s) != 0 || s == nullptr) return bad("Invalid Contact URI");
    OsipStr hold(s);
    rc.uri = s;
    for (int k = 0; !osip_list_eol(&c->gen_params, k); ++k) {
      auto* p = static_cast<osip_generic_param_t*>(osip_list_get(&c->gen_params, k));
      if (p == nullptr || p->gname == nullptr) continue;
      std::string name = common::ascii_lowered(p->gname);
      if (name == "expires") {
        std::uint32_t v = 0;
        if (p->gvalue == nullptr || !parse_delta_seconds(p->gvalue, v))
          return bad("Invalid Contact expires Parameter");
        rc.expires = v;
      } else if (name == "q") {
        std::uint16_t q = 0;
        if (p->gvalue == nullptr || !parse_qvalue(p->gvalue, q))
          return bad("Invalid Contact q Parameter");
        rc.q_milli = q;
      }
    }
    req.contacts.push_back(std::move(rc));
  }
  return handle(req, now);
}

std::vector<Binding> Registrar::lookup(std::string_view aor, std::int64_t now) const {
  std::vector<Binding> out;
  const std::string key = canonical_aor(aor);
  auto it = impl_->cache.find(key);
  if (it == impl_->cache.end()) return out;
  for (const auto& b : it->second)
    if (b.expires_at > now) out.push_back(b);
  return out;
}

std::vector<Binding> Registrar::all(std::int64_t now) const {
  std::vector<Binding> out;
  for (const auto& [aor, bs] : impl_->cache)
    for (const auto& b : bs)
      if (b.expires_at > now) out.push_back(b);
  return out;
}

std::size_t Registrar::purge_expired(std::int64_t now) {
  Impl& m = *impl_;
  std::size_t n = 0;
  for (auto it = m.cache.begin(); it != m.cache.end();) {
    auto& bs = it->second;
    auto keep = std::remove_if(bs.begin(), bs.end(),
                               [&](const Binding& b) { return b.expires_at <= now; });
    n += std::size_t(bs.end() - keep);
    bs.erase(keep, bs.end());
    it = bs.empty() ? m.cache.erase(it) : std::next(it);
  }
  sqlite3_bind_int64(m.del_expired.get(), 1, now);
  m.step_done(m.del_expired.get());
  m.stats.bindings_expired += n;
  return n;
}

int Registrar::fill_response(Message& resp_msg, const RegisterResult& r, std::int64_t now) {
  osip_message_t* resp = resp_msg.get();
  if (resp == nullptr) return OSIP_BADPARAMETER;
  if (r.status == 423) {
    return osip_message_set_header(resp, "Min-Expires", std::to_string(r.min_expires).c_str());
  }
  if (r.status != 200) return 0;
  for (const auto& b : r.bindings) {
    std::string v = "<" + b.contact + ">;expires=" + std::to_string(b.remaining(now));
    if (b.q_milli != 1000) {
      char q[8];
      std::snprintf(q, sizeof q, "0.%03u", unsigned(b.q_milli));
      v += ";q=";
      v += q;
    }
    int rc = osip_message_set_contact(resp, v.c_str());
    if (rc != 0) return rc;
  }
  return 0;
}

}  // namespace msgw::sip
