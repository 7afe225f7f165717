// Connection, paged search and backoff on libldap (OpenLDAP 2.5). TLS options are set on the
// handle and a fresh per-handle TLS context is created before any connect, because options set
// later silently do not apply (Nextcloud #55661).
#include "idbridge/ldap/client.hpp"

#include "client_internal.hpp"

#include <ldap.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <algorithm>
#include <cassert>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>

namespace idbridge::ldap {
namespace detail {

timeval to_timeval(std::chrono::milliseconds duration) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
  return tv;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equal_ignoring_case(text.substr(0, prefix.size()), prefix);
}

bool is_ldaps(std::string_view uri) {
  return starts_with_ignoring_case(uri, "ldaps://");
}

bool uses_tls(const ConnectionSettings& settings) {
  return is_ldaps(settings.uri) || settings.start_tls == StartTls::on;
}

std::string result_text(int code) {
  return std::string(ldap_err2string(code)) + " (" + std::to_string(code) + ")";
}

std::string diagnostic(LDAP* ld) {
  char* text = nullptr;
  if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) != LDAP_OPT_SUCCESS ||
      text == nullptr) {
    return {};
  }
  std::string copy(text);
  ldap_memfree(text);
  return copy;
}

int last_error(LDAP* ld) {
  int code = LDAP_OTHER;
  ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &code);
  return code;
}

// A server diagnostic goes into our messages; never let it carry the password back out.
std::string scrub(std::string text, const Password& password) {
  const auto& secret = password.reveal();
  if (secret.empty()) {
    return text;
  }
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

std::string with_diagnostic(std::string message, const std::string& diag) {
  if (!diag.empty() && diag != "(unknown error code)") {
    message += ": " + diag;
  }
  return message;
}

// Whether a plain TCP connection to the URI's host and port succeeds within `timeout`: tells
// "nothing listens there" from "something listens but the TLS handshake failed", which libldap
// reports with the same code (-1) for ldaps://.
bool tcp_reachable(const std::string& uri, std::chrono::milliseconds timeout) {
  LDAPURLDesc* raw = nullptr;
  if (ldap_url_parse(uri.c_str(), &raw) != LDAP_URL_SUCCESS) {
    return false;
  }
  std::unique_ptr<LDAPURLDesc, UrlDeleter> url(raw);
  const std::string host = url->lud_host != nullptr ? url->lud_host : "localhost";
  const int port_number = url->lud_port != 0 ? url->lud_port : (is_ldaps(uri) ? 636 : 389);
  const std::string port = std::to_string(port_number);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &addresses) != 0) {
    return false;
  }
  bool reachable = false;
  for (auto* address = addresses; address != nullptr && !reachable; address = address->ai_next) {
    const int fd =
        socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      continue;
    }
    if (connect(fd, address->ai_addr, address->ai_addrlen) == 0) {
      reachable = true;
    } else if (errno == EINPROGRESS) {
      pollfd waiting{fd, POLLOUT, 0};
      if (poll(&waiting, 1, static_cast<int>(timeout.count())) == 1) {
        int error = 0;
        socklen_t length = sizeof error;
        reachable = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
      }
    }
    close(fd);
  }
  freeaddrinfo(addresses);
  return reachable;
}

Error make_error(ErrorCode code, std::string message, int ldap_code) {
  return Error{code, std::move(message), ldap_code};
}

