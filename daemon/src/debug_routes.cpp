// The integration tests' debug routes.
#include "debug_routes.hpp"

#include "logger.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace idbridge::daemon {
namespace {

long query_milliseconds(std::string_view query) {
  long ms = 1000;
  const auto at = query.find("ms=");
  if (at != std::string_view::npos) {
    const auto digits = query.substr(at + 3);
    std::from_chars(digits.data(), digits.data() + digits.size(), ms);
  }
  return std::clamp(ms, 0L, 30000L);
}

Response handle_slow(const Request& request, Logger& logger) {
  const long ms = query_milliseconds(request.query);
  logger.info("slow request started", {{"ms", ms}});
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return json_response(200, R"({"slept_ms":)" + std::to_string(ms) + "}");
}

Response handle_fail(const Request& /*request*/) {
  throw std::runtime_error("deliberate failure with internal detail /var/lib/secret.db");
}

}  // namespace

void add_debug_routes(Router& router, Logger& logger) {
  router.add({Method::get, "/debug/slow",
              [&logger](const Request& request) { return handle_slow(request, logger); },
              Execution::blocking_pool});
  router.add({Method::get, "/debug/fail", handle_fail, Execution::blocking_pool});
}

}  // namespace idbridge::daemon
