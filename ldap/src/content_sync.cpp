// RFC 4533 content synchronisation on libldap: the sync request control is encoded and the sync
// state/done controls and sync info messages decoded here with liblber (Debian's libldap-dev does
// not ship ldap_sync.h, and its ldap_sync_* loop has no stop or per-reply timeout of its own).
#include "client_internal.hpp"

#include <cassert>
#include <chrono>

namespace idbridge::ldap {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct BerDeleter {
  void operator()(BerElement* ber) const { ber_free(ber, 1); }
};
using Ber = std::unique_ptr<BerElement, BerDeleter>;

struct ControlsDeleter {
  void operator()(LDAPControl** controls) const { ldap_controls_free(controls); }
};

// A syncUUID (16 bytes) in entryUUID's text form, so it compares equal to the anchor of a read.
std::string uuid_text(const berval& value) {
  constexpr char digits[] = "0123456789abcdef";
  std::string out;
  if (value.bv_len != 16) {
    return out;
  }
  for (ber_len_t i = 0; i < value.bv_len; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    const auto byte = static_cast<unsigned char>(value.bv_val[i]);
    out += digits[byte >> 4];
    out += digits[byte & 0x0f];
  }
  return out;
}

std::string to_string(const berval& value) {
  return value.bv_val != nullptr ? std::string(value.bv_val, value.bv_len) : std::string();
}

// syncRequestValue ::= SEQUENCE { mode ENUMERATED, cookie syncCookie OPTIONAL,
//                                 reloadHint BOOLEAN DEFAULT FALSE }
LDAPControl* sync_request_control(SyncMode mode, const std::string& cookie) {
  Ber ber(ber_alloc_t(LBER_USE_DER));
  if (!ber) {
    return nullptr;
  }
  const ber_int_t wire_mode =
      mode == SyncMode::refresh_only ? LDAP_SYNC_REFRESH_ONLY : LDAP_SYNC_REFRESH_AND_PERSIST;
  berval cookie_value{static_cast<ber_len_t>(cookie.size()), const_cast<char*>(cookie.data())};
  if (ber_printf(ber.get(), "{e", wire_mode) < 0 ||
      (!cookie.empty() && ber_printf(ber.get(), "O", &cookie_value) < 0) ||
      ber_printf(ber.get(), "N}") < 0) {
    return nullptr;
  }
  berval* value = nullptr;
  if (ber_flatten(ber.get(), &value) != 0) {
    return nullptr;
  }
  LDAPControl* control = nullptr;
  // Critical: a server without content sync must refuse, not answer a plain search that would
  // look like "nothing changed".
  const int rc = ldap_control_create(LDAP_CONTROL_SYNC, 1, value, 1, &control);
  ber_bvfree(value);
  return rc == LDAP_SUCCESS ? control : nullptr;
}

struct EntryState {
  int state = -1;  // LDAP_SYNC_PRESENT, _ADD, _MODIFY, _DELETE
  std::string uuid;
  std::optional<std::string> cookie;
};

// syncStateValue ::= SEQUENCE { state ENUMERATED, entryUUID syncUUID, cookie syncCookie OPTIONAL }
std::optional<EntryState> entry_state(LDAP* ld, LDAPMessage* message) {
  LDAPControl** raw = nullptr;
  if (ldap_get_entry_controls(ld, message, &raw) != LDAP_SUCCESS) {
    return std::nullopt;
  }
  std::unique_ptr<LDAPControl*, ControlsDeleter> controls(raw);
  LDAPControl* control = ldap_control_find(LDAP_CONTROL_SYNC_STATE, raw, nullptr);
  if (control == nullptr) {
    return std::nullopt;
  }
  Ber ber(ber_init(&control->ldctl_value));
  if (!ber) {
    return std::nullopt;
  }
  ber_int_t state = -1;
  berval uuid{0, nullptr};
  ber_len_t length = 0;
  if (ber_scanf(ber.get(), "{em", &state, &uuid) == LBER_ERROR) {
    return std::nullopt;
  }
  EntryState result{static_cast<int>(state), uuid_text(uuid), std::nullopt};
  if (ber_peek_tag(ber.get(), &length) == LDAP_TAG_SYNC_COOKIE) {
    berval cookie{0, nullptr};
    if (ber_scanf(ber.get(), "m", &cookie) == LBER_ERROR) {
      return std::nullopt;
    }
    result.cookie = to_string(cookie);
  }
  if (result.uuid.empty()) {
    return std::nullopt;
  }
  return result;
}

struct SyncInfo {
  enum class Kind { new_cookie, refresh_delete, refresh_present, id_set } kind = Kind::new_cookie;
  std::optional<std::string> cookie;
  bool refresh_done = true;      // refreshDelete / refreshPresent
  bool refresh_deletes = false;  // syncIdSet
  std::vector<std::string> uuids;
};

// syncInfoValue ::= CHOICE { newcookie [0], refreshDelete [1], refreshPresent [2], syncIdSet [3] }
std::optional<SyncInfo> sync_info(LDAP* ld, LDAPMessage* message) {
  char* oid = nullptr;
  berval* data = nullptr;
  if (ldap_parse_intermediate(ld, message, &oid, &data, nullptr, 0) != LDAP_SUCCESS) {
    return std::nullopt;
  }
  const bool is_sync_info = oid != nullptr && std::string_view(oid) == LDAP_SYNC_INFO;
  ldap_memfree(oid);
  std::unique_ptr<berval, void (*)(berval*)> value(data, [](berval* v) { ber_bvfree(v); });
  if (!is_sync_info || !value) {
    return std::nullopt;
  }
  Ber ber(ber_init(value.get()));
  if (!ber) {
    return std::nullopt;
  }
  SyncInfo info;
  ber_len_t length = 0;
  const auto optional_cookie = [&]() -> bool {
    if (ber_peek_tag(ber.get(), &length) == LDAP_TAG_SYNC_COOKIE) {
      berval cookie{0, nullptr};
      if (ber_scanf(ber.get(), "m", &cookie) == LBER_ERROR) {
        return false;
      }
      info.cookie = to_string(cookie);
    }
    return true;
  };
  const ber_tag_t tag = ber_peek_tag(ber.get(), &length);
  if (tag == LDAP_TAG_SYNC_NEW_COOKIE) {
    berval cookie{0, nullptr};
    if (ber_scanf(ber.get(), "m", &cookie) == LBER_ERROR) {
      return std::nullopt;
    }
    info.kind = SyncInfo::Kind::new_cookie;
    info.cookie = to_string(cookie);
    return info;
  }
  if (tag == LDAP_TAG_SYNC_REFRESH_DELETE || tag == LDAP_TAG_SYNC_REFRESH_PRESENT) {
    info.kind = tag == LDAP_TAG_SYNC_REFRESH_DELETE ? SyncInfo::Kind::refresh_delete
                                                    : SyncInfo::Kind::refresh_present;
    if (ber_scanf(ber.get(), "{") == LBER_ERROR || !optional_cookie()) {
      return std::nullopt;
    }
    if (ber_peek_tag(ber.get(), &length) == LDAP_TAG_REFRESHDONE) {
      ber_int_t done = 1;
      if (ber_scanf(ber.get(), "b", &done) == LBER_ERROR) {
        return std::nullopt;
      }
      info.refresh_done = done != 0;
    }
    return info;
  }
  if (tag == LDAP_TAG_SYNC_ID_SET) {
    info.kind = SyncInfo::Kind::id_set;
    if (ber_scanf(ber.get(), "{") == LBER_ERROR || !optional_cookie()) {
      return std::nullopt;
    }
    if (ber_peek_tag(ber.get(), &length) == LDAP_TAG_REFRESHDELETES) {
      ber_int_t deletes = 0;
      if (ber_scanf(ber.get(), "b", &deletes) == LBER_ERROR) {
        return std::nullopt;
      }
      info.refresh_deletes = deletes != 0;
    }
    BerVarray uuids = nullptr;
    if (ber_scanf(ber.get(), "[W]", &uuids) == LBER_ERROR) {
      return std::nullopt;
    }
    for (BerVarray uuid = uuids; uuid != nullptr && uuid->bv_val != nullptr; ++uuid) {
      auto text = uuid_text(*uuid);
      if (text.empty()) {
        ber_bvarray_free(uuids);
        return std::nullopt;
      }
      info.uuids.push_back(std::move(text));
    }
    ber_bvarray_free(uuids);
    return info;
  }
  return std::nullopt;
}

struct SyncDone {
  std::optional<std::string> cookie;
  bool refresh_deletes = false;
};

// syncDoneValue ::= SEQUENCE { cookie syncCookie OPTIONAL, refreshDeletes BOOLEAN DEFAULT FALSE }
std::optional<SyncDone> sync_done(LDAPControl** controls) {
  LDAPControl* control = ldap_control_find(LDAP_CONTROL_SYNC_DONE, controls, nullptr);
  if (control == nullptr) {
    return std::nullopt;
  }
  Ber ber(ber_init(&control->ldctl_value));
  if (!ber || ber_scanf(ber.get(), "{") == LBER_ERROR) {
    return std::nullopt;
  }
  SyncDone done;
  ber_len_t length = 0;
  if (ber_peek_tag(ber.get(), &length) == LDAP_TAG_SYNC_COOKIE) {
    berval cookie{0, nullptr};
    if (ber_scanf(ber.get(), "m", &cookie) == LBER_ERROR) {
      return std::nullopt;
    }
    done.cookie = to_string(cookie);
  }
  if (ber_peek_tag(ber.get(), &length) == LDAP_TAG_REFRESHDELETES) {
    ber_int_t deletes = 0;
    if (ber_scanf(ber.get(), "b", &deletes) == LBER_ERROR) {
      return std::nullopt;
    }
    done.refresh_deletes = deletes != 0;
  }
  return done;
}

}  // namespace

