// Reader settings for a test slapd: bound as its rootdn, the people base, short timeouts. Each
// test file then sets what it is about (page size, attributes, change detection).
#pragma once

#include "idbridge/ldap/reader.hpp"
#include "idbridge/testing/slapd.hpp"

#include <chrono>

namespace idbridge::ldap {

inline ReadSettings root_read_settings(const testing::Slapd& slapd) {
  ReadSettings settings;
  settings.directory = "corp";
  settings.connection.uri = slapd.uri();
  settings.connection.bind = BindMethod::simple;
  settings.connection.bind_dn = slapd.options().root_dn;
  settings.connection.password = Password(slapd.options().root_password);
  settings.connection.network_timeout = std::chrono::seconds(5);
  settings.connection.operation_timeout = std::chrono::seconds(10);
  settings.user_base_dns = {"ou=people,dc=example,dc=com"};
  return settings;
}

}  // namespace idbridge::ldap
