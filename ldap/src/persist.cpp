// Near-real-time sync: one refreshAndPersist content sync per users base and per group base, each
// on its own connection and thread, feeding one queue that the calling thread turns into
// incremental Snapshots. The refresh phases of all users bases are delivered together as one
// batch (a present set from only some bases would make the others' users look gone); after that
// every batch holds changes and deletions only. Any group change ends the sync with
// full_read_needed, because nested memberships of unchanged users may have moved; so does a change
// of a group the rules name (one search per naming context), because adding a user to a group
// changes only its memberOf, which syncprov does not report on the user.
#include "cursor.hpp"
#include "idbridge/ldap/groups.hpp"
#include "idbridge/ldap/reader.hpp"
#include "reader_internal.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace idbridge::ldap {
namespace {

using namespace reading;
using core::sync::Snapshot;

enum class Source { users, groups, rule_groups };

struct Event {
  std::size_t source = 0;
  Source kind = Source::users;
  std::optional<SyncBatch> batch;
  std::optional<SyncOutcome> end;  // the source's search returned
};

class EventQueue {
 public:
  void push(Event event) {
    {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(event));
    }
    ready_.notify_one();
  }
  std::optional<Event> pop(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, wait, [&] { return !events_.empty(); })) {
      return std::nullopt;
    }
    Event event = std::move(events_.front());
    events_.pop_front();
    return event;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Event> events_;
};

class PersistentSync {
 public:
  PersistentSync(const ReadSettings& settings, Cursor cursor, const SleepFunction& sleep)
      : settings_(settings), cursor_(std::move(cursor)), sleep_(sleep) {}

  ~PersistentSync() { stop_all(); }

  PersistOutcome run(const std::function<void(const Snapshot&)>& on_batch, std::stop_token stop) {
    outcome_.cursor = format_cursor(cursor_);
    std::stop_callback forward(stop, [this] { sources_stop_.request_stop(); });
    if (!rule_groups_.empty()) {
      auto connection =
          connect_with_backoff(settings_.connection, settings_.connect_attempts, sleep_);
      if (!connection) {
        return finish(PersistEnd::failed, cannot_connect(settings_, connection.error()));
      }
      auto bases = naming_contexts(*connection);
      if (!bases) {
        return finish(PersistEnd::failed, "cannot find the groups the rules name: " +
                                              std::string(to_string(bases.error().code)) + ": " +
                                              bases.error().message);
      }
      rule_group_bases_ = std::move(*bases);
    }
    for (std::size_t i = 0; i < settings_.group_base_dns.size(); ++i) {
      start(i, Source::groups, settings_.group_base_dns[i], settings_.group_filter,
            {"member", "cn", settings_.anchor_attribute}, "");
    }
    for (std::size_t i = 0; i < rule_group_bases_.size(); ++i) {
      start(i, Source::rule_groups, rule_group_bases_[i], rule_groups_.filter(), {"member"}, "");
    }
    start_users_when_groups_ready();
    while (true) {
      if (stop.stop_requested()) {
        return finish(PersistEnd::stopped, "stopped");
      }
      auto event = queue_.pop(std::chrono::milliseconds(100));
      if (!event) {
        continue;
      }
      if (event->end) {
        const SyncOutcome& end = *event->end;
        if (stop.stop_requested() || end.stopped) {
          return finish(PersistEnd::stopped, "stopped");
        }
        const std::string& base =
            event->kind == Source::groups        ? settings_.group_base_dns[event->source]
            : event->kind == Source::rule_groups ? rule_group_bases_[event->source]
                                                 : settings_.user_base_dns[event->source];
        if (end.refresh_required) {
          return finish(PersistEnd::full_read_needed, base + ": " + end.detail);
        }
        return finish(PersistEnd::failed,
                      std::string(to_string(end.completeness)) + " on " + base + ": " + end.detail);
      }
      if (event->kind == Source::groups) {
        if (auto reason = on_group_batch(*event->batch)) {
          return finish(PersistEnd::full_read_needed, *reason);
        }
      } else if (event->kind == Source::rule_groups) {
        if (auto reason = on_rule_group_batch(*event->batch)) {
          return finish(PersistEnd::full_read_needed, *reason);
        }
      } else if (auto reason = on_user_batch(event->source, *event->batch, on_batch)) {
        return finish(PersistEnd::full_read_needed, *reason);
      }
    }
  }

