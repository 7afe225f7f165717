// idbridge_bench_seed: fills a state directory's SQLite store through core::IdentityService (the
// same rules and change records as SCIM writes) with the population of the SCIM benchmark, and
// writes the ids the load scripts need.
#include "idbridge/core/identity_service.hpp"
#include "idbridge/core/ports.hpp"
#include "idbridge/store/sqlite_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace core = idbridge::core;
namespace fs = std::filesystem;

struct Options {
  std::string state_dir;
  std::string tenant = "bench";
  std::int64_t users = 100'000;
  std::int64_t groups = 1'000;
  std::int64_t big_group_members = 10'000;
  std::int64_t memberships = 270'000;  // stored memberships in total, All Users not counted
};

constexpr std::string_view kUsage =
    "usage: idbridge_bench_seed --state-dir DIR [--tenant ID] [--users N] [--groups M]\n"
    "                           [--big-group-members K] [--memberships T]\n"
    "Creates DIR/idbridge.db with N users (user 0 is the Account Owner), M groups (group 0 has\n"
    "K members, group 1 none, the rest share the remaining T-K memberships) and writes\n"
    "DIR/bench-users.txt (user i's id on line i+1) and DIR/bench.env (group ids, counts).\n";

// The benchmark derives userNames from the index, so the scripts need only the ids file.
std::string user_name(std::int64_t index) {
  char text[32];
  std::snprintf(text, sizeof text, "bench.user%06lld", static_cast<long long>(index));
  return text;
}

std::optional<Options> parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) {
      return std::nullopt;
    }
    const std::string value = argv[++i];
    try {
      if (arg == "--state-dir") {
        options.state_dir = value;
      } else if (arg == "--tenant") {
        options.tenant = value;
      } else if (arg == "--users") {
        options.users = std::stoll(value);
      } else if (arg == "--groups") {
        options.groups = std::stoll(value);
      } else if (arg == "--big-group-members") {
        options.big_group_members = std::stoll(value);
      } else if (arg == "--memberships") {
        options.memberships = std::stoll(value);
      } else {
        return std::nullopt;
      }
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (options.state_dir.empty() || options.users < 1 || options.groups < 2 ||
      options.big_group_members < 0 || options.memberships < 0) {
    return std::nullopt;
  }
  options.big_group_members = std::min(options.big_group_members, options.users);
  return options;
}

