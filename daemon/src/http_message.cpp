// Method names, header lookup and the HTTP layer's error body.
#include "http_message.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace idbridge::daemon {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string_view to_string(Method method) {
  switch (method) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::patch: return "PATCH";
    case Method::delete_: return "DELETE";
    case Method::options: return "OPTIONS";
    case Method::other: return "OTHER";
  }
  return "OTHER";
}

Method parse_method(std::string_view text) {
  static constexpr std::pair<std::string_view, Method> kMethods[] = {
      {"GET", Method::get},        {"HEAD", Method::head},   {"POST", Method::post},
      {"PUT", Method::put},        {"PATCH", Method::patch}, {"DELETE", Method::delete_},
      {"OPTIONS", Method::options}};
  for (const auto& [name, method] : kMethods) {
    if (text == name) {
      return method;
    }
  }
  return Method::other;
}

std::optional<std::string_view> find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

Request make_request(Method method, std::string target, HeaderList headers, std::string body) {
  Request request;
  request.method = method;
  const auto question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string::npos) {
    request.query = target.substr(question + 1);
  }
  request.target = std::move(target);
  request.headers = std::move(headers);
  request.body = std::move(body);
  return request;
}

Response json_response(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

Response error_response(int status, std::string_view detail) {
  const nlohmann::json body = {
      {"schemas", {"urn:ietf:params:scim:api:messages:2.0:Error"}},
      {"status", std::to_string(status)},
      {"detail", detail},
  };
  Response response = json_response(status, body.dump());
  // The body is a SCIM Error, so say so: a SCIM client that gets a 413 or 404 from the HTTP
  // layer checks the media type like any other SCIM response.
  response.content_type = "application/scim+json";
  return response;
}

}  // namespace idbridge::daemon
