// The directory reader: connect, page through each users base, build the Snapshot and its
// completeness proof.
#include "idbridge/ldap/reader.hpp"

#include <exception>
#include <thread>
#include <unordered_set>
#include <utility>

namespace idbridge::ldap {
namespace {

bool is_binary_anchor(std::string_view attribute) {
  return equal_ignoring_case(attribute, "objectGUID");
}

// Keeps the first reason only: later failures are usually consequences of the first.
void mark_incomplete(core::sync::Snapshot& snapshot, std::string reason) {
  if (!snapshot.completeness.complete && !snapshot.completeness.reason.empty()) {
    return;
  }
  snapshot.completeness.complete = false;
  snapshot.completeness.reason = std::move(reason);
}

core::sync::DirectoryEntry to_directory_entry(const Entry& entry, const std::string& anchor,
                                              bool binary_anchor) {
  core::sync::DirectoryEntry result;
  result.dn = entry.dn;
  for (std::size_t i = 0; i < entry.attributes.size(); ++i) {
    const Attribute& attribute = entry.attributes[i];
    if (equal_ignoring_case(attribute.description, "memberOf")) {
      for (const auto& group : attribute.values) {
        result.groups.push_back(group);
      }
      continue;
    }
    const bool is_anchor = equal_ignoring_case(attribute.description, anchor);
    std::vector<std::string>& values = result.attributes[attribute.description];
    for (const auto& value : attribute.values) {
      values.push_back(is_anchor && binary_anchor ? hex_anchor(value) : value);
    }
    if (is_anchor && !values.empty()) {
      result.anchor = values.front();
    }
  }
  return result;
}

}  // namespace

std::string hex_anchor(std::string_view bytes) {
  constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += digits[byte >> 4];
    out += digits[byte & 0x0f];
  }
  return out;
}

core::sync::Snapshot read_directory(const ReadSettings& settings, const SleepFunction& sleep) {
  core::sync::Snapshot snapshot;
  snapshot.directory = settings.directory;
  // Proven complete below, base by base; anything short of that leaves a reason.
  snapshot.completeness = {false, ""};
  if (settings.user_base_dns.empty()) {
    snapshot.completeness.reason = "no users base DN configured";
    return snapshot;
  }

  const SleepFunction real_sleep = [](std::chrono::milliseconds delay) {
    std::this_thread::sleep_for(delay);
  };
  auto connection = connect_with_backoff(settings.connection, settings.connect_attempts,
                                         sleep ? sleep : real_sleep);
  if (!connection) {
    const Error& error = connection.error();
    snapshot.completeness.reason = "cannot connect to " + settings.connection.uri + ": " +
                                   std::string(to_string(error.code)) + ": " + error.message;
    return snapshot;
  }

  const bool binary_anchor = is_binary_anchor(settings.anchor_attribute);
  // Overlapping bases (ou=people and ou=staff,ou=people) return an entry twice; it is one user.
  std::unordered_set<std::string> seen_anchors;
  bool all_complete = true;
  for (const auto& base : settings.user_base_dns) {
    SearchRequest request;
    request.base_dn = base;
    request.scope = Scope::subtree;
    request.filter = settings.user_filter;
    // The anchor and memberOf are operational on OpenLDAP: returned only when named.
    request.attributes = settings.attributes;
    if (request.attributes.empty()) {
      request.attributes.push_back("*");
    }
    request.attributes.push_back(settings.anchor_attribute);
    request.attributes.push_back("memberOf");
    request.page_size = settings.page_size;

    SearchOutcome outcome;
    try {
      outcome = connection->search(request, [&](const std::vector<Entry>& page) {
        for (const Entry& entry : page) {
          core::sync::DirectoryEntry out =
              to_directory_entry(entry, settings.anchor_attribute, binary_anchor);
          if (out.anchor.empty()) {
            // Without its anchor the entry cannot be matched to its tenant user, so a linked
            // user would look gone: this read cannot prove anything about absences.
            mark_incomplete(snapshot, "entry " + entry.dn + " under " + base + " has no " +
                                          settings.anchor_attribute);
            continue;
          }
          if (seen_anchors.insert(out.anchor).second) {
            snapshot.users.push_back(std::move(out));
          }
        }
      });
    } catch (const std::exception& e) {
      mark_incomplete(snapshot, "reading " + base + " failed: " + e.what());
      all_complete = false;
      break;
    }
    if (!outcome.complete()) {
      std::string reason = std::string(to_string(outcome.completeness)) + " on " + base +
                           " (after " + std::to_string(outcome.pages) + " page(s), " +
                           std::to_string(outcome.entries) + " entries)";
      if (!outcome.detail.empty()) {
        reason += ": " + outcome.detail;
      }
      mark_incomplete(snapshot, std::move(reason));
      all_complete = false;
      if (outcome.completeness == Completeness::connection_lost ||
          outcome.completeness == Completeness::timeout) {
        break;  // the Connection is dead; the remaining bases cannot be read on it
      }
    }
  }
  if (all_complete && snapshot.completeness.reason.empty()) {
    snapshot.completeness = {true, ""};
  }
  return snapshot;
}

}  // namespace idbridge::ldap
