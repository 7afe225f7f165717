// idbridge_bench_ldap_write: the write-back benchmark's client. Replaces `title` on N users over
// one idbridge::ldap::Connection, one LDAP modify each, either one at a time or pipelined, and
// prints how long it took. bench/ldap-write-bench.sh compares it with ldapmodify.
#include "idbridge/ldap/client.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace idbridge::ldap;

struct Options {
  std::string uri;
  std::string bind_dn;
  std::string password_file;
  std::string base;
  long users = 10'000;
  bool pipelined = false;
  std::size_t window = 64;
  bool post_read = false;
  std::string tag = "bench";
};

constexpr std::string_view kUsage =
    "usage: idbridge_bench_ldap_write --uri URI --bind-dn DN --password-file FILE --base DN\n"
    "                                 [--users N] [--mode sequential|pipelined] [--window W]\n"
    "                                 [--post-read] [--tag T]\n"
    "Replaces title with \"T N\" on uid=user000000... under --base (N users), one modify each,\n"
    "over one connection. --post-read asks for entryCSN with every write. Prints\n"
    "\"<mode> <writes> <seconds> <writes/s>\"; exits 1 if any write failed.\n";

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--post-read") {
      options.post_read = true;
      continue;
    }
    if (i + 1 >= argc) {
      throw std::invalid_argument("missing value for " + std::string(flag));
    }
    const std::string value = argv[++i];
    if (flag == "--uri") {
      options.uri = value;
    } else if (flag == "--bind-dn") {
      options.bind_dn = value;
    } else if (flag == "--password-file") {
      options.password_file = value;
    } else if (flag == "--base") {
      options.base = value;
    } else if (flag == "--users") {
      options.users = std::stol(value);
    } else if (flag == "--mode") {
      if (value != "sequential" && value != "pipelined") {
        throw std::invalid_argument("--mode is sequential or pipelined");
      }
      options.pipelined = value == "pipelined";
    } else if (flag == "--window") {
      options.window = std::stoul(value);
    } else if (flag == "--tag") {
      options.tag = value;
    } else {
      throw std::invalid_argument("unknown option " + std::string(flag));
    }
  }
  if (options.uri.empty() || options.bind_dn.empty() || options.password_file.empty() ||
      options.base.empty() || options.users < 1) {
    throw std::invalid_argument("--uri, --bind-dn, --password-file and --base are required");
  }
  return options;
}

std::string read_password(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) {
    throw std::runtime_error("cannot read " + path);
  }
  return line;
}

std::string user_dn(long index, const std::string& base) {
  char uid[32];
  std::snprintf(uid, sizeof uid, "user%06ld", index);
  return "uid=" + std::string(uid) + "," + base;
}

int run(const Options& options) {
  ConnectionSettings settings;
  settings.uri = options.uri;
  settings.bind = BindMethod::simple;
  settings.bind_dn = options.bind_dn;
  settings.password = Password(read_password(options.password_file));
  auto connection = Connection::open(settings).value();
  WriteOptions write_options;
  if (options.post_read) {
    write_options.post_read = {"entryCSN"};
  }
  std::vector<ModifyRequest> requests;
  requests.reserve(static_cast<std::size_t>(options.users));
  for (long i = 0; i < options.users; ++i) {
    requests.push_back({user_dn(i, options.base),
                        {{ModifyOp::replace, "title", {options.tag + " " + std::to_string(i)}}},
                        write_options});
  }
  long failed = 0;
  std::string first_error;
  const auto count = [&](const Result<WriteResult>& result) {
    if (!result) {
      if (failed++ == 0) {
        first_error = result.error().message;
      }
    } else if (options.post_read && !result->post_read) {
      if (failed++ == 0) {
        first_error = "no post-read entry";
      }
    }
  };
  const auto started = std::chrono::steady_clock::now();
  if (options.pipelined) {
    for (const auto& result : connection.modify_pipelined(requests, options.window)) {
      count(result);
    }
  } else {
    for (const auto& request : requests) {
      count(connection.modify(request.dn, request.modifications, request.options));
    }
  }
  const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started;
  std::printf("%s %ld %.3f %.0f\n", options.pipelined ? "pipelined" : "sequential", options.users,
              seconds.count(), static_cast<double>(options.users) / seconds.count());
  if (failed > 0) {
    std::cerr << failed << " writes failed; first: " << first_error << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::invalid_argument& error) {
    std::cerr << error.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "idbridge_bench_ldap_write: " << error.what() << "\n";
    return 1;
  }
}