SyncOutcome Connection::content_sync(const SyncRequest& request, const SyncCallback& on_batch,
                                     std::stop_token stop) {
  using namespace detail;
  assert(impl_ && "content_sync on a moved-from Connection");
  LDAP* ld = impl_->ld.get();
  const SigpipeGuard guard;
  SyncOutcome outcome;
  SyncBatch batch;
  bool in_refresh = true;
  int msgid = -1;

  const auto incomplete = [&](Completeness reason, int code, std::string detail) {
    if (reason == Completeness::connection_lost || reason == Completeness::timeout) {
      impl_->lost = detail;
    }
    outcome.completeness = reason;
    outcome.ldap_code = code;
    outcome.detail = std::move(detail);
    return outcome;
  };
  const auto pending = [&] {
    return batch.changed.size() + batch.deleted.size() + batch.present.size();
  };
  const auto deliver = [&] {
    if (pending() == 0 && !batch.cookie && !batch.refresh_done) {
      return;
    }
    outcome.changed += batch.changed.size();
    outcome.deleted += batch.deleted.size();
    outcome.present += batch.present.size();
    on_batch(batch);
    batch = SyncBatch{};
  };
  const auto take_cookie = [&](const std::optional<std::string>& cookie) {
    // A cookie in the middle of a refresh would let a client store a position whose deletions it
    // has not seen yet: only the end of the refresh phase (or later) counts.
    if (cookie && !in_refresh) {
      batch.cookie = *cookie;
      outcome.cookie = *cookie;
    }
  };
  const auto end_refresh = [&](std::optional<std::string> cookie, bool refresh_deletes) {
    in_refresh = false;
    batch.refresh_done = true;
    batch.refresh_deletes = refresh_deletes;
    outcome.refresh_done = true;
    outcome.refresh_deletes = refresh_deletes;
    take_cookie(cookie);
    deliver();
  };

  if (impl_->lost) {
    return incomplete(Completeness::connection_lost, LDAP_SERVER_DOWN,
                      "the connection was lost earlier (" + *impl_->lost + "); open a new one");
  }
  std::unique_ptr<LDAPControl, void (*)(LDAPControl*)> control(
      sync_request_control(request.mode, request.cookie),
      [](LDAPControl* c) { ldap_control_free(c); });
  if (!control) {
    return incomplete(Completeness::protocol_error, LDAP_ENCODING_ERROR,
                      "cannot encode the content sync control");
  }
  LDAPControl* server_controls[] = {control.get(), nullptr};
  auto names = attribute_array(request.attributes);
  int rc =
      ldap_search_ext(ld, request.base_dn.c_str(), scope_of(request.scope), request.filter.c_str(),
                      request.attributes.empty() ? nullptr : names.data(), 0, server_controls,
                      nullptr, nullptr, 0, &msgid);
  if (rc != LDAP_SUCCESS) {
    return incomplete(
        completeness_of(rc), rc,
        with_diagnostic("sending the content sync search: " + result_text(rc), diagnostic(ld)));
  }

  auto last_reply = SteadyClock::now();
  while (true) {
    if (stop.stop_requested()) {
      ldap_abandon_ext(ld, msgid, nullptr, nullptr);
      deliver();
      outcome.stopped = true;
      outcome.completeness = Completeness::complete;
      outcome.detail = "stopped";
      return outcome;
    }
    timeval poll = to_timeval(request.poll_interval);
    LDAPMessage* raw = nullptr;
    const int type = ldap_result(ld, msgid, LDAP_MSG_ONE, &poll, &raw);
    Message message(raw);
    if (type == 0) {
      if (in_refresh) {
        if (SteadyClock::now() - last_reply >= impl_->settings.operation_timeout) {
          ldap_abandon_ext(ld, msgid, nullptr, nullptr);
          return incomplete(Completeness::timeout, LDAP_TIMEOUT,
                            "no reply within " +
                                std::to_string(impl_->settings.operation_timeout.count()) +
                                " ms during the content sync refresh");
        }
      } else {
        deliver();  // a quiet server: hand over what the persist phase has gathered so far
      }
      continue;
    }
    if (type < 0) {
      rc = last_error(ld);
      return incomplete(
          completeness_of(rc), rc,
          with_diagnostic("reading the content sync: " + result_text(rc), diagnostic(ld)));
    }
    last_reply = SteadyClock::now();
    switch (type) {
      case LDAP_RES_SEARCH_ENTRY: {
        auto state = entry_state(ld, message.get());
        if (!state) {
          ldap_abandon_ext(ld, msgid, nullptr, nullptr);
          return incomplete(Completeness::protocol_error, LDAP_DECODING_ERROR,
                            "an entry without a decodable sync state control");
        }
        if (state->state == LDAP_SYNC_PRESENT) {
          batch.present.push_back(std::move(state->uuid));
        } else if (state->state == LDAP_SYNC_DELETE) {
          batch.deleted.push_back(std::move(state->uuid));
        } else {
          batch.changed.push_back(to_entry(ld, message.get()));
        }
        take_cookie(state->cookie);
        break;
      }
      case LDAP_RES_INTERMEDIATE: {
        auto info = sync_info(ld, message.get());
        if (!info) {
          break;  // another intermediate response: not ours to interpret
        }
        switch (info->kind) {
          case SyncInfo::Kind::new_cookie: take_cookie(info->cookie); break;
          case SyncInfo::Kind::refresh_delete:
          case SyncInfo::Kind::refresh_present:
            if (info->refresh_done) {
              end_refresh(info->cookie, info->kind == SyncInfo::Kind::refresh_delete);
            } else {
              take_cookie(info->cookie);
            }
            break;
          case SyncInfo::Kind::id_set: {
            auto& target = info->refresh_deletes ? batch.deleted : batch.present;
            for (auto& uuid : info->uuids) {
              target.push_back(std::move(uuid));
            }
            take_cookie(info->cookie);
            break;
          }
        }
        break;
      }
      case LDAP_RES_SEARCH_REFERENCE: break;  // syncprov sends none; never followed anyway
      case LDAP_RES_SEARCH_RESULT: {
        int result = LDAP_OTHER;
        char* diag = nullptr;
        LDAPControl** raw_controls = nullptr;
        rc = ldap_parse_result(ld, message.get(), &result, nullptr, &diag, nullptr, &raw_controls,
                               0);
        std::unique_ptr<LDAPControl*, ControlsDeleter> controls(raw_controls);
        const std::string server_text = diag != nullptr ? diag : "";
        ldap_memfree(diag);
        if (rc != LDAP_SUCCESS) {
          return incomplete(Completeness::protocol_error, rc, "undecodable content sync result");
        }
        if (result == LDAP_SYNC_REFRESH_REQUIRED) {
          outcome.refresh_required = true;
          return incomplete(Completeness::server_error, result,
                            with_diagnostic("the server cannot sync from this cookie "
                                            "(e-syncRefreshRequired, 4096)",
                                            server_text));
        }
        if (result == LDAP_UNWILLING_TO_PERFORM && !request.cookie.empty()) {
          // syncprov's answer to a cookie newer than its own state ("consumer state is newer
          // than provider!"): the provider was restored or replaced. Only a full read helps.
          outcome.refresh_required = true;
          return incomplete(Completeness::server_error, result,
                            with_diagnostic("the server refused the cookie: " + result_text(result),
                                            server_text));
        }
        if (result != LDAP_SUCCESS) {
          // What was gathered is real (creates and updates may use it) but proves nothing.
          deliver();
          return incomplete(
              completeness_of(result), result,
              with_diagnostic("content sync ended with " + result_text(result), server_text));
        }
        const auto done = sync_done(raw_controls);
        if (!done) {
          deliver();
          return incomplete(Completeness::protocol_error, result,
                            "content sync ended without a sync-done control");
        }
        if (in_refresh) {
          end_refresh(done->cookie, done->refresh_deletes);
        } else {
          take_cookie(done->cookie);
          deliver();
        }
        if (request.mode == SyncMode::refresh_and_persist) {
          return incomplete(Completeness::server_error, result,
                            "the server ended the persistent search");
        }
        outcome.completeness = Completeness::complete;
        outcome.ldap_code = LDAP_SUCCESS;
        return outcome;
      }
      default: break;
    }
    if (pending() >= request.batch_size) {
      deliver();
    }
  }
}

}  // namespace idbridge::ldap