// Errors of an operation after the connection is up (bind, StartTLS, read, whoami, writes).
ErrorCode classify(int code) {
  switch (code) {
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR: return ErrorCode::unreachable;
    case LDAP_TIMEOUT: return ErrorCode::timeout;
    case LDAP_INVALID_CREDENTIALS: return ErrorCode::invalid_credentials;
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE: return ErrorCode::unavailable;
    case LDAP_DECODING_ERROR:
    case LDAP_ENCODING_ERROR:
    case LDAP_PROTOCOL_ERROR: return ErrorCode::protocol_error;
    case LDAP_FILTER_ERROR:
    case LDAP_PARAM_ERROR: return ErrorCode::invalid_request;
    case LDAP_NO_SUCH_OBJECT: return ErrorCode::no_such_object;
    case LDAP_ALREADY_EXISTS: return ErrorCode::already_exists;
    case LDAP_ASSERTION_FAILED: return ErrorCode::assertion_failed;
    case LDAP_UNAVAILABLE_CRITICAL_EXTENSION: return ErrorCode::unsupported_control;
    case LDAP_NO_SUCH_ATTRIBUTE: return ErrorCode::no_such_attribute;
    case LDAP_TYPE_OR_VALUE_EXISTS: return ErrorCode::attribute_or_value_exists;
    case LDAP_CONSTRAINT_VIOLATION: return ErrorCode::constraint_violation;
    case LDAP_UNDEFINED_TYPE:
    case LDAP_INAPPROPRIATE_MATCHING:
    case LDAP_INVALID_SYNTAX: return ErrorCode::invalid_attribute;
    case LDAP_INVALID_DN_SYNTAX: return ErrorCode::invalid_dn;
    case LDAP_NAMING_VIOLATION: return ErrorCode::naming_violation;
    case LDAP_OBJECT_CLASS_VIOLATION:
    case LDAP_NO_OBJECT_CLASS_MODS: return ErrorCode::object_class_violation;
    case LDAP_NOT_ALLOWED_ON_NONLEAF: return ErrorCode::not_allowed_on_non_leaf;
    case LDAP_NOT_ALLOWED_ON_RDN: return ErrorCode::not_allowed_on_rdn;
    case LDAP_INSUFFICIENT_ACCESS: return ErrorCode::insufficient_access;
    case LDAP_UNWILLING_TO_PERFORM: return ErrorCode::unwilling_to_perform;
    default: return ErrorCode::operation_failed;
  }
}

Completeness completeness_of(int code) {
  switch (code) {
    case LDAP_SIZELIMIT_EXCEEDED: return Completeness::size_limit_exceeded;
    case LDAP_TIMELIMIT_EXCEEDED: return Completeness::time_limit_exceeded;
    case LDAP_ADMINLIMIT_EXCEEDED: return Completeness::admin_limit_exceeded;
    case LDAP_REFERRAL: return Completeness::referral_not_followed;
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE: return Completeness::unavailable;
    case LDAP_NO_SUCH_OBJECT: return Completeness::no_such_base;
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR: return Completeness::connection_lost;
    case LDAP_TIMEOUT: return Completeness::timeout;
    case LDAP_DECODING_ERROR:
    case LDAP_PROTOCOL_ERROR: return Completeness::protocol_error;
    default: return Completeness::server_error;
  }
}

int scope_of(Scope scope) {
  switch (scope) {
    case Scope::base: return LDAP_SCOPE_BASE;
    case Scope::one_level: return LDAP_SCOPE_ONELEVEL;
    case Scope::subtree: return LDAP_SCOPE_SUBTREE;
  }
  return LDAP_SCOPE_SUBTREE;
}

Entry to_entry(LDAP* ld, LDAPMessage* message) {
  // One walk over the entry's BER, values decoded in place (what ldapsearch does):
  // ldap_get_values_len would search the entry again from its start for every attribute and
  // copy each value once more before it is copied here.
  Entry entry;
  BerElement* ber = nullptr;
  berval dn{0, nullptr};
  if (ldap_get_dn_ber(ld, message, &ber, &dn) != LDAP_SUCCESS) {
    if (ber != nullptr) {
      ber_free(ber, 0);
    }
    return entry;
  }
  if (dn.bv_val != nullptr) {
    entry.dn.assign(dn.bv_val, dn.bv_len);
  }
  berval name{0, nullptr};
  BerVarray values = nullptr;
  while (ldap_get_attribute_ber(ld, message, ber, &name, &values) == LDAP_SUCCESS &&
         name.bv_val != nullptr) {
    Attribute& attribute = entry.attributes.emplace_back();
    attribute.description.assign(name.bv_val, name.bv_len);
    if (values != nullptr) {
      std::size_t count = 0;
      while (values[count].bv_val != nullptr) {
        ++count;
      }
      attribute.values.reserve(count);
      for (std::size_t i = 0; i < count; ++i) {
        attribute.values.emplace_back(values[i].bv_val, values[i].bv_len);
      }
      ber_memfree(values);
      values = nullptr;
    }
  }
  if (ber != nullptr) {
    ber_free(ber, 0);
  }
  return entry;
}

