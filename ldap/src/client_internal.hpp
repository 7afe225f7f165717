// Private to idbridge_ldap: the libldap handle behind a Connection and the helpers the paged
// search (client.cpp) and content sync (content_sync.cpp) share. ldap.h is included here, never in
// a public header.
#pragma once

#include "idbridge/ldap/client.hpp"

#include <ldap.h>
#include <pthread.h>

#include <csignal>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace idbridge::ldap {
namespace detail {

using Clock = std::chrono::steady_clock;

struct HandleDeleter {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
using Handle = std::unique_ptr<LDAP, HandleDeleter>;

struct MessageDeleter {
  void operator()(LDAPMessage* message) const { ldap_msgfree(message); }
};
using Message = std::unique_ptr<LDAPMessage, MessageDeleter>;

struct ControlDeleter {
  void operator()(LDAPControl* control) const { ldap_control_free(control); }
};

struct UrlDeleter {
  void operator()(LDAPURLDesc* url) const { ldap_free_urldesc(url); }
};

// libldap writes to its socket with plain write(): a peer that has gone away (slapd killed, AD
// connection reset) raises SIGPIPE, which kills the process by default. Like libpq, block
// SIGPIPE in this thread around each call and swallow one we caused, without touching the
// process-wide disposition the daemon owns.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &previous_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        const timespec no_wait{0, 0};
        sigtimedwait(&pipe_only, nullptr, &no_wait);
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t previous_;
  bool was_pending_ = false;
};

timeval to_timeval(std::chrono::milliseconds duration);
std::string result_text(int code);
std::string diagnostic(LDAP* ld);
int last_error(LDAP* ld);
std::string with_diagnostic(std::string message, const std::string& diag);
// The ErrorCode of a libldap or LDAP result code.
ErrorCode classify(int code);
// `text` with every occurrence of `secret` replaced by "***".
std::string scrub(std::string text, const Password& password);
Error make_error(ErrorCode code, std::string message, int ldap_code = 0);
Completeness completeness_of(int code);
int scope_of(Scope scope);
Entry to_entry(LDAP* ld, LDAPMessage* message);
// NULL-terminated char* array over `attributes` (libldap does not modify them).
std::vector<char*> attribute_array(const std::vector<std::string>& attributes);

}  // namespace detail

struct Connection::Impl {
  using Handle = detail::Handle;
  using Message = detail::Message;
  Handle ld;
  ConnectionSettings settings;
  std::vector<std::string> warnings;
  // Set once the link is lost or an operation timed out. libldap may reopen a lost default
  // connection on the next call, unbound and without StartTLS: this Connection refuses instead.
  std::optional<std::string> lost;

  Error fail(ErrorCode code, std::string message, int ldap_code) {
    if (code == ErrorCode::unreachable || code == ErrorCode::timeout) {
      lost = message;
    }
    return detail::make_error(code, std::move(message), ldap_code);
  }
  std::optional<Error> refuse_if_lost() const {
    if (!lost) {
      return std::nullopt;
    }
    return detail::make_error(ErrorCode::unreachable,
                              "the connection was lost earlier (" + *lost + "); open a new one",
                              LDAP_SERVER_DOWN);
  }

  // Waits for the next message of `msgid`; nullopt-like -1/0 returns are reported by `type`.
  int next_message(int msgid, Message& out) {
    timeval timeout = detail::to_timeval(settings.operation_timeout);
    LDAPMessage* raw = nullptr;
    const int type = ldap_result(ld.get(), msgid, LDAP_MSG_ONE, &timeout, &raw);
    out.reset(raw);
    return type;
  }

  Result<Entry> read(const std::string& dn, const std::vector<std::string>& attributes);
  bool complete_ranges(std::vector<Entry>& page, SearchOutcome& outcome);

  // Writes (write.cpp). `what` names the operation and DN in errors ("modify of 'uid=x,...'");
  // `secrets` are values no error may contain.
  std::optional<Error> send_modify(const std::string& dn,
                                   const std::vector<Modification>& modifications,
                                   const WriteOptions& options, int& msgid);
  Result<WriteResult> await_write(int msgid, const std::string& what,
                                  const std::vector<std::string>& secrets);
  Result<WriteResult> write_result(LDAPMessage* message, const std::string& what,
                                   const std::vector<std::string>& secrets);
};

}  // namespace idbridge::ldap
