// Default implementations of the core's ports: system clock, random UUIDs, tzdata catalogue.
#include "idbridge/core/ports.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace idbridge::core {

Timestamp SystemClock::now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

namespace {

// One getrandom(2) call per id: the kernel CSPRNG, so ids are unpredictable. (Constructing a
// std::random_device per id cost 4% of the CPU of a SCIM write.)
std::array<unsigned char, 16> random_bytes() {
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
  return bytes;
}

std::string uuid_text(const std::array<unsigned char, 16>& bytes) {
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

}  // namespace

std::string RandomUuidGenerator::next() {
  // At 122 random bits, never repeated in practice.
  auto bytes = random_bytes();
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0FU) | 0x40U);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
  return uuid_text(bytes);
}

std::string TimeOrderedUuidGenerator::next() {
  auto bytes = random_bytes();
  std::int64_t millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
          .count();
  std::uint32_t counter = 0;
  {
    std::lock_guard lock(mutex_);
    if (millis > last_millis_) {
      // A random start in the lower half leaves room for 2,048 ids in the millisecond.
      counter = (static_cast<std::uint32_t>(bytes[6]) << 8U | bytes[7]) & 0x7FFU;
    } else {
      // Same millisecond, or the clock went back: keep counting from the last id (RFC 9562
      // method 1), moving to the next millisecond when the counter is exhausted.
      millis = last_millis_;
      counter = counter_ + 1;
      if (counter > 0xFFFU) {
        ++millis;
        counter = 0;
      }
    }
    last_millis_ = millis;
    counter_ = counter;
  }
  const auto unsigned_millis = static_cast<std::uint64_t>(millis);
  for (int i = 0; i < 6; ++i) {
    bytes[static_cast<std::size_t>(i)] =
        static_cast<unsigned char>(unsigned_millis >> (8U * static_cast<unsigned>(5 - i)));
  }
  bytes[6] = static_cast<unsigned char>(0x70U | (counter >> 8U));  // version 7
  bytes[7] = static_cast<unsigned char>(counter & 0xFFU);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
  return uuid_text(bytes);
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