std::vector<char*> attribute_array(const std::vector<std::string>& attributes) {
  std::vector<char*> array;
  array.reserve(attributes.size() + 1);
  for (const auto& attribute : attributes) {
    array.push_back(const_cast<char*>(attribute.c_str()));
  }
  array.push_back(nullptr);
  return array;
}

template <class T>
bool set_option(LDAP* ld, int option, const T* value) {
  return ldap_set_option(ld, option, value) == LDAP_OPT_SUCCESS;
}

}  // namespace detail

using namespace detail;

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_settings: return "invalid_settings";
    case ErrorCode::unreachable: return "unreachable";
    case ErrorCode::tls_failure: return "tls_failure";
    case ErrorCode::invalid_credentials: return "invalid_credentials";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::bind_refused: return "bind_refused";
    case ErrorCode::protocol_error: return "protocol_error";
    case ErrorCode::operation_failed: return "operation_failed";
    case ErrorCode::invalid_request: return "invalid_request";
    case ErrorCode::no_such_object: return "no_such_object";
    case ErrorCode::already_exists: return "already_exists";
    case ErrorCode::assertion_failed: return "assertion_failed";
    case ErrorCode::unsupported_control: return "unsupported_control";
    case ErrorCode::no_such_attribute: return "no_such_attribute";
    case ErrorCode::attribute_or_value_exists: return "attribute_or_value_exists";
    case ErrorCode::constraint_violation: return "constraint_violation";
    case ErrorCode::invalid_attribute: return "invalid_attribute";
    case ErrorCode::invalid_dn: return "invalid_dn";
    case ErrorCode::naming_violation: return "naming_violation";
    case ErrorCode::object_class_violation: return "object_class_violation";
    case ErrorCode::not_allowed_on_non_leaf: return "not_allowed_on_non_leaf";
    case ErrorCode::not_allowed_on_rdn: return "not_allowed_on_rdn";
    case ErrorCode::insufficient_access: return "insufficient_access";
    case ErrorCode::unwilling_to_perform: return "unwilling_to_perform";
  }
  return "unknown";
}

std::string_view to_string(Completeness completeness) {
  switch (completeness) {
    case Completeness::complete: return "complete";
    case Completeness::size_limit_exceeded: return "size_limit_exceeded";
    case Completeness::time_limit_exceeded: return "time_limit_exceeded";
    case Completeness::admin_limit_exceeded: return "admin_limit_exceeded";
    case Completeness::connection_lost: return "connection_lost";
    case Completeness::timeout: return "timeout";
    case Completeness::referral_not_followed: return "referral_not_followed";
    case Completeness::unavailable: return "unavailable";
    case Completeness::no_such_base: return "no_such_base";
    case Completeness::server_error: return "server_error";
    case Completeness::missing_page_control: return "missing_page_control";
    case Completeness::range_retrieval_failed: return "range_retrieval_failed";
    case Completeness::protocol_error: return "protocol_error";
  }
  return "unknown";
}

LdapFailure::LdapFailure(Error error)
    : std::runtime_error(std::string(to_string(error.code)) + ": " + error.message),
      error_(std::move(error)) {}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw LdapFailure(error);
}

