#!/usr/bin/env bash
# `make demo`: the main job of this tool on an embedded default (no settings needed). A throwaway PostgreSQL
# cluster archives WAL to a local file storage, is backed up, dropped, restored to a named restore point, and the
# data is shown to be the same. Exits non-zero if anything differs. Needs PostgreSQL server binaries (found by
# test/helpers/pgbin.ts: PG_BIN, else the newest /usr/lib/postgresql/<major>/bin) and dist/wal-g (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=node_modules/.bin/node
if [ ! -x "$NODE" ]; then
  echo "node_modules missing: run 'make deps' (npm ci) first" >&2
  exit 1
fi
PG_BIN=$("$NODE" test/helpers/pgbin.ts)
export PG_BIN
exec "$NODE" scripts/demo.ts "$@"
