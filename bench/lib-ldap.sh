# The private slapd of the LDAP benchmarks (sourced after lib.sh, never run): N generated users
# (idbridge_bench_ldif) loaded offline into mdb with memberof and syncprov, served on a free
# 127.0.0.1 port, bound as its rootdn. Sets bench_ldap_suffix, bench_ldap_people,
# bench_ldap_root_dn, bench_ldap_uri and the sourcing script's `slapd_pid`; writes
# $work/ldap.password (with a newline, for idbridged) and $work/ldap.password.raw (without, for
# the ldap tools' -y).
# shellcheck shell=bash disable=SC2154,SC2034  # bench_name, work: set by the sourcing script; the bench_ldap_ names are for it

bench_ldap_suffix=dc=bench,dc=example
bench_ldap_people=ou=people,$bench_ldap_suffix
bench_ldap_root_dn=cn=admin,$bench_ldap_suffix
bench_ldap_uri=

# bench_slapd_load WORK LDIF_BIN USERS [GROUPS]: writes the config and loads the users.
bench_slapd_load() {
  local dir=$1 ldif_bin=$2 users=$3 groups=${4:-4} password
  password=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  (umask 077 && printf '%s\n' "$password" >"$dir/ldap.password" &&
    printf '%s' "$password" >"$dir/ldap.password.raw")
  "$ldif_bin" --out "$dir/directory.ldif" --changes-out "$dir/unused-changes.ldif" \
    --users "$users" --groups "$groups" --changes 10 --suffix "$bench_ldap_suffix" >/dev/null
  mkdir -p "$dir/slapd/db"
  cat >"$dir/slapd/slapd.conf" <<CONF
# Written by bench/lib-ldap.sh.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $dir/slapd/slapd.pid
argsfile $dir/slapd/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload syncprov

database mdb
suffix "$bench_ldap_suffix"
rootdn "$bench_ldap_root_dn"
rootpw $password
directory $dir/slapd/db
maxsize 8589934592
dbnosync
index objectClass eq
index uid,cn eq
index entryUUID,entryCSN eq
index member eq
overlay memberof
memberof-group-oc groupOfNames
overlay syncprov
syncprov-checkpoint 100 10
CONF
  /usr/sbin/slapadd -q -w -f "$dir/slapd/slapd.conf" -l "$dir/directory.ldif" \
    2>"$dir/slapadd.log" || {
    echo "$bench_name: slapadd failed:" >&2
    tail -20 "$dir/slapadd.log" >&2
    exit 1
  }
  rm -f "$dir/directory.ldif"
  bench_ldap_dir=$dir
}

# bench_slapd_start: starts slapd (on the port it had before, on a restart) and waits until it
# answers.
bench_slapd_start() {
  local dir=$bench_ldap_dir ready=0
  [ -n "$bench_ldap_uri" ] || bench_ldap_uri=ldap://127.0.0.1:$(free_port)/
  /usr/sbin/slapd -d none -h "$bench_ldap_uri" -f "$dir/slapd/slapd.conf" 2>>"$dir/slapd.log" &
  slapd_pid=$!
  for _ in $(seq 1 200); do
    if ldapsearch -x -LLL -H "$bench_ldap_uri" -o nettimeout=1 -b "" -s base namingContexts \
      >/dev/null 2>&1; then
      ready=1
      break
    fi
    kill -0 "$slapd_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "$bench_name: slapd did not start; its log:" >&2
    tail -20 "$dir/slapd.log" >&2
    exit 1
  fi
}
