// A synchronous HTTP/1.1 client over a real socket, plain or TLS (verified against a test CA),
// with a deadline on every operation so that a broken server fails a test instead of hanging it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace idbridge::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;
  bool keep_alive = false;
  // Case-insensitive; nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
};

struct TlsClientOptions {
  std::string ca_file;                    // PEM; the server's chain must verify against it
  std::string server_name = "localhost";  // SNI and host name verification
};

// One keep-alive connection. Every call throws std::system_error on a socket or TLS error,
// including beast::error::timeout when `timeout` passes.
class HttpConnection {
 public:
  HttpConnection(const std::string& host, std::uint16_t port,
                 std::optional<TlsClientOptions> tls = std::nullopt,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  HttpResponse request(std::string_view method, std::string_view target, std::string body = {},
                       const Headers& headers = {});
  HttpResponse get(std::string_view target) { return request("GET", target); }

  // Raw bytes, for requests the client would not produce (oversized, malformed, partial).
  void send_raw(std::string_view bytes);
  HttpResponse read_response();

  // Whether the server closes the connection (EOF or reset) within `wait`.
  bool closed_by_peer(std::chrono::milliseconds wait);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One GET on a fresh connection to 127.0.0.1:port.
HttpResponse http_get(std::uint16_t port, std::string_view target,
                      std::optional<TlsClientOptions> tls = std::nullopt);

}  // namespace idbridge::testing
