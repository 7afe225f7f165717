// fake::Server: accept loop, BER decoding of bind/search/unbind requests and encoding of the
// scripted replies, following the message layouts slapd's result.c writes.
#include "fake_server.hpp"

#include <arpa/inet.h>
#include <lber.h>
#include <ldap.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>

namespace idbridge::ldap::fake {
namespace {

struct BerDeleter {
  void operator()(BerElement* ber) const { ber_free(ber, 1); }
};
using Ber = std::unique_ptr<BerElement, BerDeleter>;

berval view(const std::string& text) {
  return berval{static_cast<ber_len_t>(text.size()), const_cast<char*>(text.data())};
}

bool send_message(int fd, BerElement* ber) {
  berval* flat = nullptr;
  if (ber_flatten(ber, &flat) != 0) {
    return false;
  }
  const char* data = flat->bv_val;
  std::size_t left = flat->bv_len;
  bool ok = true;
  while (left > 0) {
    const auto written = send(fd, data, left, MSG_NOSIGNAL);
    if (written <= 0) {
      ok = false;
      break;
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  ber_bvfree(flat);
  return ok;
}

Ber new_ber() {
  return Ber(ber_alloc_t(LBER_USE_DER));
}

bool send_result(int fd, ber_int_t msgid, ber_tag_t type, int code,
                 const std::optional<std::string>& cookie) {
  auto ber = new_ber();
  ber_printf(ber.get(), "{it{ess", msgid, type, static_cast<ber_int_t>(code), "", "");
  ber_printf(ber.get(), "N}");
  if (cookie) {
    auto value = new_ber();
    const auto cookie_value = view(*cookie);
    ber_printf(value.get(), "{iO}", static_cast<ber_int_t>(0), &cookie_value);
    berval* encoded = nullptr;
    ber_flatten(value.get(), &encoded);
    ber_printf(ber.get(), "t{{sO}}", static_cast<ber_tag_t>(LDAP_TAG_CONTROLS),
               LDAP_CONTROL_PAGEDRESULTS, encoded);
    ber_bvfree(encoded);
  }
  ber_printf(ber.get(), "N}");
  return send_message(fd, ber.get());
}

bool send_entry(int fd, ber_int_t msgid, const Entry& entry) {
  auto ber = new_ber();
  const auto dn = view(entry.dn);
  ber_printf(ber.get(), "{it{O{", msgid, static_cast<ber_tag_t>(LDAP_RES_SEARCH_ENTRY), &dn);
  for (const auto& attribute : entry.attributes) {
    const auto name = view(attribute.description);
    ber_printf(ber.get(), "{O[", &name);
    for (const auto& value : attribute.values) {
      const auto bytes = view(value);
      ber_printf(ber.get(), "O", &bytes);
    }
    ber_printf(ber.get(), "]N}");
  }
  ber_printf(ber.get(), "}N}N}");
  return send_message(fd, ber.get());
}

bool send_reference(int fd, ber_int_t msgid, const std::string& uri) {
  auto ber = new_ber();
  berval uris[2] = {view(uri), {0, nullptr}};
  ber_printf(ber.get(), "{it{W}N}", msgid, static_cast<ber_tag_t>(LDAP_RES_SEARCH_REFERENCE), uris);
  return send_message(fd, ber.get());
}

// SearchRequest ::= [APPLICATION 3] SEQUENCE { baseObject, scope, derefAliases, sizeLimit,
// timeLimit, typesOnly, filter, attributes }, then the message's optional [0] controls.
Search parse_search(BerElement* ber) {
  Search search;
  berval base{0, nullptr};
  ber_int_t scope = 0;
  ber_int_t deref = 0;
  ber_int_t size_limit = 0;
  ber_int_t time_limit = 0;
  ber_int_t types_only = 0;
  BerVarray attributes = nullptr;
  if (ber_scanf(ber, "{meeiibxW}", &base, &scope, &deref, &size_limit, &time_limit, &types_only,
                &attributes) == LBER_ERROR) {
    throw std::runtime_error("undecodable search request");
  }
  search.base.assign(base.bv_val, base.bv_len);
  search.scope = scope;
  for (auto* attribute = attributes; attribute != nullptr && attribute->bv_val != nullptr;
       ++attribute) {
    search.attributes.emplace_back(attribute->bv_val, attribute->bv_len);
  }
  ber_bvarray_free(attributes);

  ber_len_t length = 0;
  if (ber_peek_tag(ber, &length) != LDAP_TAG_CONTROLS) {
    return search;
  }
  ber_scanf(ber, "{");
  while (ber_peek_tag(ber, &length) == LBER_SEQUENCE) {
    berval oid{0, nullptr};
    berval value{0, nullptr};
    ber_int_t critical = 0;
    ber_scanf(ber, "{m", &oid);
    if (ber_peek_tag(ber, &length) == LBER_BOOLEAN) {
      ber_scanf(ber, "b", &critical);
    }
    if (ber_peek_tag(ber, &length) == LBER_OCTETSTRING) {
      ber_scanf(ber, "m", &value);
    }
    ber_scanf(ber, "}");
    if (std::string(oid.bv_val, oid.bv_len) == LDAP_CONTROL_PAGEDRESULTS) {
      Ber control(ber_init(&value));
      ber_int_t size = 0;
      berval cookie{0, nullptr};
      if (ber_scanf(control.get(), "{im}", &size, &cookie) != LBER_ERROR) {
        search.page_size = size;
        search.cookie = std::string(cookie.bv_val != nullptr ? cookie.bv_val : "", cookie.bv_len);
      }
    }
  }
  return search;
}

}  // namespace

Server::Server(Script script) : script_(std::move(script)) {
  listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener_ < 0 ||
      bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener_, 4) != 0 ||
      getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("fake LDAP server cannot listen");
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { run(); });
}

Server::~Server() {
  stopping_ = true;
  if (const int fd = client_.load(); fd >= 0) {
    shutdown(fd, SHUT_RDWR);
  }
  thread_.join();
  close(listener_);
}

std::string Server::uri() const {
  return "ldap://127.0.0.1:" + std::to_string(port_) + "/";
}

std::vector<Search> Server::searches() const {
  const std::lock_guard lock(mutex_);
  return searches_;
}

void Server::run() {
  while (!stopping_) {
    pollfd waiting{listener_, POLLIN, 0};
    if (poll(&waiting, 1, 50) != 1) {
      continue;
    }
    const int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    client_ = fd;
    if (!stopping_) {
      serve(fd);
    }
    client_ = -1;
    close(fd);
  }
}

void Server::serve(int fd) {
  Sockbuf* sockbuf = ber_sockbuf_alloc();
  int descriptor = fd;
  ber_sockbuf_add_io(sockbuf, &ber_sockbuf_io_tcp, LBER_SBIOD_LEVEL_PROVIDER, &descriptor);
  while (!stopping_) {
    Ber ber(ber_alloc_t(0));
    ber_len_t length = 0;
    if (ber_get_next(sockbuf, &length, ber.get()) != LDAP_TAG_MESSAGE) {
      break;
    }
    ber_int_t msgid = 0;
    if (ber_get_int(ber.get(), &msgid) == LBER_ERROR) {
      break;
    }
    const ber_tag_t operation = ber_peek_tag(ber.get(), &length);
    bool ok = true;
    if (operation == LDAP_REQ_BIND) {
      ok = send_result(fd, msgid, LDAP_RES_BIND, LDAP_SUCCESS, std::nullopt);
    } else if (operation == LDAP_REQ_SEARCH) {
      const auto search = parse_search(ber.get());
      {
        const std::lock_guard lock(mutex_);
        searches_.push_back(search);
      }
      const auto reply = script_(search);
      for (const auto& entry : reply.entries) {
        ok = ok && send_entry(fd, msgid, entry);
      }
      for (const auto& reference : reply.references) {
        ok = ok && send_reference(fd, msgid, reference);
      }
      ok = ok && send_result(fd, msgid, LDAP_RES_SEARCH_RESULT, reply.result_code, reply.cookie);
    } else {
      break;  // unbind, abandon or anything unexpected ends the connection
    }
    if (!ok) {
      break;
    }
  }
  // run() owns the descriptor: detach it so freeing the Sockbuf does not close it too.
  ber_sockbuf_remove_io(sockbuf, &ber_sockbuf_io_tcp, LBER_SBIOD_LEVEL_PROVIDER);
  ber_sockbuf_free(sockbuf);
}

}  // namespace idbridge::ldap::fake
