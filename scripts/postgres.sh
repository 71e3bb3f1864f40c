# A throwaway PostgreSQL 15 for tests and benchmarks: `source scripts/postgres.sh`, then
# `start_postgres [extra server options]` exports STOKER_PG_URL (the `postgres` database on a
# loopback port) and stops the server and removes its data when the shell exits.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Runs a PostgreSQL binary as the `postgres` user when we are root (initdb refuses root).
as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_postgres() {
    if [ -n "${PG_DATA:-}" ] && [ -d "$PG_DATA" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_DATA"
    fi
}

start_postgres() {
    if [ ! -x "$PG_BIN/initdb" ]; then
        echo "no PostgreSQL binaries in $PG_BIN" >&2
        return 1
    fi
    PG_DATA=$(mktemp -d /tmp/stoker-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$PG_DATA"
    trap stop_postgres EXIT
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust --no-sync >/dev/null
    PG_PORT=$(free_port)
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA -c max_connections=400 $*" \
        start >/dev/null
    export STOKER_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (data in $PG_DATA)"
}