std::vector<std::string> validate(const ConnectionSettings& settings) {
  std::vector<std::string> problems;
  const bool ldaps = is_ldaps(settings.uri);
  if (!ldaps && !starts_with_ignoring_case(settings.uri, "ldap://")) {
    problems.push_back("uri '" + settings.uri + "' must start with ldap:// or ldaps://");
  } else if (settings.uri.find_first_of(" \t,") != std::string::npos) {
    problems.push_back("uri '" + settings.uri + "' must name exactly one server");
  }
  if (ldaps && settings.start_tls == StartTls::on) {
    problems.push_back("start_tls cannot be combined with ldaps:// (already TLS)");
  }
  switch (settings.bind) {
    case BindMethod::anonymous:
      if (!settings.bind_dn.empty() || !settings.password.empty()) {
        problems.push_back("bind_dn/password are set but the bind method is anonymous");
      }
      break;
    case BindMethod::simple:
      if (settings.bind_dn.empty()) {
        problems.push_back("simple bind needs a bind_dn");
      }
      // RFC 4513 §5.1.2: a DN with an empty password is an "unauthenticated bind" that many
      // servers accept as anonymous, so a missing secret would look like a working login.
      if (settings.password.empty()) {
        problems.push_back("simple bind needs a non-empty password");
      }
      break;
    case BindMethod::sasl_external:
      if (!uses_tls(settings)) {
        problems.push_back("SASL EXTERNAL needs TLS (ldaps:// or start_tls)");
      }
      if (settings.client_certificate.empty() || settings.client_key.empty()) {
        problems.push_back("SASL EXTERNAL needs client_certificate and client_key");
      }
      break;
  }
  if (settings.client_certificate.empty() != settings.client_key.empty()) {
    problems.push_back("client_certificate and client_key must be set together");
  }
  for (const auto* file : {&settings.ca_file, &settings.client_certificate, &settings.client_key}) {
    std::error_code error;
    if (!file->empty() && !std::filesystem::is_regular_file(*file, error)) {
      problems.push_back("cannot read '" + *file + "'");
    }
  }
  if (settings.network_timeout.count() <= 0 || settings.operation_timeout.count() <= 0) {
    problems.push_back("network_timeout and operation_timeout must be positive");
  }
  return problems;
}

std::vector<std::string> warnings(const ConnectionSettings& settings) {
  std::vector<std::string> found;
  if (settings.certificate_check == CertificateCheck::insecure_skip) {
    found.push_back(uses_tls(settings) ? "TLS certificate verification is OFF for " + settings.uri +
                                             ": anyone on the path can impersonate the directory"
                                       : "certificate_check=insecure_skip has no effect: " +
                                             settings.uri + " does not use TLS");
  }
  if (settings.bind == BindMethod::simple && !uses_tls(settings)) {
    found.push_back("simple bind as '" + settings.bind_dn + "' over " + settings.uri +
                    " without TLS: the password crosses the network in cleartext");
  }
  return found;
}

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() {
  if (impl_) {
    const SigpipeGuard guard;
    impl_->ld.reset();
  }
}

const std::vector<std::string>& Connection::warnings() const {
  return impl_->warnings;
}

