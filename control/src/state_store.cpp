#include "msgw/control/state_store.hpp"

#include <sqlite3.h>

#include <memory>
#include <stdexcept>

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

constexpr const char* kCdrColumns =
    "call_id, from_uri, to_uri, trunk, direction, start_ms, answer_ms, end_ms, result_code, "
    "end_reason, a_codec, b_codec, a_packets, a_lost, a_jitter_ms, b_packets, b_lost, b_jitter_ms";

CallRecord read_cdr(sqlite3_stmt* s) {
  CallRecord r;
  r.call_id = col_text(s, 0);
  r.from_uri = col_text(s, 1);
  r.to_uri = col_text(s, 2);
  r.trunk = col_text(s, 3);
  r.direction = col_text(s, 4);
  r.start_ms = sqlite3_column_int64(s, 5);
  r.answer_ms = sqlite3_column_int64(s, 6);
  r.end_ms = sqlite3_column_int64(s, 7);
  r.result_code = sqlite3_column_int(s, 8);
  r.end_reason = col_text(s, 9);
  r.a_codec = col_text(s, 10);
  r.b_codec = col_text(s, 11);
  r.a.packets = static_cast<uint64_t>(sqlite3_column_int64(s, 12));
  r.a.lost = static_cast<uint64_t>(sqlite3_column_int64(s, 13));
  r.a.jitter_ms = sqlite3_column_double(s, 14);
  r.b.packets = static_cast<uint64_t>(sqlite3_column_int64(s, 15));
  r.b.lost = static_cast<uint64_t>(sqlite3_column_int64(s, 16));
  r.b.jitter_ms = sqlite3_column_double(s, 17);
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
  exec("CREATE TABLE IF NOT EXISTS cdr ("
       " id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, from_uri TEXT, to_uri TEXT,"
       " trunk TEXT, direction TEXT, start_ms INTEGER, answer_ms INTEGER, end_ms INTEGER,"
       " result_code INTEGER, end_reason TEXT, a_codec TEXT, b_codec TEXT,"
       " a_packets INTEGER, a_lost INTEGER, a_jitter_ms REAL,"
       " b_packets INTEGER, b_lost INTEGER, b_jitter_ms REAL)");
  exec("CREATE INDEX IF NOT EXISTS cdr_call_id ON cdr(call_id)");
  exec("CREATE TABLE IF NOT EXISTS live_call ("
       " call_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_ms INTEGER)");
}

StateStore::~StateStore() {
  std::string ignored;
  end_batch(&ignored);
  for (auto& [sql, st] : statements_) sqlite3_finalize(st);
  sqlite3_close(db_);
}

void StateStore::write_started() {
  if (!batching_ || in_transaction_) return;
  exec("BEGIN");
  in_transaction_ = true;
}

bool StateStore::end_batch(std::string* error) {
  batching_ = false;
  if (!in_transaction_) return true;
  in_transaction_ = false;
  char* err = nullptr;
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, &err) == SQLITE_OK) return true;
  if (error) *error = path_ + ": commit: " + (err ? err : "unknown error");
  sqlite3_free(err);
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return false;
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
  static const std::string sql =
      "INSERT INTO cdr (" + std::string(kCdrColumns) + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  Stmt s(statement(sql));
  bind_text(s.get(), 1, r.call_id);
  bind_text(s.get(), 2, r.from_uri);
  bind_text(s.get(), 3, r.to_uri);
  bind_text(s.get(), 4, r.trunk);
  bind_text(s.get(), 5, r.direction);
  sqlite3_bind_int64(s.get(), 6, r.start_ms);
  sqlite3_bind_int64(s.get(), 7, r.answer_ms);
  sqlite3_bind_int64(s.get(), 8, r.end_ms);
  sqlite3_bind_int(s.get(), 9, r.result_code);
  bind_text(s.get(), 10, r.end_reason);
  bind_text(s.get(), 11, r.a_codec);
  bind_text(s.get(), 12, r.b_codec);
  sqlite3_bind_int64(s.get(), 13, static_cast<int64_t>(r.a.packets));
  sqlite3_bind_int64(s.get(), 14, static_cast<int64_t>(r.a.lost));
  sqlite3_bind_double(s.get(), 15, r.a.jitter_ms);
  sqlite3_bind_int64(s.get(), 16, static_cast<int64_t>(r.b.packets));
  sqlite3_bind_int64(s.get(), 17, static_cast<int64_t>(r.b.lost));
  sqlite3_bind_double(s.get(), 18, r.b.jitter_ms);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(path_ + ": writing CDR: " + sqlite3_errmsg(db_));
}

std::vector<CallRecord> StateStore::cdrs(size_t limit) const {
  static const std::string sql = "SELECT " + std::string(kCdrColumns) + " FROM cdr ORDER BY id DESC LIMIT ?";
  Stmt s(statement(sql));
  sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(limit));
  std::vector<CallRecord> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_cdr(s.get()));
  return out;
}

std::optional<CallRecord> StateStore::cdr(const std::string& call_id) const {
  static const std::string sql =
      "SELECT " + std::string(kCdrColumns) + " FROM cdr WHERE call_id = ? ORDER BY id DESC LIMIT 1";
  Stmt s(statement(sql));
  bind_text(s.get(), 1, call_id);
  if (sqlite3_step(s.get()) == SQLITE_ROW) return read_cdr(s.get());
  return std::nullopt;
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

}  // namespace msgw::control
