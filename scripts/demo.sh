#!/usr/bin/env bash
# `make demo`: the main job of this tool on an embedded default (no settings needed). A throwaway PostgreSQL 15
# cluster archives WAL to a local file storage, is backed up, dropped, restored to a named restore point, and the
# data is shown to be the same. Exits non-zero if anything differs. Needs PostgreSQL 15 server binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=node_modules/.bin/node
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$NODE" ]; then
  echo "node_modules missing: run 'make deps' (npm ci) first" >&2
  exit 1
fi
if [ ! -x "$PG_BIN/initdb" ]; then
  echo "PostgreSQL 15 not found in $PG_BIN: run 'make system-deps' (or apt-get install postgresql-15)" >&2
  exit 1
fi
export PG_BIN
exec "$NODE" scripts/demo.ts "$@"
