// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/control/state_store.hpp"

#include <sqlite3.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <type_traits>

namespace msgw::control {

namespace {
// A cached statement in use: reset and unbound when the scope ends, so the
// next user finds it fresh whatever path this one left by.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
std::string col_text(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

void bind_field(sqlite3_stmt* s, int i, const std::string& v) { bind_text(s, i, v); }
template <typename T>
  requires std::is_integral_v<T>
void bind_field(sqlite3_stmt* s, int i, T v) { sqlite3_bind_int64(s, i, static_cast<int64_t>(v)); }
void bind_field(sqlite3_stmt* s, int i, double v) { sqlite3_bind_double(s, i, v); }

void read_field(sqlite3_stmt* s, int i, std::string& v) { v = col_text(s, i); }
template <typename T>
  requires std::is_integral_v<T>
void read_field(sqlite3_stmt* s, int i, T& v) { v = static_cast<T>(sqlite3_column_int64(s, i)); }
void read_field(sqlite3_stmt* s, int i, double& v) { v = sqlite3_column_double(s, i); }

constexpr const char* sql_type(std::string_view kind) {
  return kind == "text" ? "TEXT" : kind == "integer" ? "INTEGER" : "REAL";
}

// "call_id, from_uri, ..." and "call_id TEXT, from_uri TEXT, ...".
std::string cdr_columns(bool with_types) {
  std::string out;
#define MSGW_X(column, json, kind, member)               \
  if (!out.empty()) out += ", ";                         \
  out += #column;                                        \
  if (with_types) (out += ' ') += sql_type(#kind);
  MSGW_CDR_FIELDS(MSGW_X)
#undef MSGW_X
  return out;
}

constexpr int kCdrFieldCount = 0
#define MSGW_X(column, json, kind, member) +1
    MSGW_CDR_FIELDS(MSGW_X)
#undef MSGW_X
    ;

CallRecord read_cdr(sqlite3_stmt* s) {
  CallRecord r;
  int i = 0;
#define MSGW_X(column, json, kind, member) read_field(s, i++, r.member);
  MSGW_CDR_FIELDS(MSGW_X)
#undef MSGW_X
  return r;
}
}  // namespace

StateStore::StateStore(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 2000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec(("CREATE TABLE IF NOT EXISTS cdr (id INTEGER PRIMARY KEY AUTOINCREMENT, " + cdr_columns(true) + ")").c_str());
  exec("CREATE INDEX IF NOT EXISTS cdr_call_id ON cdr(call_id)");
  exec("CREATE TABLE IF NOT EXISTS nonce_key (slot INTEGER PRIMARY KEY CHECK (slot = 1),"
       " current BLOB NOT NULL, previous BLOB, previous_grace_until_s INTEGER NOT NULL)");
  exec("CREATE TABLE IF NOT EXISTS live_call ("
       " call_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_ms INTEGER)");
}

StateStore::~StateStore() {
  std::string ignored;
  end_batch(&ignored);
  for (auto& [sql, st] : statements_) sqlite3_finalize(st);
  sqlite3_close(db_);
}

// BEGIN and COMMIT run once per pass that wrote anything: prepared once like
// every other statement (sqlite3_exec parsed them each time, ~1 % of
// msgw-control's CPU at 700 calls/s).
void StateStore::write_started() {
  if (!batching_ || in_transaction_) return;
  Stmt begin(statement("BEGIN"));
  if (sqlite3_step(begin.get()) != SQLITE_DONE) throw std::runtime_error(path_ + ": BEGIN: " + sqlite3_errmsg(db_));
  in_transaction_ = true;
  opened_at_.reset();  // the end of this pass dates it (end_pass: the loop's clock)
}

bool StateStore::end_batch(std::string* error) {
  batching_ = false;
  if (!in_transaction_) return true;
  in_transaction_ = false;
  {
    Stmt commit(statement("COMMIT"));
    if (sqlite3_step(commit.get()) == SQLITE_DONE) return true;
    if (error) *error = path_ + ": commit: " + sqlite3_errmsg(db_);
  }
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return false;
}

bool StateStore::end_pass(Clock::time_point now, Clock::duration delay, std::string* error) {
  if (in_transaction_ && !opened_at_) opened_at_ = now;
  if (in_transaction_ && now - *opened_at_ < delay) return true;  // joins the next passes' writes
  return end_batch(error);
}

int StateStore::next_commit_ms(Clock::time_point now, Clock::duration delay) const {
  if (!in_transaction_) return -1;
  if (!opened_at_) return 0;  // opened outside a pass: commit at the next
  const auto left = *opened_at_ + delay - now;
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

void StateStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error(path_ + ": " + msg);
  }
}

sqlite3_stmt* StateStore::statement(const std::string& sql) const {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_));
  statements_.emplace(sql, s);
  return s;
}

