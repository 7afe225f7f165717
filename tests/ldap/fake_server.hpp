// A scripted LDAP server on 127.0.0.1 (BER via liblber) for replies slapd never sends: empty
// pages that carry a cookie, AD `member;range=` attributes, continuation references, success
// without the paged-results control, adminLimitExceeded. The client under test is the real one.
#pragma once

#include "idbridge/ldap/entry.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace idbridge::ldap::fake {

// What the client asked for in one search request.
struct Search {
  std::string base;
  int scope = 0;
  std::vector<std::string> attributes;
  std::optional<int> page_size;       // the paged-results control, when sent
  std::optional<std::string> cookie;  // its cookie (empty string on the first page)
};

struct Reply {
  std::vector<Entry> entries;
  std::vector<std::string> references;  // SearchResultReference URIs
  int result_code = 0;
  // nullopt: no paged-results control in SearchResultDone.
  std::optional<std::string> cookie = std::string();
};

using Script = std::function<Reply(const Search&)>;

// Answers every bind with success and every search with `script`; one connection at a time.
class Server {
 public:
  explicit Server(Script script);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::string uri() const;
  std::vector<Search> searches() const;

 private:
  void run();
  void serve(int fd);

  Script script_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> client_{-1};
  mutable std::mutex mutex_;
  std::vector<Search> searches_;
  std::thread thread_;
};

}  // namespace idbridge::ldap::fake
