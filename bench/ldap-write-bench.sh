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

suffix=dc=bench,dc=example
people=ou=people,$suffix
root_dn=cn=admin,$suffix
root_password=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && printf '%s\n' "$root_password" >"$work/ldap.password" &&
  printf '%s' "$root_password" >"$work/ldap.password.raw")  # ldapmodify -y takes no newline

echo "== generating and loading $users users" >&2
"$ldif_bin" --out "$work/directory.ldif" --changes-out "$work/unused.ldif" --users "$users" \
  --groups 4 --changes 10 --suffix "$suffix" >/dev/null
mkdir -p "$work/slapd/db"
cat >"$work/slapd/slapd.conf" <<CONF
# Written by bench/ldap-write-bench.sh: the shape of the sync benchmark's server.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $work/slapd/slapd.pid
argsfile $work/slapd/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload syncprov

database mdb
suffix "$suffix"
rootdn "$root_dn"
rootpw $root_password
directory $work/slapd/db
maxsize 1073741824
dbnosync
index objectClass eq
index uid,cn eq
index entryUUID,entryCSN eq
overlay memberof
memberof-group-oc groupOfNames
overlay syncprov
syncprov-checkpoint 100 10
CONF
/usr/sbin/slapadd -q -w -f "$work/slapd/slapd.conf" -l "$work/directory.ldif" 2>"$work/slapadd.log" || {
  echo "ldap-write-bench: slapadd failed:" >&2
  tail -20 "$work/slapadd.log" >&2
  exit 1
}

port=$(free_port)
uri=ldap://127.0.0.1:$port/
/usr/sbin/slapd -d none -h "$uri" -f "$work/slapd/slapd.conf" 2>"$work/slapd.log" &
slapd_pid=$!
for _ in $(seq 1 200); do
  ldapsearch -x -LLL -H "$uri" -o nettimeout=1 -b "" -s base namingContexts >/dev/null 2>&1 && break
  kill -0 "$slapd_pid" 2>/dev/null || { tail -20 "$work/slapd.log" >&2; exit 1; }
  sleep 0.1
done

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
