// Writes on a Connection: add, modify (one at a time or pipelined), rename, delete and the RFC 3062
// password change, with the RFC 4528 assertion and RFC 4527 read-entry controls built and parsed
// by libldap/liblber; and AD's unicodePwd encoding.
#include "idbridge/ldap/client.hpp"

#include "client_internal.hpp"

#include <lber.h>
#include <ldap.h>

#include <algorithm>
#include <cassert>
#include <cstdint>

namespace idbridge::ldap {
namespace {

using namespace detail;

struct BerDeleter {
  void operator()(BerElement* ber) const { ber_free(ber, 1); }
};
using Ber = std::unique_ptr<BerElement, BerDeleter>;

struct ControlArrayDeleter {
  void operator()(LDAPControl** controls) const { ldap_controls_free(controls); }
};

using OwnedControl = std::unique_ptr<LDAPControl, ControlDeleter>;

// The request controls of one operation. libldap encodes them when the request is sent, so
// they only have to live until the send returns.
class RequestControls {
 public:
  void add(LDAPControl* control) { owned_.emplace_back(control); }
  LDAPControl** get() {
    if (owned_.empty()) {
      return nullptr;
    }
    array_.clear();
    for (const auto& control : owned_) {
      array_.push_back(control.get());
    }
    array_.push_back(nullptr);
    return array_.data();
  }

 private:
  std::vector<OwnedControl> owned_;
  std::vector<LDAPControl*> array_;
};

// An RFC 4527 pre- or post-read request: AttributeSelection ::= SEQUENCE OF selector.
int read_entry_control(const char* oid, const std::vector<std::string>& attributes,
                       LDAPControl** control) {
  Ber ber(ber_alloc_t(LBER_USE_DER));
  if (!ber) {
    return LDAP_NO_MEMORY;
  }
  auto names = attribute_array(attributes);
  if (ber_printf(ber.get(), "{v}", names.data()) == -1) {
    return LDAP_ENCODING_ERROR;
  }
  berval value{0, nullptr};
  if (ber_flatten2(ber.get(), &value, 0) == -1) {
    return LDAP_ENCODING_ERROR;
  }
  // Not critical: a server without it still writes, and the caller reads the entry instead.
  return ldap_control_create(oid, 0, &value, 1, control);
}

Result<RequestControls> request_controls(LDAP* ld, const WriteOptions& options,
                                         const std::string& what) {
  RequestControls controls;
  if (!options.assertion.empty()) {
    std::string filter = options.assertion;
    LDAPControl* control = nullptr;
    // Critical: a server that cannot check the assertion must refuse, not write unchecked.
    const int rc = ldap_create_assertion_control(ld, filter.data(), 1, &control);
    if (rc != LDAP_SUCCESS) {
      return make_error(ErrorCode::invalid_request,
                        what + ": the assertion '" + options.assertion +
                            "' is not an LDAP filter (" + result_text(rc) + "); nothing was sent",
                        rc);
    }
    controls.add(control);
  }
  const std::pair<const char*, const std::vector<std::string>*> reads[] = {
      {LDAP_CONTROL_PRE_READ, &options.pre_read}, {LDAP_CONTROL_POST_READ, &options.post_read}};
  for (const auto& [oid, attributes] : reads) {
    if (attributes->empty()) {
      continue;
    }
    LDAPControl* control = nullptr;
    if (const int rc = read_entry_control(oid, *attributes, &control); rc != LDAP_SUCCESS) {
      return make_error(ErrorCode::invalid_request,
                        what + ": cannot encode the read-entry control: " + result_text(rc), rc);
    }
    controls.add(control);
  }
  return controls;
}

// The entry in a pre- or post-read response control: a SearchResultEntry
// ([APPLICATION 4] SEQUENCE { objectName, attributes SEQUENCE OF SEQUENCE { type, SET OF value }}).
std::optional<Entry> parse_read_entry(const berval& value) {
  berval copy = value;
  Ber ber(ber_init(&copy));
  berval dn{0, nullptr};
  if (!ber || ber_scanf(ber.get(), "{m{" /*}}*/, &dn) == LBER_ERROR) {
    return std::nullopt;
  }
  Entry entry;
  entry.dn.assign(dn.bv_val, dn.bv_len);
  ber_len_t length = 0;
  // The attribute list is the last element of the value: its end is the end of the buffer.
  while (ber_peek_tag(ber.get(), &length) != LBER_DEFAULT) {
    berval type{0, nullptr};
    BerVarray values = nullptr;
    if (ber_scanf(ber.get(), "{m[W]}", &type, &values) == LBER_ERROR) {
      return std::nullopt;
    }
    Attribute attribute{std::string(type.bv_val, type.bv_len), {}};
    for (BerVarray each = values; each != nullptr && each->bv_val != nullptr; ++each) {
      attribute.values.emplace_back(each->bv_val, each->bv_len);
    }
    ber_bvarray_free(values);
    entry.attributes.push_back(std::move(attribute));
  }
  return entry;
}

bool is_password_attribute(std::string_view attribute) {
  attribute = attribute.substr(0, attribute.find(';'));
  return equal_ignoring_case(attribute, "userPassword") ||
         equal_ignoring_case(attribute, "unicodePwd");
}

std::string scrub_all(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    text = scrub(std::move(text), Password(secret));
  }
  return text;
}

// The LDAPMod array of one add or modify, pointing into the caller's strings.
class ModArray {
 public:
  explicit ModArray(std::size_t count) {
    mods_.reserve(count);
    values_.reserve(count);
  }
  void push(int op, const std::string& attribute, const std::vector<std::string>& values) {
    auto& pointers = values_.emplace_back();
    pointers.bervals.reserve(values.size());
    for (const auto& value : values) {
      pointers.bervals.push_back(
          berval{static_cast<ber_len_t>(value.size()), const_cast<char*>(value.data())});
    }
    for (auto& value : pointers.bervals) {
      pointers.array.push_back(&value);
    }
    pointers.array.push_back(nullptr);
    LDAPMod mod{};
    mod.mod_op = op | LDAP_MOD_BVALUES;
    mod.mod_type = const_cast<char*>(attribute.c_str());
    mod.mod_bvalues = values.empty() ? nullptr : pointers.array.data();
    mods_.push_back(mod);
  }
  LDAPMod** get() {
    array_.clear();
    for (auto& mod : mods_) {
      array_.push_back(&mod);
    }
    array_.push_back(nullptr);
    return array_.data();
  }

