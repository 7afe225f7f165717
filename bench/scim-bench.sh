#!/usr/bin/env bash
# The SCIM benchmark: builds idbridged and the two bench helpers, seeds a temporary store, starts
# idbridged (plain HTTP on 127.0.0.1) and the fixed-200 baseline server, drives each with wrk and
# prints req/s, p99 and the ratio to the baseline per operation, the daemon's peak RSS, and the
# issue's target next to each figure. See bench/README.md.
#
#   bench/scim-bench.sh [--users N] [--groups M] [--duration 10s] [--connections 16]
#                       [--threads 2] [--warmup 2] [--no-build] [--keep] [--seed-cache DIR]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IDBRIDGE_BUILD_DIR:-$repo/build}
bench_name=scim-bench
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
users=100000
groups=1000
big_members=10000
memberships=270000
duration=10s
connections=16
wrk_threads=2
warmup=2
build=1
keep=0
seed_cache=

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=$2; shift 2 ;;
    --groups) groups=$2; shift 2 ;;
    --big-group-members) big_members=$2; shift 2 ;;
    --memberships) memberships=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) wrk_threads=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    --seed-cache) seed_cache=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "scim-bench: unknown argument $1" >&2; usage ;;
  esac
done
case "$duration" in *[0-9]) duration="${duration}s" ;; esac

bench_require wrk curl ss flock
if [ "$build" = 1 ]; then
  bench_build "$repo" "$build_dir" idbridged idbridge_bench_seed idbridge_bench_baseline
fi
daemon_bin=$build_dir/daemon/idbridged
seed_bin=$build_dir/bench/idbridge_bench_seed
baseline_bin=$build_dir/bench/idbridge_bench_baseline
bench_require_built "$daemon_bin" "$seed_bin" "$baseline_bin"

work=$(mktemp -d /tmp/idbridge-bench.XXXXXX)
daemon_pid=
baseline_pid=
bench_on_exit daemon_pid baseline_pid

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

state=$work/state
# A seeded store depends only on the seed options (and the schema): --seed-cache keeps one per
# option set and copies it, so that repeated runs skip the minutes of seeding. The runs write to
# the copy, never to the cache.
cached=
if [ -n "$seed_cache" ]; then
  cached=$seed_cache/u$users-g$groups-b$big_members-m$memberships
fi
if [ -n "$cached" ] && [ -s "$cached/bench.env" ]; then
  echo "== copying the seeded store from $cached" >&2
  cp -a "$cached" "$state"
else
  echo "== seeding $users users, $groups groups (one durable transaction per user)" >&2
  "$seed_bin" --state-dir "$state" --users "$users" --groups "$groups" \
    --big-group-members "$big_members" --memberships "$memberships" 2>&1 | grep -v '^seed: [0-9]* users$' >&2
  if [ -n "$cached" ]; then
    mkdir -p "$seed_cache"
    rm -rf "$cached.tmp"
    cp -a "$state" "$cached.tmp"
    mv "$cached.tmp" "$cached"
  fi
fi
# shellcheck disable=SC1091
. "$state/bench.env"
db_mb=$(du -m "$state/idbridge.db" | cut -f1)

token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && printf '%s\n' "$token" >"$work/bench.token")
port=$(free_port)
cat >"$work/idbridged.toml" <<TOML
# Written by bench/scim-bench.sh: plain HTTP on loopback, one tenant, one accountOwner token.
state_dir = "$state"

[server]
listen = "127.0.0.1:$port"
plain_http = true

[logging]
level = "warning"

[provider]
name = "bench"

[tenants.$BENCH_TENANT]
display_name = "Benchmark"

[[tenants.$BENCH_TENANT.credentials]]
name = "bench"
token = { file = "$work/bench.token" }
role_ceiling = "accountOwner"
TOML

"$daemon_bin" --config "$work/idbridged.toml" 2>"$work/daemon.log" &
daemon_pid=$!
ready=0
for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  echo "scim-bench: idbridged did not become ready; its log:" >&2
  tail -20 "$work/daemon.log" >&2
  exit 1
fi
base=/scim/v2/tenants/$BENCH_TENANT
first_id=$(head -1 "$state/bench-users.txt")
probe=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$port$base/Users/$first_id")
if [ "$probe" != 200 ]; then
  echo "scim-bench: GET of a seeded user answered $probe, not 200" >&2
  exit 1
fi
rss_idle_mb=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$daemon_pid/status")

baseline_port_file=$work/baseline.port
"$baseline_bin" --port 0 >"$baseline_port_file" 2>"$work/baseline.log" &
baseline_pid=$!
for _ in $(seq 1 50); do
  [ -s "$baseline_port_file" ] && break
  sleep 0.1
done
baseline_port=$(head -1 "$baseline_port_file")

run_tag=$(date +%s)
declare -A rps p99 non2xx sockerr issued statuses sample cpu_server cpu_wrk cpu_other
tick=$(getconf CLK_TCK)
cores=$(nproc)

