#!/usr/bin/env bash
# The write-back benchmark (issue 5): a private slapd (mdb, memberof, syncprov, on 127.0.0.1)
# with N users, idbridged syncing them with write-back of `title` (SCIM-owned, modify on). In one
# run: W `ldapmodify` replaces of title over one connection (the floor), then W SCIM PATCHes of
# title (16 connections) timed until write-back has delivered them all and the directory holds
# the last values; then SCIM PATCH p99 latency with slapd running and with slapd stopped. Prints
# writes/s of both, the ratio (target >= 0.8x), the two p99s and their ratio.
#
#   bench/writeback-bench.sh [--users N] [--writes W] [--connections C] [--duration S]
#                             [--no-build] [--keep]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IDBRIDGE_BUILD_DIR:-$repo/build}
bench_name=writeback-bench
users=1000
writes=10000
connections=16
duration=5
build=1
keep=0

# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
# shellcheck source=bench/lib-ldap.sh
. "$repo/bench/lib-ldap.sh"

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=$2; shift 2 ;;
    --writes) writes=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --duration) duration=${2%s}; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage ;;
    *) echo "$bench_name: unknown argument $1" >&2; usage ;;
  esac
done
if [ "$writes" -lt "$users" ]; then
  echo "$bench_name: --writes must be at least --users (every user gets a write)" >&2
  exit 2
fi

bench_require /usr/sbin/slapd /usr/sbin/slapadd ldapsearch ldapmodify wrk curl flock ss
if [ "$build" = 1 ]; then
  bench_build "$repo" "$build_dir" idbridged idbridge_bench_ldif
fi
daemon_bin=$build_dir/daemon/idbridged
ldif_bin=$build_dir/bench/idbridge_bench_ldif
bench_require_built "$daemon_bin" "$ldif_bin"

work=$(mktemp -d /tmp/idbridge-writeback-bench.XXXXXX)
slapd_pid=
daemon_pid=
bench_on_exit daemon_pid slapd_pid

now() { date +%s.%N; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# The measurements share two cores with nothing we can keep off but compiles: hold the build lock
# from here to the end (released when the script exits).
echo "== waiting for /tmp/idbridge-build.lock (no compile runs during the measurement)" >&2
exec 9>/tmp/idbridge-build.lock
flock 9
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== loading $users users into a private slapd" >&2
bench_slapd_load "$work" "$ldif_bin" "$users"
bench_slapd_start

token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && printf '%s\n' "$token" >"$work/bench.token")
port=$(free_port)
state=$work/state
cat >"$work/idbridged.toml" <<TOML
# Written by bench/writeback-bench.sh: write-back of title, which SCIM owns.
state_dir = "$state"

[server]
listen = "127.0.0.1:$port"
plain_http = true

[logging]
level = "warning"

[tenants.bench]
display_name = "Benchmark"

[[tenants.bench.credentials]]
name = "bench"
token = { file = "$work/bench.token" }
role_ceiling = "administrator"

[directories.bench]
tenant = "bench"
kind = "openldap"
uri = "$bench_ldap_uri"
bind_dn = "$bench_ldap_root_dn"
bind_password = { file = "$work/ldap.password" }
timeout_seconds = 10
# No scheduled syncs: the script runs the first one itself, and later ones would read back every
# written entry; the figures are write-back's alone.
full_sync_interval_seconds = 0
incremental_sync_interval_seconds = 0

[directories.bench.users]
base_dns = ["$bench_ldap_people"]

[directories.bench.users.attributes]
userName = "{uid}"
name.givenName = "{givenName}"
name.familyName = "{sn}"
emails.primary = "{mail}"
title = "{title}"

[directories.bench.writeback]
operations = ["modify"]
user_dn = "uid={userName},$bench_ldap_people"
object_classes = ["inetOrgPerson"]

[directories.bench.authority]
title = "scim"
TOML

url=http://127.0.0.1:$port
scim=$url/scim/v2/tenants/bench
auth=(-H "Authorization: Bearer $token")
start_daemon() {
  local ready=0
  "$daemon_bin" --config "$work/idbridged.toml" 2>>"$work/daemon.log" &
  daemon_pid=$!
  for _ in $(seq 1 300); do
    if curl -sf "$url/readyz" >/dev/null 2>&1; then
      ready=1
      break
    fi
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ "$ready" != 1 ]; then
    echo "$bench_name: idbridged did not become ready; its log:" >&2
    tail -20 "$work/daemon.log" >&2
    exit 1
  fi
}

