// The SCIM 2.0 service (RFC 7643/7644) of one daemon: requests in, responses out, no sockets.
// The daemon's router authenticates, resolves the tenant from the URL and calls handle().
#pragma once

#include "idbridge/core/identity_service.hpp"
#include "idbridge/core/principal.hpp"
#include "idbridge/core/store.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace idbridge::scim {

struct Request {
  std::string method;  // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string path;    // below the tenant's base, e.g. "/Users/2819c223"; "" or "/" for root
  std::string query;   // raw query string without '?', still percent-encoded
  std::string body;
  std::string content_type;
  std::optional<std::string> if_match;
  std::optional<std::string> if_none_match;
  std::string base_url;  // absolute base of the tenant, e.g. https://h/scim/v2/tenants/acme
};

struct Response {
  int status = 200;
  std::string body;  // application/scim+json unless empty
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Limits {
  std::size_t max_results = 1000;   // largest page (ServiceProviderConfig filter.maxResults)
  std::size_t default_count = 100;  // page size when the client gives no count
  std::size_t bulk_max_operations = 1000;
  std::size_t max_payload_bytes = 1024 * 1024;
};

class Service {
 public:
  Service(core::IdentityService& identity, core::Store& store, Limits limits = {});

  Response handle(const core::Principal& who, const core::TenantId& tenant, const Request& request);

 private:
  core::IdentityService& identity_;
  core::Store& store_;
  Limits limits_;
};

// Whether the request (method, path below the tenant, raw query) is a read answered from unique
// indexes alone: GET /Users/{id} and GET /Users?filter=userName eq "...". Such a request reads a
// bounded number of rows (the user, its group ids, their names), so the daemon may run it on an
// I/O thread. False is always safe: the request then runs on the blocking pool.
bool is_indexed_user_read(std::string_view method, std::string_view path, std::string_view query);

// A SCIM Error response (RFC 7644 §3.12); scim_type may be empty.
Response error_response(int status, std::string_view scim_type, std::string_view detail);

}  // namespace idbridge::scim
