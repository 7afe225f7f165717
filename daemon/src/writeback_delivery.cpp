// Write-back delivery (writeback_delivery.hpp).
#include "writeback_delivery.hpp"

#include "idbridge/core/ports.hpp"
#include "idbridge/core/writeback/delivery.hpp"
#include "idbridge/ldap/escape.hpp"
#include "logger.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <stdexcept>

namespace idbridge::daemon {
namespace {

using core::writeback::OutboxItem;
using core::writeback::WriteKind;

// Outbox items read per window; users whose writes go out as one pipelined burst (the due users
// of a whole window: between bursts the directory idles while the pass reads, looks up DNs and
// records); LDAP writes in flight at once; and users recorded per store transaction (one fsync
// each, short enough that a SCIM write never waits long for the store's write slot).
constexpr std::size_t window_size = 2000;
constexpr std::size_t burst_size = window_size;
constexpr std::size_t pipeline_window = 64;
constexpr std::size_t record_batch = 500;

bool is_ad(const config::DirectoryConfig& directory) {
  return directory.kind == config::DirectoryKind::active_directory;
}

// The value of `target` in a create or modify item ("" when absent).
std::string value_in(const OutboxItem& item, std::string_view target) {
  for (const auto& change : item.changes) {
    if (change.path == target) {
      return change.after.value_or("");
    }
  }
  return {};
}

// "{target}" placeholders replaced by the item's values, each passed through `escape`.
std::string expand(const std::string& text, const OutboxItem& item,
                   const std::function<std::string(std::string_view)>& escape) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{') {
      const auto end = text.find('}', i);
      if (end != std::string::npos) {
        out += escape(value_in(item, std::string_view(text).substr(i + 1, end - i - 1)));
        i = end;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// The assertion "the attribute holds exactly `value`" ("" : the attribute is absent).
std::string holds(const std::string& attribute, const std::string& value) {
  if (value.empty()) {
    return "(!(" + attribute + "=*))";
  }
  return "(" + attribute + "=" + ldap::escape_filter_value(value) + ")";
}

std::string first_value(const ldap::Entry& entry, std::string_view attribute) {
  const std::string* value = entry.first_value(attribute);
  return value == nullptr ? std::string() : *value;
}

// The first RDN's attribute type of `dn` ("uid" of "uid=ann,ou=people,...").
std::string rdn_attribute(const std::string& dn) {
  const auto eq = dn.find('=');
  return eq == std::string::npos ? std::string() : dn.substr(0, eq);
}

// The parent of `dn`: everything after the first unescaped comma.
std::string parent_of(const std::string& dn) {
  for (std::size_t i = 0; i < dn.size(); ++i) {
    if (dn[i] == '\\') {
      ++i;
    } else if (dn[i] == ',') {
      return dn.substr(i + 1);
    }
  }
  return {};
}

std::string first_rdn(const std::string& dn) {
  const std::string parent = parent_of(dn);
  return parent.empty() ? dn : dn.substr(0, dn.size() - parent.size() - 1);
}

// `next`'s changes folded into `merged`: a target changed again keeps its first `before` and
// takes the new `after`.
void merge_changes(OutboxItem& merged, const OutboxItem& next) {
  for (const auto& change : next.changes) {
    const auto same = std::find_if(merged.changes.begin(), merged.changes.end(),
                                   [&](const auto& c) { return c.path == change.path; });
    if (same == merged.changes.end()) {
      merged.changes.push_back(change);
    } else {
      same->after = change.after;
    }
  }
}

// A modify_user as one request that can go out pipelined: replaces under an assertion of the
// believed values, with a post-read of the revision. None when it renames the entry (a modRDN
// first) or has nothing to write: those take the one-at-a-time path.
std::optional<ldap::ModifyRequest> plain_modify(const core::writeback::Policy& policy,
                                                const OutboxItem& item, const std::string& dn,
                                                std::vector<std::string> post_read) {
  ldap::ModifyRequest request;
  request.dn = dn;
  std::string assertion = "(&";
  for (const auto& change : item.changes) {
    const auto* binding = policy.binding(change.path);
    if (binding == nullptr || binding->attribute.empty()) {
      continue;
    }
    if (ldap::equal_ignoring_case(binding->attribute, rdn_attribute(dn))) {
      return std::nullopt;
    }
    assertion += holds(binding->attribute, change.before.value_or(""));
    ldap::Modification modification;
    modification.op = ldap::ModifyOp::replace;
    modification.attribute = binding->attribute;
    if (change.after) {
      modification.values = {*change.after};
    }
    request.modifications.push_back(std::move(modification));
  }
  if (request.modifications.empty()) {
    return std::nullopt;
  }
  request.options.assertion = assertion + ")";
  request.options.post_read = std::move(post_read);
  return request;
}

}  // namespace

struct WriteBackDelivery::Group {
  std::vector<const OutboxItem*> items;  // the user's due item, then the ones folded into it
  OutboxItem merged;                     // what is written: the first item with all the changes
  OwnValues own;                         // per target, every value the items write
};

struct WriteBackDelivery::Outcome {
  enum class Kind { done, retry, down };
  Kind kind = Kind::done;
  std::string error;     // retry/down: why (client-safe, no values of secrets)
  std::string anchor;    // create: the new entry's anchor
  std::string revision;  // the entry's revision right after the write, when read
  std::vector<core::writeback::Conflict> conflicts;
  bool first_only = false;  // a coalesced group that failed was retried as its first item alone

  static Outcome failed(const ldap::Error& error) {
    Outcome out;
    out.kind = ldap::is_transient(error.code) || error.code == ldap::ErrorCode::tls_failure ||
                       error.code == ldap::ErrorCode::invalid_credentials ||
                       error.code == ldap::ErrorCode::bind_refused
                   ? Kind::down
                   : Kind::retry;
    out.error = std::string(ldap::to_string(error.code)) + ": " + error.message;
    return out;
  }
  static Outcome refused(std::string why) {
    Outcome out;
    out.kind = Kind::retry;
    out.error = std::move(why);
    return out;
  }
};

WriteBackDelivery::WriteBackDelivery(const config::DirectoryConfig& directory,
                                     ldap::ConnectionSettings settings, core::Store& store,
                                     const core::Clock& clock, Logger& logger,
                                     core::SecretSealer* sealer)
    : directory_(directory),
      settings_(std::move(settings)),
      store_(store),
      clock_(clock),
      logger_(logger),
      sealer_(sealer) {}

WriteBackDelivery::~WriteBackDelivery() = default;

ldap::Connection* WriteBackDelivery::connection(Outcome& error) {
  if (!connection_) {
    auto opened = ldap::Connection::open(settings_);
    if (!opened) {
      error = Outcome::failed(opened.error());
      error.kind = Outcome::Kind::down;
      return nullptr;
    }
    connection_.emplace(std::move(*opened));
  }
  return &*connection_;
}

std::vector<std::string> WriteBackDelivery::revision_attributes() const {
  if (is_ad(directory_)) {
    return {directory_.anchor_attribute, "uSNChanged"};
  }
  return {directory_.anchor_attribute, "entryCSN", "modifyTimestamp"};
}

std::string WriteBackDelivery::revision_of(const ldap::Entry& entry) const {
  if (is_ad(directory_)) {
    return first_value(entry, "uSNChanged");
  }
  std::string csn = first_value(entry, "entryCSN");
  return csn.empty() ? first_value(entry, "modifyTimestamp") : csn;
}

std::string WriteBackDelivery::anchor_of(const OutboxItem& item) {
  if (!item.anchor.empty()) {
    return item.anchor;
  }
  // Queued before its entry existed (a SCIM create still in the outbox then): the create's
  // delivery has linked the user since.
  auto link = store_.read()->find_link_of_user(directory_.name, item.tenant, item.user);
  return link ? link->anchor : std::string();
}

std::optional<std::string> WriteBackDelivery::dn_of(const std::string& anchor, Outcome& error) {
  if (const auto cached = dn_by_anchor_.find(anchor); cached != dn_by_anchor_.end()) {
    return cached->second;
  }
  ldap::Connection* conn = connection(error);
  if (conn == nullptr) {
    return std::nullopt;
  }
  std::string filter;
  if (directory_.anchor_attribute == "objectGUID") {
    std::string bytes;
    for (std::size_t i = 0; i + 1 < anchor.size(); i += 2) {
      bytes += static_cast<char>(std::stoi(anchor.substr(i, 2), nullptr, 16));
    }
    filter = ldap::binary_equality_filter("objectGUID", bytes);
  } else {
    filter = "(" + directory_.anchor_attribute + "=" + ldap::escape_filter_value(anchor) + ")";
  }
  for (const auto& base : directory_.user_base_dns) {
    std::optional<std::string> found;
    ldap::SearchRequest request;
    request.base_dn = base;
    request.filter = filter;
    request.attributes = {"1.1"};
    const auto outcome = conn->search(request, [&](const std::vector<ldap::Entry>& page) {
      if (!page.empty()) {
        found = page.front().dn;
      }
    });
    if (!outcome.complete() && !found) {
      connection_.reset();
      error = Outcome::refused("cannot look up the entry: " + outcome.detail);
      error.kind = Outcome::Kind::down;
      return std::nullopt;
    }
    if (found) {
      dn_by_anchor_[anchor] = *found;
      return found;
    }
  }
  error = Outcome::refused("no entry with " + directory_.anchor_attribute + " " + anchor +
                           " under the user base DNs");
  return std::nullopt;
}

WriteBackDelivery::Outcome WriteBackDelivery::deliver(const OutboxItem& item,
                                                      const OwnValues* own) {
  if (item.kind == WriteKind::create_user) {
    return create(item);
  }
  Outcome error;
  const std::string anchor = anchor_of(item);
  if (anchor.empty()) {
    return Outcome::refused("the user has no entry in the directory yet");
  }
  auto dn = dn_of(anchor, error);
  if (!dn) {
    // An entry already gone is what a delete wanted.
    if (item.kind == WriteKind::delete_user && error.kind == Outcome::Kind::retry) {
      return Outcome{};
    }
    return error;
  }
  switch (item.kind) {
    case WriteKind::modify_user: return modify(item, *dn, own);
    case WriteKind::disable_user:
    case WriteKind::enable_user: return set_active(item, *dn);
    case WriteKind::delete_user: return remove(item, *dn);
    case WriteKind::add_member:
    case WriteKind::remove_member: return membership(item, *dn);
    case WriteKind::set_password: return set_password(item, *dn);
    case WriteKind::create_user: break;
  }
  return Outcome::refused("unknown write kind");
}

WriteBackDelivery::Outcome WriteBackDelivery::create(const OutboxItem& item) {
  const auto& policy = directory_.writeback;
  Outcome out;
  const std::string dn = expand(policy.user_dn_template, item, ldap::escape_dn_value);
  std::vector<ldap::Attribute> attributes;
  attributes.push_back({"objectClass", policy.object_classes});
  const auto put = [&](const std::string& attribute, std::string value) {
    if (value.empty()) {
      return;
    }
    for (auto& existing : attributes) {
      if (ldap::equal_ignoring_case(existing.description, attribute)) {
        if (std::find(existing.values.begin(), existing.values.end(), value) ==
            existing.values.end()) {
          existing.values.push_back(std::move(value));
        }
        return;
      }
    }
    attributes.push_back({attribute, {std::move(value)}});
  };
  for (const auto& change : item.changes) {
    const auto* binding = policy.binding(change.path);
    if (binding != nullptr && !binding->attribute.empty() && change.after) {
      put(binding->attribute, *change.after);
    }
  }
  for (const auto& [attribute, value_template] : policy.create_attributes) {
    put(attribute, expand(value_template, item, [](std::string_view v) { return std::string(v); }));
  }
  // The RDN's value must be in the entry as well (as text, unescaped).
  const std::string rdn_template = first_rdn(policy.user_dn_template);
  put(rdn_attribute(rdn_template), expand(rdn_template.substr(rdn_template.find('=') + 1), item,
                                          [](std::string_view v) { return std::string(v); }));
  ldap::Connection* conn = connection(out);
  if (conn == nullptr) {
    return out;
  }
  ldap::WriteOptions options;
  options.post_read = revision_attributes();
  auto added = conn->add(dn, attributes, options);
  std::optional<ldap::Entry> entry;
  if (added) {
    entry = added->post_read;
  } else if (added.error().code != ldap::ErrorCode::already_exists) {
    return Outcome::failed(added.error());
  }
  if (!entry) {
    // Already there (a repeat after a crash, or someone else's entry) or no post-read support.
    auto read = conn->read(dn, revision_attributes());
    if (!read) {
      return Outcome::failed(read.error());
    }
    entry = std::move(*read);
  }
  out.anchor = first_value(*entry, directory_.anchor_attribute);
  out.revision = revision_of(*entry);
  if (out.anchor.empty()) {
    return Outcome::refused("the new entry " + dn + " has no " + directory_.anchor_attribute);
  }
  if (!added) {
    auto linked = store_.read()->find_link(directory_.name, out.anchor);
    if (linked && linked->user != item.user) {
      return Outcome::refused("the DN " + dn + " belongs to another user's entry");
    }
  }
  dn_by_anchor_[out.anchor] = dn;
  return out;
}

WriteBackDelivery::Outcome WriteBackDelivery::modify(const OutboxItem& item, const std::string& dn,
                                                     const OwnValues* own) {
  const auto& policy = directory_.writeback;
  Outcome out;
  ldap::Connection* conn = connection(out);
  if (conn == nullptr) {
    return out;
  }
  std::vector<core::AttributeChange> to_write = item.changes;
  // Active Directory implements neither the assertion nor the read-entry controls (MS-ADTS
  // 3.1.1.3.4.1): compare through the values themselves instead.
  const bool compare_by_value = is_ad(directory_);
  for (int round = 0; round < 3 && !to_write.empty(); ++round) {
    std::vector<ldap::Modification> modifications;
    std::string assertion = "(&";
    std::string current_dn = dn;
    for (const auto& change : to_write) {
      const auto* binding = policy.binding(change.path);
      if (binding == nullptr || binding->attribute.empty()) {
        continue;
      }
      const std::string& attribute = binding->attribute;
      assertion += holds(attribute, change.before.value_or(""));
      if (ldap::equal_ignoring_case(attribute, rdn_attribute(current_dn)) && change.after) {
        if (!policy.operations.rename) {
          return Outcome::refused("'" + change.path + "' names the entry (" + attribute +
                                  ") and rename write-back is off");
        }
        // The naming attribute: a modRDN, not a replace (the server refuses that: 67).
        const std::string new_rdn = attribute + "=" + ldap::escape_dn_value(*change.after);
        ldap::WriteOptions guard;
        guard.assertion = holds(attribute, change.before.value_or(""));
        auto renamed = conn->rename(current_dn, new_rdn, std::nullopt, ldap::OldRdn::remove, guard);
        if (!renamed && renamed.error().code != ldap::ErrorCode::assertion_failed) {
          return Outcome::failed(renamed.error());
        }
        if (renamed) {
          current_dn = new_rdn + "," + parent_of(current_dn);
          dn_by_anchor_[anchor_of(item)] = current_dn;
        }
        continue;
      }
      if (compare_by_value) {
        // AD has no assertion control: removing the exact old value fails (16) when the
        // directory no longer holds it, and adding to a single-valued attribute that has a value
        // fails (19/20): the same check, atomic within the one modify.
        if (change.before) {
          modifications.push_back({ldap::ModifyOp::remove, attribute, {*change.before}});
        }
        if (change.after) {
          modifications.push_back({ldap::ModifyOp::add, attribute, {*change.after}});
        }
        continue;
      }
      ldap::Modification modification;
      modification.op = ldap::ModifyOp::replace;
      modification.attribute = attribute;
      if (change.after) {
        modification.values = {*change.after};
      }
      modifications.push_back(std::move(modification));
    }
    assertion += ")";
    if (modifications.empty()) {
      return out;
    }
    ldap::WriteOptions options;
    if (!compare_by_value) {
      options.assertion = assertion;
      options.post_read = revision_attributes();
    }
    auto modified = conn->modify(current_dn, modifications, options);
    if (modified) {
      if (modified->post_read) {
        out.revision = revision_of(*modified->post_read);
      }
      return out;
    }
    const auto code = modified.error().code;
    const bool changed_meanwhile =
        code == ldap::ErrorCode::assertion_failed ||
        (compare_by_value && (code == ldap::ErrorCode::no_such_attribute ||
                              code == ldap::ErrorCode::attribute_or_value_exists ||
                              code == ldap::ErrorCode::constraint_violation));
    if (!changed_meanwhile) {
      if (modified.error().code == ldap::ErrorCode::no_such_object) {
        dn_by_anchor_.erase(anchor_of(item));  // renamed or moved in the directory: look again
      }
      return Outcome::failed(modified.error());
    }
    // Someone changed the directory since: decide per attribute by its owner.
    std::vector<std::string> attributes;
    for (const auto& change : to_write) {
      if (const auto* binding = policy.binding(change.path)) {
        attributes.push_back(binding->attribute);
      }
    }
    auto current = conn->read(current_dn, attributes);
    if (!current) {
      return Outcome::failed(current.error());
    }
    std::map<std::string, std::string> values;
    for (const auto& change : to_write) {
      if (const auto* binding = policy.binding(change.path)) {
        values[change.path] = first_value(*current, binding->attribute);
      }
    }
    OutboxItem pending = item;
    pending.changes = to_write;
    if (own != nullptr) {
      // A value one of the coalesced items writes is this group's own write, confirmed by the
      // directory before a crash lost the record: the rest of the group goes on from it.
      for (auto& change : pending.changes) {
        const auto written = own->find(change.path);
        const std::string& held = values[change.path];
        if (written != own->end() && written->second.contains(held)) {
          change.before = held.empty() ? std::nullopt : std::optional<std::string>(held);
        }
      }
    }
    auto resolution = core::writeback::resolve_conflicts(policy, pending, values, clock_.now());
    for (auto& conflict : resolution.conflicts) {
      out.conflicts.push_back(std::move(conflict));
    }
    to_write = std::move(resolution.to_write);
  }
  if (!to_write.empty()) {
    return Outcome::refused("the directory kept changing the entry during the write");
  }
  return out;
}

WriteBackDelivery::Outcome WriteBackDelivery::set_active(const OutboxItem& item,
                                                         const std::string& dn) {
  const auto& method = directory_.writeback.disable;
  const bool disable = item.kind == WriteKind::disable_user;
  Outcome out;
  ldap::Connection* conn = connection(out);
  if (conn == nullptr) {
    return out;
  }
  ldap::Modification modification;
  modification.op = ldap::ModifyOp::replace;
  std::vector<ldap::Modification> modifications;
  ldap::WriteOptions options;
  if (!is_ad(directory_)) {
    options.post_read = revision_attributes();
  }
  using Kind = core::writeback::DisableMethod::Kind;
  switch (method.kind) {
    case Kind::none: return Outcome::refused("no disable method is configured");
    case Kind::user_account_control: {
      auto entry = conn->read(dn, {"userAccountControl"});
      if (!entry) {
        return Outcome::failed(entry.error());
      }
      const std::string current = first_value(*entry, "userAccountControl");
      std::int64_t flags = current.empty() ? 512 : std::stoll(current);
      flags = disable ? (flags | 2) : (flags & ~std::int64_t{2});
      // The other flags are kept: the value is only written if it is still the one read (AD:
      // remove the old value and add the new one in one modify; elsewhere an assertion).
      if (is_ad(directory_) && !current.empty()) {
        modifications.push_back({ldap::ModifyOp::remove, "userAccountControl", {current}});
        modification.op = ldap::ModifyOp::add;
      } else {
        options.assertion = holds("userAccountControl", current);
      }
      modification.attribute = "userAccountControl";
      modification.values = {std::to_string(flags)};
      break;
    }
    case Kind::ppolicy_lock:
      modification.attribute = "pwdAccountLockedTime";
      if (disable) {
        modification.values = {"000001010000Z"};  // ppolicy: locked until an admin unlocks
      }
      break;
    case Kind::attribute:
      modification.attribute = method.attribute;
      const std::string& value = disable ? method.disabled_value : method.enabled_value;
      if (!value.empty()) {
        modification.values = {value};
      }
      break;
  }
  modifications.push_back(std::move(modification));
  auto modified = conn->modify(dn, modifications, options);
  if (!modified) {
    return Outcome::failed(modified.error());  // a lost race retries with a fresh read
  }
  if (modified->post_read) {
    out.revision = revision_of(*modified->post_read);
  }
  return out;
}

WriteBackDelivery::Outcome WriteBackDelivery::remove(const OutboxItem& item,
                                                     const std::string& dn) {
  Outcome out;
  ldap::Connection* conn = connection(out);
  if (conn == nullptr) {
    return out;
  }
  const auto& move_to = directory_.writeback.move_deleted_to;
  auto done = move_to.empty() ? conn->remove(dn)
                              : conn->rename(dn, first_rdn(dn), move_to, ldap::OldRdn::remove);
  if (!done && done.error().code != ldap::ErrorCode::no_such_object) {
    return Outcome::failed(done.error());
  }
  dn_by_anchor_.erase(anchor_of(item));
  return out;
}

WriteBackDelivery::Outcome WriteBackDelivery::membership(const OutboxItem& item,
                                                         const std::string& dn) {
  Outcome out;
  ldap::Connection* conn = connection(out);
  if (conn == nullptr) {
    return out;
  }
  const bool add = item.kind == WriteKind::add_member;
  ldap::Modification modification;
  modification.op = add ? ldap::ModifyOp::add : ldap::ModifyOp::remove;
  modification.attribute = "member";
  modification.values = {dn};
  auto modified = conn->modify(item.group_dn, {modification});
  if (!modified) {
    const auto code = modified.error().code;
    // Already a member / already gone: what the write wanted (a repeat after a crash).
    if ((add && code == ldap::ErrorCode::attribute_or_value_exists) ||
        (!add && code == ldap::ErrorCode::no_such_attribute)) {
      return out;
    }
    return Outcome::failed(modified.error());
  }
  return out;
}

std::optional<WriteBackDelivery::Outcome> WriteBackDelivery::prefetch_dns(
    const std::vector<Group>& groups) {
  const std::string& attribute = directory_.anchor_attribute;
  if (attribute == "objectGUID") {
    return std::nullopt;  // binary: dn_of looks those up one by one
  }
  std::vector<std::string> missing;
  for (const auto& group : groups) {
    const std::string& anchor = group.merged.anchor;
    if (!anchor.empty() && !dn_by_anchor_.contains(anchor)) {
      missing.push_back(anchor);
    }
  }
  if (missing.size() < 2) {
    return std::nullopt;
  }
  Outcome error;
  ldap::Connection* conn = connection(error);
  if (conn == nullptr) {
    return error;
  }
  // One search per 250 anchors instead of one each; an anchor not found here is looked up (and
  // its absence reported) by dn_of.
  constexpr std::size_t per_search = 250;
  for (std::size_t first = 0; first < missing.size(); first += per_search) {
    std::string filter = "(|";
    for (std::size_t i = first; i < std::min(missing.size(), first + per_search); ++i) {
      filter += "(" + attribute + "=" + ldap::escape_filter_value(missing[i]) + ")";
    }
    filter += ")";
    for (const auto& base : directory_.user_base_dns) {
      ldap::SearchRequest request;
      request.base_dn = base;
      request.filter = filter;
      request.attributes = {attribute};
      conn->search(request, [&](const std::vector<ldap::Entry>& page) {
        for (const auto& entry : page) {
          const std::string anchor = first_value(entry, attribute);
          if (!anchor.empty()) {
            dn_by_anchor_[anchor] = entry.dn;
          }
        }
      });
    }
  }
  return std::nullopt;
}

std::vector<WriteBackDelivery::Outcome> WriteBackDelivery::deliver_groups(
    const std::vector<Group>& groups, std::size_t& writes) {
  std::vector<std::optional<Outcome>> outcomes(groups.size());
  // Plain attribute changes of different users go out pipelined (Active Directory has no
  // assertion control: its compare-by-value writes take the one-at-a-time path).
  if (!is_ad(directory_)) {
    if (auto down = prefetch_dns(groups)) {
      return std::vector<Outcome>(groups.size(), *down);  // unreachable: nothing was sent
    }
    std::vector<ldap::ModifyRequest> requests;
    std::vector<std::size_t> group_of_request;
    for (std::size_t i = 0; i < groups.size(); ++i) {
      const OutboxItem& item = groups[i].merged;
      if (item.kind != WriteKind::modify_user || item.anchor.empty()) {
        continue;
      }
      const auto dn = dn_by_anchor_.find(item.anchor);
      if (dn == dn_by_anchor_.end()) {
        continue;
      }
      if (auto request =
              plain_modify(directory_.writeback, item, dn->second, revision_attributes())) {
        requests.push_back(std::move(*request));
        group_of_request.push_back(i);
      }
    }
    Outcome error;
    ldap::Connection* conn = requests.size() > 1 ? connection(error) : nullptr;
    if (conn != nullptr) {
      const auto results = conn->modify_pipelined(requests, pipeline_window);
      writes += requests.size();
      for (std::size_t k = 0; k < results.size(); ++k) {
        const std::size_t i = group_of_request[k];
        if (results[k]) {
          Outcome out;
          if (results[k]->post_read) {
            out.revision = revision_of(*results[k]->post_read);
          }
          outcomes[i] = std::move(out);
          continue;
        }
        const auto code = results[k].error().code;
        if (code == ldap::ErrorCode::assertion_failed) {
          continue;  // changed meanwhile: the one-at-a-time path reads and resolves it
        }
        if (code == ldap::ErrorCode::no_such_object) {
          dn_by_anchor_.erase(groups[i].merged.anchor);  // renamed or moved: look again
        }
        outcomes[i] = Outcome::failed(results[k].error());
      }
    }
  }
  std::optional<Outcome> down;
  const auto one_at_a_time = [&](const OutboxItem& item, const OwnValues* own) {
    ++writes;
    try {
      return deliver(item, own);
    } catch (const std::exception& e) {
      return Outcome::refused(std::string("unexpected failure: ") + e.what());
    }
  };
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (outcomes[i] && outcomes[i]->kind == Outcome::Kind::down && !down) {
      down = outcomes[i];
    }
    if (down) {
      outcomes[i] = down;  // not attempted (or outcome unknown): stays queued
      continue;
    }
    if (!outcomes[i]) {
      outcomes[i] = one_at_a_time(groups[i].merged, &groups[i].own);
    }
    // A coalesced write the directory refused: the items go one at a time again, so that
    // attempts, backoff and parking fall on the item that is refused, as without coalescing.
    if (outcomes[i]->kind == Outcome::Kind::retry && groups[i].items.size() > 1) {
      outcomes[i] = one_at_a_time(*groups[i].items.front(), nullptr);
      outcomes[i]->first_only = true;
    }
    if (outcomes[i]->kind == Outcome::Kind::down) {
      down = outcomes[i];
    }
  }
  std::vector<Outcome> out;
  out.reserve(groups.size());
  for (auto& outcome : outcomes) {
    out.push_back(std::move(*outcome));
  }
  return out;
}

WriteBackDelivery::Outcome WriteBackDelivery::set_password(const OutboxItem& item,
                                                           const std::string& dn) {
  if (sealer_ == nullptr || !directory_.writeback.operations.password) {
    return Outcome::refused("password write-back is not enabled for this directory");
  }
  auto plaintext = sealer_->open(item.secret);
  if (!plaintext) {
    // Sealed under another key (STATE/writeback.key replaced): it can never be delivered.
    return Outcome::refused("the queued password cannot be unsealed with the current key");
  }
  const ldap::Password password(std::move(*plaintext));
  Outcome out;
  ldap::Connection* conn = connection(out);
  if (conn == nullptr) {
    return out;
  }
  if (is_ad(directory_)) {
    auto encoded = ldap::encode_unicode_pwd(password);
    if (!encoded) {
      return Outcome::failed(encoded.error());
    }
    auto modified =
        conn->modify(dn, {{ldap::ModifyOp::replace, "unicodePwd", {std::move(*encoded)}}});
    if (!modified) {
      return Outcome::failed(modified.error());
    }
    return out;
  }
  // RFC 3062: the server hashes the password by its own policy.
  auto changed = conn->password_modify(dn, password);
  if (!changed) {
    return Outcome::failed(changed.error());
  }
  return out;
}

DeliveryCounters WriteBackDelivery::deliver_due() {
  DeliveryCounters counters;
  const auto& policy = directory_.writeback;
  std::int64_t after = 0;
  core::writeback::UsersSeen seen;
  // The earliest retry scheduled among the items seen in this walk (max: none).
  core::Timestamp next_retry = core::Timestamp::max();
  while (true) {
    const auto items = store_.read()->outbox_items(directory_.name, after, window_size);
    if (items.empty()) {
      break;
    }
    after = items.back().id;
    const core::Timestamp read_at = clock_.now();
    for (const auto& item : items) {
      if (!item.parked && item.next_attempt && *item.next_attempt > read_at) {
        next_retry = std::min(next_retry, *item.next_attempt);
      }
    }
    const auto due = core::writeback::deliverable(items, read_at, seen);
    if (due.empty()) {
      continue;
    }
    // Each due item with the attribute changes of the same user queued right after it in this
    // window (only while the first has not failed: a failing item is retried alone).
    std::map<std::pair<std::string, std::string>, std::vector<const OutboxItem*>> by_user;
    for (const auto& item : items) {
      by_user[{item.tenant.str(), item.user.str()}].push_back(&item);
    }
    // Every due item of the window, burst_size users at a time (the window is read once).
    bool down = false;
    for (std::size_t start = 0; start < due.size() && !down; start += burst_size) {
      std::vector<Group> groups;
      for (std::size_t at = start; at < std::min(due.size(), start + burst_size); ++at) {
        const OutboxItem* first = due[at];
        Group group;
        group.items.push_back(first);
        group.merged = *first;
        const auto own = [&](const OutboxItem& item) {
          for (const auto& change : item.changes) {
            group.own[change.path].insert(change.after.value_or(""));
          }
        };
        own(*first);
        if (first->kind == WriteKind::modify_user && first->attempts == 0) {
          const auto& mine = by_user[{first->tenant.str(), first->user.str()}];
          for (auto next = std::find(mine.begin(), mine.end(), first) + 1; next != mine.end();
               ++next) {
            if ((*next)->kind != WriteKind::modify_user || (*next)->parked) {
              break;
            }
            merge_changes(group.merged, **next);
            own(**next);
            group.items.push_back(*next);
          }
        }
        groups.push_back(std::move(group));
      }
      auto outcomes = deliver_groups(groups, counters.writes);

      // Record the burst, record_batch users per transaction.
      std::vector<std::function<void(core::StoreWriter&)>> record;
      for (std::size_t i = 0; i < groups.size(); ++i) {
        Outcome& outcome = outcomes[i];
        const OutboxItem& item = *groups[i].items.front();
        if (outcome.kind == Outcome::Kind::down) {
          if (!down) {
            counters.directory_down = true;
            counters.down_reason = outcome.error;
          }
          down = true;
          continue;
        }
        const core::Timestamp now = clock_.now();
        if (outcome.kind == Outcome::Kind::retry) {
          OutboxItem failed = item;
          failed.attempts += 1;
          failed.last_error = outcome.error;
          if (core::writeback::should_park(policy, failed.attempts)) {
            failed.parked = now;
            ++counters.parked;
            logger_.error("write-back parked", {{"directory", directory_.name},
                                                {"item", std::to_string(item.id)},
                                                {"user", item.user.str()},
                                                {"error", outcome.error}});
          } else {
            failed.next_attempt = now + core::writeback::retry_delay(failed.attempts);
            ++counters.retried;
            logger_.warning("write-back refused, will retry", {{"directory", directory_.name},
                                                               {"item", std::to_string(item.id)},
                                                               {"error", outcome.error}});
          }
          record.push_back([failed](core::StoreWriter& tx) { tx.update_write(failed); });
          continue;
        }
        std::vector<std::int64_t> done;
        for (const OutboxItem* each : groups[i].items) {
          done.push_back(each->id);
          if (outcome.first_only) {
            break;
          }
        }
        counters.delivered += done.size();
        counters.conflicts += outcome.conflicts.size();
        // `item` is in `items`, which outlives the record.
        record.push_back([this, &item, done = std::move(done),
                          outcome = std::move(outcome)](core::StoreWriter& tx) {
          for (const auto id : done) {
            tx.remove_write(id);
          }
          for (const auto& conflict : outcome.conflicts) {
            tx.insert_conflict(conflict);
          }
          std::string anchor = outcome.anchor.empty() ? item.anchor : outcome.anchor;
          if (item.kind == WriteKind::create_user && !outcome.anchor.empty() &&
              tx.find_user(item.tenant, item.user)) {
            tx.put_link({directory_.name, outcome.anchor, item.tenant, item.user, std::nullopt});
          }
          if (anchor.empty()) {
            if (auto link = tx.find_link_of_user(directory_.name, item.tenant, item.user)) {
              anchor = link->anchor;
            }
          }
          if (!anchor.empty() && !outcome.revision.empty()) {
            tx.set_written_revision(directory_.name, anchor, outcome.revision);
          }
        });
      }
      for (std::size_t first = 0; first < record.size(); first += record_batch) {
        auto tx = store_.write();
        for (std::size_t k = first; k < std::min(record.size(), first + record_batch); ++k) {
          record[k](*tx);
        }
        tx->commit();
      }
    }
    if (down) {
      connection_.reset();
      break;
    }
    // Delivered ones are gone and their successors may be due now: walk again from the start.
    after = 0;
    seen.clear();
    next_retry = core::Timestamp::max();
  }
  if (next_retry != core::Timestamp::max()) {
    counters.next_retry_in = std::chrono::ceil<std::chrono::milliseconds>(
        std::max(next_retry - clock_.now(), core::Timestamp::duration::zero()));
  }
  if (counters.delivered > 0) {
    logger_.info("write-back delivered", {{"directory", directory_.name},
                                          {"items", counters.delivered},
                                          {"writes", counters.writes},
                                          {"conflicts", counters.conflicts}});
  }
  return counters;
}

void WriteBackWakeups::queued(std::string_view directory) {
  {
    std::lock_guard lock(mutex_);
    if (!queued_.contains(directory)) {
      queued_.emplace(directory);
    }
  }
  changed_.notify_all();
}

void WriteBackWakeups::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
}

WriteBackWakeups::WaitEnd WriteBackWakeups::wait(const std::string& directory,
                                                 std::chrono::milliseconds timeout,
                                                 bool wake_on_queue) {
  std::unique_lock lock(mutex_);
  const bool woken = changed_.wait_for(
      lock, timeout, [&] { return stopping_ || (wake_on_queue && queued_.contains(directory)); });
  if (stopping_) {
    return WaitEnd::stop;
  }
  return woken ? WaitEnd::queued : WaitEnd::timeout;
}

void WriteBackWakeups::take(const std::string& directory) {
  std::lock_guard lock(mutex_);
  queued_.erase(directory);
}

WriteBackWorker::WriteBackWorker(std::vector<std::unique_ptr<WriteBackDelivery>> deliveries,
                                 Logger& logger, WriteBackWakeups& wakeups)
    : deliveries_(std::move(deliveries)), logger_(logger), wakeups_(wakeups) {}

WriteBackWorker::~WriteBackWorker() {
  stop();
}

void WriteBackWorker::start() {
  for (auto& delivery : deliveries_) {
    threads_.emplace_back([this, d = delivery.get()] { loop(*d); });
  }
}

void WriteBackWorker::stop() {
  wakeups_.stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  threads_.clear();
}

WriteBackWorker::Wait WriteBackWorker::next_wait(const DeliveryCounters& pass,
                                                 std::chrono::milliseconds& backoff,
                                                 std::chrono::milliseconds poll_interval) {
  using std::chrono::milliseconds;
  if (pass.directory_down) {
    backoff = std::min(std::max(backoff * 2, milliseconds(500)), milliseconds(30'000));
    return {backoff, false};
  }
  backoff = milliseconds(0);
  if (pass.delivered > 0) {
    return {milliseconds(0), true};
  }
  milliseconds timeout = poll_interval;
  if (pass.next_retry_in) {
    timeout = std::clamp(*pass.next_retry_in, milliseconds(0), poll_interval);
  }
  return {timeout, true};
}

void WriteBackWorker::loop(WriteBackDelivery& delivery) {
  const std::string& name = delivery.directory().name;
  const std::chrono::milliseconds poll_interval = delivery.directory().writeback_poll_interval;
  std::chrono::milliseconds backoff{0};
  bool was_down = false;
  while (true) {
    // Before the pass reads the outbox: a write queued from here on wakes the next wait.
    wakeups_.take(name);
    DeliveryCounters counters;
    try {
      counters = delivery.deliver_due();
    } catch (const std::exception& e) {
      counters.directory_down = true;
      counters.down_reason = std::string("store: ") + e.what();
    }
    if (counters.directory_down && !was_down) {
      logger_.warning("write-back waiting for the directory",
                      {{"directory", name}, {"reason", counters.down_reason}});
    } else if (!counters.directory_down && was_down) {
      logger_.info("write-back resumed", {{"directory", name}});
    }
    was_down = counters.directory_down;
    const Wait wait = next_wait(counters, backoff, poll_interval);
    if (wakeups_.wait(name, wait.timeout, wait.wake_on_queue) == WriteBackWakeups::WaitEnd::stop) {
      return;
    }
  }
}

}  // namespace idbridge::daemon
