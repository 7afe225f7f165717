#!/usr/bin/env bash
# The README demo end to end (scripts/demo-run.sh, what `scripts/dev run` runs after building)
# with the built idbridged, a temporary state directory and free ports: the directory's people
# are in tenant demo over SCIM when idbridged is ready; a person added with ldapadd appears after
# the printed sync command; SIGINT stops idbridged and slapd; a second start on the same state
# keeps the data and does not seed again.
#
#   tests/daemon/demo_run_test.sh PATH/TO/idbridged
set -euo pipefail
# Background jobs of a non-interactive shell start with SIGINT ignored, and a shell cannot trap
# a signal ignored at entry; with job control they keep it, as under a terminal.
set -m

idbridged=$(realpath "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
state=$work/state
demo_pid=

fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/run-*.out "$work"/run-*.err "$state"/demo-ldap/slapd.log; do
    [ -e "$f" ] && { echo "--- $f" >&2; tail -40 "$f" >&2; }
  done
  exit 1
}

cleanup() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A port nothing listens on (slapd refuses to start if another process takes it meanwhile).
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  fail "no free port"
}

ldap_port=$(free_port)
export IDBRIDGE_STATE_DIR=$state IDBRIDGE_DEMO_LDAP_PORT=$ldap_port
export IDBRIDGE_DEMO_LISTEN=127.0.0.1:0
seeded_people=$(grep -c '^objectClass: inetOrgPerson$' "$repo/config/examples/demo-directory.ldif")

# Starts the demo in the background and waits for idbridged's "listening" line; sets $http.
start_demo() {
  local run=$1
  "$repo/scripts/demo-run.sh" "$idbridged" >"$work/run-$run.out" 2>"$work/run-$run.err" &
  demo_pid=$!
  http=
  for _ in $(seq 600); do
    http=$(grep -o '"msg":"listening".*"port":[0-9]*' "$work/run-$run.err" |
      grep -o '[0-9]*$' || true)
    [ -n "$http" ] && return
    kill -0 "$demo_pid" 2>/dev/null || fail "run $run: the demo exited before idbridged listened"
    sleep 0.1
  done
  fail "run $run: idbridged did not listen within 60 s"
}

# SIGINT, as Ctrl-C sends; then idbridged and slapd must both be gone.
stop_demo() {
  local run=$1 slapd_pid status=0
  slapd_pid=$(cat "$state/demo-ldap/slapd.pid")
  kill -0 "$slapd_pid" 2>/dev/null || fail "run $run: slapd (pid $slapd_pid) is not running"
  kill -INT "$demo_pid"
  wait "$demo_pid" || status=$?
  demo_pid=
  [ "$status" -eq 0 ] || fail "run $run: the demo exited $status after SIGINT, expected 0"
  grep -q '"msg":"stopped"' "$work/run-$run.err" || fail "run $run: idbridged did not stop cleanly"
  ! kill -0 "$slapd_pid" 2>/dev/null || fail "run $run: slapd (pid $slapd_pid) is still running"
  ! (exec 3<>"/dev/tcp/127.0.0.1/$ldap_port") 2>/dev/null ||
    fail "run $run: something still listens on the LDAP port"
}

scim() {
  curl -sS --max-time 10 -H "Authorization: Bearer $(cat "$state/demo.token")" "$@"
}

total_results() {
  scim -G "http://127.0.0.1:$http/scim/v2/tenants/demo/Users" "$@" |
    grep -o '"totalResults":[0-9]*' | grep -o '[0-9]*$'
}

# --- first run: seeded and synced before idbridged serves ---------------------------------------
start_demo 1
ready=$(curl -sS --max-time 10 "http://127.0.0.1:$http/readyz")
echo "$ready" | grep -q '"status":"ready"' || fail "readyz: $ready"
echo "$ready" | grep -q '"unhealthy":0' || fail "the demo tenant is unhealthy: $ready"
count=$(total_results --data-urlencode count=0)
[ "$count" = "$seeded_people" ] || fail "SCIM lists $count users, the directory has $seeded_people"
zoe=$(scim -G "http://127.0.0.1:$http/scim/v2/tenants/demo/Users" \
  --data-urlencode 'filter=userName eq "zoe.mueller"')
echo "$zoe" | grep -q '"displayName":"Zoë Müller"' || fail "zoe.mueller: $zoe"
echo "$zoe" | grep -q '"display":"Platform"' || fail "zoe.mueller not in Platform: $zoe"
# platform is nested in engineering.
echo "$zoe" | grep -q '"display":"Engineering"' || fail "zoe.mueller not in Engineering: $zoe"

# The welcome text names the commands a newcomer runs next.
grep -q "ldapadd -x -H ldap://127.0.0.1:$ldap_port -D cn=admin,dc=example,dc=com" \
  "$work/run-1.out" || fail "no ldapadd line in the welcome text"
sync_line=$(grep -o "[^ ]*idbridged sync --config [^ ]* --directory demo" "$work/run-1.out") ||
  fail "no sync line in the welcome text"

printf '%s\n' "dn: uid=test.newcomer,ou=people,dc=example,dc=com" "objectClass: inetOrgPerson" \
  "uid: test.newcomer" "cn: Test Newcomer" "givenName: Test" "sn: Newcomer" \
  "mail: test.newcomer@example.com" |
  ldapadd -x -H "ldap://127.0.0.1:$ldap_port" -D cn=admin,dc=example,dc=com \
    -y "$state/demo-ldap/admin.password" >/dev/null || fail "ldapadd"
# The daemon's scheduler may be running the directory at this moment: the command then exits 6
# (busy) and is run again, as a newcomer would.
for attempt in $(seq 20); do
  sync_status=0
  # shellcheck disable=SC2086 # the printed command line, word-split as a shell would
  $sync_line >"$work/sync.out" 2>"$work/sync.err" || sync_status=$?
  [ "$sync_status" -eq 6 ] || break
  sleep 0.5
done
[ "$sync_status" -eq 0 ] || fail "$sync_line exited $sync_status (attempt $attempt): $(cat "$work/sync.err")"
[ "$(total_results --data-urlencode 'filter=userName eq "test.newcomer"')" = 1 ] ||
  fail "test.newcomer did not appear over SCIM after the sync"
stop_demo 1

# --- second run on the same state: no reseed, the data is still there --------------------------
start_demo 2
grep -q "seeded the demo directory" "$work/run-2.err" && fail "run 2 seeded the directory again"
count=$(total_results --data-urlencode count=0)
[ "$count" = $((seeded_people + 1)) ] || fail "run 2: $count users, expected $((seeded_people + 1))"
stop_demo 2
echo "demo run test: OK ($seeded_people people seeded, one added and synced, two clean stops)"
