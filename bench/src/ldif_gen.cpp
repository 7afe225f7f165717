// idbridge_bench_ldif: writes the LDAP sync benchmark's directory as LDIF for slapadd (users with
// their memberOf values already in place, since the memberof overlay does not run under slapadd),
// and the LDIF of the changes made before the incremental run. Deterministic: the same options
// give the same files.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  std::string out;
  std::string changes_out;
  std::string suffix = "dc=bench,dc=example";
  std::int64_t users = 100'000;
  std::int64_t groups = 1'000;
  std::int64_t changes = 100;
};

constexpr std::string_view kUsage =
    "usage: idbridge_bench_ldif --out FILE --changes-out FILE [--users N] [--groups M]\n"
    "                           [--changes C] [--suffix DN]\n"
    "FILE: the suffix, ou=people with N inetOrgPerson users (uid=user000000...), ou=groups with M\n"
    "groupOfNames groups (cn=grp0000...). grp0000 holds the first N/10 users; every user is in 2\n"
    "or 3 other groups (2.6 on average), so 100,000 users give about 270,000 memberships. Users\n"
    "carry their memberOf values. --changes-out: C modifications for ldapmodify, 9 in 10 a new\n"
    "title, 1 in 10 adding a user to grp0001. Prints the membership count on stdout.\n";

// splitmix64: a fixed sequence, so two runs generate the same directory.
class Random {
 public:
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t state_ = 20240601;
};

std::string padded(std::int64_t value, int width) {
  char text[32];
  std::snprintf(text, sizeof text, "%0*lld", width, static_cast<long long>(value));
  return text;
}

class Writer {
 public:
  explicit Writer(const std::string& path) : file_(std::fopen(path.c_str(), "wb")) {
    if (file_ == nullptr) {
      throw std::runtime_error("cannot write " + path);
    }
    buffer_.reserve(1 << 20);
  }
  ~Writer() {
    if (file_ != nullptr) {
      std::fclose(file_);
    }
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  Writer& operator<<(std::string_view text) {
    buffer_ += text;
    if (buffer_.size() >= (1 << 20)) {
      flush();
    }
    return *this;
  }
  void close() {
    flush();
    if (std::fclose(file_) != 0) {
      file_ = nullptr;
      throw std::runtime_error("write failed");
    }
    file_ = nullptr;
  }

 private:
  void flush() {
    if (!buffer_.empty() &&
        std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
      throw std::runtime_error("write failed");
    }
    buffer_.clear();
  }
  std::FILE* file_;
  std::string buffer_;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      throw std::invalid_argument(std::string(flag) + " needs a value");
    }
    const std::string value = argv[++i];
    if (flag == "--out") {
      options.out = value;
    } else if (flag == "--changes-out") {
      options.changes_out = value;
    } else if (flag == "--suffix") {
      options.suffix = value;
    } else if (flag == "--users") {
      options.users = std::stoll(value);
    } else if (flag == "--groups") {
      options.groups = std::stoll(value);
    } else if (flag == "--changes") {
      options.changes = std::stoll(value);
    } else {
      throw std::invalid_argument("unknown option " + std::string(flag));
    }
  }
  if (options.out.empty() || options.changes_out.empty()) {
    throw std::invalid_argument("--out and --changes-out are required");
  }
  if (options.users < 10 || options.groups < 4) {
    throw std::invalid_argument("--users must be at least 10 and --groups at least 4");
  }
  return options;
}

