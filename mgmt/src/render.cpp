// SPDX-License-Identifier: GPL-3.0-or-later
// Text and JSON output of msgwctl for an answer.
#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "msgw/mgmt/client.hpp"

namespace msgw::mgmt {

namespace {

std::string cell(const nlohmann::json& v) {
  if (v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& e) { return e.is_string(); })) {
    std::string out;  // a list of names: "a, b" ("-" when empty)
    for (const auto& e : v) out += (out.empty() ? "" : ", ") + e.get<std::string>();
    return out.empty() ? "-" : out;
  }
  return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
}

}  // namespace

// Rows of objects as an aligned table, columns in the order of the first row.
void print_rows_table(const nlohmann::json& rows, std::ostream& out) {
  if (rows.empty()) {
    out << "(none)\n";
    return;
  }
  std::vector<std::string> cols;
  for (const auto& [k, v] : rows[0].items()) cols.push_back(k);
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> width(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) width[c] = cols[c].size();
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (size_t c = 0; c < cols.size(); ++c) {
      line.push_back(r.contains(cols[c]) ? cell(r[cols[c]]) : "");
      width[c] = std::max(width[c], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  auto print_line = [&](const std::vector<std::string>& line) {
    for (size_t c = 0; c < cols.size(); ++c)
      out << (c ? "  " : "") << line[c] << std::string(width[c] - line[c].size(), ' ');
    out << "\n";
  };
  print_line(cols);
  for (const auto& line : cells) print_line(line);
}

void print_answer(const Verb& verb, const nlohmann::json& reply, bool json, std::ostream& out) {
  if (json) {
    out << reply.value("data", nlohmann::json::object()).dump() << "\n";
    return;
  }
  if (!reply.contains("data")) {
    out << "ok\n";
    return;
  }
  const nlohmann::json& data = reply["data"];
  if (verb.shape == Shape::object && data.is_object()) {
    for (const auto& [k, v] : data.items()) out << k << ": " << cell(v) << "\n";
  } else if (verb.shape == Shape::rows && data.is_array() &&
             std::all_of(data.begin(), data.end(), [](const auto& r) { return r.is_object(); })) {
    print_rows_table(data, out);
  } else {  // not what the table promises (another version of the daemon?): show it as it came
    out << data.dump() << "\n";
  }
}

}  // namespace msgw::mgmt