# Busy CPU ticks of the whole machine (user, nice, system, irq, softirq; not idle, iowait, steal)
# and of one process (utime + stime), to tell how much of the machine the run really had.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
process_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run NAME LUA URL DURATION [VAR=VALUE...]: one wrk run; results into the arrays above.
run() {
  local name=$1 script=$2 url=$3 length=$4
  shift 4
  local out=$work/wrk-$name.txt server_pid=$daemon_pid
  [ "$script" != baseline.lua ] || server_pid=$baseline_pid
  local m0 s0 t0 m1 s1 t1
  m0=$(machine_ticks)
  s0=$(process_ticks "$server_pid")
  t0=$(date +%s%N)
  local TIMEFORMAT='%U %S'
  { time env BENCH_LUA_DIR="$repo/bench/lua" BENCH_USERS_FILE="$state/bench-users.txt" \
    BENCH_TOKEN="$token" BENCH_BASE="$base" BENCH_WRK_THREADS="$wrk_threads" \
    BENCH_USERS="$BENCH_USERS" BENCH_RUN_TAG="$run_tag.$name" "$@" \
    wrk -t"$wrk_threads" -c"$connections" -d"$length" --latency -s "$repo/bench/lua/$script" \
    "$url" >"$out" 2>&1 || true; } 2>"$out.time"
  m1=$(machine_ticks)
  s1=$(process_ticks "$server_pid")
  t1=$(date +%s%N)
  local line
  line=$(grep '^BENCH ' "$out" || true)
  if [ -z "$line" ]; then
    echo "scim-bench: wrk run $name produced no result:" >&2
    cat "$out" >&2
    exit 1
  fi
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  rps[$name]=$(field rps)
  p99[$name]=$(field p99_us)
  non2xx[$name]=$(field non2xx)
  sockerr[$name]=$(field socket_errors)
  issued[$name]=$(field issued)
  statuses[$name]=$(field statuses)
  sample[$name]=$(sed -n 's/^BENCH_SAMPLE //p' "$out" | cut -c1-200)
  # Shares of the whole machine (100% = every core busy for the whole run).
  read -r "cpu_server[$name]" "cpu_wrk[$name]" "cpu_other[$name]" < <(awk -v m="$((m1 - m0))" \
    -v s="$((s1 - s0))" -v ns="$((t1 - t0))" -v tick="$tick" -v cores="$cores" \
    -v w="$(cat "$out.time")" 'BEGIN {
      split(w, t, " "); wt = (t[1] + t[2]) * tick; cap = ns / 1e9 * tick * cores / 100;
      o = m - s - wt; if (o < 0) o = 0;
      printf "%.0f %.0f %.0f\n", s / cap, wt / cap, o / cap }')
}

daemon_url=http://127.0.0.1:$port
baseline_url=http://127.0.0.1:$baseline_port
echo "== wrk -t$wrk_threads -c$connections -d$duration per operation (+${warmup}s warm-up for reads)" >&2
if [ "$warmup" != 0 ]; then
  run warm-baseline baseline.lua "$baseline_url" "${warmup}s"
fi
run baseline baseline.lua "$baseline_url" "$duration"
if [ "$warmup" != 0 ]; then
  run warm-get get_user.lua "$daemon_url" "${warmup}s"
fi
run get_user get_user.lua "$daemon_url" "$duration"
run filter filter_user_name.lua "$daemon_url" "$duration"
run post_user post_user.lua "$daemon_url" "$duration"
run patch_user patch_user.lua "$daemon_url" "$duration"
run add_big group_add_member.lua "$daemon_url" "$duration" \
  BENCH_GROUP="$BENCH_BIG_GROUP" BENCH_FIRST_USER="$BENCH_BIG_GROUP_MEMBERS"
run add_empty group_add_member.lua "$daemon_url" "$duration" \
  BENCH_GROUP="$BENCH_EMPTY_GROUP" BENCH_FIRST_USER=0
# Again at the end: if the machine got busier meanwhile, the two baselines differ.
run baseline_end baseline.lua "$baseline_url" "$duration"

peak_rss_mb=$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$daemon_pid/status")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------------------------
fails=0
# The better of the two baseline runs: a baseline slowed by someone else's build would flatter
# every ratio, so the ratios are lower bounds.
baseline_rps=$(awk -v a="${rps[baseline]}" -v b="${rps[baseline_end]}" \
  'BEGIN { print (a > b ? a : b) }')