 private:
  struct Values {
    std::vector<berval> bervals;
    std::vector<berval*> array;
  };
  std::vector<LDAPMod> mods_;
  std::vector<Values> values_;
  std::vector<LDAPMod*> array_;
};

int mod_op_of(ModifyOp op) {
  switch (op) {
    case ModifyOp::add: return LDAP_MOD_ADD;
    case ModifyOp::remove: return LDAP_MOD_DELETE;
    case ModifyOp::replace: return LDAP_MOD_REPLACE;
  }
  return LDAP_MOD_REPLACE;
}

Error invalid(const std::string& what, const std::string& reason) {
  return make_error(ErrorCode::invalid_request, what + ": " + reason + "; nothing was sent",
                    LDAP_PARAM_ERROR);
}

std::optional<Error> check_modifications(const std::string& dn,
                                         const std::vector<Modification>& modifications,
                                         const std::string& what) {
  if (dn.empty()) {
    return invalid(what, "the DN is empty");
  }
  if (modifications.empty()) {
    return invalid(what, "there are no modifications");
  }
  for (const auto& modification : modifications) {
    if (modification.attribute.empty()) {
      return invalid(what, "a modification has no attribute name");
    }
    if (modification.op == ModifyOp::add && modification.values.empty()) {
      return invalid(what, "adding to '" + modification.attribute + "' needs a value");
    }
  }
  return std::nullopt;
}

std::vector<std::string> secrets_of(const std::vector<Modification>& modifications) {
  std::vector<std::string> secrets;
  for (const auto& modification : modifications) {
    if (is_password_attribute(modification.attribute)) {
      for (const auto& value : modification.values) {
        if (!value.empty()) {
          secrets.push_back(value);
        }
      }
    }
  }
  return secrets;
}

std::string modify_what(const std::string& dn) {
  return "modify of '" + dn + "'";
}

// Appends the UTF-16LE code units of `code_point`.
void append_utf16le(std::string& out, std::uint32_t code_point) {
  const auto unit = [&out](std::uint32_t value) {
    out.push_back(static_cast<char>(value & 0xff));
    out.push_back(static_cast<char>((value >> 8) & 0xff));
  };
  if (code_point < 0x10000) {
    unit(code_point);
  } else {
    code_point -= 0x10000;
    unit(0xd800 + (code_point >> 10));
    unit(0xdc00 + (code_point & 0x3ff));
  }
}

}  // namespace

