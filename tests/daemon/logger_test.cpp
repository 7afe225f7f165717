// The JSON-lines logger: one valid object per line, level filtering, reserved keys.
#include "logger.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace idbridge::daemon {
namespace {

std::vector<nlohmann::json> lines_of(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

TEST(LoggerTest, WritesOneJsonObjectPerLine) {
  std::ostringstream out;
  Logger logger(LogLevel::info, &out);
  logger.info("listening",
              {{"address", "127.0.0.1"}, {"port", std::uint16_t{8443}}, {"tls", true}});
  logger.error("failed", {{"count", -3}, {"ratio", 0.5}});
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0].at("msg"), "listening");
  EXPECT_EQ(lines[0].at("level"), "info");
  EXPECT_EQ(lines[0].at("address"), "127.0.0.1");
  EXPECT_EQ(lines[0].at("port"), 8443);
  EXPECT_EQ(lines[0].at("tls"), true);
  EXPECT_TRUE(lines[0].at("ts").get<std::string>().ends_with("Z"));
  EXPECT_EQ(lines[1].at("level"), "error");
  EXPECT_EQ(lines[1].at("count"), -3);
}

TEST(LoggerTest, DropsLinesBelowTheLevel) {
  std::ostringstream out;
  Logger logger(LogLevel::warning, &out);
  logger.debug("d");
  logger.info("i");
  logger.warning("w");
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].at("msg"), "w");
  EXPECT_FALSE(logger.enabled(LogLevel::info));
}

TEST(LoggerTest, FieldsCannotForgeReservedKeys) {
  std::ostringstream out;
  Logger logger(LogLevel::info, &out);
  logger.info("real", {{"msg", "forged"}, {"level", "error"}});
  const auto line = lines_of(out.str()).at(0);
  EXPECT_EQ(line.at("msg"), "real");
  EXPECT_EQ(line.at("level"), "info");
}

TEST(LoggerTest, InvalidUtf8AndNewlinesStayOnOneValidLine) {
  std::ostringstream out;
  Logger logger(LogLevel::info, &out);
  logger.info("request", {{"path", std::string("/a\nb\xff")}});
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 1U);
}

TEST(LoggerTest, ConcurrentLinesDoNotInterleave) {
  std::ostringstream out;
  Logger logger(LogLevel::info, &out);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&logger, t] {
      for (int i = 0; i < 200; ++i) {
        logger.info("tick", {{"thread", t}, {"i", i}});
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(lines_of(out.str()).size(), 800U);
}

}  // namespace
}  // namespace idbridge::daemon