Result<Connection> Connection::open(const ConnectionSettings& settings) {
  if (const auto problems = validate(settings); !problems.empty()) {
    std::string message;
    for (const auto& problem : problems) {
      message += (message.empty() ? "" : "; ") + problem;
    }
    return make_error(ErrorCode::invalid_settings, message);
  }
  LDAP* raw = nullptr;
  if (const int rc = ldap_initialize(&raw, settings.uri.c_str()); rc != LDAP_SUCCESS) {
    return make_error(ErrorCode::invalid_settings,
                      "uri '" + settings.uri + "' rejected: " + result_text(rc), rc);
  }
  auto impl = std::make_unique<Impl>();
  impl->ld.reset(raw);
  impl->settings = settings;
  impl->warnings = ldap::warnings(settings);
  LDAP* ld = raw;

  const int version = LDAP_VERSION3;
  const int no_limit = 0;
  const timeval network = to_timeval(settings.network_timeout);
  const timeval operation = to_timeval(settings.operation_timeout);
  // Referrals are never chased (an unverified second server); limits from ldap.conf/.ldaprc are
  // reset so a local file cannot truncate reads.
  if (!set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) ||
      ldap_set_option(ld, LDAP_OPT_REFERRALS, nullptr) != LDAP_OPT_SUCCESS ||
      !set_option(ld, LDAP_OPT_SIZELIMIT, &no_limit) ||
      !set_option(ld, LDAP_OPT_TIMELIMIT, &no_limit) ||
      !set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &network) ||
      !set_option(ld, LDAP_OPT_TIMEOUT, &operation)) {
    return make_error(ErrorCode::invalid_settings, "libldap refused a connection option");
  }
  if (uses_tls(settings)) {
    const int require = settings.certificate_check == CertificateCheck::verify
                            ? LDAP_OPT_X_TLS_DEMAND
                            : LDAP_OPT_X_TLS_NEVER;
    const int client_context = 0;
    bool ok = set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require);
    if (ok && !settings.ca_file.empty()) {
      ok = set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, settings.ca_file.c_str());
    }
    if (ok && !settings.client_certificate.empty()) {
      ok = set_option(ld, LDAP_OPT_X_TLS_CERTFILE, settings.client_certificate.c_str()) &&
           set_option(ld, LDAP_OPT_X_TLS_KEYFILE, settings.client_key.c_str());
    }
    // The per-handle context is built from the options above; without it the process-wide
    // defaults would be used.
    if (ok) {
      ok = set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &client_context);
    }
    if (!ok) {
      return make_error(ErrorCode::tls_failure,
                        with_diagnostic("cannot create the TLS context (CA file, client "
                                        "certificate or key unusable)",
                                        diagnostic(ld)));
    }
  }

  const SigpipeGuard guard;
  const auto started = Clock::now();
  if (const int rc = ldap_connect(ld); rc != LDAP_SUCCESS) {
    const auto diag = diagnostic(ld);
    if (rc == LDAP_TIMEOUT || Clock::now() - started >= settings.network_timeout) {
      return make_error(ErrorCode::timeout,
                        "connecting to " + settings.uri + " timed out after " +
                            std::to_string(settings.network_timeout.count()) + " ms",
                        rc);
    }
    if (is_ldaps(settings.uri) && tcp_reachable(settings.uri, settings.network_timeout)) {
      return make_error(ErrorCode::tls_failure,
                        with_diagnostic("TLS handshake with " + settings.uri +
                                            " failed (untrusted certificate, host name "
                                            "mismatch or protocol error)",
                                        diag),
                        rc);
    }
    return make_error(ErrorCode::unreachable,
                      with_diagnostic("cannot connect to " + settings.uri, diag), rc);
  }
  if (settings.start_tls == StartTls::on) {
    if (const int rc = ldap_start_tls_s(ld, nullptr, nullptr); rc != LDAP_SUCCESS) {
      // No fallback: a failed StartTLS ends the attempt before any credentials are sent.
      const auto code = rc == LDAP_TIMEOUT       ? ErrorCode::timeout
                        : rc == LDAP_SERVER_DOWN ? ErrorCode::unreachable
                                                 : ErrorCode::tls_failure;
      return make_error(
          code,
          with_diagnostic("StartTLS with " + settings.uri + " failed: " + result_text(rc) +
                              (rc == LDAP_CONNECT_ERROR ? " (untrusted certificate, host name "
                                                          "mismatch or handshake error)"
                                                        : ""),
                          diagnostic(ld)),
          rc);
    }
  }

  int rc = LDAP_SUCCESS;
  std::string what;
  switch (settings.bind) {
    case BindMethod::anonymous: {
      // An explicit anonymous bind: one round trip that proves the server answers.
      berval empty{0, nullptr};
      rc = ldap_sasl_bind_s(ld, "", LDAP_SASL_SIMPLE, &empty, nullptr, nullptr, nullptr);
      what = "anonymous bind";
      break;
    }
    case BindMethod::simple: {
      berval secret{static_cast<ber_len_t>(settings.password.reveal().size()),
                    const_cast<char*>(settings.password.reveal().data())};
      rc = ldap_sasl_bind_s(ld, settings.bind_dn.c_str(), LDAP_SASL_SIMPLE, &secret, nullptr,
                            nullptr, nullptr);
      what = "simple bind as '" + settings.bind_dn + "'";
      break;
    }
    case BindMethod::sasl_external: {
      // An empty initial response (no authzid) completes in one round; without credentials,
      // Cyrus SASL in slapd answers saslBindInProgress and waits for an empty response.
      berval no_authzid{0, const_cast<char*>("")};
      rc = ldap_sasl_bind_s(ld, nullptr, "EXTERNAL", &no_authzid, nullptr, nullptr, nullptr);
      what = "SASL EXTERNAL bind";
      break;
    }
  }
  if (rc != LDAP_SUCCESS) {
    auto code = classify(rc);
    // A bind is refused for credentials, or for a transient reason worth a retry; everything
    // else (48, 13, 50, 53...) is one refusal.
    if (code != ErrorCode::invalid_credentials && !is_transient(code)) {
      code = ErrorCode::bind_refused;
    }
    return make_error(
        code,
        scrub(with_diagnostic(what + " to " + settings.uri + " failed: " + result_text(rc),
                              diagnostic(ld)),
              settings.password),
        rc);
  }
  // libldap reads each reply with separate read()s for its tag, its length and its body, and
  // polls the socket before each reply: several system calls per entry, about a tenth of a
  // 100,000-entry read. liblber's own read-ahead layer (the one it stacks on UDP), put right over
  // the socket, takes what the socket holds in 64 KiB reads and reports buffered replies as
  // ready, so no poll is made for them. TLS, when used, sits above it and reads through it.
  Sockbuf* socket_buffer = nullptr;
  if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &socket_buffer) == LDAP_OPT_SUCCESS &&
      socket_buffer != nullptr) {
    int read_ahead_bytes = 64 * 1024;
    ber_sockbuf_add_io(socket_buffer, &ber_sockbuf_io_readahead, LBER_SBIOD_LEVEL_PROVIDER,
                       &read_ahead_bytes);
  }
  return Connection(std::move(impl));
}

