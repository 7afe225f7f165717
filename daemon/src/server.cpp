// Beast/Asio HTTP(S) server after Beast's coroutine examples and Boost.MySQL's
// http_server_cpp20: accept loop, one coroutine per connection on a strand, limits and timeouts
// on every read, handlers on a blocking pool, graceful shutdown.
#include "server.hpp"

#include "logger.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <systemd/sd-daemon.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <csignal>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace idbridge::daemon {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using beast::error_code;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// How long a closing connection keeps reading (and discarding) what the client still sends.
constexpr auto kLingerTime = std::chrono::seconds(2);

using TlsStream = ssl::stream<beast::tcp_stream>;

// What shutdown may do to a session from outside. Touched only on the session's strand.
struct SessionControl {
  net::any_io_executor strand;
  std::function<void()> close_now;  // closes the socket; empty before start and after the end
  bool idle = false;                // waiting for the first byte of the next request
  bool stop = false;                // finish the current request, then close

  void stop_if_idle() {
    stop = true;
    if (idle && close_now) {
      close_now();
    }
  }
  void force_close() {
    stop = true;
    if (close_now) {
      close_now();
    }
  }
};

// Binds `close_now` to a stream for the stream's lifetime.
class CloseBinding {
 public:
  CloseBinding(SessionControl& control, std::function<void()> close_now) : control_(control) {
    control_.close_now = std::move(close_now);
  }
  ~CloseBinding() { control_.close_now = nullptr; }
  CloseBinding(const CloseBinding&) = delete;
  CloseBinding& operator=(const CloseBinding&) = delete;

 private:
  SessionControl& control_;
};

enum class CloseMode { immediate, graceful };

Request to_request(http::request<http::string_body>&& message, const std::string& remote) {
  HeaderList headers;
  for (const auto& field : message) {
    headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  auto request = make_request(parse_method(message.method_string()), std::string(message.target()),
                              std::move(headers), std::move(message.body()));
  request.remote_address = remote;
  return request;
}

http::response<http::string_body> to_message(Response&& response, unsigned version,
                                             bool keep_alive) {
  http::response<http::string_body> message{static_cast<http::status>(response.status), version};
  message.set(http::field::server, "idbridged");
  message.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) {
    message.insert(name, value);
  }
  message.body() = std::move(response.body);
  message.keep_alive(keep_alive);
  message.prepare_payload();
  return message;
}

ssl::context make_tls_context(const TlsMaterial& material) {
  ssl::context context(ssl::context::tls_server);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::single_dh_use);
  if (SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION) != 1) {
    throw std::runtime_error("cannot require TLS 1.2");
  }
  error_code ec;
  context.use_certificate_chain(net::buffer(material.certificate_chain_pem), ec);
  if (ec) {
    throw std::runtime_error("TLS certificate chain unusable: " + ec.message());
  }
  // OpenSSL also checks here that the key matches the certificate.
  context.use_private_key(net::buffer(material.private_key_pem), ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("TLS private key unusable or not the certificate's key: " +
                             ec.message());
  }
  return context;
}

std::string remote_of(const tcp::socket& socket) {
  error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  return ec ? std::string() : endpoint.address().to_string();
}

bool expects_continue(const http::request<http::string_body>& message) {
  return message.version() >= 11 && beast::iequals(message[http::field::expect], "100-continue");
}