int run(const Options& options) {
  const std::string people = "ou=people," + options.suffix;
  const std::string groups_base = "ou=groups," + options.suffix;
  const auto user_dn = [&](std::int64_t i) { return "uid=user" + padded(i, 6) + "," + people; };
  const auto group_cn = [](std::int64_t g) { return "grp" + padded(g, 4); };
  const auto group_dn = [&](std::int64_t g) { return "cn=" + group_cn(g) + "," + groups_base; };

  // Memberships first, so that users carry memberOf and groups their members.
  Random random;
  std::vector<std::vector<std::uint32_t>> groups_of(static_cast<std::size_t>(options.users));
  std::vector<std::vector<std::uint32_t>> members(static_cast<std::size_t>(options.groups));
  const std::int64_t big = options.users / 10;
  for (std::int64_t u = 0; u < options.users; ++u) {
    auto& mine = groups_of[static_cast<std::size_t>(u)];
    if (u < big) {
      mine.push_back(0);
    }
    const int count = random.below(10) < 6 ? 3 : 2;
    while (static_cast<int>(mine.size()) < count + (u < big ? 1 : 0)) {
      const auto g = static_cast<std::uint32_t>(1 + random.below(options.groups - 1));
      if (std::find(mine.begin(), mine.end(), g) == mine.end()) {
        mine.push_back(g);
      }
    }
  }
  // groupOfNames must have a member.
  for (std::int64_t u = 0; u < options.users; ++u) {
    for (const auto g : groups_of[static_cast<std::size_t>(u)]) {
      members[g].push_back(static_cast<std::uint32_t>(u));
    }
  }
  for (std::uint32_t g = 0; g < members.size(); ++g) {
    if (members[g].empty()) {
      members[g].push_back(0);
      groups_of[0].push_back(g);
    }
  }
  std::size_t memberships = 0;
  for (const auto& list : members) {
    memberships += list.size();
  }

  Writer out(options.out);
  const auto dc = options.suffix.substr(3, options.suffix.find(',') - 3);
  out << "dn: " << options.suffix
      << "\nobjectClass: dcObject\nobjectClass: organization\ndc: " << dc << "\no: " << dc
      << "\n\n";
  out << "dn: " << people << "\nobjectClass: organizationalUnit\nou: people\n\n";
  out << "dn: " << groups_base << "\nobjectClass: organizationalUnit\nou: groups\n\n";
  static const char* const titles[] = {"Engineer",   "Analyst",    "Manager",    "Designer",
                                       "Accountant", "Consultant", "Technician", "Director"};
  for (std::int64_t u = 0; u < options.users; ++u) {
    const std::string id = padded(u, 6);
    const std::string given = "Given" + id;
    const std::string family = "Family" + padded(u % 9973, 4);
    out << "dn: " << user_dn(u) << "\nobjectClass: inetOrgPerson\nuid: user" << id
        << "\ncn: " << given << " " << family << "\ngivenName: " << given << "\nsn: " << family
        << "\nmail: user" << id << "@bench.example\ntitle: " << titles[u % 8]
        << "\nemployeeNumber: E" << id
        << "\nemployeeType: " << (u % 1000 == 999 ? "terminated" : "staff")
        << "\ntelephoneNumber: +1 555 " << id << "\ndescription: benchmark user " << id
        << ", not mapped\n";
    for (const auto g : groups_of[static_cast<std::size_t>(u)]) {
      out << "memberOf: " << group_dn(g) << "\n";
    }
    out << "\n";
  }
  for (std::int64_t g = 0; g < options.groups; ++g) {
    out << "dn: " << group_dn(g) << "\nobjectClass: groupOfNames\ncn: " << group_cn(g) << "\n";
    for (const auto u : members[static_cast<std::size_t>(g)]) {
      out << "member: " << user_dn(u) << "\n";
    }
    out << "\n";
  }
  out.close();

  // Spread over the directory; one in ten joins grp0001 (a rule-managed group), which the
  // memberof overlay turns into a memberOf change on the user.
  Writer changes(options.changes_out);
  const auto& in_grp1 = members[1];
  std::int64_t joined = 0;
  for (std::int64_t c = 0; c < options.changes; ++c) {
    std::int64_t u = (c * 7919 + 13) % options.users;
    if (c % 10 == 9) {
      while (std::find(in_grp1.begin(), in_grp1.end(), static_cast<std::uint32_t>(u)) !=
             in_grp1.end()) {
        u = (u + 1) % options.users;
      }
      changes << "dn: " << group_dn(1)
              << "\nchangetype: modify\nadd: member\nmember: " << user_dn(u) << "\n\n";
      ++joined;
    } else {
      changes << "dn: " << user_dn(u) << "\nchangetype: modify\nreplace: title\ntitle: Changed "
              << padded(c, 3) << "\n\n";
    }
  }
  changes.close();
  std::cout << memberships << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "idbridge_bench_ldif: " << e.what() << "\n" << kUsage;
    return 2;
  }
}
