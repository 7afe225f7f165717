// The directory reader: connect, read each users base (paged, or by content sync), read the
// groups for nested memberships, and build the Snapshot, its completeness proof and its cursor.
#include "idbridge/ldap/reader.hpp"

#include "cursor.hpp"
#include "idbridge/ldap/groups.hpp"
#include "idbridge/ldap/read_ahead.hpp"
#include "reader_internal.hpp"

#include <algorithm>
#include <exception>
#include <memory>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>

namespace idbridge::ldap {
namespace reading {

using core::sync::DirectoryEntry;

bool is_binary_anchor(std::string_view attribute) {
  return equal_ignoring_case(attribute, "objectGUID");
}

namespace {

// `Source` is `const Entry&` (values copied) or `Entry&` (values moved).
template <class Source>
DirectoryEntry convert(Source& entry, const std::string& anchor, bool binary_anchor) {
  constexpr bool take = !std::is_const_v<Source>;
  const auto value_of = [](auto& value) -> decltype(auto) {
    if constexpr (take) {
      return std::move(value);
    } else {
      return static_cast<const std::string&>(value);
    }
  };
  DirectoryEntry result;
  result.dn = value_of(entry.dn);
  for (auto& attribute : entry.attributes) {
    if (equal_ignoring_case(attribute.description, "memberOf")) {
      if constexpr (take) {
        result.groups = std::move(attribute.values);
      } else {
        result.groups = attribute.values;
      }
      continue;
    }
    const bool is_anchor = equal_ignoring_case(attribute.description, anchor);
    std::vector<std::string>& values = result.attributes[value_of(attribute.description)];
    if (is_anchor && binary_anchor) {
      for (const auto& value : attribute.values) {
        values.push_back(hex_anchor(value));
      }
    } else if (values.empty()) {
      if constexpr (take) {
        values = std::move(attribute.values);
      } else {
        values = attribute.values;
      }
    } else {
      for (auto& value : attribute.values) {
        values.push_back(value_of(value));
      }
    }
    if (is_anchor && !values.empty()) {
      result.anchor = values.front();
    }
  }
  return result;
}

}  // namespace

DirectoryEntry to_directory_entry(const Entry& entry, const std::string& anchor,
                                  bool binary_anchor) {
  return convert(entry, anchor, binary_anchor);
}

DirectoryEntry to_directory_entry(Entry&& entry, const std::string& anchor, bool binary_anchor) {
  return convert(entry, anchor, binary_anchor);
}

std::vector<std::string> user_attributes(const ReadSettings& settings) {
  std::vector<std::string> attributes = settings.attributes;
  if (attributes.empty()) {
    attributes.push_back("*");
  }
  // The anchor and memberOf are operational on OpenLDAP: returned only when named.
  attributes.push_back(settings.anchor_attribute);
  attributes.push_back("memberOf");
  if (settings.change_detection == ChangeDetection::modify_timestamp) {
    attributes.push_back("modifyTimestamp");
  }
  return attributes;
}

std::optional<std::string> settings_problem(const ReadSettings& settings) {
  if (settings.user_base_dns.empty()) {
    return "no users base DN configured";
  }
  if (settings.change_detection == ChangeDetection::content_sync &&
      !equal_ignoring_case(settings.anchor_attribute, "entryUUID")) {
    // Content sync names deleted and present objects by entryUUID only.
    return "change_detection content_sync needs anchor_attribute entryUUID, not " +
           settings.anchor_attribute;
  }
  return std::nullopt;
}

const SleepFunction real_sleep = [](std::chrono::milliseconds delay) {
  std::this_thread::sleep_for(delay);
};

std::string cannot_connect(const ReadSettings& settings, const Error& error) {
  return "cannot connect to " + settings.connection.uri + ": " +
         std::string(to_string(error.code)) + ": " + error.message;
}

}  // namespace reading

namespace {

using namespace reading;

using core::sync::DirectoryEntry;
using core::sync::Snapshot;

// Keeps the first reason only: later failures are usually consequences of the first.
void mark_incomplete(Snapshot& snapshot, std::string reason) {
  if (!snapshot.completeness.complete && !snapshot.completeness.reason.empty()) {
    return;
  }
  snapshot.completeness.complete = false;
  snapshot.completeness.reason = std::move(reason);
}

std::string outcome_reason(const char* what, std::string_view code, const std::string& base,
                           std::size_t pages, std::size_t entries, const std::string& detail) {
  std::string reason = std::string(code) + " on " + base + " (" + what + "after " +
                       std::to_string(pages) + " page(s), " + std::to_string(entries) + " entries)";
  if (!detail.empty()) {
    reason += ": " + detail;
  }
  return reason;
}

// "20240501123000Z" (and "20240501123000.123Z") -> seconds since the epoch; nullopt otherwise.
std::optional<std::time_t> parse_generalized_time(std::string_view text) {
  if (text.size() < 15 || text.back() != 'Z' ||
      !std::all_of(text.begin(), text.begin() + 14, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const auto number = [&](std::size_t at, std::size_t length) {
    return std::stoi(std::string(text.substr(at, length)));
  };
  std::tm parts{};
  parts.tm_year = number(0, 4) - 1900;
  parts.tm_mon = number(4, 2) - 1;
  parts.tm_mday = number(6, 2);
  parts.tm_hour = number(8, 2);
  parts.tm_min = number(10, 2);
  parts.tm_sec = number(12, 2);
  return timegm(&parts);
}

std::string format_generalized_time(std::time_t time) {
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d%H%M%SZ", &parts);
  return text;
}

// One read in progress: the connection, the snapshot being filled, and what the cursor needs.
class Reader {
 public:
  Reader(const ReadSettings& settings, Connection& connection)
      : settings_(settings),
        connection_(connection),
        binary_anchor_(is_binary_anchor(settings.anchor_attribute)) {
    snapshot_.directory = settings.directory;
    snapshot_.completeness = {false, ""};
  }

  Snapshot& snapshot() { return snapshot_; }
  bool failed() const { return failed_; }
  bool dead() const { return dead_; }

  void fail(std::string reason) {
    mark_incomplete(snapshot_, std::move(reason));
    failed_ = true;
  }

  // Takes the entry's strings (it is discarded after).
  void add_user(Entry& entry, const std::string& base) {
    if (settings_.change_detection == ChangeDetection::modify_timestamp) {
      if (const auto* stamp = entry.first_value("modifyTimestamp");
          stamp != nullptr && *stamp > newest_timestamp_) {
        newest_timestamp_ = *stamp;
      }
    }
    add_user(to_directory_entry(std::move(entry), settings_.anchor_attribute, binary_anchor_),
             base);
  }

  // add_user of an entry already converted (content sync converts on the reading thread).
  void add_user(DirectoryEntry out, const std::string& base) {
    if (out.anchor.empty()) {
      // Without its anchor the entry cannot be matched to its tenant user, so a linked user would
      // look gone: this read cannot prove anything about absences.
      fail("entry " + out.dn + " under " + base + " has no " + settings_.anchor_attribute);
      return;
    }
    if (seen_anchors_.insert(out.anchor).second) {
      if (settings_.on_user) {
        if (groups_read_) {
          out.groups = graph_.groups_of(out.dn, out.groups);
        }
        settings_.on_user(out);
      }
      snapshot_.users.push_back(std::move(out));
    }
  }

  // Paged read of every users base with `filter`.
  void read_users_paged(const std::string& filter) {
    for (const auto& base : settings_.user_base_dns) {
      SearchRequest request;
      request.base_dn = base;
      request.filter = filter;
      request.attributes = user_attributes(settings_);
      request.page_size = settings_.page_size;
      if (!search(request, "", [&](Entry& entry) { add_user(entry, base); })) {
        return;
      }
    }
  }

  // Paged read of every group base: the graph for nested memberships.
  void read_groups() {
    for (const auto& base : settings_.group_base_dns) {
      SearchRequest request;
      request.base_dn = base;
      request.filter = settings_.group_filter;
      request.attributes = {"member", "cn", settings_.anchor_attribute};
      request.page_size = settings_.page_size;
      const bool ok = search(request, "groups, ", [&](Entry& entry) {
        static const std::vector<std::string> none;
        const Attribute* members = entry.find("member");
        graph_.add_group(entry.dn, members != nullptr ? members->values : none);
        DirectoryEntry group;
        group.dn = entry.dn;
        if (const auto* cn = entry.first_value("cn")) {
          group.attributes["cn"] = {*cn};
        }
        if (const auto* anchor = entry.first_value(settings_.anchor_attribute)) {
          group.anchor = binary_anchor_ ? hex_anchor(*anchor) : *anchor;
        }
        snapshot_.groups.push_back(std::move(group));
      });
      if (!ok) {
        return;
      }
    }
    graph_.finish();
    groups_read_ = true;
  }

  // Fills every user's (and group's) `groups` with its nested groups.
  void resolve_nested_groups() {
    if (!groups_read_) {
      return;
    }
    // With on_user every user was resolved as it was read (groups are read first), and what
    // the callback left of it may not hold its DN any more.
    for (auto& user : snapshot_.users) {
      if (!settings_.on_user) {
        user.groups = graph_.groups_of(user.dn, user.groups);
      }
    }
    for (auto& group : snapshot_.groups) {
      group.groups = graph_.ancestors_of(group.dn);
    }
  }

  std::uint64_t group_digest() const { return graph_.digest(); }

  // The groups the rules name (ReadSettings::rule_groups) with their digest; nullopt when they
  // could not be read (the read is then incomplete).
  std::optional<RuleGroupRead> rule_groups() {
    auto read = read_rule_groups(connection_, settings_);
    if (read.problem) {
      fail(std::move(*read.problem));
      dead_ = dead_ || read.connection_dead;
      return std::nullopt;
    }
    return read;
  }

  // Reads each of `dns` that lies under a users base and matches the users filter, with one
  // base-scope search each: the members who joined or left a group the rules name. A DN that no
  // longer exists is skipped (a deletion is reported by content sync, or found by a full read); a
  // DN outside the users bases (a nested group, a service account) is not a user of this read.
  void read_users_by_dn(const std::vector<std::string>& dns) {
    std::vector<std::string> bases;
    for (const auto& base : settings_.user_base_dns) {
      bases.push_back(normalise_dn(base));
    }
    for (const auto& dn : dns) {
      const auto key = normalise_dn(dn);
      const auto base = std::find_if(bases.begin(), bases.end(),
                                     [&](const std::string& b) { return is_under(key, b); });
      if (base == bases.end()) {
        continue;
      }
      const std::string& users_base =
          settings_.user_base_dns[static_cast<std::size_t>(base - bases.begin())];
      SearchRequest request;
      request.base_dn = dn;
      request.scope = Scope::base;
      request.filter = settings_.user_filter;
      request.attributes = user_attributes(settings_);
      request.page_size = settings_.page_size;
      SearchOutcome outcome;
      try {
        outcome = connection_.search(request, [&](std::vector<Entry>& page) {
          for (Entry& entry : page) {
            add_user(entry, users_base);
          }
        });
      } catch (const std::exception& e) {
        fail("reading " + dn + " failed: " + e.what());
        dead_ = true;
        return;
      }
      if (outcome.completeness == Completeness::no_such_base) {
        continue;
      }
      if (!outcome.complete()) {
        fail(outcome_reason("a member who joined or left a group the rules name, ",
                            to_string(outcome.completeness), dn, outcome.pages, outcome.entries,
                            outcome.detail));
        dead_ = dead_ || outcome.completeness == Completeness::connection_lost ||
                outcome.completeness == Completeness::timeout;
        return;
      }
    }
  }
  const std::string& newest_timestamp() const { return newest_timestamp_; }

  // How many pages (or content sync batches) the reading thread may hold ahead of the mapping:
  // about 4,096 entries, whatever the directory's size. Enough to keep both threads busy; 16,384
  // raised a first sync's peak RSS by 15 MB (to 302 MB at 100,000 users, jemalloc keeping the
  // reading thread's freed pages) without making an unchanged re-sync faster.
  std::size_t batches_ahead() const {
    constexpr std::size_t entries_ahead = 4096;
    return std::max<std::size_t>(
        4, entries_ahead / static_cast<std::size_t>(std::max(settings_.page_size, 1)));
  }

  // One paged search; false when the read cannot go on (it is incomplete either way).
  bool search(const SearchRequest& request, const char* what,
              const std::function<void(Entry&)>& on_entry) {
    SearchOutcome outcome;
    try {
      std::size_t entries = 0;
      outcome = read_ahead<SearchOutcome, std::vector<Entry>>(
          [&](const auto& deliver) { return connection_.search(request, deliver); },
          [&](std::vector<Entry>& page) {
            for (Entry& entry : page) {
              on_entry(entry);
            }
            entries += page.size();
            if (settings_.progress) {
              settings_.progress(request.base_dn, entries);
            }
          },
          batches_ahead());
    } catch (const std::exception& e) {
      fail("reading " + request.base_dn + " failed: " + e.what());
      dead_ = true;
      return false;
    }
    if (!outcome.complete()) {
      fail(outcome_reason(what, to_string(outcome.completeness), request.base_dn, outcome.pages,
                          outcome.entries, outcome.detail));
      if (outcome.completeness == Completeness::connection_lost ||
          outcome.completeness == Completeness::timeout) {
        dead_ = true;
        return false;  // the Connection is dead; the remaining bases cannot be read on it
      }
    }
    return true;
  }

  // The result of content sync on one users base.
  struct SyncResult {
    SyncOutcome outcome;
    std::vector<std::string> deleted;
    std::vector<std::string> present;
  };

  SyncResult sync_users(const std::string& base, const std::string& cookie) {
    SyncRequest request;
    request.base_dn = base;
    request.filter = settings_.user_filter;
    request.attributes = user_attributes(settings_);
    request.mode = SyncMode::refresh_only;
    request.cookie = cookie;
    request.batch_size = static_cast<std::size_t>(std::max(settings_.page_size, 1));
    SyncResult result;
    std::size_t entries = 0;
    try {
      // Entries are converted on the reading thread: a fifth of what the mapping thread did.
      struct ConvertedBatch {
        std::vector<DirectoryEntry> changed;
        SyncBatch rest;  // deletions, present anchors; its `changed` left empty
      };
      result.outcome = read_ahead<SyncOutcome, ConvertedBatch>(
          [&](const auto& deliver) {
            return connection_.content_sync(request, [&](SyncBatch& batch) {
              ConvertedBatch converted;
              converted.changed.reserve(batch.changed.size());
              for (auto& entry : batch.changed) {
                converted.changed.push_back(to_directory_entry(
                    std::move(entry), settings_.anchor_attribute, binary_anchor_));
              }
              batch.changed.clear();
              converted.rest = std::move(batch);
              deliver(converted);
            });
          },
          [&](ConvertedBatch& converted) {
            SyncBatch& batch = converted.rest;
            for (auto& entry : converted.changed) {
              // Content sync anchors are entryUUIDs (text), kept as read.
              result.present.push_back(entry.anchor);
              add_user(std::move(entry), base);
            }
            result.deleted.insert(result.deleted.end(), batch.deleted.begin(), batch.deleted.end());
            result.present.insert(result.present.end(), batch.present.begin(), batch.present.end());
            entries += converted.changed.size() + batch.deleted.size() + batch.present.size();
            if (settings_.progress) {
              settings_.progress(base, entries);
            }
          },
          batches_ahead());
    } catch (const std::exception& e) {
      result.outcome.completeness = Completeness::server_error;
      result.outcome.detail = e.what();
      dead_ = true;  // the sync search may still be running on the connection
    }
    return result;
  }

 private:
  const ReadSettings& settings_;
  Connection& connection_;
  bool binary_anchor_;
  Snapshot snapshot_;
  std::unordered_set<std::string> seen_anchors_;
  GroupGraph graph_;
  bool groups_read_ = false;
  bool failed_ = false;
  bool dead_ = false;
  std::string newest_timestamp_;
};

// AD's position: the DC database's invocationId (hex) and highestCommittedUSN, read from the root
// DSE before anything else so that every change committed during the read is after it.
struct UsnPosition {
  std::string invocation_id;
  std::uint64_t highest = 0;
};

Result<UsnPosition> read_usn_position(Connection& connection) {
  auto root = connection.read("", {"highestCommittedUSN", "dsServiceName"});
  if (!root) {
    return root.error();
  }
  const auto* highest = root->first_value("highestCommittedUSN");
  const auto* service = root->first_value("dsServiceName");
  if (highest == nullptr || service == nullptr) {
    return Error{ErrorCode::operation_failed,
                 "the root DSE has no highestCommittedUSN or dsServiceName (not Active "
                 "Directory?)",
                 0};
  }
  auto settings_object = connection.read(*service, {"invocationId"});
  if (!settings_object) {
    return settings_object.error();
  }
  const auto* invocation = settings_object->first_value("invocationId");
  if (invocation == nullptr) {
    return Error{ErrorCode::operation_failed, *service + " has no invocationId", 0};
  }
  UsnPosition position;
  position.invocation_id = hex_anchor(*invocation);
  try {
    position.highest = std::stoull(*highest);
  } catch (const std::exception&) {
    return Error{ErrorCode::protocol_error,
                 "highestCommittedUSN '" + *highest + "' is not a number", 0};
  }
  return position;
}

// Whether a content sync failed because the server does not offer it at all (no syncprov):
// unavailableCriticalExtension (12) or unwillingToPerform for the control.
bool content_sync_unsupported(const SyncOutcome& outcome) {
  return outcome.ldap_code == 12;  // LDAP_UNAVAILABLE_CRITICAL_EXTENSION
}

// The full read of every profile, with the cursor for the next incremental read.
struct FullRead {
  Snapshot snapshot;
  std::string fallback_reason;  // set when content sync was not offered (cursor "")
};

FullRead full_read(const ReadSettings& settings, Connection& connection) {
  Reader reader(settings, connection);
  FullRead result;
  Cursor next;
  next.detection = settings.change_detection;
  next.fingerprint = settings_fingerprint(settings);
  bool have_position = settings.change_detection != ChangeDetection::full;

  if (settings.change_detection == ChangeDetection::usn_changed) {
    auto position = read_usn_position(connection);
    if (!position) {
      reader.fail("cannot read the USN position: " + std::string(to_string(position.error().code)) +
                  ": " + position.error().message);
    } else {
      next.invocation_id = position->invocation_id;
      next.usn = position->highest;
    }
  }
  // Before the users: a membership change during the read then shows in the next digest.
  std::shared_ptr<const std::vector<core::sync::RuleGroupMembers>> rule_groups;
  if (!reader.failed() && have_position) {
    if (auto read = reader.rule_groups()) {
      next.rule_group_digest = read->digest;
      rule_groups = std::make_shared<const std::vector<core::sync::RuleGroupMembers>>(
          std::move(read->groups));
    }
  }
  if (!reader.failed() && !settings.group_base_dns.empty()) {
    reader.read_groups();
  }
  if (!reader.dead()) {
    if (settings.change_detection == ChangeDetection::content_sync) {
      for (const auto& base : settings.user_base_dns) {
        auto synced = reader.sync_users(base, "");
        if (content_sync_unsupported(synced.outcome) && reader.snapshot().users.empty()) {
          // No syncprov: an ordinary paged read, and no cursor (the next run tries again).
          result.fallback_reason =
              "the server does not offer content sync on " + base + ": " + synced.outcome.detail;
          have_position = false;
          next.cookies.clear();
          reader.read_users_paged(settings.user_filter);
          break;
        }
        if (!synced.outcome.complete()) {
          reader.fail(outcome_reason("content sync, ", to_string(synced.outcome.completeness), base,
                                     0, synced.outcome.changed, synced.outcome.detail));
          break;
        }
        next.cookies.push_back(synced.outcome.cookie);
      }
    } else {
      reader.read_users_paged(settings.user_filter);
    }
  }
  reader.resolve_nested_groups();
  next.group_digest = settings.group_base_dns.empty() ? 0 : reader.group_digest();
  if (settings.change_detection == ChangeDetection::modify_timestamp) {
    next.timestamp = reader.newest_timestamp();
    have_position = !next.timestamp.empty();
  }
  Snapshot& snapshot = reader.snapshot();
  snapshot.kind = Snapshot::Kind::full;
  if (!reader.failed()) {
    snapshot.completeness = {true, ""};
    snapshot.cursor = have_position ? format_cursor(next) : "";
    if (have_position) {
      snapshot.rule_groups = std::move(rule_groups);
    }
  }
  result.snapshot = std::move(snapshot);
  return result;
}

void sorted_unique(std::vector<std::string>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

}  // namespace

std::string_view to_string(ChangeDetection detection) {
  switch (detection) {
    case ChangeDetection::full: return "full";
    case ChangeDetection::content_sync: return "content_sync";
    case ChangeDetection::modify_timestamp: return "modify_timestamp";
    case ChangeDetection::usn_changed: return "usn_changed";
  }
  return "unknown";
}

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

DirectoryRead read_directory_incremental(const ReadSettings& settings, const std::string& cursor,
                                         const SleepFunction& sleep) {
  DirectoryRead result;
  Snapshot& snapshot = result.snapshot;
  snapshot.directory = settings.directory;
  snapshot.completeness = {false, ""};
  if (auto problem = settings_problem(settings)) {
    snapshot.completeness.reason = *problem;
    return result;
  }
  auto connection = connect_with_backoff(settings.connection, settings.connect_attempts,
                                         sleep ? sleep : real_sleep);
  if (!connection) {
    snapshot.completeness.reason = cannot_connect(settings, connection.error());
    snapshot.cursor = cursor;
    return result;
  }

  const auto full = [&](std::string reason) {
    auto read = full_read(settings, *connection);
    result.snapshot = std::move(read.snapshot);
    result.full_read_reason = std::move(reason);
    if (!read.fallback_reason.empty()) {
      result.full_read_reason +=
          (result.full_read_reason.empty() ? "" : "; ") + read.fallback_reason;
    }
    if (!result.snapshot.completeness.complete) {
      result.snapshot.cursor = cursor;  // an incomplete read never advances the cursor
    }
    // Moved, not copied: a full read of 100,000 users is hundreds of MB.
    return std::move(result);
  };

  if (settings.change_detection == ChangeDetection::full || cursor.empty()) {
    return full("");
  }
  const auto stored = parse_cursor(cursor);
  if (!stored) {
    return full("the cursor is not one this reader wrote");
  }
  if (stored->detection != settings.change_detection ||
      stored->fingerprint != settings_fingerprint(settings)) {
    return full(
        "the cursor was written for other settings (change detection, bases, filters "
        "or attributes changed)");
  }
  if (settings.change_detection == ChangeDetection::content_sync &&
      stored->cookies.size() != settings.user_base_dns.size()) {
    return full("the cursor holds no cookie for some users base");
  }

  Reader reader(settings, *connection);
  Cursor next = *stored;
  // Incremental reads keep deletions only as proof; any failure below clears them.
  std::vector<std::string> deleted;
  std::vector<std::string> present;
  bool present_phase = false;
  bool delete_phase = false;

  if (settings.change_detection == ChangeDetection::usn_changed) {
    auto position = read_usn_position(*connection);
    if (!position) {
      reader.fail("cannot read the USN position: " + std::string(to_string(position.error().code)) +
                  ": " + position.error().message);
    } else if (position->invocation_id != stored->invocation_id) {
      return full("the domain controller's invocationId changed (" + stored->invocation_id +
                  " -> " + position->invocation_id +
                  "): another DC or a restore; USNs are not comparable");
    } else {
      next.usn = position->highest;
    }
  }
  // A membership change does not show on the users' entries: the members who joined or left a
  // named group since the cursor are read by DN after the changed users.
  std::shared_ptr<const std::vector<core::sync::RuleGroupMembers>> rule_groups;
  std::vector<std::string> moved;
  if (!reader.failed()) {
    if (auto read = reader.rule_groups()) {
      if (read->digest != stored->rule_group_digest) {
        auto since = members_moved_since(settings, stored->rule_group_digest, read->groups);
        if (since.full_read_reason) {
          return full(std::move(*since.full_read_reason));
        }
        moved = std::move(since.dns);
        result.moved_members = moved.size();
        next.rule_group_digest = read->digest;
      }
      rule_groups = std::make_shared<const std::vector<core::sync::RuleGroupMembers>>(
          std::move(read->groups));
    }
  }
  if (!reader.failed() && !settings.group_base_dns.empty()) {
    reader.read_groups();
    if (!reader.failed() && reader.group_digest() != stored->group_digest) {
      return full("groups under the group base DNs changed since the cursor");
    }
  }
  if (!reader.dead() && !reader.failed()) {
    switch (settings.change_detection) {
      case ChangeDetection::content_sync:
        for (std::size_t i = 0; i < settings.user_base_dns.size(); ++i) {
          const auto& base = settings.user_base_dns[i];
          auto synced = reader.sync_users(base, stored->cookies[i]);
          if (synced.outcome.refresh_required) {
            return full("the server refused the stored cookie for " + base + ": " +
                        synced.outcome.detail);
          }
          if (content_sync_unsupported(synced.outcome)) {
            return full("the server does not offer content sync on " + base);
          }
          if (!synced.outcome.complete()) {
            reader.fail(outcome_reason("content sync, ", to_string(synced.outcome.completeness),
                                       base, 0, synced.outcome.changed, synced.outcome.detail));
            break;
          }
          (synced.outcome.refresh_deletes ? delete_phase : present_phase) = true;
          deleted.insert(deleted.end(), synced.deleted.begin(), synced.deleted.end());
          present.insert(present.end(), synced.present.begin(), synced.present.end());
          next.cookies[i] =
              synced.outcome.cookie.empty() ? stored->cookies[i] : synced.outcome.cookie;
        }
        if (present_phase && delete_phase) {
          // A present set that covers only some bases would make the others' users look gone.
          return full("the users bases answered in different refresh modes (present and delete)");
        }
        break;
      case ChangeDetection::modify_timestamp: {
        const auto newest = parse_generalized_time(stored->timestamp);
        if (!newest) {
          return full("the cursor's timestamp '" + stored->timestamp + "' is not a time");
        }
        // modifyTimestamp has one-second resolution: one second after the newest read is the
        // first that can hold a change the last read did not see, minus the margin.
        const auto since = format_generalized_time(*newest + 1 - settings.timestamp_margin.count());
        reader.read_users_paged("(&" + settings.user_filter + "(modifyTimestamp>=" + since + "))");
        next.timestamp = std::max(stored->timestamp, reader.newest_timestamp());
        break;
      }
      case ChangeDetection::usn_changed:
        reader.read_users_paged("(&" + settings.user_filter +
                                "(uSNChanged>=" + std::to_string(stored->usn + 1) + "))");
        break;
      case ChangeDetection::full: break;
    }
  }
  if (!moved.empty() && !reader.dead() && !reader.failed()) {
    reader.read_users_by_dn(moved);
  }
  reader.resolve_nested_groups();
  snapshot = std::move(reader.snapshot());
  snapshot.kind = Snapshot::Kind::incremental;
  if (reader.failed()) {
    snapshot.cursor = cursor;
    return result;
  }
  snapshot.completeness = {true, ""};
  sorted_unique(deleted);
  snapshot.deleted_anchors = std::move(deleted);
  if (present_phase) {
    sorted_unique(present);
    snapshot.present_anchors = std::move(present);
  }
  snapshot.cursor = format_cursor(next);
  snapshot.rule_groups = std::move(rule_groups);
  return result;
}

core::sync::Snapshot read_directory(const ReadSettings& settings, const SleepFunction& sleep) {
  return read_directory_incremental(settings, "", sleep).snapshot;
}

}  // namespace idbridge::ldap