bool is_http_parse_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions server_options, Router routes, Logger& log)
      : options(std::move(server_options)),
        router(std::move(routes)),
        logger(log),
        ioc(static_cast<int>(std::max(1U, options.io_threads))),
        blocking(std::max(1U, options.blocking_threads)),
        control(net::make_strand(ioc)),
        acceptor(control),
        signals(control, SIGINT, SIGTERM),
        grace_timer(control) {
    if (options.tls) {
      tls.emplace(make_tls_context(*options.tls));
      // The context holds the key now; no second copy stays in memory.
      auto& key = options.tls->private_key_pem;
      OPENSSL_cleanse(key.data(), key.size());
      key.clear();
    }
  }

  ServerOptions options;
  Router router;
  Logger& logger;
  net::io_context ioc;
  net::thread_pool blocking;
  std::optional<ssl::context> tls;
  net::strand<net::io_context::executor_type> control;  // acceptor, signals, grace timer
  tcp::acceptor acceptor;
  net::signal_set signals;
  net::steady_timer grace_timer;
  bool finished = false;  // control strand only

  std::mutex mutex;  // guards the three below
  std::unordered_map<std::uint64_t, std::shared_ptr<SessionControl>> sessions;
  std::uint64_t next_session_id = 0;
  bool stopping = false;

  // Completion of a detached coroutine: nothing may escape into io_context::run().
  auto log_failure(std::string_view what) {
    return [this, what](std::exception_ptr failure) {
      if (!failure) {
        return;
      }
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        logger.error(what, {{"error", e.what()}});
      }
    };
  }

  // --- accepting -------------------------------------------------------------------------------

  net::awaitable<void> accept_loop() {
    while (true) {
      tcp::socket socket(net::make_strand(ioc));
      auto [ec] = co_await acceptor.async_accept(socket, use_tuple);
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) {
          co_return;
        }
        // e.g. EMFILE: back off instead of spinning on the same error.
        logger.warning("accept failed", {{"error", ec.message()}});
        net::steady_timer pause(control, std::chrono::milliseconds(100));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      start_session(std::move(socket));
    }
  }

  void start_session(tcp::socket socket) {
    auto session = std::make_shared<SessionControl>();
    session->strand = socket.get_executor();
    std::uint64_t id = 0;
    {
      const std::lock_guard lock(mutex);
      if (stopping) {
        return;  // the socket closes on destruction
      }
      id = next_session_id++;
      sessions.emplace(id, session);
    }
    net::co_spawn(session->strand, run_session(std::move(socket), session, id),
                  log_failure("session failed"));
  }

  void on_session_end(std::uint64_t id) {
    bool last = false;
    {
      const std::lock_guard lock(mutex);
      sessions.erase(id);
      last = stopping && sessions.empty();
    }
    if (last) {
      net::post(control, [this] { finish_shutdown(); });
    }
  }

  // --- one connection --------------------------------------------------------------------------

  net::awaitable<void> run_session(tcp::socket socket, std::shared_ptr<SessionControl> session,
                                   std::uint64_t id) {
    struct EndGuard {
      Impl& impl;
      std::uint64_t id;
      ~EndGuard() { impl.on_session_end(id); }
    } end_guard{*this, id};

    const std::string remote = remote_of(socket);
    if (tls) {
      TlsStream stream(std::move(socket), *tls);
      const CloseBinding binding(*session, [&stream] { beast::get_lowest_layer(stream).close(); });
      session->idle = true;
      if (session->stop) {
        co_return;
      }
      beast::get_lowest_layer(stream).expires_after(options.request_timeout);
      auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
      session->idle = false;
      if (ec) {
        logger.debug("TLS handshake failed", {{"remote", remote}, {"error", ec.message()}});
        co_return;
      }
      if (co_await serve_requests(stream, *session, remote) == CloseMode::graceful) {
        co_await close_gracefully(stream);
      }
    } else {
      beast::tcp_stream stream(std::move(socket));
      const CloseBinding binding(*session, [&stream] { stream.close(); });
      if (co_await serve_requests(stream, *session, remote) == CloseMode::graceful) {
        co_await close_gracefully(stream);
      }
    }
  }

  template <class Stream>
  net::awaitable<CloseMode> serve_requests(Stream& stream, SessionControl& session,
                                           const std::string& remote) {
    beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_body_bytes);
      // One deadline for the whole request, so a client trickling bytes cannot hold the
      // connection longer than request_timeout.
      beast::get_lowest_layer(stream).expires_after(options.request_timeout);
      error_code ec;
      bool header_seen = false;
      while (!parser.is_done()) {
        session.idle = buffer.size() == 0 && !parser.got_some();
        if (session.idle && session.stop) {
          co_return CloseMode::immediate;
        }
        auto [read_ec, ignored] = co_await http::async_read_some(stream, buffer, parser, use_tuple);
        session.idle = false;
        if (read_ec) {
          ec = read_ec;
          break;
        }
        if (!header_seen && parser.is_header_done()) {
          header_seen = true;
          // Clients such as .NET's HttpClient wait for this before sending a body; without it
          // every such request would stall for the client's expect timeout.
          if (!parser.is_done() && expects_continue(parser.get())) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            auto [write_ec, written] = co_await net::async_write(
                stream, net::buffer(kContinue.data(), kContinue.size()), use_tuple);
            if (write_ec) {
              co_return CloseMode::immediate;
            }
          }
        }
      }
      if (ec) {
        if (ec == http::error::body_limit) {
          co_await write_error(stream, 413, "request body too large");
          co_return CloseMode::graceful;
        }
        if (ec == http::error::header_limit) {
          co_await write_error(stream, 431, "request header fields too large");
          co_return CloseMode::graceful;
        }
        if (is_http_parse_error(ec) && ec != http::error::end_of_stream &&
            ec != http::error::partial_message) {
          co_await write_error(stream, 400, "malformed HTTP request");
          co_return CloseMode::graceful;
        }
        // End of stream, timeout, reset, or closed by shutdown: nothing to answer.
        if (ec != http::error::end_of_stream && ec != net::error::operation_aborted) {
          logger.debug("connection read ended", {{"remote", remote}, {"error", ec.message()}});
        }
        co_return CloseMode::immediate;
      }

      auto message = parser.release();
      const bool client_keep_alive = message.keep_alive();
      const unsigned version = message.version();
      const auto started = std::chrono::steady_clock::now();
      Request request = to_request(std::move(message), remote);
      Response response = co_await dispatch(request);
      const bool keep_alive = client_keep_alive && !response.close && !session.stop;
      const int status = response.status;
      auto out = to_message(std::move(response), version, keep_alive);
      beast::get_lowest_layer(stream).expires_after(options.request_timeout);
      auto [write_ec, written] = co_await http::async_write(stream, out, use_tuple);
      if (logger.enabled(LogLevel::debug)) {
        const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - started);
        // The path only: queries can carry filters with personal data.
        logger.debug("request", {{"method", to_string(request.method)},
                                 {"path", request.path},
                                 {"status", status},
                                 {"duration_ms", static_cast<double>(elapsed.count()) / 1000.0},
                                 {"remote", remote}});
      }
      if (write_ec) {
        co_return CloseMode::immediate;
      }
      if (!keep_alive) {
        co_return CloseMode::graceful;
      }
    }
  }

  net::awaitable<Response> dispatch(Request& request) {
    auto match = router.match(request.method, request.path);
    auto* found = std::get_if<RouteFound>(&match);
    if (found == nullptr) {
      co_return not_routed_response(match);
    }
    request.path_params = std::move(found->params);
    const Route& route = *found->route;
    if (route.execution == Execution::io_thread ||
        (route.inline_when && route.inline_when(request))) {
      co_return invoke_handler(route, request, logger);
    }
    // Runs on the blocking pool; the session resumes on its own strand afterwards.
    co_return co_await net::co_spawn(blocking, run_blocking(route, request), net::use_awaitable);
  }

  net::awaitable<Response> run_blocking(const Route& route, const Request& request) {
    co_return invoke_handler(route, request, logger);
  }

  template <class Stream>
  net::awaitable<void> write_error(Stream& stream, int status, std::string_view detail) {
    auto response = error_response(status, detail);
    auto out = to_message(std::move(response), 11, false);
    beast::get_lowest_layer(stream).expires_after(options.request_timeout);
    co_await http::async_write(stream, out, use_tuple);
  }

  net::awaitable<void> close_gracefully(beast::tcp_stream& stream) {
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Reading what the client still sends (the rest of an oversized body) keeps the kernel from
    // answering with a reset that could destroy the response before the client reads it.
    stream.expires_after(kLingerTime);
    std::array<char, 4096> sink{};
    while (true) {
      auto [ec, n] = co_await stream.async_read_some(net::buffer(sink), use_tuple);
      if (ec) {
        break;
      }
    }
    stream.close();
  }

  net::awaitable<void> close_gracefully(TlsStream& stream) {
    beast::get_lowest_layer(stream).expires_after(kLingerTime);
    co_await stream.async_shutdown(use_tuple);
    beast::get_lowest_layer(stream).close();
  }

  // --- shutdown (control strand) ---------------------------------------------------------------

  void arm_signals() {
    if (finished) {
      return;
    }
    signals.async_wait([this](const error_code& ec, int signal_number) {
      if (ec) {
        return;
      }
      arm_signals();  // before begin_shutdown, which may finish at once and cancel it
      begin_shutdown(signal_number);
    });
  }

  void begin_shutdown(int signal_number) {
    std::vector<std::shared_ptr<SessionControl>> open;
    bool again = false;
    {
      const std::lock_guard lock(mutex);
      again = stopping;
      stopping = true;
      for (const auto& [id, session] : sessions) {
        open.push_back(session);
      }
    }
    if (again) {
      logger.warning("second stop request, closing connections now",
                     {{"signal", signal_number}, {"open_connections", open.size()}});
      force_close(open);
      return;
    }
    logger.info("shutting down", {{"signal", signal_number}, {"open_connections", open.size()}});
    sd_notify(0, "STOPPING=1");
    error_code ignored;
    acceptor.close(ignored);
    for (const auto& session : open) {
      net::post(session->strand, [session] { session->stop_if_idle(); });
    }
    if (open.empty()) {
      finish_shutdown();
      return;
    }
    grace_timer.expires_after(options.shutdown_grace);
    grace_timer.async_wait([this](const error_code& ec) {
      if (ec) {
        return;
      }
      std::vector<std::shared_ptr<SessionControl>> left;
      {
        const std::lock_guard lock(mutex);
        for (const auto& [id, session] : sessions) {
          left.push_back(session);
        }
      }
      logger.warning("shutdown grace period over, closing connections",
                     {{"open_connections", left.size()}});
      force_close(left);
    });
  }

  static void force_close(const std::vector<std::shared_ptr<SessionControl>>& open) {
    for (const auto& session : open) {
      net::post(session->strand, [session] { session->force_close(); });
    }
  }

  // Cancels the last waits, so io_context::run() returns in every thread.
  void finish_shutdown() {
    if (finished) {
      return;
    }
    finished = true;
    grace_timer.cancel();
    error_code ignored;
    signals.cancel(ignored);
    acceptor.close(ignored);
  }
};

