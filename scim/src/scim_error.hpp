// The SCIM error a request ends in: HTTP status, RFC 7644 §3.12 scimType and a client-safe
// detail. core::Error is mapped here and nowhere else.
#pragma once

#include "idbridge/core/error.hpp"

#include <boost/system/result.hpp>

#include <string>

namespace idbridge::scim {

struct ScimError {
  int status = 400;
  std::string scim_type;  // "" when RFC 7644 defines none for the status
  std::string detail;
};

template <class T>
using ScimResult = boost::system::result<T, ScimError>;

[[noreturn]] void throw_exception_from_error(const ScimError& error,
                                             const boost::source_location& loc);

ScimError invalid_syntax(std::string detail);
ScimError invalid_value(std::string detail);
ScimError invalid_filter(std::string detail);
ScimError invalid_path(std::string detail);
ScimError no_target(std::string detail);
ScimError mutability(std::string detail);
ScimError not_found(std::string detail);

// The one mapping from a tenant-model rule to status and scimType. The detail names the rule.
ScimError from_core(const core::Error& error);

}  // namespace idbridge::scim