status() { curl -sf "${auth[@]}" "$url/status"; }
status_field() { status | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }

echo "== first sync of $users users" >&2
"$daemon_bin" sync --config "$work/idbridged.toml" --directory bench >"$work/first-sync.out" 2>&1 || {
  echo "$bench_name: the first sync failed:" >&2
  tail -20 "$work/first-sync.out" >&2
  exit 1
}
start_daemon
total=$(curl -sf "${auth[@]}" "$scim/Users?count=0" | grep -o '"totalResults":[0-9]*' | cut -d: -f2)
if [ "${total:-0}" != "$users" ]; then
  echo "$bench_name: the tenant has ${total:-no} users after the first sync, expected $users" >&2
  exit 1
fi

# The tenant's user ids in userName order (user i on line i + 1), pages of 1,000.
ids=$work/users.txt
: >"$ids.pairs"
for ((start = 1; start <= users; start += 1000)); do
  curl -sf "${auth[@]}" "$scim/Users?attributes=userName&count=1000&startIndex=$start" |
    grep -o '"id":"[^"]*"\|"userName":"[^"]*"' | sed 's/^"[a-zA-Z]*":"\(.*\)"$/\1/' |
    paste - - >>"$ids.pairs"
done
# Each resource lists id before userName (keys are sorted).
sort -k2 "$ids.pairs" | cut -f1 >"$ids"
if [ "$(wc -l <"$ids")" -ne "$users" ]; then
  echo "$bench_name: listed $(wc -l <"$ids") user ids, expected $users" >&2
  exit 1
fi

tag=$(date +%s)
# Write i (0 <= i < W) goes to user i mod N: each user gets W/N writes, one after the other.
last_title() {  # last_title PREFIX USER: the title the last write of that user left
  awk -v p="$1" -v u="$2" -v n="$users" -v w="$writes" \
    'BEGIN { last = u + int((w - 1 - u) / n) * n; printf "%s %d", p, last }'
}
sample_users=$(awk -v n="$users" 'BEGIN { for (k = 0; k < 20; k++) printf "%d ", int(k * n / 20) + k % 3 }'
  echo "$((users - 1))")
directory_title() {
  ldapsearch -x -LLL -o ldif-wrap=no -H "$bench_ldap_uri" -D "$bench_ldap_root_dn" \
    -y "$work/ldap.password.raw" -b "$bench_ldap_people" "(uid=$(printf 'user%06d' "$1"))" title |
    sed -n 's/^title: //p'
}
check_sample() {  # check_sample PREFIX: every sampled user holds its last title
  local u expected actual
  for u in $sample_users; do
    expected=$(last_title "$1" "$u")
    actual=$(directory_title "$u")
    if [ "$actual" != "$expected" ]; then
      echo "$bench_name: user$(printf %06d "$u") has title '$actual', expected '$expected'" >&2
      return 1
    fi
  done
}

ldapsearch -x -LLL -o ldif-wrap=no -H "$bench_ldap_uri" -D "$bench_ldap_root_dn" \
  -y "$work/ldap.password.raw" -b "$bench_ldap_people" "(uid=*)" title >"$work/titles.ldif"

# ---- (a) the floor: ldapmodify, one process, one connection, W replaces ------------------------
awk -v n="$users" -v w="$writes" -v base="$bench_ldap_people" -v p="floor-$tag" 'BEGIN {
  for (i = 0; i < w; i++) {
    printf "dn: uid=user%06d,%s\nchangetype: modify\nreplace: title\ntitle: %s %d\n-\n\n", i % n, base, p, i
  }
}' >"$work/floor.ldif"
echo "== (a) floor: ldapmodify of $writes replaces" >&2
t0=$(now)
ldapmodify -x -H "$bench_ldap_uri" -D "$bench_ldap_root_dn" -y "$work/ldap.password.raw" \
  -f "$work/floor.ldif" >/dev/null
t1=$(now)
floor_seconds=$(seconds_between "$t0" "$t1")
check_sample "floor-$tag"