Result<Entry> Connection::Impl::read(const std::string& dn,
                                     const std::vector<std::string>& attributes) {
  if (auto refused = refuse_if_lost()) {
    return *refused;
  }
  const SigpipeGuard guard;
  auto names = attribute_array(attributes);
  int msgid = 0;
  int rc = ldap_search_ext(ld.get(), dn.c_str(), LDAP_SCOPE_BASE, "(objectClass=*)",
                           attributes.empty() ? nullptr : names.data(), 0, nullptr, nullptr,
                           nullptr, 0, &msgid);
  if (rc != LDAP_SUCCESS) {
    return fail(classify(rc), "reading '" + dn + "': " + result_text(rc), rc);
  }
  std::optional<Entry> entry;
  while (true) {
    Message message;
    const int type = next_message(msgid, message);
    if (type == 0) {
      ldap_abandon_ext(ld.get(), msgid, nullptr, nullptr);
      return fail(ErrorCode::timeout, "reading '" + dn + "' timed out", LDAP_TIMEOUT);
    }
    if (type < 0) {
      rc = last_error(ld.get());
      return fail(classify(rc), "reading '" + dn + "': " + result_text(rc), rc);
    }
    if (type == LDAP_RES_SEARCH_ENTRY) {
      entry = to_entry(ld.get(), message.get());
    } else if (type == LDAP_RES_SEARCH_RESULT) {
      int result = LDAP_OTHER;
      char* diag = nullptr;
      rc = ldap_parse_result(ld.get(), message.get(), &result, nullptr, &diag, nullptr, nullptr, 0);
      std::string text = diag != nullptr ? diag : "";
      ldap_memfree(diag);
      if (rc != LDAP_SUCCESS) {
        return make_error(ErrorCode::protocol_error, "reading '" + dn + "': undecodable result",
                          rc);
      }
      if (result != LDAP_SUCCESS) {
        return fail(classify(result),
                    with_diagnostic("reading '" + dn + "': " + result_text(result), text), result);
      }
      if (!entry) {
        return make_error(ErrorCode::no_such_object, "reading '" + dn + "': no entry",
                          LDAP_NO_SUCH_OBJECT);
      }
      return std::move(*entry);
    }
  }
}

Result<Entry> Connection::read(const std::string& dn, const std::vector<std::string>& attributes) {
  return impl_->read(dn, attributes);
}

Result<std::string> Connection::who_am_i() {
  if (auto refused = impl_->refuse_if_lost()) {
    return *refused;
  }
  const SigpipeGuard guard;
  berval* identity = nullptr;
  const int rc = ldap_whoami_s(impl_->ld.get(), &identity, nullptr, nullptr);
  if (rc != LDAP_SUCCESS) {
    return impl_->fail(classify(rc), "Who am I? failed: " + result_text(rc), rc);
  }
  std::string text = identity != nullptr ? std::string(identity->bv_val, identity->bv_len) : "";
  ber_bvfree(identity);
  return text;
}

