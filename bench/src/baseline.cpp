// idbridge_bench_baseline: the SCIM benchmark's yardstick. A minimal C++20 coroutine Beast
// HTTP/1.1 server (keep-alive, one coroutine per connection on its own strand, N threads on one
// io_context, like idbridged) that answers every request with the same small JSON 200, so the
// ratio daemon/baseline isolates what the SCIM path costs beyond HTTP on this machine.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::string_view kBody =
    R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0})";
constexpr std::string_view kUsage =
    "usage: idbridge_bench_baseline [--port P] [--threads N]\n"
    "Serves a fixed JSON 200 on 127.0.0.1:P (default 0: any free port; the bound port is printed\n"
    "on stdout) with N threads (default: one per core, as idbridged). Stops on SIGINT/SIGTERM.\n";

net::awaitable<void> session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  while (true) {
    // The daemon puts a deadline on every read too; keep the same timer work per request.
    stream.expires_after(std::chrono::seconds(30));
    http::request<http::string_body> request;
    auto [read_ec, read] = co_await http::async_read(stream, buffer, request, use_tuple);
    if (read_ec) {
      break;
    }
    http::response<http::string_body> response{http::status::ok, request.version()};
    response.set(http::field::server, "idbridge_bench_baseline");
    response.set(http::field::content_type, "application/scim+json");
    response.body() = std::string(kBody);
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    auto [write_ec, written] = co_await http::async_write(stream, response, use_tuple);
    if (write_ec || !response.keep_alive()) {
      break;
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_loop(net::io_context& ioc, tcp::acceptor& acceptor) {
  while (true) {
    tcp::socket socket(net::make_strand(ioc));
    auto [ec] = co_await acceptor.async_accept(socket, use_tuple);
    if (ec) {
      co_return;
    }
    net::co_spawn(socket.get_executor(), session(std::move(socket)), net::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  unsigned threads = std::max(1U, std::thread::hardware_concurrency());
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (i + 1 >= argc || (arg != "--port" && arg != "--threads")) {
        std::cerr << kUsage;
        return 2;
      }
      const auto value = std::stoul(argv[++i]);
      if (arg == "--port") {
        port = static_cast<unsigned short>(value);
      } else {
        threads = std::max(1U, static_cast<unsigned>(value));
      }
    }
  } catch (const std::exception&) {
    std::cerr << kUsage;
    return 2;
  }
  try {
    net::io_context ioc(static_cast<int>(threads));
    tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), port});
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const beast::error_code&, int) { ioc.stop(); });
    net::co_spawn(net::make_strand(ioc), accept_loop(ioc, acceptor), net::detached);
    std::cout << acceptor.local_endpoint().port() << std::endl;
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) {
      pool.emplace_back([&ioc] { ioc.run(); });
    }
    ioc.run();
    for (auto& thread : pool) {
      thread.join();
    }
  } catch (const std::exception& e) {
    std::cerr << "idbridge_bench_baseline: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