 private:
  void start(std::size_t index, Source kind, std::string base, std::string filter,
             std::vector<std::string> attributes, std::string cookie) {
    SyncRequest request;
    request.base_dn = std::move(base);
    request.filter = std::move(filter);
    request.attributes = std::move(attributes);
    request.mode = SyncMode::refresh_and_persist;
    request.cookie = std::move(cookie);
    request.batch_size = static_cast<std::size_t>(std::max(settings_.page_size, 1));
    threads_.emplace_back([this, index, kind, request](std::stop_token) {
      Event end{index, kind, std::nullopt, SyncOutcome{}};
      auto connection =
          connect_with_backoff(settings_.connection, settings_.connect_attempts, sleep_);
      if (!connection) {
        end.end->completeness = Completeness::connection_lost;
        end.end->detail = cannot_connect(settings_, connection.error());
        queue_.push(std::move(end));
        return;
      }
      try {
        end.end = connection->content_sync(
            request,
            [&](const SyncBatch& batch) {
              queue_.push({index, kind, batch, std::nullopt});
            },
            sources_stop_.get_token());
      } catch (const std::exception& e) {
        end.end->completeness = Completeness::server_error;
        end.end->detail = e.what();
      }
      queue_.push(std::move(end));
    });
  }

  // The users are synced once every group search has been refreshed and matched the cursor.
  void start_users_when_groups_ready() {
    if (users_started_ || (!settings_.group_base_dns.empty() && !groups_ready_) ||
        refreshed_rule_groups_ < rule_group_bases_.size()) {
      return;
    }
    users_started_ = true;
    refreshing_users_ = settings_.user_base_dns.size();
    for (std::size_t i = 0; i < settings_.user_base_dns.size(); ++i) {
      start(i, Source::users, settings_.user_base_dns[i], settings_.user_filter,
            user_attributes(settings_), cursor_.cookies[i]);
    }
  }

  // The groups' refresh builds the graph (and must match the cursor's digest); any later change
  // ends the sync.
  std::optional<std::string> on_group_batch(const SyncBatch& batch) {
    if (groups_ready_) {
      if (!batch.changed.empty() || !batch.deleted.empty()) {
        return "groups under the group base DNs changed";
      }
      return std::nullopt;
    }
    for (const auto& entry : batch.changed) {
      static const std::vector<std::string> none;
      const Attribute* members = entry.find("member");
      graph_.add_group(entry.dn, members != nullptr ? members->values : none);
    }
    if (batch.refresh_done && ++refreshed_groups_ == settings_.group_base_dns.size()) {
      graph_.finish();
      groups_ready_ = true;
      if (graph_.digest() != cursor_.group_digest) {
        return "groups under the group base DNs changed since the cursor";
      }
      start_users_when_groups_ready();
    }
    return std::nullopt;
  }

  // The named groups' refresh must match the cursor's digest; any later change of one of them
  // (or deletion of a group the filter matches) ends the sync.
  std::optional<std::string> on_rule_group_batch(const SyncBatch& batch) {
    const bool named_changed =
        std::any_of(batch.changed.begin(), batch.changed.end(),
                    [&](const Entry& entry) { return rule_groups_.named(entry.dn); });
    if (refreshed_rule_groups_ == rule_group_bases_.size()) {
      if (named_changed || !batch.deleted.empty()) {
        return "groups the rules name changed";
      }
      return std::nullopt;
    }
    for (const auto& entry : batch.changed) {
      if (rule_groups_.named(entry.dn)) {
        static const std::vector<std::string> none;
        const Attribute* members = entry.find("member");
        rule_graph_.add_group(entry.dn, members != nullptr ? members->values : none);
      }
    }
    if (batch.refresh_done && ++refreshed_rule_groups_ == rule_group_bases_.size()) {
      if (rule_graph_.digest() != cursor_.rule_group_digest) {
        return "groups the rules name changed since the cursor";
      }
      start_users_when_groups_ready();
    }
    return std::nullopt;
  }