# The floor's values are not the tenant's: put the synced titles back (untimed), so that the
# SCIM writes below assert what the directory holds, as in normal operation. A sync would not do:
# title is SCIM's, so sync would take the directory's values as conflicts and write SCIM's back.
awk '/^dn: / { dn = $0 } /^title: / { printf "%s\nchangetype: modify\nreplace: title\n%s\n-\n\n", dn, $0 }' \
  "$work/titles.ldif" >"$work/restore.ldif"
ldapmodify -x -H "$bench_ldap_uri" -D "$bench_ldap_root_dn" -y "$work/ldap.password.raw" \
  -f "$work/restore.ldif" >/dev/null
conflicts_before=$(status_field conflicts)

# ---- (b) W SCIM PATCHes, timed until the directory holds the last values ------------------------
# patches PREFIX FILE: a curl config of W PATCHes, write i giving user i mod N title "PREFIX i".
patches() {
  awk -v n="$users" -v w="$writes" -v scim="$scim" -v p="$1" -v token="$token" '
    { id[NR - 1] = $1 }
    END {
      for (i = 0; i < w; i++) {
        printf "url = \"%s/Users/%s\"\nrequest = \"PATCH\"\noutput = \"/dev/null\"\n", scim, id[i % n]
        printf "silent\nwrite-out = \"%%{http_code}\\n\"\n"
        printf "header = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/scim+json\"\n", token
        printf "data = \"{\\\"schemas\\\":[\\\"urn:ietf:params:scim:api:messages:2.0:PatchOp\\\"],"
        printf "\\\"Operations\\\":[{\\\"op\\\":\\\"replace\\\",\\\"path\\\":\\\"title\\\",\\\"value\\\":\\\"%s %d\\\"}]}\"\n", p, i
        if (i < w - 1) print "next"
      }
    }' "$ids" >"$2"
  chmod 600 "$2"
}
send_patches() {  # send_patches FILE: all of them, $connections at a time; every one must be 200
  local ok
  curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$connections" \
    -K "$1" >"$1.status"
  ok=$(grep -c '^200$' "$1.status" || true)
  if [ "$ok" != "$writes" ]; then
    echo "$bench_name: $ok of $writes PATCHes answered 200:" >&2
    sort "$1.status" | uniq -c >&2
    exit 1
  fi
}

patches "scim-$tag" "$work/patches.curl"
echo "== (b) $writes SCIM PATCHes ($connections connections), until written back" >&2
t0=$(now)
send_patches "$work/patches.curl"
t1=$(now)
while [ "$(status_field pending)" != 0 ]; do
  sleep 0.02
done
t2=$(now)
scim_seconds=$(seconds_between "$t0" "$t1")
writeback_seconds=$(seconds_between "$t0" "$t2")
drain_seconds=$(seconds_between "$t1" "$t2")
check_sample "scim-$tag"

# ---- (b2) delivery alone: the same writes queued while slapd is stopped, then drained ---------
# SCIM's own rate (one durable commit per PATCH) bounds (b); this isolates delivery. A worker
# that found the directory down backs off (up to 30 s), so instead of waiting for it the daemon is
# restarted once slapd is back: the clock runs from the daemon's start (its store open included)
# until the outbox is empty.
patches "backlog-$tag" "$work/backlog.curl"
echo "== (b2) $writes PATCHes queued with slapd stopped, then delivered" >&2
stop_pid "$slapd_pid"
slapd_pid=
send_patches "$work/backlog.curl"
backlog=$(status_field pending)
stop_pid "$daemon_pid"
daemon_pid=
bench_slapd_start
t0=$(now)
start_daemon
while [ "$(status_field pending)" != 0 ]; do
  sleep 0.01
done
t1=$(now)
backlog_seconds=$(seconds_between "$t0" "$t1")
check_sample "backlog-$tag"
parked=$(status_field parked)
conflicts=$(($(status_field conflicts) - conflicts_before))

