#!/usr/bin/env bash
# A throwaway PostgreSQL for postern's cluster tests and simulations.
#
#   scripts/pg-dev.sh run CMD [ARG...]   start a cluster, run CMD with POSTERN_PG_URL set, stop it
#   scripts/pg-dev.sh start              start a cluster and print `POSTERN_PG_URL=...` (stays up)
#   scripts/pg-dev.sh stop [DIR]         stop the cluster `start` made (or the one in DIR)
#
# PostgreSQL comes from the distribution (`apt-get install postgresql` when it is missing).
# The cluster lives in a new temporary directory, owned by the unprivileged `postgres`
# user (created by the Debian package), listens on 127.0.0.1 only (port POSTERN_PG_PORT,
# default 54329) and on a Unix socket inside that directory, and trusts local connections:
# it holds nothing but test data and is removed on stop. A network namespace (as
# ../shared/tools/netns-run makes) has its own loopback, so start it in the namespace that
# uses it: `netns-run scripts/pg-dev.sh run cargo test`.
# POSTERN_PG_OPTS adds server options (e.g. "-c shared_preload_libraries=pg_stat_statements"
# to see where a benchmark's database time goes).
set -euo pipefail

port="${POSTERN_PG_PORT:-54329}"
state_file="${TMPDIR:-/tmp}/postern-pg-dev.$port"

install_pg() {
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        echo "pg-dev: installing PostgreSQL from the distribution" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
            || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    fi
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    install_pg
    dir="$(mktemp -d "${TMPDIR:-/tmp}/postern-pg.XXXXXX")"
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # Durable as in production (fsync on) so crash tests mean something; small and quiet otherwise.
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c shared_buffers=128MB ${POSTERN_PG_OPTS:-}" start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -qAt \
        -c "CREATE ROLE postern LOGIN SUPERUSER" -c "CREATE DATABASE postern OWNER postern" >&2
    echo "$dir" >"$state_file"
    url="postgres://postern@127.0.0.1:$port/postern"
}

stop() {
    dir="${1:-$(cat "$state_file" 2>/dev/null || true)}"
    [ -n "$dir" ] && [ -d "$dir/data" ] || { echo "pg-dev: no cluster to stop" >&2; return 0; }
    install_pg
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
    rm -rf "$dir"
    rm -f "$state_file"
}

case "${1:-}" in
    run)
        shift
        start
        trap 'stop "$dir"' EXIT
        echo "pg-dev: PostgreSQL for this run at $url" >&2
        POSTERN_PG_URL="$url" "$@"
        ;;
    start)
        start
        echo "POSTERN_PG_URL=$url"
        ;;
    stop)
        shift
        stop "${1:-}"
        ;;
    *)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
