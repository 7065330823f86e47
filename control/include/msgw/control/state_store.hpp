// SPDX-License-Identifier: GPL-3.0-or-later
// Durable call records and live call state in SQLite (WAL).
//
// WAL with synchronous=NORMAL survives a kill -9 of msgw-control (the
// process, not the host, dies: committed transactions are in the WAL file),
// which is the failure the control plane must ride out: a restarted process
// reads the live calls back and can still end them with BYE on both legs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "msgw/control/nonce_keys.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace msgw::control {

struct LegMediaStats {
  uint64_t packets = 0;
  uint64_t lost = 0;
  double jitter_ms = 0;
};

struct CallRecord {
  std::string call_id;       // A-leg Call-ID
  std::string from_uri;
  std::string to_uri;
  std::string trunk;         // empty for inbound calls to a subscriber
  std::string direction;     // "outbound" | "inbound"
  int64_t start_ms = 0;      // wall clock, ms since the epoch
  int64_t answer_ms = 0;     // 0: never answered
  int64_t end_ms = 0;
  int result_code = 0;       // final SIP status the A leg saw (200 for answered calls)
  std::string end_reason;    // "caller BYE", "callee BYE", "media timeout", "CANCEL", ...
  std::string a_codec, b_codec;
  LegMediaStats a, b;
};

// X(column, json_name, kind, member): each CDR field once, for the table's
// columns, the INSERT and SELECT, and `msgwctl show cdrs` (kind: text,
// integer, real). `member` is the CallRecord field (a.packets for a leg's).
#define MSGW_CDR_FIELDS(X)                             \
  X(call_id, "call", text, call_id)                    \
  X(from_uri, "from", text, from_uri)                  \
  X(to_uri, "to", text, to_uri)                        \
  X(trunk, "trunk", text, trunk)                       \
  X(direction, "direction", text, direction)           \
  X(start_ms, "start_ms", integer, start_ms)           \
  X(answer_ms, "answer_ms", integer, answer_ms)        \
  X(end_ms, "end_ms", integer, end_ms)                 \
  X(result_code, "result", integer, result_code)       \
  X(end_reason, "end_reason", text, end_reason)        \
  X(a_codec, "a_codec", text, a_codec)                 \
  X(b_codec, "b_codec", text, b_codec)                 \
  X(a_packets, "a_packets", integer, a.packets)        \
  X(a_lost, "a_lost", integer, a.lost)                 \
  X(a_jitter_ms, "a_jitter_ms", real, a.jitter_ms)     \
  X(b_packets, "b_packets", integer, b.packets)        \
  X(b_lost, "b_lost", integer, b.lost)                 \
  X(b_jitter_ms, "b_jitter_ms", real, b.jitter_ms)

// A CDR as `msgwctl show cdrs` prints it.
nlohmann::json cdr_json(const CallRecord& r);

class StateStore {
 public:
  // Opens (creating if needed) the database; throws std::runtime_error with
  // the path and SQLite's message when it cannot.
  explicit StateStore(const std::string& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  void write_cdr(const CallRecord& r);
  // Newest first; only those that started at or after since_ms (wall clock).
  std::vector<CallRecord> cdrs(size_t limit = 1000, int64_t since_ms = 0) const;
  std::optional<CallRecord> cdr(const std::string& call_id) const;

  // Live call state: an opaque JSON document per call, replaced on every
  // state change and deleted when the call ends.
  void put_live(const std::string& call_id, const std::string& json);
  void delete_live(const std::string& call_id);
  std::vector<std::pair<std::string, std::string>> live() const;

  // The digest nonce keys (nonce_keys.hpp): none before the first start.
  // Written at once (outside any batch's transaction when none is open).
  std::optional<NonceKeys> nonce_keys() const;
  void put_nonce_keys(const NonceKeys& keys);

  // Writes between begin_batch() and end_batch() share one SQLite transaction
  // (opened at the first write).  The event loop brackets each pass with
  // them: a call's answer, CDR and live-state delete cost one WAL commit per
  // pass instead of one each.  end_batch() never throws: a failed commit is
  // rolled back and reported in *error (false returned).
  void begin_batch() { batching_ = true; }
  bool end_batch(std::string* error = nullptr);

  // Group commit across passes.  Under load the loop makes thousands of
  // short passes a second and a COMMIT per pass (writing the same few WAL
  // pages again each time) was ~4 % of msgw-control's CPU at 700 calls/s.
  // end_pass() leaves the transaction open until it is `delay` old, so what
  // a kill -9 can lose is bounded by `delay` (the loop wakes for it:
  // next_commit_ms()); end_batch() still commits at once, which the loop
  // does before it serves a management request, so an operator (or a test)
  // never sees state that is not on disk yet.  now: the loop's steady clock.
  using Clock = std::chrono::steady_clock;
  bool end_pass(Clock::time_point now, Clock::duration delay, std::string* error = nullptr);
  // Milliseconds until an open transaction is due (rounded up; 0 when due),
  // -1 when none is open.
  int next_commit_ms(Clock::time_point now, Clock::duration delay) const;

 private:
  void exec(const char* sql);
  // Prepared once and kept (SQLITE_PREPARE_PERSISTENT); parsing the SQL on
  // every write was half the cost of persisting a call.
  sqlite3_stmt* statement(const std::string& sql) const;
  void write_started();
  sqlite3* db_ = nullptr;
  std::string path_;
  mutable std::unordered_map<std::string, sqlite3_stmt*> statements_;
  bool batching_ = false;
  bool in_transaction_ = false;
  // End of the pass that opened the transaction (the loop's clock); unset until then.
  std::optional<Clock::time_point> opened_at_;
};

}  // namespace msgw::control
