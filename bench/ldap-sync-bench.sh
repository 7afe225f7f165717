#!/usr/bin/env bash
# The LDAP sync benchmark: builds idbridged and the LDIF generator, loads a private slapd (mdb,
# memberof, syncprov, on 127.0.0.1) offline with slapadd, then measures in one run the ldapsearch
# floor (paging the users the sync reads to /dev/null), idbridged's first full sync, an unchanged
# re-sync and an incremental sync after a batch of changes, and prints seconds, the ratio to the
# floor, peak RSS and the issue's target next to each. See bench/README.md.
#
#   bench/ldap-sync-bench.sh [--users N] [--groups M] [--changes C] [--no-build] [--keep]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${IDBRIDGE_BUILD_DIR:-$repo/build}
bench_name=ldap-sync-bench
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
users=100000
groups=1000
changes=100
build=1
keep=0

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=$2; shift 2 ;;
    --groups) groups=$2; shift 2 ;;
    --changes) changes=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage ;;
    *) echo "ldap-sync-bench: unknown argument $1" >&2; usage ;;
  esac
done

bench_require /usr/sbin/slapd /usr/sbin/slapadd ldapsearch ldapmodify sqlite3 flock ss /usr/bin/time
if [ "$build" = 1 ]; then
  bench_build "$repo" "$build_dir" idbridged idbridge_bench_ldif
fi
daemon_bin=$build_dir/daemon/idbridged
ldif_bin=$build_dir/bench/idbridge_bench_ldif
bench_require_built "$daemon_bin" "$ldif_bin"

work=$(mktemp -d /tmp/idbridge-ldap-bench.XXXXXX)
slapd_pid=
bench_on_exit slapd_pid

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

suffix=dc=bench,dc=example
people=ou=people,$suffix
root_dn=cn=admin,$suffix
root_password=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && printf '%s\n' "$root_password" >"$work/ldap.password" &&
  printf '%s' "$root_password" >"$work/ldap.password.raw")  # ldapsearch -y takes no newline
# What the config below maps (userName, displayName, names, mail, title, employeeNumber) plus the
# disabled rule's attribute, the anchor and memberOf: exactly what the sync asks slapd for.
read_attributes=(uid givenName sn mail title employeeNumber employeeType entryUUID memberOf)

echo "== generating $users users, $groups groups" >&2
t0=$(now)
memberships=$("$ldif_bin" --out "$work/directory.ldif" --changes-out "$work/changes.ldif" \
  --users "$users" --groups "$groups" --changes "$changes" --suffix "$suffix")
t1=$(now)
generate_seconds=$(elapsed "$t0" "$t1")

mkdir -p "$work/slapd/db"
cat >"$work/slapd/slapd.conf" <<CONF
# Written by bench/ldap-sync-bench.sh.
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
# The map's upper bound (sparse): 100,000 users with their memberships take a few hundred MB.
maxsize 8589934592
dbnosync
index objectClass eq
index uid,cn eq
index entryUUID,entryCSN eq
index member eq
overlay memberof
memberof-group-oc groupOfNames
memberof-refint TRUE
overlay syncprov
syncprov-checkpoint 100 10
CONF

echo "== slapadd (offline load; memberOf values are in the LDIF: the overlay does not run here)" >&2
t0=$(now)
/usr/sbin/slapadd -q -w -f "$work/slapd/slapd.conf" -l "$work/directory.ldif" 2>"$work/slapadd.log" || {
  echo "ldap-sync-bench: slapadd failed:" >&2
  tail -20 "$work/slapadd.log" >&2
  exit 1
}
t1=$(now)
slapadd_seconds=$(elapsed "$t0" "$t1")
rm -f "$work/directory.ldif"

port=$(free_port)
uri=ldap://127.0.0.1:$port/
/usr/sbin/slapd -d none -h "$uri" -f "$work/slapd/slapd.conf" 2>"$work/slapd.log" &
slapd_pid=$!
ready=0
for _ in $(seq 1 200); do
  if ldapsearch -x -LLL -H "$uri" -o nettimeout=1 -b "" -s base namingContexts >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 "$slapd_pid" 2>/dev/null || break
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  echo "ldap-sync-bench: slapd did not start; its log:" >&2
  tail -20 "$work/slapd.log" >&2
  exit 1
fi
probe=$(ldapsearch -x -LLL -H "$uri" -D "$root_dn" -y "$work/ldap.password.raw" -b "$people" \
  "(uid=user000000)" memberOf | grep -c '^memberOf:' || true)