Result<std::string> encode_unicode_pwd(const Password& password) {
  const std::string& text = password.reveal();
  std::string out;
  out.reserve((text.size() + 2) * 2);
  append_utf16le(out, '"');
  for (std::size_t at = 0; at < text.size();) {
    const auto lead = static_cast<unsigned char>(text[at]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    std::uint32_t minimum = 0;
    if (lead < 0x80) {
      length = 1;
      code_point = lead;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code_point = lead & 0x1f;
      minimum = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code_point = lead & 0x0f;
      minimum = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code_point = lead & 0x07;
      minimum = 0x10000;
    }
    bool valid = length != 0 && at + length <= text.size();
    for (std::size_t i = 1; valid && i < length; ++i) {
      const auto next = static_cast<unsigned char>(text[at + i]);
      valid = (next & 0xc0) == 0x80;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8 (RFC 3629).
    if (!valid || code_point < minimum || (code_point >= 0xd800 && code_point <= 0xdfff) ||
        code_point > 0x10ffff) {
      return make_error(ErrorCode::invalid_request,
                        "the password is not valid UTF-8 (at byte " + std::to_string(at) + ")");
    }
    append_utf16le(out, code_point);
    at += length;
  }
  append_utf16le(out, '"');
  return out;
}

Result<WriteResult> Connection::Impl::write_result(LDAPMessage* message, const std::string& what,
                                                   const std::vector<std::string>& secrets) {
  int result = LDAP_OTHER;
  char* diag = nullptr;
  LDAPControl** raw_controls = nullptr;
  const int rc =
      ldap_parse_result(ld.get(), message, &result, nullptr, &diag, nullptr, &raw_controls, 0);
  const std::unique_ptr<LDAPControl*, ControlArrayDeleter> controls(raw_controls);
  const std::string text = diag != nullptr ? scrub_all(diag, secrets) : "";
  ldap_memfree(diag);
  if (rc != LDAP_SUCCESS) {
    return make_error(ErrorCode::protocol_error, what + ": undecodable result", rc);
  }
  if (result != LDAP_SUCCESS) {
    return fail(classify(result), with_diagnostic(what + " failed: " + result_text(result), text),
                result);
  }
  WriteResult written;
  written.ldap_code = result;
  written.diagnostic = text;
  const std::pair<const char*, std::optional<Entry>*> reads[] = {
      {LDAP_CONTROL_PRE_READ, &written.pre_read}, {LDAP_CONTROL_POST_READ, &written.post_read}};
  for (const auto& [oid, entry] : reads) {
    if (LDAPControl* control = ldap_control_find(oid, controls.get(), nullptr);
        control != nullptr) {
      *entry = parse_read_entry(control->ldctl_value);
      // The write is done; an unreadable control does not undo it, so it is only reported.
      if (!*entry) {
        written.diagnostic += std::string(written.diagnostic.empty() ? "" : "; ") +
                              "undecodable read-entry control " + oid;
      }
    }
  }
  return written;
}

Result<WriteResult> Connection::Impl::await_write(int msgid, const std::string& what,
                                                  const std::vector<std::string>& secrets) {
  Message message;
  const int type = next_message(msgid, message);
  if (type == 0) {
    ldap_abandon_ext(ld.get(), msgid, nullptr, nullptr);
    return fail(ErrorCode::timeout,
                what + ": no reply within " + std::to_string(settings.operation_timeout.count()) +
                    " ms; whether it was applied is unknown",
                LDAP_TIMEOUT);
  }
  if (type < 0) {
    const int rc = last_error(ld.get());
    return fail(classify(rc), what + ": " + result_text(rc) + "; whether it was applied is unknown",
                rc);
  }
  return write_result(message.get(), what, secrets);
}

std::optional<Error> Connection::Impl::send_modify(const std::string& dn,
                                                   const std::vector<Modification>& modifications,
                                                   const WriteOptions& options, int& msgid) {
  const auto what = modify_what(dn);
  auto controls = request_controls(ld.get(), options, what);
  if (!controls) {
    return controls.error();
  }
  ModArray mods(modifications.size());
  for (const auto& modification : modifications) {
    mods.push(mod_op_of(modification.op), modification.attribute, modification.values);
  }
  const int rc =
      ldap_modify_ext(ld.get(), dn.c_str(), mods.get(), controls->get(), nullptr, &msgid);
  if (rc != LDAP_SUCCESS) {
    return fail(classify(rc), what + ": sending failed: " + result_text(rc), rc);
  }
  return std::nullopt;
}

Result<WriteResult> Connection::add(const std::string& dn, const std::vector<Attribute>& attributes,
                                    const WriteOptions& options) {
  const std::string what = "add of '" + dn + "'";
  if (dn.empty()) {
    return invalid(what, "the DN is empty");
  }
  if (attributes.empty()) {
    return invalid(what, "there are no attributes");
  }
  if (!options.pre_read.empty()) {
    return invalid(what, "an added entry has nothing to pre-read");
  }
  std::vector<std::string> secrets;
  ModArray mods(attributes.size());
  for (const auto& attribute : attributes) {
    if (attribute.description.empty()) {
      return invalid(what, "an attribute has no name");
    }
    if (attribute.values.empty()) {
      return invalid(what, "attribute '" + attribute.description + "' has no values");
    }
    if (is_password_attribute(attribute.description)) {
      secrets.insert(secrets.end(), attribute.values.begin(), attribute.values.end());
    }
    mods.push(LDAP_MOD_ADD, attribute.description, attribute.values);
  }
  if (auto refused = impl_->refuse_if_lost()) {
    return *refused;
  }
  const SigpipeGuard guard;
  auto controls = request_controls(impl_->ld.get(), options, what);
  if (!controls) {
    return controls.error();
  }
  int msgid = 0;
  const int rc =
      ldap_add_ext(impl_->ld.get(), dn.c_str(), mods.get(), controls->get(), nullptr, &msgid);
  if (rc != LDAP_SUCCESS) {
    return impl_->fail(classify(rc), what + ": sending failed: " + result_text(rc), rc);
  }
  return impl_->await_write(msgid, what, secrets);
}

Result<WriteResult> Connection::modify(const std::string& dn,
                                       const std::vector<Modification>& modifications,
                                       const WriteOptions& options) {
  if (auto problem = check_modifications(dn, modifications, modify_what(dn))) {
    return *problem;
  }
  if (auto refused = impl_->refuse_if_lost()) {
    return *refused;
  }
  const SigpipeGuard guard;
  int msgid = 0;
  if (auto error = impl_->send_modify(dn, modifications, options, msgid)) {
    return *error;
  }
  return impl_->await_write(msgid, modify_what(dn), secrets_of(modifications));
}

Result<WriteResult> Connection::rename(const std::string& dn, const std::string& new_rdn,
                                       const std::optional<std::string>& new_superior,
                                       OldRdn old_rdn, const WriteOptions& options) {
  const std::string what = "rename of '" + dn + "' to '" + new_rdn + "'" +
                           (new_superior ? " under '" + *new_superior + "'" : "");
  if (dn.empty() || new_rdn.empty()) {
    return invalid(what, "the DN and the new RDN must not be empty");
  }
  if (auto refused = impl_->refuse_if_lost()) {
    return *refused;
  }
  const SigpipeGuard guard;
  auto controls = request_controls(impl_->ld.get(), options, what);
  if (!controls) {
    return controls.error();
  }
  int msgid = 0;
  const int rc = ldap_rename(impl_->ld.get(), dn.c_str(), new_rdn.c_str(),
                             new_superior ? new_superior->c_str() : nullptr,
                             old_rdn == OldRdn::remove ? 1 : 0, controls->get(), nullptr, &msgid);
  if (rc != LDAP_SUCCESS) {
    return impl_->fail(classify(rc), what + ": sending failed: " + result_text(rc), rc);
  }
  return impl_->await_write(msgid, what, {});
}

Result<WriteResult> Connection::remove(const std::string& dn, const WriteOptions& options) {
  const std::string what = "delete of '" + dn + "'";
  if (dn.empty()) {
    return invalid(what, "the DN is empty");
  }
  if (!options.post_read.empty()) {
    return invalid(what, "a deleted entry has nothing to post-read");
  }
  if (auto refused = impl_->refuse_if_lost()) {
    return *refused;
  }
  const SigpipeGuard guard;
  auto controls = request_controls(impl_->ld.get(), options, what);
  if (!controls) {
    return controls.error();
  }
  int msgid = 0;
  const int rc = ldap_delete_ext(impl_->ld.get(), dn.c_str(), controls->get(), nullptr, &msgid);
  if (rc != LDAP_SUCCESS) {
    return impl_->fail(classify(rc), what + ": sending failed: " + result_text(rc), rc);
  }
  return impl_->await_write(msgid, what, {});
}

Result<void> Connection::password_modify(const std::string& dn, const Password& new_password) {
  const std::string what = "password change for '" + dn + "'";
  if (dn.empty()) {
    return invalid(what, "the DN is empty");
  }
  // RFC 3062 lets the server generate a password when none is sent; we never want that.
  if (new_password.empty()) {
    return invalid(what, "the new password is empty");
  }
  if (auto refused = impl_->refuse_if_lost()) {
    return *refused;
  }
  const SigpipeGuard guard;
  berval user{static_cast<ber_len_t>(dn.size()), const_cast<char*>(dn.data())};
  berval secret{static_cast<ber_len_t>(new_password.reveal().size()),
                const_cast<char*>(new_password.reveal().data())};
  int msgid = 0;
  const int rc = ldap_passwd(impl_->ld.get(), &user, nullptr, &secret, nullptr, nullptr, &msgid);
  if (rc != LDAP_SUCCESS) {
    return impl_->fail(classify(rc), what + ": sending failed: " + result_text(rc), rc);
  }
  auto written = impl_->await_write(msgid, what, {new_password.reveal()});
  if (!written) {
    return written.error();
  }
  return {};
}

std::vector<Result<WriteResult>> Connection::modify_pipelined(
    const std::vector<ModifyRequest>& requests, std::size_t window) {
  assert(impl_ && "modify_pipelined on a moved-from Connection");
  window = std::max<std::size_t>(window, 1);
  std::vector<std::optional<Result<WriteResult>>> results(requests.size());
  struct InFlight {
    int msgid;
    std::size_t index;
  };
  std::vector<InFlight> in_flight;
  const SigpipeGuard guard;
  LDAP* ld = impl_->ld.get();

  const auto dn_in_flight = [&](const std::string& dn) {
    return std::any_of(in_flight.begin(), in_flight.end(), [&](const InFlight& pending) {
      return equal_ignoring_case(requests[pending.index].dn, dn);
    });
  };
  // Every request in flight gets `error`: the connection is gone, their outcome unknown.
  const auto fail_in_flight = [&](const Error& error) {
    for (const auto& pending : in_flight) {
      auto own = error;
      own.message = modify_what(requests[pending.index].dn) + ": " + error.message;
      results[pending.index] = own;
    }
    in_flight.clear();
  };

  std::size_t next = 0;
  while (next < requests.size() || !in_flight.empty()) {
    while (next < requests.size() && in_flight.size() < window && !impl_->lost &&
           !dn_in_flight(requests[next].dn)) {
      const auto& request = requests[next];
      int msgid = 0;
      if (auto problem =
              check_modifications(request.dn, request.modifications, modify_what(request.dn))) {
        results[next] = *problem;
      } else if (auto error = impl_->send_modify(request.dn, request.modifications, request.options,
                                                 msgid)) {
        results[next] = *error;
      } else {
        in_flight.push_back({msgid, next});
      }
      ++next;
    }
    if (in_flight.empty()) {
      if (impl_->lost) {
        break;
      }
      continue;
    }
    timeval timeout = to_timeval(impl_->settings.operation_timeout);
    LDAPMessage* raw = nullptr;
    const int type = ldap_result(ld, LDAP_RES_ANY, LDAP_MSG_ONE, &timeout, &raw);
    const Message message(raw);
    if (type == 0) {
      for (const auto& pending : in_flight) {
        ldap_abandon_ext(ld, pending.msgid, nullptr, nullptr);
      }
      fail_in_flight(impl_->fail(ErrorCode::timeout,
                                 "no reply within " +
                                     std::to_string(impl_->settings.operation_timeout.count()) +
                                     " ms; whether it was applied is unknown",
                                 LDAP_TIMEOUT));
      continue;
    }
    if (type < 0) {
      const int rc = last_error(ld);
      fail_in_flight(
          impl_->fail(classify(rc), result_text(rc) + "; whether it was applied is unknown", rc));
      continue;
    }
    const int msgid = ldap_msgid(message.get());
    const auto pending =
        std::find_if(in_flight.begin(), in_flight.end(),
                     [msgid](const InFlight& each) { return each.msgid == msgid; });
    if (pending == in_flight.end()) {
      continue;  // not ours (nothing else is outstanding on a Connection)
    }
    const auto index = pending->index;
    in_flight.erase(pending);
    results[index] = impl_->write_result(message.get(), modify_what(requests[index].dn),
                                         secrets_of(requests[index].modifications));
  }

  std::vector<Result<WriteResult>> out;
  out.reserve(requests.size());
  for (auto& result : results) {
    if (result) {
      out.push_back(std::move(*result));
    } else {
      // Only a lost connection leaves a request unsent.
      auto refused = impl_->refuse_if_lost();
      assert(refused);
      out.push_back(*refused);
    }
  }
  return out;
}

}  // namespace idbridge::ldap
