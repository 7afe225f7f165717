#!/usr/bin/env bash
# The demo `scripts/dev run` starts once idbridged is built: a private slapd seeded with
# config/examples/demo-directory.ldif, the demo config (tenant demo + [directories.demo]), one
# sync so the directory users are in the tenant, then idbridged in the foreground. Ctrl-C (or
# SIGTERM) stops idbridged gracefully, then slapd. Safe to run again on the same state directory:
# slapd keeps its data and is seeded only once.
#
#   scripts/demo-run.sh PATH/TO/idbridged
#
# Environment (all optional):
#   IDBRIDGE_STATE_DIR       state directory (default ./state)
#   IDBRIDGE_DEMO_LDAP_PORT  the demo slapd's port on 127.0.0.1 (default 3890); it is written
#                            into the config when the config is first made
#   IDBRIDGE_DEMO_LISTEN     serve on ADDR:PORT instead of the config's 127.0.0.1:8080 (tests
#                            use 127.0.0.1:0; the chosen port is in idbridged's "listening" log)
set -euo pipefail
# Our children get their own process groups: a Ctrl-C reaches only this script, which then
# stops idbridged (one SIGTERM: graceful) and slapd in that order.
set -m

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: scripts/demo-run.sh PATH/TO/idbridged" >&2
  exit 2
fi
idbridged=$(realpath "$1")
repo=$(cd "$(dirname "$0")/.." && pwd)
seed_ldif=$repo/config/examples/demo-directory.ldif
state_dir=$(realpath -m "${IDBRIDGE_STATE_DIR:-$PWD/state}")
ldap_dir=$state_dir/demo-ldap
ldap_port=${IDBRIDGE_DEMO_LDAP_PORT:-3890}
ldap_uri=ldap://127.0.0.1:$ldap_port
suffix=dc=example,dc=com
admin_dn=cn=admin,$suffix
service_dn=cn=idbridge,ou=services,$suffix
slapd_pid=
daemon_pid=

for tool in /usr/sbin/slapd /usr/sbin/slappasswd /usr/bin/ldapadd /usr/bin/ldapsearch; do
  if [ ! -x "$tool" ]; then
    echo "demo: $tool is missing; run scripts/install-deps.sh (packages slapd, ldap-utils)" >&2
    exit 1
  fi
done

# A random password in a 0600 file, without a trailing newline (ldap tools' -y reads the file
# whole); kept when it exists.
make_password() {
  [ -s "$1" ] && return
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n/+=' >"$1")
}

# Stops $1 (a child of this script) with SIGTERM, then SIGKILL after 20 s.
stop_child() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

status=0
cleanup() {
  trap - EXIT INT TERM
  set +e
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    # idbridged's own exit status: 0 after a graceful shutdown.
    wait "$daemon_pid" 2>/dev/null
    status=$?
    daemon_pid=
  fi
  stop_child "$slapd_pid"
  [ -n "$slapd_pid" ] && echo "demo: stopped idbridged and the demo slapd" >&2
  exit "$status"
}
trap 'status=$?; cleanup' EXIT
trap 'status=130; cleanup' INT
trap 'status=143; cleanup' TERM

