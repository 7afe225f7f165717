// HttpConnection on Beast: asynchronous operations run to completion on a private io_context,
// so tcp_stream's deadlines apply (synchronous socket calls have none).
#include "idbridge/testing/http_client.hpp"

#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <system_error>

namespace idbridge::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using beast::error_code;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void throw_if(const error_code& ec, const char* what) {
  if (ec) {
    throw std::system_error(ec, what);
  }
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return value;
    }
  }
  return std::nullopt;
}

struct HttpConnection::Impl {
  net::io_context ioc;
  std::optional<ssl::context> tls_context;
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::chrono::milliseconds timeout;

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // Starts one asynchronous operation through `start(handler)` and runs it to completion.
  template <class Start>
  error_code run(Start&& start, std::chrono::milliseconds deadline) {
    error_code result = net::error::would_block;
    lowest().expires_after(deadline);
    start([&result](const error_code& ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  template <class Start>
  error_code run(Start&& start) {
    return run(std::forward<Start>(start), timeout);
  }

  template <class F>
  void with_stream(F&& f) {
    if (secure) {
      f(*secure);
    } else {
      f(*plain);
    }
  }
};

HttpConnection::HttpConnection(const std::string& host, std::uint16_t port,
                               std::optional<TlsClientOptions> tls,
                               std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  auto& impl = *impl_;
  impl.timeout = timeout;
  const tcp::endpoint endpoint(net::ip::make_address(host), port);
  if (tls) {
    impl.tls_context.emplace(ssl::context::tls_client);
    impl.tls_context->load_verify_file(tls->ca_file);
    impl.tls_context->set_verify_mode(ssl::verify_peer);
    impl.secure.emplace(impl.ioc, *impl.tls_context);
    // SSL_set_tlsext_host_name is a macro with an old-style cast; this is what it expands to.
    if (SSL_ctrl(impl.secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                 TLSEXT_NAMETYPE_host_name, const_cast<char*>(tls->server_name.c_str())) != 1) {
      throw std::runtime_error("cannot set SNI");
    }
    impl.secure->set_verify_callback(ssl::host_name_verification(tls->server_name));
  } else {
    impl.plain.emplace(impl.ioc);
  }
  throw_if(impl.run([&](auto handler) { impl.lowest().async_connect(endpoint, handler); }),
           "connect");
  if (impl.secure) {
    throw_if(impl.run([&](auto handler) {
      impl.secure->async_handshake(ssl::stream_base::client, handler);
    }),
             "TLS handshake");
  }
}

HttpConnection::~HttpConnection() = default;

HttpResponse HttpConnection::request(std::string_view method, std::string_view target,
                                     std::string body, const Headers& headers) {
  auto& impl = *impl_;
  http::request<http::string_body> message;
  const auto verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    message.method_string(method);
  } else {
    message.method(verb);
  }
  message.target(target);
  message.version(11);
  message.set(http::field::host, "127.0.0.1");
  message.set(http::field::user_agent, "idbridge-test");
  for (const auto& [name, value] : headers) {
    message.insert(name, value);
  }
  message.body() = std::move(body);
  message.prepare_payload();
  throw_if(impl.run([&](auto handler) {
    impl.with_stream([&](auto& stream) { http::async_write(stream, message, handler); });
  }),
           "write request");
  return read_response();
}

void HttpConnection::send_raw(std::string_view bytes) {
  auto& impl = *impl_;
  throw_if(impl.run([&](auto handler) {
    impl.with_stream([&](auto& stream) {
      net::async_write(stream, net::buffer(bytes.data(), bytes.size()), handler);
    });
  }),
           "write");
}

HttpResponse HttpConnection::read_response() {
  auto& impl = *impl_;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  throw_if(impl.run([&](auto handler) {
    impl.with_stream([&](auto& stream) { http::async_read(stream, impl.buffer, parser, handler); });
  }),
           "read response");
  auto message = parser.release();
  HttpResponse response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.keep_alive = message.keep_alive();
  response.body = std::move(message.body());
  return response;
}

bool HttpConnection::closed_by_peer(std::chrono::milliseconds wait) {
  auto& impl = *impl_;
  if (impl.buffer.size() > 0) {
    return false;  // unread response bytes: the server sent more, it did not close
  }
  std::array<char, 1> one{};
  const auto ec = impl.run(
      [&](auto handler) {
        impl.with_stream([&](auto& stream) { stream.async_read_some(net::buffer(one), handler); });
      },
      wait);
  return ec == net::error::eof || ec == net::error::connection_reset ||
         ec == ssl::error::stream_truncated;
}

HttpResponse http_get(std::uint16_t port, std::string_view target,
                      std::optional<TlsClientOptions> tls) {
  HttpConnection connection("127.0.0.1", port, std::move(tls));
  return connection.get(target);
}

}  // namespace idbridge::testing
