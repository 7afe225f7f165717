#!/usr/bin/env bash
# Installs the Debian 12 packages idbridge builds, runs and tests with. Safe to run again: it
# only calls apt when a package is missing. Uses sudo when not run as root.
set -euo pipefail

packages=(
  g++ cmake ninja-build make pkg-config ccache git ca-certificates curl tzdata clang-format
  libboost1.81-dev libboost-url1.81-dev   # Asio/Beast/URL; the 1.74 default lacks what we use
  nlohmann-json3-dev libtomlplusplus-dev libsqlite3-dev libssl-dev libldap-dev libsystemd-dev
  libjemalloc-dev                          # idbridged's allocator (CMake IDBRIDGE_JEMALLOC)
  libgtest-dev libgmock-dev
  slapd ldap-utils                         # a private slapd for tests and the demo
  postgresql libpq-dev                     # the PostgreSQL store and its tests
  wrk time                                 # benchmarks (GNU time: peak RSS of a run)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# --no-install-recommends keeps slapd from pulling in a system-wide configuration we never use.
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
# slapd's package starts a system instance; tests run their own, so stop it when we can.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${sudo_cmd[@]}" systemctl disable --now slapd >/dev/null 2>&1 || true
fi
