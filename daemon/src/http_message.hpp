// Protocol-level request and response values that handlers see. Plain std types, so Beast stays
// inside the session code and handlers are testable without a socket.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace idbridge::daemon {

enum class Method { get, head, post, put, patch, delete_, options, other };

std::string_view to_string(Method method);
// "GET" -> Method::get; anything unknown -> Method::other. Methods are case-sensitive (RFC 9110).
Method parse_method(std::string_view text);

// Header names compare case-insensitively; the first match wins.
using HeaderList = std::vector<std::pair<std::string, std::string>>;
std::optional<std::string_view> find_header(const HeaderList& headers, std::string_view name);

struct Request {
  Method method = Method::get;
  std::string target;  // as received: path and query
  std::string path;    // target up to '?'
  std::string query;   // after '?', still percent-encoded
  HeaderList headers;
  std::string body;
  std::map<std::string, std::string> path_params;  // filled by the router from {name} segments
  std::string remote_address;

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

// Splits `target` into path and query and fills the other fields.
Request make_request(Method method, std::string target, HeaderList headers, std::string body);

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  HeaderList headers;  // besides Content-Type and Content-Length, which the session sets
  std::string body;
  bool close = false;  // close the connection after this response

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

Response json_response(int status, std::string body);

// The one shape of every error the HTTP layer produces itself (404, 405, 413, 500, ...): the
// SCIM Error message, so a SCIM client parsing any error body never meets another format.
// `detail` is client text: never internals.
Response error_response(int status, std::string_view detail);

}  // namespace idbridge::daemon
