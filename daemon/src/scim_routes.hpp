// SCIM over HTTP: the routes under /scim/v2/tenants/{tenant}/, bearer authentication before any
// handler runs, and the conversion between the daemon's and the SCIM service's messages.
#pragma once

#include "idbridge/config/config.hpp"
#include "idbridge/scim/auth.hpp"
#include "idbridge/scim/service.hpp"
#include "router.hpp"

#include <string>
#include <vector>

namespace idbridge::daemon {

class Logger;

// The credentials of the config with their tokens read and reduced to SHA-256 digests; the
// token values are dropped before this returns. Problems go to `errors`.
std::vector<scim::Credential> load_scim_credentials(const config::Config& config,
                                                    std::vector<config::ConfigError>& errors);

// The JWT issuers of the config with their JWKS files read and parsed. An unreadable or invalid
// file is a config error at the entry's jwks_file key, added to `errors`.
std::vector<scim::JwtIssuer> load_jwt_issuers(const config::Config& config,
                                              std::vector<config::ConfigError>& errors);

// Adds the SCIM routes. URLs in responses start with `public_base_url` when it is set, else
// with the request's Host header and `https` selecting the scheme.
void add_scim_routes(Router& router, scim::Service& service,
                     const scim::BearerAuthenticator& authenticator, bool https,
                     std::string public_base_url, Logger& logger);

// The prefix every tenant's SCIM base URL starts with.
inline constexpr std::string_view scim_tenant_prefix = "/scim/v2/tenants/";

}  // namespace idbridge::daemon
