#!/usr/bin/env bash
# Dumps the PostgreSQL database in DATABASE_URL (pg_dump custom format) and proves the dump restores:
# it is restored into a scratch database on the same server, the row counts of the key tables are
# compared with the source, and the scratch database is dropped. A dump that does not restore is
# deleted and the script exits non-zero, so a cron job's mail says so the day it happens.
#
#   DATABASE_URL=postgres://user:pass@host:5432/shellfolio scripts/backup.sh [output-dir]
#
# Output: <output-dir>/shellfolio-<UTC timestamp>.dump (default dir: ./backups), then one line
# `backup ok: <file> (<bytes> bytes, <tables> tables verified)`. Needs pg_dump, pg_restore and
# psql of a version >= the server's, and the right to CREATE DATABASE (for the scratch copy).
# Media live in S3 (bucket versioning) or DATA_DIR/media; see README "Backups".
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL (postgres://...) to the database to back up}"
out_dir=${1:-${BACKUP_DIR:-./backups}}
# Tables whose row counts must match after the restore (those that exist are compared).
key_tables=${BACKUP_VERIFY_TABLES:-users refresh_tokens posts projects media feature_flags terminal_sessions __drizzle_migrations}

for tool in pg_dump pg_restore psql; do
  command -v "$tool" >/dev/null || { echo "backup: $tool is missing (apt-get install postgresql-client)" >&2; exit 1; }
done

mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
file="$out_dir/shellfolio-$stamp.dump"
partial="$file.partial"
scratch="shellfolio_restore_check_$(date -u +%s)_$$"

# The URL of another database on the same server (for CREATE/DROP and the scratch copy).
url_for() {
  local db=$1
  # postgres://user:pass@host:port/dbname?params -> .../<db>?params
  printf '%s' "$DATABASE_URL" | sed -E "s#^([a-z]+://[^/]+)/[^?]*#\\1/$db#"
}
admin_url=$(url_for postgres)
scratch_url=$(url_for "$scratch")

cleanup() {
  rm -f "$partial"
  psql "$admin_url" -qAt -v ON_ERROR_STOP=1 -c "drop database if exists \"$scratch\" with (force)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The row counts and the dump must describe the same moment, or a write in between would look like
# a broken backup: one session holds a repeatable-read snapshot, counts the key tables in it, and
# pg_dump reads that very snapshot (--snapshot).
coproc SNAP { psql "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 2>&1; }
ask() { # one query, one line back
  echo "$1" >&"${SNAP[1]}"
  local line
  read -r -t 600 line <&"${SNAP[0]}" || { echo "backup: the snapshot session stopped answering" >&2; exit 1; }
  printf '%s' "$line"
}
snapshot=$(ask "begin isolation level repeatable read read only; select pg_export_snapshot();")
[[ "$snapshot" =~ ^[0-9A-F-]+$ ]] || { echo "backup: could not export a snapshot: $snapshot" >&2; exit 1; }

# "<schema>.<table>" for a key table in any schema (drizzle keeps its journal in `drizzle`), or "-".
qualified_sql() {
  echo "select coalesce((select quote_ident(table_schema) || '.' || quote_ident(table_name)
    from information_schema.tables where table_name = '$1'
    and table_schema not in ('pg_catalog', 'information_schema')
    order by table_schema = 'public' desc limit 1), '-');"
}
declare -A expected
order=()
for table in $key_tables; do
  q=$(ask "$(qualified_sql "$table")")
  [ "$q" = "-" ] && continue
  expected[$q]=$(ask "select count(*) from $q;")
  order+=("$q")
done
if [ "${#expected[@]}" -eq 0 ]; then
  echo "backup: FAILED: none of the key tables ($key_tables) exist in the source database" >&2
  exit 1
fi

# 1. Dump (custom format: compressed, restorable table by table, parallel restore possible).
pg_dump --snapshot="$snapshot" --format=custom --compress=6 --no-owner --no-privileges --file="$partial" "$DATABASE_URL"
ask "commit; select 'done';" >/dev/null
exec {SNAP[1]}>&-

# 2. Restore into a scratch database.
psql "$admin_url" -qAt -v ON_ERROR_STOP=1 -c "create database \"$scratch\"" >/dev/null
pg_restore --no-owner --no-privileges --exit-on-error --dbname="$scratch_url" "$partial"

# 3. The restored copy must hold exactly the rows the snapshot held.
verified=0
for q in "${order[@]}"; do
  restored=$(psql "$scratch_url" -qAt -v ON_ERROR_STOP=1 -c "select count(*) from $q")
  if [ "${expected[$q]}" != "$restored" ]; then
    echo "backup: FAILED: $q has ${expected[$q]} rows in the source but $restored after restore" >&2
    exit 1
  fi
  echo "backup: $q: $restored rows, restored identically"
  verified=$((verified + 1))
done

mv "$partial" "$file"
echo "backup ok: $file ($(stat -c %s "$file") bytes, $verified tables verified)"
