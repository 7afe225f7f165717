// The LDAP client the directory reader and write-back stand on: connection settings, open + bind
// with typed errors, reconnect with capped backoff, a paged search that proves whether it read
// everything (SearchOutcome), and writes (add, modify, rename, delete, password change) with
// assertion and read-entry controls. Built on libldap; ldap.h stays out of this header.
//
// Every call here BLOCKS (network round trips, bounded by the timeouts in ConnectionSettings).
// By design: run it on a dedicated sync thread or blocking pool, never on a daemon HTTP/I/O
// thread. A Connection is used by one thread at a time and runs one operation at a time
// (modify_pipelined is the one call that keeps several in flight).
#pragma once

#include "idbridge/ldap/entry.hpp"
#include "idbridge/ldap/range.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::ldap {

enum class StartTls { off, on };

// `verify` (the default) checks the chain against the CA and the host name against the
// certificate; `insecure_skip` accepts any certificate and makes Connection::warnings() say so.
enum class CertificateCheck { verify, insecure_skip };

enum class BindMethod {
  anonymous,
  simple,         // bind_dn + password
  sasl_external,  // the TLS client certificate is the identity (client_certificate/client_key)
};

// A secret that cannot be printed by accident: no conversion, no stream operator.
class Password {
 public:
  Password() = default;
  explicit Password(std::string value) : value_(std::move(value)) {}
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

struct ConnectionSettings {
  std::string uri;  // ldap://host:port or ldaps://host:port (one server)
  StartTls start_tls = StartTls::off;
  CertificateCheck certificate_check = CertificateCheck::verify;
  std::string ca_file;  // PEM bundle to trust; empty: the system's (/etc/ldap/ldap.conf)
  BindMethod bind = BindMethod::anonymous;
  std::string bind_dn;
  Password password;
  std::string client_certificate;  // PEM, for sasl_external (or a server demanding one)
  std::string client_key;          // PEM
  std::chrono::milliseconds network_timeout{std::chrono::seconds(10)};    // TCP + TLS connect
  std::chrono::milliseconds operation_timeout{std::chrono::seconds(60)};  // each server reply
};

// Every problem that makes the settings unusable (empty means usable), all at once.
std::vector<std::string> validate(const ConnectionSettings& settings);
// Usable but weakened settings: verification off, a password sent without TLS.
std::vector<std::string> warnings(const ConnectionSettings& settings);

enum class ErrorCode {
  invalid_settings,     // validate() found problems; nothing was sent
  unreachable,          // no TCP connection (refused, no route, name not resolved) or it dropped
  tls_failure,          // TCP connected but TLS did not: untrusted CA, host name, handshake
  invalid_credentials,  // the server refused the DN/password (LDAP 49)
  timeout,              // the network or operation timeout passed
  unavailable,          // the server is busy or unavailable (LDAP 51, 52): worth a retry
  bind_refused,         // any other bind refusal (inappropriate auth, confidentiality required)
  protocol_error,       // the server answered something libldap could not use
  operation_failed,     // an operation ended with a non-success LDAP code not listed below
  // Refused before anything was sent: an empty DN, an attribute without a name or values, no
  // modifications, an assertion filter that does not parse, a password that is not UTF-8.
  invalid_request,
  // Specific refusals of an operation (reads and writes). Never transient: the same request
  // fails the same way until the directory or the request changes.
  no_such_object,             // LDAP 32: the entry (or the new superior) does not exist
  already_exists,             // LDAP 68: add or rename onto a DN that exists
  assertion_failed,           // LDAP 122: the entry no longer matches WriteOptions::assertion
  unsupported_control,        // LDAP 12: a critical control (assertion) the server lacks
  no_such_attribute,          // LDAP 16: removing a value or attribute that is not there
  attribute_or_value_exists,  // LDAP 20: adding a value that is already there
  constraint_violation,       // LDAP 19: size, uniqueness, AD password complexity or history
  invalid_attribute,          // LDAP 17, 18, 21: attribute not in the schema, or bad syntax
  invalid_dn,                 // LDAP 34: the DN (or new RDN) does not parse
  naming_violation,           // LDAP 64: an RDN or a parent the schema does not allow
  object_class_violation,     // LDAP 65, 69: required attribute missing, class not allowed
  not_allowed_on_non_leaf,    // LDAP 66: delete or move of an entry that has children
  not_allowed_on_rdn,         // LDAP 67: removing the value the RDN is made of
  insufficient_access,        // LDAP 50: the bind identity may not do this
  unwilling_to_perform,       // LDAP 53: e.g. AD's unicodePwd without TLS, a disabled feature
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;  // for logs and reports; never contains the password
  int ldap_code = 0;    // the libldap/LDAP result code behind it, 0 when none
};

template <class T>
using Result = boost::system::result<T, Error>;

// Thrown by Result::value() on an Error.
class LdapFailure : public std::runtime_error {
 public:
  explicit LdapFailure(Error error);
  const Error& error() const { return error_; }