# A slapd left running from this state directory (its script was killed): ours to replace.
stop_stale_slapd() {
  local pid
  pid=$(cat "$ldap_dir/slapd.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
    grep -qF -- "-f $ldap_dir/slapd.conf"; then
    echo "demo: stopping the demo slapd left running (pid $pid)" >&2
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$ldap_dir/slapd.pid"
}

write_slapd_conf() {
  local rootpw
  rootpw=$(/usr/sbin/slappasswd -T "$ldap_dir/admin.password")
  (umask 077 && cat >"$ldap_dir/slapd.conf") <<CONF
# Written by scripts/demo-run.sh on every start: the demo directory of idbridge's README.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile $ldap_dir/slapd.pid
argsfile $ldap_dir/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
moduleload syncprov

database mdb
suffix "$suffix"
rootdn "$admin_dn"
rootpw $rootpw
directory $ldap_dir/db
maxsize 268435456
index objectClass eq
index uid,cn,mail eq
index entryUUID,entryCSN eq
# Passwords: each entry may change its own, and binds may check them; nobody reads them.
# Everything else: readable by bound users (idbridge's service account), not anonymously.
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
overlay memberof
memberof-group-oc groupOfNames
memberof-refint TRUE
overlay refint
refint_attributes member
overlay syncprov
syncprov-checkpoint 100 10
CONF
}

start_slapd() {
  : >"$ldap_dir/slapd.log"
  # `-d none`: foreground (the pid is ours to stop), errors only, into slapd.log.
  /usr/sbin/slapd -d none -h "$ldap_uri/" -f "$ldap_dir/slapd.conf" 2>>"$ldap_dir/slapd.log" &
  slapd_pid=$!
  for _ in $(seq 200); do
    if ! kill -0 "$slapd_pid" 2>/dev/null; then
      echo "demo: slapd did not start (is port $ldap_port taken? set IDBRIDGE_DEMO_LDAP_PORT):" >&2
      cat "$ldap_dir/slapd.log" >&2
      slapd_pid=
      exit 1
    fi
    if /usr/bin/ldapsearch -x -LLL -H "$ldap_uri" -o nettimeout=1 -l 2 -b "" -s base \
      namingContexts >/dev/null 2>&1; then
      return
    fi
    sleep 0.1
  done
  echo "demo: slapd did not answer on $ldap_uri in 20 s" >&2
  cat "$ldap_dir/slapd.log" >&2
  exit 1
}

# The sample people and groups, and the service account idbridge binds as (its password is the
# state directory's own). ldapadd, not slapadd: the memberof overlay must see the groups added.
seed_directory() {
  local service_ldif=$ldap_dir/service-account.ldif
  (umask 077 && cat >"$service_ldif") <<LDIF
dn: $service_dn
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: idbridge
description: the account idbridge's directory sync binds as
userPassword: $(/usr/sbin/slappasswd -T "$ldap_dir/idbridge.password")
LDIF
  for ldif in "$seed_ldif" "$service_ldif"; do
    /usr/bin/ldapadd -x -H "$ldap_uri" -D "$admin_dn" -y "$ldap_dir/admin.password" -f "$ldif" \
      >/dev/null
  done
  rm -f "$service_ldif"
  touch "$ldap_dir/seeded"
}

mkdir -p "$state_dir"
(umask 077 && mkdir -p "$ldap_dir")
make_password "$ldap_dir/admin.password"
make_password "$ldap_dir/idbridge.password"
stop_stale_slapd
if [ ! -e "$ldap_dir/seeded" ]; then
  # A seed that did not finish leaves a partial database: start again from an empty one.
  rm -rf "$ldap_dir/db"
fi
mkdir -p "$ldap_dir/db"
write_slapd_conf
start_slapd
if [ ! -e "$ldap_dir/seeded" ]; then
  seed_directory
  echo "demo: seeded the demo directory from ${seed_ldif#"$repo"/}" >&2
fi

config=$("$idbridged" init-demo --state-dir "$state_dir" --ldap-uri "$ldap_uri" \
  --ldap-password-file "$ldap_dir/idbridge.password")
token=$(cat "$state_dir/demo.token")

echo "demo: syncing the demo directory into tenant demo" >&2
sync_status=0
"$idbridged" sync --config "$config" --directory demo >"$ldap_dir/last-sync.txt" \
  2>"$ldap_dir/last-sync.log" || sync_status=$?
# The plan lists every change; its totals and the run record are enough here.
grep -E '^(read|creates|run) ' "$ldap_dir/last-sync.txt" | sed 's/^/  /' >&2 || true
if [ "$sync_status" -ne 0 ]; then
  echo "demo: the sync exited $sync_status (plan in $ldap_dir/last-sync.txt); its log:" >&2
  cat "$ldap_dir/last-sync.log" >&2
fi

listen=${IDBRIDGE_DEMO_LISTEN:-127.0.0.1:8080}
base=http://$listen
users_url="$base/scim/v2/tenants/demo/Users"
cat <<MSG

idbridged is starting with the demo config $config
  state (SQLite):  $state_dir/idbridge.db
  demo tenant:     demo
  bearer token:    $token
  demo directory:  $ldap_uri ($suffix), a private slapd under $ldap_dir
                   admin: $admin_dn, password in $ldap_dir/admin.password

Try, from another terminal:
  curl -s $base/readyz
  curl -s -H "Authorization: Bearer $token" $users_url
  # how many users the directory sync brought in, and one of them by userName:
  curl -s -H "Authorization: Bearer $token" "$users_url?count=0"
  curl -s -G -H "Authorization: Bearer $token" --data-urlencode 'filter=userName eq "ana.garcia"' $users_url

Add a person to the demo directory, sync (or wait: idbridged reads the directory's changes
every 30 s), and see them over SCIM:
  printf 'dn: uid=new.hire,ou=people,$suffix\\nobjectClass: inetOrgPerson\\nuid: new.hire\\ncn: New Hire\\ngivenName: New\\nsn: Hire\\nmail: new.hire@example.com\\n' |
    ldapadd -x -H $ldap_uri -D $admin_dn -y $ldap_dir/admin.password
  $idbridged sync --config $config --directory demo
  curl -s -G -H "Authorization: Bearer $token" --data-urlencode 'filter=userName eq "new.hire"' $users_url
  curl -s -H "Authorization: Bearer $token" $base/status    # the directory's sync runs

Stop with Ctrl-C (SIGINT: graceful shutdown of idbridged, then slapd).
MSG

if [ -n "${IDBRIDGE_DEMO_LISTEN:-}" ]; then
  "$idbridged" --config "$config" --listen "$IDBRIDGE_DEMO_LISTEN" &
else
  "$idbridged" --config "$config" &
fi
daemon_pid=$!
# `wait` returns early when a trapped signal arrives; the trap then stops both children.
set +e
wait "$daemon_pid"
status=$?
set -e
daemon_pid=
