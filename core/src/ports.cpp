// Default implementations of the core's ports: system clock, random UUIDs, tzdata catalogue.
#include "idbridge/core/ports.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace idbridge::core {

Timestamp SystemClock::now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string RandomUuidGenerator::next() {
  // One getrandom(2) call per id: the kernel CSPRNG, so ids are unpredictable and, at 122
  // random bits, never repeat in practice. (Constructing a std::random_device per id cost 4% of
  // the CPU of a SCIM write.)
  std::array<unsigned char, 16> bytes{};
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    filled += static_cast<std::size_t>(n);
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0FU) | 0x40U);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    out += hex[bytes[i] >> 4U];
    out += hex[bytes[i] & 0x0FU];
  }
  return out;
}

TzdataZoneCatalog::TzdataZoneCatalog(const std::string& tzdata_zi_path) {
  std::ifstream in(tzdata_zi_path);
  if (!in) {
    throw std::runtime_error("cannot read the IANA time-zone list " + tzdata_zi_path +
                             " (install the tzdata package)");
  }
  std::string line;
  while (std::getline(in, line)) {
    // "Z Europe/Paris ..." declares a zone; "L Europe/Paris Europe/Monaco" a link (alias).
    std::istringstream fields(line);
    std::string kind;
    std::string first;
    std::string second;
    fields >> kind >> first >> second;
    if (kind == "Z" && !first.empty()) {
      zones_.insert(first);
    } else if (kind == "L" && !second.empty()) {
      zones_.insert(second);
    }
  }
  if (zones_.empty()) {
    throw std::runtime_error("no time zones found in " + tzdata_zi_path);
  }
}

bool TzdataZoneCatalog::contains(std::string_view zone) const {
  return zones_.contains(std::string(zone));
}

}  // namespace idbridge::core
