#!/usr/bin/env bash
# The LDAP write-back benchmark: loads a private slapd (mdb, memberof, syncprov, on 127.0.0.1)
# with N users, then replaces `title` on each of them, one LDAP modify per user over one
# connection: first with ldapmodify reading an LDIF of N change records (the floor), then with
# idbridge::ldap::Connection one at a time, pipelined, and pipelined with a post-read of
# entryCSN. Prints seconds, writes/s and the ratio to ldapmodify (target: >= 0.8x).
#
#   bench/ldap-write-bench.sh [--users N] [--window W] [--runs R] [--no-build] [--keep]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IDBRIDGE_BUILD_DIR:-$repo/build}
bench_name=ldap-write-bench
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
# shellcheck source=bench/lib-ldap.sh
. "$repo/bench/lib-ldap.sh"
users=10000
window=64
runs=3
build=1
keep=0

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage ;;
    *) echo "ldap-write-bench: unknown argument $1" >&2; usage ;;
  esac
done

bench_require /usr/sbin/slapd /usr/sbin/slapadd ldapsearch ldapmodify flock ss
if [ "$build" = 1 ]; then
  bench_build "$repo" "$build_dir" idbridge_bench_ldap_write idbridge_bench_ldif
fi
write_bin=$build_dir/bench/idbridge_bench_ldap_write
ldif_bin=$build_dir/bench/idbridge_bench_ldif
bench_require_built "$write_bin" "$ldif_bin"

work=$(mktemp -d /tmp/idbridge-ldap-write-bench.XXXXXX)
slapd_pid=
bench_on_exit slapd_pid

now() { date +%s.%N; }

echo "== generating and loading $users users" >&2
bench_slapd_load "$work" "$ldif_bin" "$users"
bench_slapd_start
uri=$bench_ldap_uri
people=$bench_ldap_people
root_dn=$bench_ldap_root_dn

changes_ldif() {
  local tag=$1
  awk -v n="$users" -v tag="$tag" -v base="$people" 'BEGIN {
    for (i = 0; i < n; i++) {
      printf "dn: uid=user%06d,%s\nchangetype: modify\nreplace: title\ntitle: %s %d\n-\n\n", i, base, tag, i
    }
  }'
}

best_ldapmodify=
best() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b < a) print b; else print a }'; }
results=()
for run in $(seq 1 "$runs"); do
  changes_ldif "ldapmodify-$run" >"$work/changes.ldif"
  t0=$(now)
  ldapmodify -x -H "$uri" -D "$root_dn" -y "$work/ldap.password.raw" -f "$work/changes.ldif" >/dev/null
  t1=$(now)
  seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  echo "ldapmodify run $run: $seconds s" >&2
  best_ldapmodify=$(best "$best_ldapmodify" "$seconds")
  for mode in sequential pipelined pipelined+post-read; do
    args=(--mode "${mode%%+*}")
    [ "$mode" = pipelined+post-read ] && args+=(--post-read)
    line=$("$write_bin" --uri "$uri" --bind-dn "$root_dn" --password-file "$work/ldap.password" \
      --base "$people" --users "$users" --window "$window" --tag "$mode-$run" "${args[@]}")
    echo "$mode run $run: $line" >&2
    results+=("$mode|$(echo "$line" | awk '{ print $3 }')")
  done
done

# The title the last write left must be there: the writes were real.
check=$(ldapsearch -x -LLL -H "$uri" -D "$root_dn" -y "$work/ldap.password.raw" -b "$people" \
  "(uid=user$(printf %06d $((users - 1))))" title | sed -n 's/^title: //p')
expected="pipelined+post-read-$runs $((users - 1))"
if [ "$check" != "$expected" ]; then
  echo "ldap-write-bench: last user has title '$check', expected '$expected'" >&2
  exit 1
fi

printf '\n%-34s %8s %10s %7s  %s\n' "writer ($users replaces)" "best s" "writes/s" "ratio" "target"
printf '%-34s %8s %10.0f %7s\n' "ldapmodify (floor)" "$best_ldapmodify" \
  "$(awk -v s="$best_ldapmodify" -v n="$users" 'BEGIN { print n / s }')" "1.00"
for mode in sequential pipelined pipelined+post-read; do
  best_mode=
  for entry in "${results[@]}"; do
    [ "${entry%%|*}" = "$mode" ] && best_mode=$(best "$best_mode" "${entry#*|}")
  done
  ratio=$(awk -v f="$best_ldapmodify" -v s="$best_mode" 'BEGIN { printf "%.2f", f / s }')
  verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.8) ? "PASS" : "FAIL" }')
  printf '%-34s %8s %10.0f %7s  >=0.80x %s\n' "Connection $mode" "$best_mode" \
    "$(awk -v s="$best_mode" -v n="$users" 'BEGIN { print n / s }')" "${ratio}x" "$verdict"
done
