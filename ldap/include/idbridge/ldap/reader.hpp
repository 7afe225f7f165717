// The directory reader: one full read of a directory's users into a core::sync::Snapshot, with
// the completeness proof the planner needs before any disable or delete. Blocking (see
// client.hpp): run it off the daemon's I/O threads.
#pragma once

#include "idbridge/core/sync/mapping.hpp"
#include "idbridge/ldap/client.hpp"

#include <string>
#include <vector>

namespace idbridge::ldap {

// What to read and how to connect; built by the daemon from config::DirectoryConfig (ldap/ and
// config/ are peers and do not include each other).
struct ReadSettings {
  std::string directory;  // the directory's name in the config, copied into the Snapshot
  ConnectionSettings connection;
  std::vector<std::string> user_base_dns;
  std::string user_filter = "(objectClass=inetOrgPerson)";
  // entryUUID (text, taken as is) or objectGUID (16 binary bytes, turned into lower-case hex);
  // any other attribute is taken as text.
  std::string anchor_attribute = "entryUUID";
  // The attributes the rules read (core::sync::attributes_read_by); the anchor and memberOf are
  // always added. Empty: every user attribute ("*"), which on AD includes large values such as
  // thumbnailPhoto in every page.
  std::vector<std::string> attributes;
  int page_size = 500;
  int connect_attempts = 3;  // for transient failures; invalid credentials are never retried
};

// Connects (connect_with_backoff) and pages through every users base DN in order, turning each
// entry into a DirectoryEntry: `anchor` from the anchor attribute, every attribute's values as
// strings (the anchor attribute hex-encoded when binary), `groups` from memberOf.
//
// Never throws for directory or network problems, and never returns them as an empty directory:
// a failed connect or bind, a search that is not complete (size limit, lost connection, missing
// base...), or an entry without its anchor gives a Snapshot whose completeness is false with the
// first reason, naming the base DN. Entries read before the problem are kept (the planner may
// still create and update from them, never disable or delete).
//
// Memory: the Snapshot holds every entry. Fine for tens of thousands of users; for 100k+ the
// planner will take entries page by page instead.
core::sync::Snapshot read_directory(const ReadSettings& settings, const SleepFunction& sleep = {});

// 16 bytes -> 32 lower-case hex digits (any length works; each byte gives two digits).
std::string hex_anchor(std::string_view bytes);

}  // namespace idbridge::ldap