ratio() { awk -v a="$1" -v b="$baseline_rps" 'BEGIN { printf "%.2f", a / b }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
verdict() {  # verdict NAME AWK_CONDITION
  local name=$1 cond=$2
  if [ "${non2xx[$name]}" != 0 ] || [ "${sockerr[$name]}" != 0 ]; then
    echo "INVALID"
    return
  fi
  if [ -z "$cond" ]; then
    echo "-"
    return
  fi
  if awk -v r="$(ratio "${rps[$name]}")" -v rps="${rps[$name]}" -v p99="${p99[$name]}" \
    "BEGIN { exit !($cond) }"; then
    echo "PASS"
  else
    echo "FAIL"
  fi
}

printf '\nidbridge SCIM benchmark  %s  (%s users, %s groups, %s stored memberships; db %s MB)\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$BENCH_USERS" "$BENCH_GROUPS" "$BENCH_MEMBERSHIPS" "$db_mb"
printf 'seed: users %.0f s (one durable transaction each), groups %.0f s\n' \
  "$BENCH_SEED_USERS_SECONDS" "$BENCH_SEED_GROUPS_SECONDS"
printf 'wrk -t%s -c%s -d%s on 127.0.0.1, plain HTTP; %s cores shared by wrk, server and anything else\n' \
  "$wrk_threads" "$connections" "$duration" "$(nproc)"
printf 'load average before %s, after %s\n\n' "$load_before" "$load_after"

printf '%-30s %8s %8s %6s %7s  %-20s %-7s %s\n' operation req/s 'p99 ms' ratio non-2xx target result \
  'CPU % server/wrk/other' 
row() {  # row NAME LABEL TARGET_TEXT AWK_CONDITION
  local name=$1 label=$2 target=$3 cond=$4 result
  result=$(verdict "$name" "$cond")
  [ "$result" = PASS ] || [ "$result" = - ] || fails=$((fails + 1))
  # Someone else took more than a fifth of the machine during this run.
  [ "${cpu_other[$name]}" -le 20 ] || result="$result*"
  printf '%-30s %8.0f %8s %6s %7s  %-20s %-7s %s\n' "$label" "${rps[$name]}" \
    "$(ms "${p99[$name]}")" "$(ratio "${rps[$name]}")" "${non2xx[$name]}" "$target" "$result" \
    "${cpu_server[$name]}/${cpu_wrk[$name]}/${cpu_other[$name]}"
}
row baseline 'baseline (fixed 200)' 'reference' ''
row get_user 'GET /Users/{id}' '>=0.50x, p99<5ms' 'r >= 0.5 && p99 < 5000'
row filter 'GET /Users?filter=userName eq' '>=0.50x, p99<5ms' 'r >= 0.5 && p99 < 5000'
row post_user 'POST /Users' '>=2000/s durable' 'rps >= 2000'
row patch_user 'PATCH /Users/{id} title' '>=2000/s durable' 'rps >= 2000'
row add_big 'PATCH group add (10k group)' '>=2000/s durable' 'rps >= 2000'
row add_empty 'PATCH group add (empty group)' '>=2000/s durable' 'rps >= 2000'
row baseline_end 'baseline again (drift check)' 'reference' ''

big_vs_empty=$(awk -v a="${rps[add_big]}" -v b="${rps[add_empty]}" 'BEGIN { printf "%.2f", a / b }')
if awk -v x="$big_vs_empty" 'BEGIN { exit !(x >= 0.8) }'; then same=PASS; else same=FAIL; fails=$((fails + 1)); fi
rss_ok=PASS
if [ "$peak_rss_mb" -ge 300 ]; then rss_ok=FAIL; fails=$((fails + 1)); fi
echo
printf '%-40s %9s  %-20s %s\n' 'add to 10k group / add to empty group' "${big_vs_empty}x" '~1 (>=0.80x)' "$same"
printf '%-40s %9s  %-20s %s\n' 'idbridged peak RSS (VmHWM)' "${peak_rss_mb} MB" '< 300 MB' "$rss_ok"
printf '%-40s %9s\n' 'idbridged RSS when ready, before load' "${rss_idle_mb} MB"

for name in add_big add_empty; do
  first=$([ "$name" = add_big ] && echo "$BENCH_BIG_GROUP_MEMBERS" || echo 0)
  if [ "${issued[$name]}" -gt $((BENCH_USERS - first)) ]; then
    echo "note: $name issued ${issued[$name]} adds but only $((BENCH_USERS - first)) users are fresh;" \
      "later ones re-added members (no-op writes). Use more --users or a shorter --duration."
  fi
done
echo
echo "status counts per run (a 2xx-only benchmark is the only valid one):"
for name in baseline get_user filter post_user patch_user add_big add_empty baseline_end; do
  printf '  %-14s %s' "$name" "${statuses[$name]}"
  [ "${sockerr[$name]}" = 0 ] || printf '  socket errors: %s' "${sockerr[$name]}"
  [ -z "${sample[$name]}" ] || printf '  first error: %s' "${sample[$name]}"
  echo
done
echo "ratio = req/s / the faster baseline run; INVALID = non-2xx or socket errors."
echo "CPU %: share of the whole machine ($cores cores = 100%) used during the run by the server"
echo "under test, by wrk, and by everything else; * = 'other' above 20%: the figure is depressed"
echo "by other work on the machine (or, for writes, the kernel's journal work), re-run when quiet."
if grep -q '"level":"error"' "$work/daemon.log" 2>/dev/null; then
  echo "idbridged logged errors during the run:"
  grep '"level":"error"' "$work/daemon.log" | head -5
fi
[ "$fails" = 0 ] && echo "all targets met" || echo "$fails target(s) missed"