// No benchmark user has a password; a hash request would mean the seed changed behind our back.
class NoPasswords final : public core::PasswordHasher {
 public:
  std::string hash(std::string_view) override { throw std::logic_error("no passwords in bench"); }
  bool verify(std::string_view, std::string_view) override {
    throw std::logic_error("no passwords in bench");
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

[[noreturn]] void fail(std::string_view what, const core::Error& error) {
  throw std::runtime_error(std::string(what) + ": " + std::string(to_string(error.code)) + ": " +
                           error.detail);
}

template <class T>
T check(core::Result<T> result, std::string_view what) {
  if (!result) {
    fail(what, result.error());
  }
  return *std::move(result);
}

void check(const core::Result<void>& result, std::string_view what) {
  if (!result) {
    fail(what, result.error());
  }
}

core::User make_user(std::int64_t index) {
  core::User user;
  user.user_name = user_name(index);
  user.name.given_name = "Bench";
  user.name.family_name = "User" + std::to_string(index);
  user.title = "Engineer";
  user.emails.push_back({user.user_name + "@bench.example", "work", true});
  user.role = index == 0 ? core::Role::account_owner : core::Role::standard_user;
  return user;
}

std::vector<core::MemberRef> user_members(const std::vector<std::string>& ids, std::int64_t first,
                                          std::int64_t count) {
  std::vector<core::MemberRef> members;
  members.reserve(static_cast<std::size_t>(count));
  const auto n = static_cast<std::int64_t>(ids.size());
  for (std::int64_t i = 0; i < count; ++i) {
    members.push_back({core::MemberType::user, ids[static_cast<std::size_t>((first + i) % n)]});
  }
  return members;
}

int run(const Options& options) {
  const fs::path dir = fs::absolute(options.state_dir);
  fs::create_directories(dir);
  auto store = idbridge::store::open_sqlite_store({.path = (dir / "idbridge.db").string()});
  const core::SystemClock clock;
  core::RandomUuidGenerator ids;
  NoPasswords passwords;
  const core::TzdataZoneCatalog zones;
  const core::TenantId tenant(options.tenant);
  core::TenantSettings settings;
  settings.id = tenant;
  settings.display_name = "Benchmark";
  core::IdentityService service({*store, clock, ids, passwords, zones}, {"bench"}, {settings});
  check(service.ensure_tenant(tenant), "ensure tenant");

  core::Principal seeder;
  seeder.actor = {core::ActorKind::cli, "idbridge_bench_seed"};
  seeder.origin = {core::OriginKind::cli, ""};
  seeder.ceiling = core::Role::account_owner;
  seeder.tenant_scope = tenant;

  // The service offers no batch insert: one durable transaction per user, as a SCIM POST does.
  const auto users_started = std::chrono::steady_clock::now();
  std::vector<std::string> user_ids;
  user_ids.reserve(static_cast<std::size_t>(options.users));
  for (std::int64_t i = 0; i < options.users; ++i) {
    const auto user = check(service.create_user(seeder, tenant, {make_user(i), std::nullopt}),
                            "create user " + user_name(i));
    user_ids.push_back(user.id.str());
    if ((i + 1) % 10'000 == 0) {
      std::cerr << "seed: " << (i + 1) << " users\n";
    }
  }
  const double users_seconds = seconds_since(users_started);

  // Group 0 holds users [0, K); group 1 is empty; the others hold consecutive windows of users
  // (wrapping), sized so that the stored memberships add up to about T.
  const auto groups_started = std::chrono::steady_clock::now();
  const std::int64_t big = options.big_group_members;
  const std::int64_t spread_groups = options.groups - 2;
  const std::int64_t per_group =
      spread_groups > 0
          ? std::min(options.users,
                     std::max<std::int64_t>(0, (options.memberships - big) / spread_groups))
          : 0;
  std::int64_t memberships = 0;
  std::vector<std::string> group_ids;
  for (std::int64_t g = 0; g < options.groups; ++g) {
    core::GroupWrite write;
    if (g == 0) {
      write.display_name = "bench-big";
      write.members = user_members(user_ids, 0, big);
    } else if (g == 1) {
      write.display_name = "bench-empty";
    } else {
      write.display_name = "bench-group-" + std::to_string(g);
      write.members = user_members(user_ids, g * 97, per_group);
    }
    memberships += static_cast<std::int64_t>(write.members.size());
    const auto group = check(service.create_group(seeder, tenant, std::move(write)),
                             "create group " + std::to_string(g));
    group_ids.push_back(group.id.str());
  }
  const double groups_seconds = seconds_since(groups_started);

  std::ofstream users_file(dir / "bench-users.txt");
  for (const auto& id : user_ids) {
    users_file << id << '\n';
  }
  std::ofstream env(dir / "bench.env");
  env << "BENCH_TENANT=" << options.tenant << '\n'
      << "BENCH_USERS=" << options.users << '\n'
      << "BENCH_GROUPS=" << options.groups << '\n'
      << "BENCH_BIG_GROUP=" << group_ids[0] << '\n'
      << "BENCH_BIG_GROUP_MEMBERS=" << big << '\n'
      << "BENCH_EMPTY_GROUP=" << group_ids[1] << '\n'
      << "BENCH_MEMBERSHIPS=" << memberships << '\n'
      << "BENCH_SEED_USERS_SECONDS=" << users_seconds << '\n'
      << "BENCH_SEED_GROUPS_SECONDS=" << groups_seconds << '\n';
  users_file.close();
  env.close();
  if (!users_file || !env) {
    throw std::runtime_error("cannot write the id files in " + dir.string());
  }
  std::cerr << "seed: " << options.users << " users in " << users_seconds << " s ("
            << static_cast<double>(options.users) / users_seconds << "/s, one transaction each); "
            << options.groups << " groups with " << memberships << " memberships in "
            << groups_seconds << " s\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse(argc, argv);
  if (!options) {
    std::cerr << kUsage;
    return 2;
  }
  try {
    return run(*options);
  } catch (const std::exception& e) {
    std::cerr << "idbridge_bench_seed: " << e.what() << '\n';
    return 1;
  }
}
