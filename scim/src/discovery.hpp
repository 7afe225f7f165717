// The discovery endpoints of RFC 7644 §4: ServiceProviderConfig, ResourceTypes and Schemas.
#pragma once

#include "idbridge/scim/service.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace idbridge::scim {

nlohmann::json service_provider_config(const Limits& limits, const std::string& base_url);
nlohmann::json resource_types(const std::string& base_url);
nlohmann::json resource_type(const std::string& name,
                             const std::string& base_url);  // null if unknown
nlohmann::json schemas(const std::string& base_url);
nlohmann::json schema(const std::string& urn, const std::string& base_url);  // null if unknown

}  // namespace idbridge::scim