# ---- (c) SCIM PATCH latency, slapd running vs stopped ------------------------------------------
wrk_run() {  # wrk_run NAME: 5 s of PATCH title on random users; prints "rps p99_us non2xx"
  local out=$work/wrk-$1.txt line
  env BENCH_LUA_DIR="$repo/bench/lua" BENCH_USERS_FILE="$ids" BENCH_TOKEN="$token" \
    BENCH_BASE="/scim/v2/tenants/bench" BENCH_WRK_THREADS=2 BENCH_RUN_TAG="$tag.$1" \
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$repo/bench/lua/patch_user.lua" \
    "$url" >"$out" 2>&1 || true
  line=$(grep '^BENCH ' "$out" || true)
  if [ -z "$line" ]; then
    echo "$bench_name: wrk run $1 produced no result:" >&2
    cat "$out" >&2
    exit 1
  fi
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  echo "$(field rps) $(field p99_us) $(($(field non2xx) + $(field socket_errors)))"
}
echo "== (c) SCIM PATCH latency: ${duration} s with slapd running, ${duration} s with it stopped" >&2
read -r running_rps running_p99 running_bad < <(wrk_run running)
while [ "$(status_field pending)" != 0 ]; do sleep 0.1; done
stop_pid "$slapd_pid"
slapd_pid=
read -r stopped_rps stopped_p99 stopped_bad < <(wrk_run stopped)
queued=$(status_field pending)
bench_slapd_start  # the same port and database
t0=$(now)
while [ "$(status_field pending)" != 0 ]; do sleep 0.1; done
t1=$(now)
recovery_seconds=$(seconds_between "$t0" "$t1")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------------------------
floor_rate=$(rate "$writes" "$floor_seconds")
writeback_rate=$(rate "$writes" "$writeback_seconds")
ratio=$(awk -v f="$floor_seconds" -v s="$writeback_seconds" 'BEGIN { printf "%.2f", f / s }')
p99_ratio=$(awk -v a="$stopped_p99" -v b="$running_p99" 'BEGIN { printf "%.2f", a / b }')
pass() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

printf '\nidbridge write-back benchmark  %s  (%s users, %s writes, %s connections)\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$users" "$writes" "$connections"
printf '%s cores shared by slapd, idbridged and the clients; load average before %s, after %s\n\n' \
  "$(nproc)" "$load_before" "$load_after"
printf '%-44s %8s %9s %7s  %-14s %s\n' run seconds writes/s ratio target result
printf '%-44s %8s %9s %7s\n' "ldapmodify, one connection (floor)" "$floor_seconds" "$floor_rate" 1.00
printf '%-44s %8s %9s %7s  %-14s %s\n' "SCIM PATCH -> written back (end to end)" \
  "$writeback_seconds" "$writeback_rate" "${ratio}x" '>=0.80x' "$(pass "$ratio >= 0.8")"
printf '%-44s %8s %9s\n' "  of which SCIM PATCHes answered" "$scim_seconds" \
  "$(rate "$writes" "$scim_seconds")"
printf '%-44s %8s\n' "  then write-back drained the rest" "$drain_seconds"
backlog_ratio=$(awk -v f="$floor_rate" -v n="$backlog" -v s="$backlog_seconds" 'BEGIN { printf "%.2f", n / s / f }')
printf '%-44s %8s %9s %7s  %-14s %s\n' "queued backlog, delivery alone" \
  "$backlog_seconds" "$(rate "$backlog" "$backlog_seconds")" "${backlog_ratio}x" '>=0.80x' \
  "$(pass "$backlog_ratio >= 0.8")"
echo
printf '%-44s %8s %9s %7s  %-14s %s\n' "SCIM PATCH latency (wrk ${duration} s)" 'p99 ms' 'req/s' ratio target result
printf '%-44s %8s %9.0f %7s\n' "slapd running" "$(ms "$running_p99")" "$running_rps" 1.00
printf '%-44s %8s %9.0f %7s  %-14s %s\n' "slapd stopped" "$(ms "$stopped_p99")" "$stopped_rps" \
  "${p99_ratio}x" '<=1.25x' "$(pass "$p99_ratio <= 1.25")"
echo
echo "sampled users hold their last title after both runs; parked $parked, conflicts $conflicts"
echo "non-2xx/socket errors in the latency runs: running $running_bad, stopped $stopped_bad"
echo "slapd restarted with $queued writes queued: delivered in ${recovery_seconds} s"
if [ "$running_bad" != 0 ] || [ "$stopped_bad" != 0 ] || [ "$parked" != 0 ]; then
  echo "INVALID: errors during the run (see above)"
  exit 1
fi
