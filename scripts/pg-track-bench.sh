#!/usr/bin/env bash
# Lookup by message-id in the cluster's tracking table at N events (default 10 000 000):
# creates postern-pg's schema (its migration file), bulk-loads N synthetic events with
# generate_series (5 events per message, 4 nodes), builds the indexes, then times the
# search's lookup with EXPLAIN ANALYZE (three runs, warm cache). Needs a throwaway
# database: `../shared/tools/netns-run scripts/pg-dev.sh run scripts/pg-track-bench.sh`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
url="${POSTERN_PG_URL:?set POSTERN_PG_URL (scripts/pg-dev.sh run ...)}"
n="${1:-10000000}"
psql() { command psql "$url" -qAt -v ON_ERROR_STOP=1 "$@"; }
psql -c "DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench"
export PGOPTIONS="-c search_path=bench"
# The schema as the program creates it, but load before indexing (as a bulk import would).
sed -n '/CREATE TABLE postern_events/,/^);/p' "$root/crates/postern-pg/migrations/0001_init.sql" | psql
start=$(date +%s)
psql -c "INSERT INTO postern_events (time, node, kind, message_id, queue_id, sender, recipients, line)
  SELECT 1700000000000 + g, 'gw-' || (g % 4), 'received', 'm' || (g / 5) || '@example.org',
         'Q' || (g / 5), 's' || (g % 1000) || '@example.net',
         ARRAY['r' || (g % 5000) || '@example.com'], convert_to('synthetic event ' || g, 'UTF8')
  FROM generate_series(1, $n) AS g"
grep -E '^CREATE INDEX postern_events' "$root/crates/postern-pg/migrations/0001_init.sql" | psql
psql -c "ANALYZE postern_events"
echo "loaded and indexed $n events in $(( $(date +%s) - start )) s"
mid="m$(( n / 10 / 2 ))@example.org"
for i in 1 2 3; do
  psql -c "EXPLAIN (ANALYZE, TIMING ON) SELECT seq, node, line FROM postern_events
           WHERE message_id = '$mid' ORDER BY time, seq LIMIT 1000001" | grep -E 'Execution Time|Index'
done
