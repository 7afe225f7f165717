// The route table: (method, path pattern) -> handler. Matching and invoking are plain
// functions, so routes and handlers are tested without a socket; the session only converts.
#pragma once

#include "http_message.hpp"

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace idbridge::daemon {

class Logger;

using Handler = std::function<Response(const Request&)>;

// Where a handler runs. Anything that may block (store calls, hashing) runs on the blocking
// pool so that I/O threads only ever do I/O.
enum class Execution { io_thread, blocking_pool };

struct Route {
  Method method = Method::get;
  // Literal segments and "{name}" segments that match one non-empty segment, e.g.
  // "/scim/v2/{tenant}/Users/{id}". Matching is exact: no trailing slash, no prefix.
  std::string pattern;
  Handler handler;
  Execution execution = Execution::io_thread;
  // For a blocking_pool route: true for requests this handler answers with a few indexed reads
  // and no wait on the writer (docs/design/store.md, "Reads on the I/O threads"). Those run on
  // the I/O thread, saving the two thread handoffs that cost more than the read itself.
  std::function<bool(const Request&)> inline_when = nullptr;
};

struct RouteFound {
  const Route* route;
  std::map<std::string, std::string> params;
};
struct RouteNotFound {};
struct MethodNotAllowed {
  std::string allow;  // the value of the Allow header: "GET, POST"
};
using RouteMatch = std::variant<RouteFound, RouteNotFound, MethodNotAllowed>;

class Router {
 public:
  Router() = default;
  explicit Router(std::vector<Route> routes);

  void add(Route route);
  const std::vector<Route>& routes() const { return routes_; }

  RouteMatch match(Method method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
  // Each route's pattern split into segments once, at add(), rather than on every request.
  std::vector<std::vector<std::string>> pattern_segments_;
};

// 404 / 405 with Allow for a failed match.
Response not_routed_response(const RouteMatch& match);

// Runs the handler; any exception becomes a 500 with a generic body, logged with the route.
Response invoke_handler(const Route& route, const Request& request, Logger& logger);

}  // namespace idbridge::daemon