if [ "$probe" -lt 1 ]; then
  echo "ldap-sync-bench: user000000 has no memberOf values after slapadd" >&2
  exit 1
fi

state=$work/state
cat >"$work/idbridged.toml" <<TOML
# Written by bench/ldap-sync-bench.sh.
state_dir = "$state"

[logging]
level = "warning"

[tenants.bench]
display_name = "Benchmark"

[directories.bench]
tenant = "bench"
kind = "openldap"
uri = "$uri"
bind_dn = "$root_dn"
bind_password = { file = "$work/ldap.password" }
page_size = 500
timeout_seconds = 120

[directories.bench.users]
base_dns = ["$people"]

[directories.bench.users.attributes]
userName = "{uid}"
displayName = "{givenName} {sn}"
name.givenName = "{givenName}"
name.familyName = "{sn}"
emails.primary = "{mail}"
title = "{title}"
enterprise.employeeNumber = "{employeeNumber}"

[[directories.bench.roles]]
group = "grp0010"
role = "administrator"
precedence = 10

[[directories.bench.groups]]
group = "cn=grp0000,ou=groups,$suffix"
tenant_group = "All Staff"

[[directories.bench.groups]]
group = "grp0001"
tenant_group = "Team 1"
kind = "team"

[[directories.bench.groups]]
group = "grp0002"
tenant_group = "Team 2"
kind = "team"

[[directories.bench.groups]]
group = "grp0003"
tenant_group = "Distribution 3"
kind = "distribution"

[directories.bench.disabled]
kind = "attribute_equals"
attribute = "employeeType"
value = "terminated"
TOML

db=$state/idbridge.db
change_records() {
  if [ -f "$db" ]; then sqlite3 "$db" 'SELECT count(*) FROM changes'; else echo 0; fi
}
# The newest recorded run (what `idbridged sync --runs` lists): "kind outcome read planned
# applied failed".
last_run() {
  sqlite3 -separator ' ' "$db" "SELECT kind, outcome, read, planned, applied, failed FROM sync_runs
    WHERE directory = 'bench' ORDER BY id DESC LIMIT 1"
}

declare -A seconds rss_mb
# measure NAME COMMAND...: wall seconds and peak RSS (MB) of one command, its output in $work.
measure() {
  local name=$1
  shift
  local status=0 out=$work/$name.out
  # The floor's LDIF goes to /dev/null; the daemon's report is kept for --keep.
  case "$name" in floor*) out=/dev/null ;; esac
  /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" >"$out" 2>"$work/$name.err" ||
    status=$?
  # GNU time puts "Command exited with non-zero status N" before the figures.
  read -r "seconds[$name]" kb < <(tail -1 "$work/$name.time")
  rss_mb[$name]=$((kb / 1024))
  if [ "$status" != 0 ]; then
    echo "ldap-sync-bench: $name exited with $status:" >&2
    tail -5 "$work/$name.err" >&2
    tail -5 "$work/$name.out" >&2
    exit 1
  fi
}
floor=(ldapsearch -x -LLL -H "$uri" -D "$root_dn" -y "$work/ldap.password.raw" -b "$people"
  -E pr=500/noprompt "(objectClass=inetOrgPerson)" "${read_attributes[@]}")
sync_run=("$daemon_bin" sync --config "$work/idbridged.toml" --directory bench)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== measuring (holding /tmp/idbridge-build.lock so that no build shares the cores)" >&2
exec 9>>/tmp/idbridge-build.lock
flock 9

measure floor "${floor[@]}"
echo "   ldapsearch floor ${seconds[floor]} s" >&2

measure first "${sync_run[@]}"
read -r first_kind first_outcome first_read first_planned first_applied first_failed < <(last_run)
records_after_first=$(change_records)
db_mb=$(du -m "$db" | cut -f1)
echo "   first full sync ${seconds[first]} s: read $first_read, planned $first_planned," \
  "applied $first_applied, refused $first_failed, $records_after_first change records" >&2

measure unchanged "${sync_run[@]}"
read -r _ unchanged_outcome _ unchanged_planned _ _ < <(last_run)
records_after_unchanged=$(change_records)
unchanged_writes=$((records_after_unchanged - records_after_first))
echo "   unchanged re-sync ${seconds[unchanged]} s: $unchanged_outcome, planned $unchanged_planned," \
  "$unchanged_writes new change records" >&2