// Replaces every `attr;range=...` attribute of the page by the complete `attr`. Returns false,
// with `outcome` set to range_retrieval_failed, when one cannot be completed.
bool Connection::Impl::complete_ranges(std::vector<Entry>& page, SearchOutcome& outcome) {
  for (auto& entry : page) {
    for (auto& attribute : entry.attributes) {
      if (!parse_ranged_description(attribute.description)) {
        continue;
      }
      const auto result = retrieve_ranges(attribute, [&](const std::string& requested) {
        RangeFetchResult fetched;
        auto read_entry = read(entry.dn, {requested});
        if (!read_entry) {
          fetched.failed = true;
          fetched.error = read_entry.error().message;
        } else {
          fetched.attributes = std::move(read_entry->attributes);
        }
        return fetched;
      });
      outcome.range_reads += result.reads;
      if (!result.complete()) {
        outcome.completeness = Completeness::range_retrieval_failed;
        outcome.detail = entry.dn + ": " + result.detail;
        return false;
      }
      attribute.description = result.base;
      attribute.values = result.values;
    }
  }
  return true;
}

SearchOutcome Connection::search(const SearchRequest& request, const PageCallback& on_page) {
  assert(impl_ && "search on a moved-from Connection");
  assert(request.page_size > 0);
  LDAP* ld = impl_->ld.get();
  const SigpipeGuard guard;
  SearchOutcome outcome;
  auto names = attribute_array(request.attributes);
  std::string cookie;
  bool referral_seen = false;
  std::vector<Entry> page;
  page.reserve(static_cast<std::size_t>(std::min(request.page_size, 1000)));

  // Ends the read as incomplete with `reason`; the only other exit is the empty cookie below.
  const auto incomplete = [&](Completeness reason, int code, std::string detail) {
    if (reason == Completeness::connection_lost || reason == Completeness::timeout) {
      impl_->lost = detail;
    }
    outcome.completeness = reason;
    outcome.ldap_code = code;
    outcome.detail = std::move(detail);
    return outcome;
  };
  // Delivers the page unless a ranged attribute cannot be completed (its page is withheld:
  // members missing from a group would read as removals).
  const auto deliver = [&]() -> bool {
    if (request.ranges == RangeRetrieval::complete && !impl_->complete_ranges(page, outcome)) {
      return false;
    }
    ++outcome.pages;
    outcome.entries += page.size();
    on_page(page);
    page.clear();
    return true;
  };

  if (impl_->lost) {
    return incomplete(Completeness::connection_lost, LDAP_SERVER_DOWN,
                      "the connection was lost earlier (" + *impl_->lost + "); open a new one");
  }
  while (true) {
    berval cookie_value{static_cast<ber_len_t>(cookie.size()), cookie.data()};
    LDAPControl* raw_control = nullptr;
    // Critical: a server without paging must refuse, not return a silently truncated result.
    int rc = ldap_create_page_control(ld, static_cast<ber_int_t>(request.page_size),
                                      cookie.empty() ? nullptr : &cookie_value, 1, &raw_control);
    if (rc != LDAP_SUCCESS) {
      return incomplete(Completeness::protocol_error, rc,
                        "cannot encode the paged-results control: " + result_text(rc));
    }
    std::unique_ptr<LDAPControl, ControlDeleter> control(raw_control);
    LDAPControl* server_controls[] = {control.get(), nullptr};
    timeval time_limit{request.time_limit_seconds, 0};
    int msgid = 0;
    rc = ldap_search_ext(
        ld, request.base_dn.c_str(), scope_of(request.scope), request.filter.c_str(),
        request.attributes.empty() ? nullptr : names.data(), 0, server_controls, nullptr,
        request.time_limit_seconds > 0 ? &time_limit : nullptr, 0, &msgid);
    if (rc != LDAP_SUCCESS) {
      return incomplete(
          completeness_of(rc), rc,
          with_diagnostic("sending the search for page " + std::to_string(outcome.pages + 1) +
                              ": " + result_text(rc),
                          diagnostic(ld)));
    }
    Message done;
    while (!done) {
      Message message;
      const int type = impl_->next_message(msgid, message);
      if (type == 0) {
        ldap_abandon_ext(ld, msgid, nullptr, nullptr);
        return incomplete(Completeness::timeout, LDAP_TIMEOUT,
                          "no reply within " +
                              std::to_string(impl_->settings.operation_timeout.count()) +
                              " ms during page " + std::to_string(outcome.pages + 1));
      }
      if (type < 0) {
        rc = last_error(ld);
        return incomplete(completeness_of(rc), rc,
                          with_diagnostic("reading page " + std::to_string(outcome.pages + 1) +
                                              ": " + result_text(rc),
                                          diagnostic(ld)));
      }
      switch (type) {
        case LDAP_RES_SEARCH_ENTRY: page.push_back(to_entry(ld, message.get())); break;
        case LDAP_RES_SEARCH_REFERENCE:
          ++outcome.referrals;
          referral_seen = referral_seen || request.referrals == ReferralPolicy::incomplete;
          break;
        case LDAP_RES_SEARCH_RESULT: done = std::move(message); break;
        default: break;  // intermediate responses carry nothing for a plain search
      }
    }

    int result = LDAP_OTHER;
    char* diag = nullptr;
    LDAPControl** response_controls = nullptr;
    rc = ldap_parse_result(ld, done.get(), &result, nullptr, &diag, nullptr, &response_controls, 0);
    const std::string server_text = diag != nullptr ? diag : "";
    ldap_memfree(diag);
    if (rc != LDAP_SUCCESS) {
      return incomplete(Completeness::protocol_error, rc, "undecodable search result");
    }
    std::optional<std::string> next_cookie;
    if (LDAPControl* response =
            ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, response_controls, nullptr);
        response != nullptr) {
      ber_int_t estimate = 0;
      berval value{0, nullptr};
      if (ldap_parse_pageresponse_control(ld, response, &estimate, &value) == LDAP_SUCCESS) {
        next_cookie = std::string(value.bv_val != nullptr ? value.bv_val : "", value.bv_len);
        ber_memfree(value.bv_val);
      }
    }
    ldap_controls_free(response_controls);

    if (result != LDAP_SUCCESS) {
      // Entries the server sent before the error are real: deliver them (creates and updates
      // may use them), but the read stays incomplete.
      const auto code = completeness_of(result);
      if (deliver()) {
        return incomplete(code, result,
                          with_diagnostic("page " + std::to_string(outcome.pages) + " ended with " +
                                              result_text(result),
                                          server_text));
      }
      return outcome;
    }
    if (!next_cookie) {
      deliver();
      return incomplete(Completeness::missing_page_control, result,
                        "the server answered without a paged-results control");
    }
    if (!deliver()) {
      return outcome;
    }
    if (next_cookie->empty()) {
      if (referral_seen) {
        return incomplete(
            Completeness::referral_not_followed, LDAP_SUCCESS,
            std::to_string(outcome.referrals) + " continuation reference(s) not followed");
      }
      // The one place a read is declared complete: success on the last page, empty cookie.
      outcome.completeness = Completeness::complete;
      outcome.ldap_code = LDAP_SUCCESS;
      return outcome;
    }
    cookie = std::move(*next_cookie);
  }
}

bool is_transient(ErrorCode code) {
  return code == ErrorCode::unreachable || code == ErrorCode::timeout ||
         code == ErrorCode::unavailable;
}

Result<Connection> connect_with_backoff(const ConnectionSettings& settings, int max_attempts,
                                        const SleepFunction& sleep, BackoffPolicy policy) {
  max_attempts = std::max(max_attempts, 1);
  auto delay = policy.initial;
  for (int attempt = 1;; ++attempt) {
    auto connection = Connection::open(settings);
    if (connection || !is_transient(connection.error().code) || attempt == max_attempts) {
      if (!connection && attempt > 1) {
        auto error = connection.error();
        error.message += " (after " + std::to_string(attempt) + " attempts)";
        return error;
      }
      return connection;
    }
    sleep(delay);
    delay = std::min(delay * 2, policy.cap);
  }
}

}  // namespace idbridge::ldap