  std::optional<std::string> on_user_batch(std::size_t source, const SyncBatch& batch,
                                           const std::function<void(const Snapshot&)>& on_batch) {
    const bool binary_anchor = is_binary_anchor(settings_.anchor_attribute);
    for (const auto& entry : batch.changed) {
      auto user = to_directory_entry(entry, settings_.anchor_attribute, binary_anchor);
      if (!settings_.group_base_dns.empty()) {
        user.groups = graph_.groups_of(user.dn, user.groups);
      }
      if (!user.anchor.empty()) {
        pending_.users.push_back(std::move(user));
      }
    }
    pending_.deleted_anchors.insert(pending_.deleted_anchors.end(), batch.deleted.begin(),
                                    batch.deleted.end());
    if (refreshing_users_ > 0) {
      present_.insert(present_.end(), batch.present.begin(), batch.present.end());
      if (!batch.refresh_done) {
        return std::nullopt;  // the refresh phases are delivered together, below
      }
      (batch.refresh_deletes ? delete_phase_ : present_phase_) = true;
      if (batch.cookie) {
        cursor_.cookies[source] = *batch.cookie;
      }
      if (--refreshing_users_ > 0) {
        return std::nullopt;
      }
      if (present_phase_ && delete_phase_) {
        return "the users bases answered in different refresh modes (present and delete)";
      }
      if (present_phase_) {
        for (const auto& user : pending_.users) {
          present_.push_back(user.anchor);
        }
        std::sort(present_.begin(), present_.end());
        present_.erase(std::unique(present_.begin(), present_.end()), present_.end());
        pending_.present_anchors = std::move(present_);
      }
    } else if (batch.cookie) {
      cursor_.cookies[source] = *batch.cookie;
    }
    std::sort(pending_.deleted_anchors.begin(), pending_.deleted_anchors.end());
    pending_.deleted_anchors.erase(
        std::unique(pending_.deleted_anchors.begin(), pending_.deleted_anchors.end()),
        pending_.deleted_anchors.end());
    pending_.directory = settings_.directory;
    pending_.kind = Snapshot::Kind::incremental;
    pending_.completeness = {true, ""};
    pending_.cursor = format_cursor(cursor_);
    Snapshot delivered = std::move(pending_);
    pending_ = Snapshot{};
    present_.clear();
    on_batch(delivered);
    outcome_.cursor = delivered.cursor;
    return std::nullopt;
  }

  void stop_all() {
    sources_stop_.request_stop();
    threads_.clear();  // jthread joins; each source returns within its poll interval
  }

  PersistOutcome finish(PersistEnd end, std::string reason) {
    stop_all();
    outcome_.end = end;
    outcome_.reason = std::move(reason);
    return outcome_;
  }

  const ReadSettings& settings_;
  Cursor cursor_;
  SleepFunction sleep_;
  EventQueue queue_;
  std::stop_source sources_stop_;
  GroupGraph graph_;
  bool groups_ready_ = false;
  std::size_t refreshed_groups_ = 0;
  RuleGroups rule_groups_{settings_};
  std::vector<std::string> rule_group_bases_;
  GroupGraph rule_graph_;
  std::size_t refreshed_rule_groups_ = 0;
  bool users_started_ = false;
  std::size_t refreshing_users_ = 0;
  bool present_phase_ = false;
  bool delete_phase_ = false;
  std::vector<std::string> present_;
  Snapshot pending_;
  PersistOutcome outcome_;
  std::vector<std::jthread> threads_;  // last: joined before the members they use go away
};

}  // namespace

PersistOutcome persist_directory(const ReadSettings& settings, const std::string& cursor,
                                 const std::function<void(const core::sync::Snapshot&)>& on_batch,
                                 std::stop_token stop, const SleepFunction& sleep) {
  PersistOutcome outcome;
  outcome.cursor = cursor;
  if (auto problem = settings_problem(settings)) {
    outcome.reason = *problem;
    return outcome;
  }
  if (settings.change_detection != ChangeDetection::content_sync) {
    outcome.reason = "a persistent sync needs change_detection content_sync";
    return outcome;
  }
  const auto parsed = parse_cursor(cursor);
  if (!parsed || parsed->detection != ChangeDetection::content_sync ||
      parsed->fingerprint != settings_fingerprint(settings) ||
      parsed->cookies.size() != settings.user_base_dns.size()) {
    outcome.end = PersistEnd::full_read_needed;
    outcome.reason = "the cursor is not a content sync cursor for these settings";
    return outcome;
  }
  PersistentSync sync(settings, *parsed, sleep ? sleep : real_sleep);
  return sync.run(on_batch, stop);
}

}  // namespace idbridge::ldap