Server::Server(ServerOptions options, Router router, Logger& logger)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), logger)) {}

Server::~Server() = default;

std::uint16_t Server::listen() {
  auto& impl = *impl_;
  tcp::resolver resolver(impl.ioc);
  const auto results =
      resolver.resolve(impl.options.listen.host, std::to_string(impl.options.listen.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service);
  const tcp::endpoint endpoint = results.begin()->endpoint();
  impl.acceptor.open(endpoint.protocol());
  impl.acceptor.set_option(net::socket_base::reuse_address(true));
  impl.acceptor.bind(endpoint);
  impl.acceptor.listen(net::socket_base::max_listen_connections);
  return impl.acceptor.local_endpoint().port();
}

void Server::run() {
  auto& impl = *impl_;
  const auto local = impl.acceptor.local_endpoint();
  net::co_spawn(impl.control, impl.accept_loop(), impl.log_failure("accept loop failed"));
  net::post(impl.control, [&impl] { impl.arm_signals(); });
  impl.logger.info("listening", {{"address", local.address().to_string()},
                                 {"port", local.port()},
                                 {"tls", impl.tls.has_value()}});
  sd_notify(0, "READY=1");

  const unsigned count = std::max(1U, impl.options.io_threads);
  std::vector<std::thread> threads;
  threads.reserve(count - 1);
  for (unsigned i = 1; i < count; ++i) {
    threads.emplace_back([&impl] { impl.ioc.run(); });
  }
  impl.ioc.run();
  for (auto& thread : threads) {
    thread.join();
  }
  impl.blocking.join();
}

void Server::request_stop() {
  auto& impl = *impl_;
  net::post(impl.control, [&impl] { impl.begin_shutdown(0); });
}

}  // namespace idbridge::daemon
