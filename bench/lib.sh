# Shell shared by the benchmarks (sourced, never run): tool checks, the locked build, a free
# loopback port, stopping a process, and the exit trap that stops what the script started and
# removes (or keeps) its work directory. The sourcing script sets `bench_name` first.
# shellcheck shell=bash disable=SC2154  # bench_name, work, keep: set by the sourcing script

# bench_require TOOL... : exits with the missing tool's name.
bench_require() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      echo "$bench_name: $tool is missing (scripts/install-deps.sh installs it)" >&2
      exit 1
    fi
  done
}

# bench_build REPO BUILD_DIR TARGET... : configures and builds under the shared build lock.
bench_build() {
  local repo=$1 build_dir=$2
  shift 2
  echo "== building (waiting for /tmp/idbridge-build.lock)" >&2
  if ! (cd "$repo" && flock /tmp/idbridge-build.lock sh -c "cmake -S . -B '$build_dir' -G Ninja \
      -DIDBRIDGE_WERROR=ON >/dev/null && cmake --build '$build_dir' --target $* -j2" >&2); then
    echo "$bench_name: build failed; --no-build runs the binaries already in $build_dir" >&2
    exit 1
  fi
}

# bench_require_built BINARY... : exits when one was not built.
bench_require_built() {
  local bin
  for bin in "$@"; do
    [ -x "$bin" ] || { echo "$bench_name: $bin not built" >&2; exit 1; }
  done
}

# stop_pid PID : SIGTERM, up to 25 s for a clean exit, then SIGKILL. An empty PID is a no-op.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 250); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# A free loopback port; the window between this check and bind() is harmless on a quiet machine.
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Hltn "sport = :$port")" ]; then
      echo "$port"
      return
    fi
  done
}

# bench_on_exit PID_VARIABLE... : on exit, stops the processes whose ids those variables hold
# then (read at exit, so set them when the processes start) and removes $work unless $keep is 1.
bench_on_exit() {
  bench_pid_variables=("$@")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local variable
  for variable in "${bench_pid_variables[@]}"; do
    stop_pid "${!variable:-}"
  done
  if [ "${keep:-0}" = 1 ]; then
    echo "$bench_name: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
