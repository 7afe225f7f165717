// SCIM routes: authenticate, resolve the tenant from the URL, call the protocol-neutral service.
#include "scim_routes.hpp"

#include "idbridge/crypto/crypto.hpp"
#include "logger.hpp"

#include <fstream>
#include <sstream>

namespace idbridge::daemon {
namespace {

constexpr std::string_view scim_content_type = "application/scim+json";

Response to_http(scim::Response in) {
  Response out;
  out.status = in.status;
  out.content_type = std::string(scim_content_type);
  out.body = std::move(in.body);
  for (auto& header : in.headers) {
    out.headers.emplace_back(std::move(header.first), std::move(header.second));
  }
  return out;
}

Response unauthorized(std::string_view detail) {
  Response response = to_http(scim::error_response(401, "", detail));
  // RFC 6750 §3: tell the client which scheme to use.
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"idbridge\"");
  return response;
}

std::string optional_header(const Request& request, std::string_view name) {
  const auto value = request.header(name);
  return value ? std::string(*value) : std::string();
}

// Where response URLs point: the configured public base URL, else the Host header.
struct UrlOrigin {
  bool https = false;
  std::string public_base_url;
};

Response handle_scim(const Request& request, scim::Service& service,
                     const scim::BearerAuthenticator& authenticator, const UrlOrigin& origin,
                     Logger& logger) {
  const auto auth = authenticator.authenticate(optional_header(request, "Authorization"));
  if (auth.outcome != scim::AuthOutcome::ok) {
    const bool missing = auth.outcome == scim::AuthOutcome::missing;
    const std::string reason = missing                                        ? "missing"
                               : auth.outcome == scim::AuthOutcome::malformed ? "malformed"
                               : auth.reason.empty()                          ? "invalid token"
                                                                              : auth.reason;
    logger.info("scim authentication failed",
                {{"path", request.path}, {"reason", reason}, {"remote", request.remote_address}});
    if (!auth.detail.empty()) {
      return unauthorized("the bearer token is not valid: " + auth.detail);
    }
    return unauthorized(missing ? "a bearer token is required" : "the bearer token is not valid");
  }
  const core::TenantId tenant(request.path_params.at("tenant"));
  const std::string base = std::string(scim_tenant_prefix) + tenant.str();
  scim::Request scim_request;
  scim_request.method = std::string(to_string(request.method));
  scim_request.path = request.path.substr(base.size());
  scim_request.query = request.query;
  scim_request.body = request.body;
  scim_request.content_type = optional_header(request, "Content-Type");
  if (const auto value = request.header("If-Match")) {
    scim_request.if_match = std::string(*value);
  }
  if (const auto value = request.header("If-None-Match")) {
    scim_request.if_none_match = std::string(*value);
  }
  if (!origin.public_base_url.empty()) {
    scim_request.base_url = origin.public_base_url + base;
  } else {
    const std::string host = optional_header(request, "Host");
    scim_request.base_url = std::string(origin.https ? "https://" : "http://") +
                            (host.empty() ? "localhost" : host) + base;
  }
  return to_http(service.handle(*auth.principal, tenant, scim_request));
}

}  // namespace

std::vector<scim::Credential> load_scim_credentials(const config::Config& config,
                                                    std::vector<config::ConfigError>& errors) {
  std::vector<scim::Credential> credentials;
  const auto add = [&](const config::CredentialConfig& credential,
                       std::optional<core::TenantId> tenant) {
    auto secret = config::resolve_secret(credential.token);
    if (!secret.value) {
      errors.push_back({credential.where.file, credential.where.line, credential.where.column,
                        credential.token.key_path, secret.error});
      return;
    }
    credentials.push_back({credential.name, crypto::sha256_hex(*secret.value),
                           credential.role_ceiling, credential.read_only, std::move(tenant)});
  };
  for (const auto& credential : config.provider_credentials) {
    add(credential, std::nullopt);
  }
  for (const auto& tenant : config.tenants) {
    for (const auto& credential : tenant.credentials) {
      add(credential, tenant.settings.id);
    }
  }
  return credentials;
}

std::vector<scim::JwtIssuer> load_jwt_issuers(const config::Config& config,
                                              std::vector<config::ConfigError>& errors) {
  std::vector<scim::JwtIssuer> issuers;
  const auto add = [&](const config::JwtIssuerConfig& entry, std::optional<core::TenantId> tenant) {
    const auto fail = [&](const std::string& message) {
      errors.push_back({entry.jwks_where.file, entry.jwks_where.line, entry.jwks_where.column,
                        entry.jwks_key_path, message});
    };
    std::ifstream in(entry.jwks_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      fail("cannot read JWKS file " + entry.jwks_file);
      return;
    }
    auto parsed = scim::JwkSet::parse(text.str());
    if (!parsed.keys) {
      fail("JWKS file " + entry.jwks_file + ": " + parsed.error);
      return;
    }
    scim::JwtIssuer issuer;
    issuer.name = entry.name;
    issuer.issuer = entry.issuer;
    issuer.audience = entry.audience;
    issuer.algorithms.clear();
    for (const auto& name : entry.algorithms) {
      // The config loader accepts only names parse_jwt_algorithm knows.
      if (const auto algorithm = scim::parse_jwt_algorithm(name)) {
        issuer.algorithms.push_back(*algorithm);
      }
    }
    issuer.keys = std::move(*parsed.keys);
    issuer.role_ceiling = entry.role_ceiling;
    issuer.read_only = entry.read_only;
    issuer.tenant = std::move(tenant);
    issuer.clock_skew = entry.clock_skew;
    issuers.push_back(std::move(issuer));
  };
  for (const auto& entry : config.provider_jwt_issuers) {
    add(entry, std::nullopt);
  }
  for (const auto& tenant : config.tenants) {
    for (const auto& entry : tenant.jwt_issuers) {
      add(entry, tenant.settings.id);
    }
  }
  return issuers;
}

void add_scim_routes(Router& router, scim::Service& service,
                     const scim::BearerAuthenticator& authenticator, bool https,
                     std::string public_base_url, Logger& logger) {
  const auto handler = [&service, &authenticator,
                        origin = UrlOrigin{https, std::move(public_base_url)},
                        &logger](const Request& request) {
    return handle_scim(request, service, authenticator, origin, logger);
  };
  // The SCIM service routes below the tenant itself (and answers 404/405 as SCIM errors), so the
  // table only needs the shapes of its paths.
  const auto indexed_read = [](const Request& request) {
    const auto tenant = request.path_params.find("tenant");
    if (tenant == request.path_params.end()) {
      return false;
    }
    const std::size_t base = scim_tenant_prefix.size() + tenant->second.size();
    return scim::is_indexed_user_read(to_string(request.method), request.path.substr(base),
                                      request.query);
  };
  for (const std::string suffix : {"/{a}", "/{a}/{b}"}) {
    for (const Method method :
         {Method::get, Method::post, Method::put, Method::patch, Method::delete_}) {
      Route route{method, std::string(scim_tenant_prefix) + "{tenant}" + suffix, handler,
                  Execution::blocking_pool};
      if (method == Method::get) {
        route.inline_when = indexed_read;
      }
      router.add(std::move(route));
    }
  }
}

}  // namespace idbridge::daemon
