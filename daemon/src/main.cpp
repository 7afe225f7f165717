// idbridged's entry point: the only code outside a library; everything else is idbridge_daemon.
#include "wiring.hpp"

#include <string_view>
#include <vector>

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  return idbridge::daemon::run_main(args);
}
