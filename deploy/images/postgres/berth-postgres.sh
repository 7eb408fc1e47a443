#!/bin/sh
# The berth/postgres entry point: on the first start, initdb in /data with the password from
# /run/berth/postgres.password (scram-sha-256 for every connection, as npm start's Postgres) and
# the berth database; then the server on 127.0.0.1:$PGPORT, with no unix socket.
set -eu
BIN=/usr/lib/postgresql/15/bin
PGDATA=/data
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  "$BIN/initdb" -D "$PGDATA" -U postgres --auth=scram-sha-256 \
    --pwfile=/run/berth/postgres.password --encoding=UTF8 --locale=C >/dev/null
  printf '%s\n' "# Written by Berth: every connection proves the password (scram-sha-256)." \
    "host all all 127.0.0.1/32 scram-sha-256" "host all all ::1/128 scram-sha-256" \
    >"$PGDATA/pg_hba.conf"
  echo 'CREATE DATABASE berth' | "$BIN/postgres" --single -D "$PGDATA" postgres >/dev/null
  echo "berth/postgres: initialised $PGDATA with the berth database"
fi
exec "$BIN/postgres" -D "$PGDATA" -p "${PGPORT:-5432}" -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c jit=off "$@"
