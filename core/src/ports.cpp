// Default implementations of the core's ports: system clock, random UUIDs, tzdata catalogue.
#include "idbridge/core/ports.hpp"

#include <array>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace idbridge::core {

Timestamp SystemClock::now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string RandomUuidGenerator::next() {
  // std::random_device reads the kernel CSPRNG on Linux (getrandom), so ids are unpredictable
  // and, at 122 random bits, never repeat in practice.
  std::random_device device;
  std::array<unsigned char, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 4) {
    const unsigned int word = device();
    for (std::size_t j = 0; j < 4; ++j) {
      bytes[i + j] = static_cast<unsigned char>((word >> (8 * j)) & 0xFFU);
    }
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
