// The HTTP(S) server: an io_context run by N threads, one coroutine per connection on its own
// strand, a blocking pool for handlers that touch the store, and graceful shutdown on
// SIGTERM/SIGINT. Beast and Asio stay in server.cpp.
#pragma once

#include "idbridge/config/config.hpp"
#include "router.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace idbridge::daemon {

class Logger;

struct TlsMaterial {
  std::string certificate_chain_pem;
  std::string private_key_pem;  // a secret: never logged
};

struct ServerOptions {
  config::ListenAddress listen;
  std::optional<TlsMaterial> tls;  // absent: plain HTTP (the caller checked that it may be)
  unsigned io_threads = 1;
  unsigned blocking_threads = 2;
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds shutdown_grace{20};
};

class Server {
 public:
  // Builds the TLS context when `options.tls` is set. Throws std::runtime_error when the
  // certificate chain or key is unusable (the message never contains key material).
  Server(ServerOptions options, Router router, Logger& logger);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns the bound port (the real one when options.listen.port is 0).
  // Throws std::system_error when the address cannot be resolved or bound.
  std::uint16_t listen();

  // Serves until SIGTERM/SIGINT or request_stop(): logs "listening", sends READY=1 to systemd,
  // then on shutdown sends STOPPING=1, stops accepting, closes idle keep-alive connections,
  // lets in-flight requests finish for up to shutdown_grace, then closes the rest and joins
  // every thread. Call listen() first.
  void run();

  // Starts the graceful shutdown from any thread.
  void request_stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace idbridge::daemon