ldapmodify -x -H "$uri" -D "$root_dn" -y "$work/ldap.password.raw" -f "$work/changes.ldif" >/dev/null
measure changed "${sync_run[@]}" --incremental
read -r changed_kind changed_outcome _ changed_planned changed_applied changed_failed < <(last_run)
records_after_changed=$(change_records)
echo "   after $changes changes (${changed_kind}) ${seconds[changed]} s: planned $changed_planned," \
  "applied $changed_applied" >&2

measure floor_end "${floor[@]}"
flock -u 9
exec 9>&-
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------------------------
fails=0
# The faster of the two floors: a floor slowed by someone else's work would flatter every ratio.
floor_seconds=$(awk -v a="${seconds[floor]}" -v b="${seconds[floor_end]}" \
  'BEGIN { print (a < b ? a : b) }')
ratio() { awk -v a="$1" -v b="$floor_seconds" 'BEGIN { printf "%.2fx", a / b }'; }
check() {  # check AWK_CONDITION -> PASS|FAIL; the caller counts the FAILs (this runs in $(...))
  if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi
}
tally() {  # tally RESULT...
  local result
  for result in "$@"; do
    [ "$result" != FAIL ] || fails=$((fails + 1))
  done
}

printf '\nidbridge LDAP sync benchmark  %s  (%s users, %s groups, %s memberships)\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$users" "$groups" "$memberships"
printf 'setup: generate %s s, slapadd %s s; store after the first sync %s MB\n' \
  "$generate_seconds" "$slapadd_seconds" "$db_mb"
printf 'slapd (mdb, memberof, syncprov) and idbridged on 127.0.0.1; %s cores shared\n' "$(nproc)"
printf 'load average before %s, after %s\n\n' "$load_before" "$load_after"

printf '%-36s %8s %7s %9s %8s  %-22s %s\n' run seconds ratio 'peak RSS' planned target result
row() {  # row NAME LABEL PLANNED TARGET RESULT
  local rss=-
  [ "$1" = floor ] || [ "$1" = floor_end ] || rss="${rss_mb[$1]} MB"
  printf '%-36s %8.2f %7s %9s %8s  %-22s %s\n' "$2" "${seconds[$1]}" "$(ratio "${seconds[$1]}")" \
    "$rss" "$3" "$4" "$5"
}
row floor "ldapsearch pr=500 > /dev/null" - reference -
r=$(check "${seconds[first]} <= 3 * $floor_seconds")
tally "$r"
row first "first full sync" "$first_planned" '<= 3x floor' "$r"
r=$(check "${seconds[unchanged]} <= 1.5 * $floor_seconds && $unchanged_writes == 0 && $unchanged_planned == 0")
tally "$r"
row unchanged "unchanged re-sync" "$unchanged_planned" '<= 1.5x, 0 writes' "$r"
if [ "$changed_kind" = incremental ]; then
  r=$(check "${seconds[changed]} < 1")
  tally "$r"
  row changed "incremental after $changes changes" "$changed_planned" '< 1 s' "$r"
else
  # A full read although a cursor was stored: a build that does not keep the members of the
  # groups the rules name, or a reason the daemon logged (docs/ldap.md, "Groups and incremental
  # reads").
  printf '%-36s %8s %7s %9s %8s  %-22s %s\n' "incremental after $changes changes" - - - - '< 1 s' \
    'became a full read'
  row changed "full sync after $changes changes" "$changed_planned" '(no target)' -
fi
row floor_end "ldapsearch again (drift check)" - reference -
worst_rss=0
for name in first unchanged changed; do
  [ "${rss_mb[$name]}" -le "$worst_rss" ] || worst_rss=${rss_mb[$name]}
done
rss_result=$(check "$worst_rss < 300")
tally "$rss_result"
# Each change is one operation: a title update, or a membership of the rule-managed grp0001.
seen_result=$(check "$changed_planned == $changes")
tally "$seen_result"
echo
printf '%-36s %8s  %-22s %s\n' 'idbridged peak RSS (worst run)' "${worst_rss} MB" '< 300 MB' \
  "$rss_result"
printf '%-36s %8s  %-22s %s\n' 'operations planned after the changes' "$changed_planned" \
  "$changes (one per change)" "$seen_result"
echo
echo "ratio = seconds / the faster ldapsearch run (same users, attributes and page size)."
echo "planned = operations in the run's plan (sync --runs); the first sync's applied $first_applied,"
echo "refused $first_failed; after the changes applied $changed_applied, refused $changed_failed."
echo "Change records: $records_after_first after the first sync, $records_after_unchanged after" \
  "the re-sync, $records_after_changed after the changes."
[ "$fails" = 0 ] && echo "all targets met" || echo "$fails target(s) missed"