void StateStore::write_cdr(const CallRecord& r) {
  write_started();
  static const std::string sql = [] {
    std::string q = "INSERT INTO cdr (" + cdr_columns(false) + ") VALUES (";
    for (int i = 0; i < kCdrFieldCount; ++i) q += i ? ",?" : "?";
    return q + ")";
  }();
  Stmt s(statement(sql));
  int i = 1;
#define MSGW_X(column, json, kind, member) bind_field(s.get(), i++, r.member);
  MSGW_CDR_FIELDS(MSGW_X)
#undef MSGW_X
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(path_ + ": writing CDR: " + sqlite3_errmsg(db_));
}

std::vector<CallRecord> StateStore::cdrs(size_t limit, int64_t since_ms) const {
  static const std::string sql =
      "SELECT " + cdr_columns(false) + " FROM cdr WHERE start_ms >= ? ORDER BY id DESC LIMIT ?";
  Stmt s(statement(sql));
  sqlite3_bind_int64(s.get(), 1, since_ms);
  sqlite3_bind_int64(s.get(), 2, static_cast<int64_t>(limit));
  std::vector<CallRecord> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_cdr(s.get()));
  return out;
}

std::optional<CallRecord> StateStore::cdr(const std::string& call_id) const {
  static const std::string sql =
      "SELECT " + cdr_columns(false) + " FROM cdr WHERE call_id = ? ORDER BY id DESC LIMIT 1";
  Stmt s(statement(sql));
  bind_text(s.get(), 1, call_id);
  if (sqlite3_step(s.get()) == SQLITE_ROW) return read_cdr(s.get());
  return std::nullopt;
}

std::optional<NonceKeys> StateStore::nonce_keys() const {
  Stmt s(statement("SELECT current, previous, previous_grace_until_s FROM nonce_key WHERE slot = 1"));
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  auto blob = [&](int col) -> std::optional<NonceKey> {
    NonceKey k{};
    if (sqlite3_column_type(s.get(), col) != SQLITE_BLOB || sqlite3_column_bytes(s.get(), col) != int(k.size()))
      return std::nullopt;
    std::memcpy(k.data(), sqlite3_column_blob(s.get(), col), k.size());
    return k;
  };
  auto current = blob(0);
  if (!current) throw std::runtime_error(path_ + ": nonce_key.current is not a 32-byte key");
  return NonceKeys{*current, blob(1), sqlite3_column_int64(s.get(), 2)};
}

void StateStore::put_nonce_keys(const NonceKeys& keys) {
  write_started();
  Stmt s(statement("INSERT INTO nonce_key (slot, current, previous, previous_grace_until_s) VALUES (1, ?, ?, ?) "
                   "ON CONFLICT(slot) DO UPDATE SET current = excluded.current, previous = excluded.previous, "
                   "previous_grace_until_s = excluded.previous_grace_until_s"));
  sqlite3_bind_blob(s.get(), 1, keys.current.data(), int(keys.current.size()), SQLITE_TRANSIENT);
  if (keys.previous) sqlite3_bind_blob(s.get(), 2, keys.previous->data(), int(keys.previous->size()), SQLITE_TRANSIENT);
  else sqlite3_bind_null(s.get(), 2);
  sqlite3_bind_int64(s.get(), 3, keys.previous_grace_until_s);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(path_ + ": writing the nonce key: " + sqlite3_errmsg(db_));
}

void StateStore::put_live(const std::string& call_id, const std::string& json) {
  write_started();
  Stmt s(statement("INSERT INTO live_call (call_id, state, updated_ms) VALUES (?, ?, "
                 "CAST(strftime('%s','now') AS INTEGER) * 1000) "
                 "ON CONFLICT(call_id) DO UPDATE SET state = excluded.state, "
                 "updated_ms = excluded.updated_ms"));
  bind_text(s.get(), 1, call_id);
  bind_text(s.get(), 2, json);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(path_ + ": writing call state: " + sqlite3_errmsg(db_));
}

void StateStore::delete_live(const std::string& call_id) {
  write_started();
  Stmt s(statement("DELETE FROM live_call WHERE call_id = ?"));
  bind_text(s.get(), 1, call_id);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(path_ + ": deleting call state: " + sqlite3_errmsg(db_));
}

std::vector<std::pair<std::string, std::string>> StateStore::live() const {
  Stmt s(statement("SELECT call_id, state FROM live_call ORDER BY call_id"));
  std::vector<std::pair<std::string, std::string>> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.emplace_back(col_text(s.get(), 0), col_text(s.get(), 1));
  return out;
}

nlohmann::json cdr_json(const CallRecord& r) {
  nlohmann::json j = nlohmann::json::object();
#define MSGW_X(column, json, kind, member) j[json] = r.member;
  MSGW_CDR_FIELDS(MSGW_X)
#undef MSGW_X
  return j;
}

}  // namespace msgw::control