 private:
  Error error_;
};

[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

enum class Scope { base, one_level, subtree };

// Continuation references (RFC 4511 §4.5.3) point at entries this server did not return. They
// are never followed; by default they make the read incomplete. `count_and_ignore` exists for
// AD roots, whose ForestDnsZones/DomainDnsZones/Configuration references hold no users.
enum class ReferralPolicy { incomplete, count_and_ignore };

// `complete`: an `attr;range=low-high` attribute (AD) is completed with follow-up reads before
// its page is delivered, and delivered as `attr`. `off`: delivered as the server sent it.
enum class RangeRetrieval { complete, off };

struct SearchRequest {
  std::string base_dn;
  Scope scope = Scope::subtree;
  std::string filter = "(objectClass=*)";
  std::vector<std::string> attributes;  // empty: all user attributes
  int page_size = 500;                  // AD caps pages at 1,000 (MaxPageSize)
  int time_limit_seconds = 0;           // sent to the server per page; 0: none
  ReferralPolicy referrals = ReferralPolicy::incomplete;
  RangeRetrieval ranges = RangeRetrieval::complete;
};

// Why a search is not complete. `complete` is set in one place only: the last page ended with
// LDAP success and an empty cookie, and nothing on the way made the read partial.
enum class Completeness {
  complete,
  size_limit_exceeded,     // LDAP 4: the server truncated the result
  time_limit_exceeded,     // LDAP 3
  admin_limit_exceeded,    // LDAP 11 (AD's MaxResultSetSize, MaxValRange...)
  connection_lost,         // the connection dropped mid-stream
  timeout,                 // no reply within operation_timeout; the operation was abandoned
  referral_not_followed,   // a referral or continuation reference under ReferralPolicy::incomplete
  unavailable,             // LDAP 51/52: busy, unavailable
  no_such_base,            // LDAP 32: the base DN does not exist (never "an empty directory")
  server_error,            // any other non-success result code
  missing_page_control,    // success without the paged-results response control
  range_retrieval_failed,  // a ranged attribute could not be completed; its page was withheld
  protocol_error,          // a reply libldap could not decode
};

std::string_view to_string(Completeness completeness);

struct SearchOutcome {
  Completeness completeness = Completeness::server_error;
  int ldap_code = 0;        // result code of the last response (or libldap's error)
  std::string detail;       // server diagnostic or our reason, for the sync report
  std::size_t pages = 0;    // pages delivered to the callback
  std::size_t entries = 0;  // entries delivered to the callback
  std::size_t referrals = 0;
  std::size_t range_reads = 0;  // follow-up reads for ranged attributes
  bool complete() const { return completeness == Completeness::complete; }
};

// RFC 4533 content synchronisation (OpenLDAP's syncprov). `refresh_only` answers "what changed
// since this cookie" and ends; `refresh_and_persist` does the same, then keeps the search open and
// streams every later change until stopped.
enum class SyncMode { refresh_only, refresh_and_persist };

struct SyncRequest {
  std::string base_dn;
  Scope scope = Scope::subtree;
  std::string filter = "(objectClass=*)";
  std::vector<std::string> attributes;  // empty: all user attributes
  SyncMode mode = SyncMode::refresh_only;
  std::string cookie;  // from an earlier sync of the same search; empty: the whole content
  std::size_t batch_size = 500;  // changes per SyncBatch (entries, deletions and presences)
  // How often a stop request is checked; in the persist phase also how long a quiet server is
  // waited for before a partial batch is delivered.
  std::chrono::milliseconds poll_interval{200};
};

// What arrived since the previous batch. Entries are full (the requested attributes); deleted and
// present objects are entryUUIDs in their text form (8-4-4-4-12 lower-case hex), as entryUUID is
// read.
struct SyncBatch {
  std::vector<Entry> changed;        // added or modified
  std::vector<std::string> deleted;  // reported deleted (delete state or a syncIdSet)
  std::vector<std::string> present;  // reported unchanged and present (present phase)
  // A cookie that covers everything delivered so far: store it only once this batch (and every
  // earlier one) has been applied. Never set in the middle of a refresh phase.
  std::optional<std::string> cookie;
  // The refresh phase ended with this batch. `refresh_deletes` true: the server listed the
  // deletions (delete phase), false: it listed every present object instead (present phase):
  // objects known to the client and neither changed nor present are gone.
  bool refresh_done = false;
  bool refresh_deletes = false;
};

struct SyncOutcome {
  // refresh_only: complete when the search ended with success and a sync-done control. A persist
  // search only ends on an error or a stop; a requested stop leaves it `complete` with `stopped`.
  Completeness completeness = Completeness::server_error;
  int ldap_code = 0;
  std::string detail;
  // The server cannot serve the cookie incrementally (e-syncRefreshRequired, 4096), or refused it
  // (unwillingToPerform, 53, for a cookie: syncprov's "consumer state is newer than provider"):
  // sync again without it.
  bool refresh_required = false;
  bool stopped = false;
  bool refresh_done = false;     // the refresh phase ended (refresh_deletes says how)
  bool refresh_deletes = false;  // as in SyncBatch
  std::string cookie;            // the last cookie received ("" when none)
  std::size_t changed = 0;
  std::size_t deleted = 0;
  std::size_t present = 0;
  bool complete() const { return completeness == Completeness::complete; }
};

// The batch is the callback's: it may move entries out of it (it is discarded afterwards).
using SyncCallback = std::function<void(SyncBatch& batch)>;

// One page of entries; the vector is reused for the next page, so keep what must outlive it (the
// callback may move entries out: the page is cleared afterwards).
using PageCallback = std::function<void(std::vector<Entry>& page)>;

// Writes. Values are raw bytes (binary-safe: AD's unicodePwd, objectGUID references).
enum class ModifyOp { add, remove, replace };

// One change of a modify. `remove` with no values removes the whole attribute; `replace` with
// no values removes it too (RFC 4511 §4.6); `add` needs at least one value.
struct Modification {
  ModifyOp op = ModifyOp::replace;
  std::string attribute;
  std::vector<std::string> values;
};

// What rename does with the value of the old RDN: remove it from the entry, or keep it as an
// ordinary attribute value.
enum class OldRdn { remove, keep };

struct WriteOptions {
  // RFC 4528 assertion (an RFC 4515 filter, sent as a critical control): the server performs
  // the write only if the entry matches it, atomically; otherwise assertion_failed (122) and
  // nothing changes. Write-back asserts that what it believes the directory holds is still
  // there (e.g. "(entryCSN=...)" or "(mail=old@example.com)"). A server without the control
  // refuses with unsupported_control (12); it never writes unchecked. Empty: no assertion.
  std::string assertion;
  // RFC 4527 read-entry controls: the entry (these attributes) as it was just before and as it
  // is just after the write, read atomically with it, e.g. entryUUID, entryCSN,
  // modifyTimestamp (OpenLDAP) or objectGUID, uSNChanged. Not critical: a server without the
  // control still writes and WriteResult leaves the entry empty. Empty: not requested. An add
  // has nothing to pre-read and a delete nothing to post-read: asking is invalid_request.
  std::vector<std::string> pre_read;
  std::vector<std::string> post_read;
};

struct WriteResult {
  int ldap_code = 0;               // 0 (success); kept for the report
  std::string diagnostic;          // the server's diagnostic message, usually empty
  std::optional<Entry> pre_read;   // when requested and returned
  std::optional<Entry> post_read;  // when requested and returned
};

struct ModifyRequest {
  std::string dn;
  std::vector<Modification> modifications;
  WriteOptions options;
};

// AD's unicodePwd value for `password` (UTF-8): the password in double quotes, as UTF-16LE
// bytes. Set with a modify replace (an administrator reset) or a remove of the old value plus
// an add of the new one (a user's own change); AD accepts it over TLS only. Errors:
// invalid_request when the password is not valid UTF-8 (the message does not contain it).
Result<std::string> encode_unicode_pwd(const Password& password);

class Connection {
 public:
  // Validates the settings, connects (TLS for ldaps, StartTLS when on, never falling back to
  // cleartext), and binds. Errors: every ErrorCode above.
  static Result<Connection> open(const ConnectionSettings& settings);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();  // unbinds

  // Paged search (RFC 2696): delivers entries page by page to `on_page` (at most page_size
  // entries are held at once) and continues until the server's cookie is empty, whatever the
  // size of each page (an empty page with a cookie is not the end). Never throws for LDAP or
  // network failures: they come back as an incomplete SearchOutcome. Rethrows what `on_page`
  // throws. After connection_lost or timeout the Connection is dead: every further call fails
  // (connection_lost / unreachable) without touching the network, because libldap could
  // otherwise reopen the link unbound and without StartTLS. Open a new Connection and read again
  // from the beginning; entries delivered so far do not prove anything.
  SearchOutcome search(const SearchRequest& request, const PageCallback& on_page);

  // RFC 4533 content sync search (critical control: a server without syncprov refuses it with
  // unavailableCriticalExtension, 12, never answers a plain search). Delivers batches to
  // `on_batch` as they fill, and at the end of the refresh phase. Never throws for LDAP or
  // network failures (an incomplete SyncOutcome, as search); rethrows what `on_batch` throws.
  // `stop` ends the search (abandoned) within about poll_interval; the Connection stays usable.
  // In the refresh phase a server silent for operation_timeout is a timeout; in the persist
  // phase silence is normal.
  SyncOutcome content_sync(const SyncRequest& request, const SyncCallback& on_batch,
                           std::stop_token stop = {});

  // One base-scope read of `dn` (no paging). Errors: as search, mapped to ErrorCode.
  Result<Entry> read(const std::string& dn, const std::vector<std::string>& attributes);

  // The authorization identity the server sees (RFC 4532), e.g. "dn:cn=admin,dc=example,dc=com".
  Result<std::string> who_am_i();

  // Writes. Each sends one LDAP operation and waits for its result (operation_timeout). Errors:
  // invalid_request (nothing sent); the specific refusals of ErrorCode (no_such_object,
  // already_exists, assertion_failed...) and operation_failed for any other result code, with
  // the server's diagnostic; unavailable (51, 52: retry). unreachable and timeout leave the
  // Connection dead like a failed search (every later call fails without touching the network);
  // after a timeout or a dropped connection the write may or may not have been applied: read the
  // entry on a new Connection before retrying. Messages name the DN and attributes, never values
  // of userPassword or unicodePwd, and a server diagnostic that echoes them is scrubbed.

  // Adds the entry `dn` with `attributes` (each with at least one value; objectClass included).
  Result<WriteResult> add(const std::string& dn, const std::vector<Attribute>& attributes,
                          const WriteOptions& options = {});
  // Applies every modification in order, atomically (one LDAP modify: all or none).
  Result<WriteResult> modify(const std::string& dn, const std::vector<Modification>& modifications,
                             const WriteOptions& options = {});
  // ModifyDN: gives `dn` the RDN `new_rdn` (e.g. "uid=new"), and moves it under `new_superior`
  // when set. Errors as above; already_exists when the target DN is taken.
  Result<WriteResult> rename(const std::string& dn, const std::string& new_rdn,
                             const std::optional<std::string>& new_superior, OldRdn old_rdn,
                             const WriteOptions& options = {});
  // Deletes the leaf entry `dn` (not_allowed_on_non_leaf when it has children).
  Result<WriteResult> remove(const std::string& dn, const WriteOptions& options = {});
  // RFC 3062 Password Modify extended operation: sets the password of `dn` (the server hashes it
  // by its own policy). Needs the right to write the user's password (an administrator, or
  // the user itself where the ACLs allow it). Errors as above; the password is never in them.
  Result<void> password_modify(const std::string& dn, const Password& new_password);

  // Pipelined modifies: sends up to `window` requests before waiting for results, then keeps
  // `window` in flight, so a batch is not bound by one round trip per change. Returns one result
  // per request, in request order; each modify is atomic on its own, the batch is not. slapd may
  // run pipelined operations in any order, so a request waits until no earlier request for the
  // same DN (compared ignoring case, as written) is in flight. When the connection is lost or a
  // reply times out, every request in flight gets that error (outcome unknown) and the unsent
  // ones fail without being sent.
  std::vector<Result<WriteResult>> modify_pipelined(const std::vector<ModifyRequest>& requests,
                                                    std::size_t window = 64);

  // Warnings about the settings this connection was opened with (see warnings()).
  const std::vector<std::string>& warnings() const;

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct BackoffPolicy {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds cap{std::chrono::seconds(30)};
};

using SleepFunction = std::function<void(std::chrono::milliseconds)>;

// Whether another attempt may succeed: unreachable, timeout and unavailable. Never retried:
// invalid credentials (retries lock accounts), TLS failures and invalid settings (configuration).
bool is_transient(ErrorCode code);

// Connection::open up to `max_attempts` times, sleeping initial, 2*initial, ... (capped) between
// transient failures. Returns the first connection, or the last error (its message says how
// many attempts were made).
Result<Connection> connect_with_backoff(const ConnectionSettings& settings, int max_attempts,
                                        const SleepFunction& sleep, BackoffPolicy policy = {});

}  // namespace idbridge::ldap
