# shellcheck shell=bash
# Sourced by scripts/test and scripts/demo: makes sure Redis and PostgreSQL are
# reachable and exports REDIS_URL and DATABASE_URL.
#
# Given REDIS_URL / DATABASE_URL are used as they are. Otherwise private
# instances are started on free loopback ports with their data under .stack/
# (git-ignored), installing Debian's packages first when missing and root.

STACK_DIR="${STACK_DIR:-$(pwd)/.stack}"
mkdir -p "$STACK_DIR"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  while :; do
    # Below Linux's ephemeral range (32768-60999 by default): a port there
    # may be taken by an outgoing connection, which the check above cannot
    # see (it only finds listeners), and the bind then fails.
    p=$((20000 + RANDOM % 12000))
    port_free "$p" && { echo "$p"; return; }
  done
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing $*: install it (apt-get install $*) or set the URL" >&2
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  local port dir="$STACK_DIR/redis"
  mkdir -p "$dir"
  if [ -f "$dir/port" ] && ! port_free "$(cat "$dir/port")"; then
    port=$(cat "$dir/port")
  else
    port=$(free_port)
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir" \
      --appendonly yes --appendfsync everysec --save "" \
      --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >/dev/null
    echo "$port" >"$dir/port"
    for _ in $(seq 50); do port_free "$port" || break; sleep 0.1; done
  fi
  export REDIS_URL="redis://127.0.0.1:$port"
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
}

start_postgres() {
  [ -n "$(pg_bin)" ] || apt_install postgresql
  local bin port dir="$STACK_DIR/pg" as=()
  bin=$(pg_bin)
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: run it as the postgres user, with
    # its data where that user can reach it whatever the checkout's path.
    id postgres >/dev/null 2>&1 || useradd --system --home /var/tmp postgres
    as=(runuser -u postgres --)
    dir="/var/tmp/lineup-pg-$(pwd | md5sum | cut -c1-12)"
  fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >"$dir/initdb.log" 2>&1
  fi
  if [ -f "$dir/port" ] && ! port_free "$(cat "$dir/port")"; then
    port=$(cat "$dir/port")
  else
    port=$(free_port)
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" \
      start >/dev/null
    echo "$port" >"$dir/port"
  fi
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

[ -n "${REDIS_URL:-}" ] || start_redis
[ -n "${DATABASE_URL:-}" ] || start_postgres
echo "stack: REDIS_URL=$REDIS_URL DATABASE_URL=$DATABASE_URL" >&2
