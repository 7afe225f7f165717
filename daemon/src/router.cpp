// Route matching by path segments, and the exception barrier around handlers.
#include "router.hpp"

#include "logger.hpp"

#include <algorithm>
#include <exception>

namespace idbridge::daemon {
namespace {

// Splits "/a/b/c" into {"a","b","c"}; "/" is {}. Empty segments are kept ("/a//b" has three), so
// a pattern never matches a path with doubled or trailing slashes.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path.front() != '/') {
    segments.emplace_back(path);  // never matches a pattern, which always starts with '/'
    segments.emplace_back();
    return segments;
  }
  path.remove_prefix(1);
  if (path.empty()) {
    return segments;
  }
  std::size_t start = 0;
  while (true) {
    const auto slash = path.find('/', start);
    segments.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return segments;
}

bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Whether `path` matches the pattern's segments; the parameters are filled in only for a match.
bool match_pattern(const std::vector<std::string>& expected,
                   const std::vector<std::string_view>& path,
                   std::map<std::string, std::string>* params) {
  if (expected.size() != path.size()) {
    return false;
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (is_parameter(expected[i]) ? path[i].empty() : expected[i] != path[i]) {
      return false;
    }
  }
  if (params != nullptr) {
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (is_parameter(expected[i])) {
        (*params)[expected[i].substr(1, expected[i].size() - 2)] = path[i];
      }
    }
  }
  return true;
}

}  // namespace

Router::Router(std::vector<Route> routes) {
  for (auto& route : routes) {
    add(std::move(route));
  }
}

void Router::add(Route route) {
  std::vector<std::string> segments;
  for (const auto segment : split_path(route.pattern)) {
    segments.emplace_back(segment);
  }
  pattern_segments_.push_back(std::move(segments));
  routes_.push_back(std::move(route));
}

RouteMatch Router::match(Method method, std::string_view path) const {
  const auto segments = split_path(path);
  std::vector<Method> allowed;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const Route& route = routes_[i];
    if (route.method == method) {
      std::map<std::string, std::string> params;
      if (match_pattern(pattern_segments_[i], segments, &params)) {
        return RouteFound{&route, std::move(params)};
      }
    } else if (match_pattern(pattern_segments_[i], segments, nullptr)) {
      allowed.push_back(route.method);
    }
  }
  if (allowed.empty()) {
    return RouteNotFound{};
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  std::string allow;
  for (const auto m : allowed) {
    if (!allow.empty()) {
      allow += ", ";
    }
    allow += to_string(m);
  }
  return MethodNotAllowed{std::move(allow)};
}

Response not_routed_response(const RouteMatch& match) {
  if (const auto* not_allowed = std::get_if<MethodNotAllowed>(&match)) {
    auto response = error_response(405, "method not allowed");
    response.headers.emplace_back("Allow", not_allowed->allow);
    return response;
  }
  return error_response(404, "not found");
}

Response invoke_handler(const Route& route, const Request& request, Logger& logger) {
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    // The exception text may name internals (SQL, paths): the log gets it, the client does not.
    logger.error(
        "handler failed",
        {{"method", to_string(request.method)}, {"route", route.pattern}, {"error", e.what()}});
  } catch (...) {
    logger.error("handler failed",
                 {{"method", to_string(request.method)}, {"route", route.pattern}});
  }
  return error_response(500, "internal server error");
}

}  // namespace idbridge::daemon
