// evictctl's human output: tables and explanations from the status API's messages. Pure (no I/O)
// so that the tests can check what an operator reads.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "status.pb.h"

namespace evictd::evictctl {

// Columns padded to their widest cell, two spaces apart.
std::string table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows);

std::string human_bytes(int64_t bytes);
std::string human_quantity(int64_t value, const std::string& unit);
// "12.5%": `part` of `whole`.
std::string share_text(int64_t part, int64_t whole);
std::string human_time(const google::protobuf::Timestamp& time);
std::string human_age(const google::protobuf::Timestamp& time,
                      std::chrono::system_clock::time_point now);

std::string format_status(const v1::NodeStatus& status, std::chrono::system_clock::time_point now);
std::string format_pods(const v1::ListPodsResponse& pods);
std::string format_explain(const v1::ExplainResponse& explanation);
std::string format_evictions(const v1::ListEvictionsResponse& evictions);
std::string format_event(const v1::Event& event);

// "30s", "10m", "2h", "7d" before now, or an RFC 3339 time.
std::optional<std::chrono::system_clock::time_point> parse_since(
    const std::string& text, std::chrono::system_clock::time_point now);

}  // namespace evictd::evictctl
