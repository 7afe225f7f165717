// Logger: JSON-lines encoding with nlohmann, UTC timestamps with milliseconds.
#include "logger.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace idbridge::daemon {
namespace {

// RFC 3339 UTC with milliseconds; GCC 12 has no <format>.
std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto since_epoch = now.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buffer;
}

}  // namespace

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "unknown";
}

Logger::Logger(LogLevel min_level, std::ostream* out)
    : min_level_(min_level), out_(out != nullptr ? out : &std::cerr) {}

void Logger::log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!enabled(level)) {
    return;
  }
  nlohmann::ordered_json line;
  line["ts"] = utc_timestamp();
  line["level"] = to_string(level);
  line["msg"] = msg;
  for (const auto& field : fields) {
    // Reserved keys stay what they are: a field can never forge the level or the message.
    if (field.key == "ts" || field.key == "level" || field.key == "msg") {
      continue;
    }
    std::visit([&](const auto& v) { line[field.key] = v; }, field.value);
  }
  // Invalid UTF-8 (e.g. a client-sent path) is replaced rather than throwing mid-request.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  const std::lock_guard lock(mutex_);
  out_->write(text.data(), static_cast<std::streamsize>(text.size()));
  out_->flush();
}

}  // namespace idbridge::daemon
